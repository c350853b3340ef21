"""`fkeras.data`: what `fit` reads, below the training engine that reads it.

`get_data_adapter` turns NumPy/JAX/pandas/torch/TF arrays, `tf.data`, torch `DataLoader`s, `PyDataset`s and
generators into epochs of batches (`adapters.py`, one module per kind of source); `PyDataset` is Keras's
batch-indexed dataset (`fkeras.utils.PyDataset`); `dlpack` converts arrays between JAX, torch, TF and NumPy
(`fkeras.interop.dlpack`). Names load on first use: the worker processes of a `PyDataset` import
`fkeras.data.py_dataset` alone, without JAX.
"""

from fkeras.runtime.lazy import lazy_attributes as _lazy_attributes

_NAMES = {
    **dict.fromkeys(["get_data_adapter", "train_validation_split", "DataAdapter", "ArrayDataAdapter",
                     "GeneratorDataAdapter", "PyDatasetAdapter", "TFDatasetAdapter", "TorchDataLoaderAdapter",
                     "pack_x_y_sample_weight", "unpack_x_y_sample_weight", "class_weight_to_sample_weights",
                     "can_convert_arrays", "prefetch"], "fkeras.data.adapters"),
    "PyDataset": "fkeras.data.py_dataset",
    "Sequence": "fkeras.data.py_dataset",
}


__getattr__, __dir__ = _lazy_attributes(globals(), names=_NAMES)


__all__ = sorted(_NAMES)
