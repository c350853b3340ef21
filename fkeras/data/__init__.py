"""`fkeras.data`: what `fit` reads, below the training engine that reads it.

`get_data_adapter` turns NumPy/JAX/pandas/torch/TF arrays, `tf.data`, torch `DataLoader`s, `PyDataset`s and
generators into epochs of batches (`adapters.py`, one module per kind of source); `PyDataset` is Keras's
batch-indexed dataset (`fkeras.utils.PyDataset`); `dlpack` converts arrays between JAX, torch, TF and NumPy
(`fkeras.interop.dlpack`). Names load on first use: the worker processes of a `PyDataset` import
`fkeras.data.py_dataset` alone, without JAX.
"""

import importlib

_NAMES = {
    **dict.fromkeys(["get_data_adapter", "train_validation_split", "DataAdapter", "ArrayDataAdapter",
                     "GeneratorDataAdapter", "PyDatasetAdapter", "TFDatasetAdapter", "TorchDataLoaderAdapter",
                     "pack_x_y_sample_weight", "unpack_x_y_sample_weight", "class_weight_to_sample_weights",
                     "can_convert_arrays", "prefetch"], "fkeras.data.adapters"),
    "PyDataset": "fkeras.data.py_dataset",
    "Sequence": "fkeras.data.py_dataset",
}


def __getattr__(name):
    if name not in _NAMES:
        raise AttributeError(f"module 'fkeras.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(_NAMES[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_NAMES))


__all__ = sorted(_NAMES)
