"""`get_data_adapter`: every native data pipeline as epochs of batches for the jitted step.

`get_data_adapter(x, y, sample_weight, ...)` picks the adapter for the source:

| source | adapter |
|---|---|
| NumPy/JAX/pandas/torch/TF arrays, nested in tuples/lists/dicts | `ArrayDataAdapter` |
| `tf.data.Dataset` | `TFDatasetAdapter` |
| `torch.utils.data.DataLoader` | `TorchDataLoaderAdapter` |
| `fkeras.utils.PyDataset` (`fkeras.data.PyDataset`, Keras's `__len__`/`__getitem__` API) | `PyDatasetAdapter` |
| Python generators and iterators | `GeneratorDataAdapter` |

Every adapter yields tuples `(x,)`, `(x, y)` or `(x, y, sample_weight)`:
`get_numpy_iterator()` as NumPy pytrees, `get_jax_iterator()` as JAX arrays prepared on a
background thread while the current step runs. Keras's rules apply: `y`/`sample_weight`
with a dataset-like source is an error; `shuffle` only reorders arrays and PyDatasets.
"""

from __future__ import annotations

import collections.abc
import os
import types
import warnings

import jax

from fkeras.data.arrays import ArrayDataAdapter, can_convert_arrays, train_validation_split
from fkeras.data.base import (
    DataAdapter,
    class_weight_to_sample_weights,
    describe,
    is_array_like,
    is_tf_dataset,
    is_torch_dataloader,
    pack_x_y_sample_weight,
    prefetch,
    unpack_x_y_sample_weight,
)
from fkeras.data.generator import GeneratorDataAdapter
from fkeras.data.py_dataset_adapter import PyDatasetAdapter
from fkeras.data.tf_dataset import TFDatasetAdapter
from fkeras.data.torch_loader import TorchDataLoaderAdapter


def _unsupported(arg, what, kind):
    raise ValueError(
        f"When providing `x` as a {kind}, `{arg}` should not be passed. Instead, {what} should "
        f"be included as part of the {kind} (its batches are `(x, y)` or `(x, y, sample_weight)`)."
    )


def _is_py_dataset(x):
    # fkeras's PyDataset, or Keras 3's own (same API), so code written for Keras works as is.
    for parent in type(x).__mro__:
        if parent.__name__ == "PyDataset" and parent.__module__.startswith(("fkeras.data", "keras.src")):
            return True
    return False


def get_data_adapter(x, y=None, sample_weight=None, *, batch_size=None, steps_per_epoch=None,
                     shuffle=False, class_weight=None, seed=None) -> DataAdapter:
    """The `DataAdapter` reading `x` (and `y`, `sample_weight` for array-likes).

    Args:
        x: arrays (or nested tuples/lists/dicts of them), a `tf.data.Dataset`, a torch
            `DataLoader`, a `fkeras.utils.PyDataset`, a generator/iterator, or a `DataAdapter`
            (returned as is).
        y, sample_weight: arrays; only with array-like `x`.
        batch_size: for arrays (default 32); dataset-like sources are already batched.
        steps_per_epoch: batches per epoch; needed for infinite sources. Epochs continue the
            same pass over the source (Keras's behaviour).
        shuffle: for arrays and PyDatasets: True, False or "batch".
        class_weight: dict class index -> weight; becomes per-sample weights.
        seed: int seed of the shuffling (same seed -> same batches).
    """
    if isinstance(x, DataAdapter):
        return x
    if isinstance(x, (str, bytes, os.PathLike)):
        raise TypeError(
            f"`x` is a path or string ({x!r}); fkeras reads arrays, tf.data Datasets, torch "
            "DataLoaders, PyDatasets and generators, not files. Load the data first (e.g. "
            "`np.load`, `pandas.read_csv`, or a tf.data / torch pipeline that reads the files)."
        )
    if can_convert_arrays((x, y, sample_weight)) and x is not None:
        return ArrayDataAdapter(x, y, sample_weight, batch_size=batch_size, steps_per_epoch=steps_per_epoch,
                                shuffle=shuffle, class_weight=class_weight, seed=seed)
    if x is None:
        raise ValueError("`x` is None: expected arrays, a dataset, a DataLoader, a PyDataset or a generator.")

    if is_tf_dataset(x):
        kind = "tf.data.Dataset"
    elif is_torch_dataloader(x):
        kind = "torch DataLoader"
    elif _is_py_dataset(x):
        kind = "PyDataset"
    elif isinstance(x, (types.GeneratorType, collections.abc.Iterator)):
        kind = "generator"
    else:
        for name, part in (("x", x), ("y", y), ("sample_weight", sample_weight)):
            for path, leaf in jax.tree_util.tree_flatten_with_path(part)[0]:
                if not is_array_like(leaf) and (path or part is not x):
                    where = name + jax.tree_util.keystr(path)
                    raise ValueError(
                        f"Expected every element of `{name}` to be array-like (NumPy/JAX/pandas/"
                        f"torch/TF arrays); `{where}` is {describe(leaf)}."
                    )
        leaves = [describe(leaf) for leaf in (x, y, sample_weight) if leaf is not None]
        raise ValueError(
            "Unrecognized data type: expected NumPy/JAX/pandas/torch/TF arrays (or nested "
            "tuples/lists/dicts of them), a tf.data.Dataset, a torch DataLoader, a "
            f"fkeras.utils.PyDataset or a generator; got {', '.join(leaves)}."
        )
    if y is not None:
        _unsupported("y", "the targets", kind)
    if sample_weight is not None:
        _unsupported("sample_weight", "the sample weights", kind)
    if batch_size is not None:
        # Keras ignores batch_size for batched sources; say so rather than silently re-batching.
        warnings.warn(f"`batch_size` is ignored when `x` is a {kind}: it is already batched.", stacklevel=2)
    if shuffle and kind != "PyDataset":
        warnings.warn(
            f"`shuffle=True` is ignored since `x` is a {kind}; it is expected to be shuffled already.",
            stacklevel=2,
        )
    if kind == "tf.data.Dataset":
        return TFDatasetAdapter(x, steps_per_epoch=steps_per_epoch, class_weight=class_weight)
    if kind == "torch DataLoader":
        return TorchDataLoaderAdapter(x, steps_per_epoch=steps_per_epoch, class_weight=class_weight)
    if kind == "PyDataset":
        return PyDatasetAdapter(x, steps_per_epoch=steps_per_epoch, shuffle=shuffle,
                                class_weight=class_weight, seed=seed)
    return GeneratorDataAdapter(x, steps_per_epoch=steps_per_epoch, class_weight=class_weight)


__all__ = [
    "DataAdapter", "ArrayDataAdapter", "TFDatasetAdapter", "TorchDataLoaderAdapter",
    "PyDatasetAdapter", "GeneratorDataAdapter", "get_data_adapter", "train_validation_split",
    "unpack_x_y_sample_weight", "pack_x_y_sample_weight", "class_weight_to_sample_weights",
    "can_convert_arrays", "prefetch",
]
