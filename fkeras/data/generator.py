"""Batched sources (generators, iterators, and the base of the dataset adapters).

A batched source yields whole batches; this module checks that every batch has the
structure of the first one and that its arrays agree on the batch size, turns class
weights into sample weights, and converts native leaves (NumPy, torch, TF, JAX) to NumPy
or, by DLPack without a copy where possible, to JAX.
"""

from __future__ import annotations

import jax
import numpy as np

from fkeras.data.base import (
    DataAdapter,
    apply_class_weight,
    as_batch_tuple,
    check_cardinality,
    check_class_weight,
    is_jax_array,
    is_tf_tensor,
    is_torch_tensor,
    numpy_to_jax,
    standard_dtype,
    to_numpy,
    tree_map,
)
from fkeras.data.dlpack import to_jax


def leaf_to_jax(x):
    """A batch leaf as a JAX array with the standard batch dtype; torch/TF leaves are cast
    in their own framework first and then cross by DLPack (no copy when no cast is needed)."""
    if x is None:
        return None
    if isinstance(x, np.ndarray):
        return numpy_to_jax(to_numpy(x))
    if is_jax_array(x):
        target = standard_dtype(x.dtype)
        return x if target is None else x.astype(target)

    if is_torch_tensor(x):
        import torch

        t = x.detach()
        np_dtype = _torch_np_dtype(t.dtype)
        target = standard_dtype(np_dtype) if np_dtype is not None else None
        if target is not None:
            t = t.to(getattr(torch, target.name))
        return to_jax(t)
    if is_tf_tensor(x):
        import tensorflow as tf

        if x.dtype == tf.string:
            return numpy_to_jax(to_numpy(x))  # raises the clear string error
        target = standard_dtype(np.dtype(x.dtype.as_numpy_dtype))
        if target is not None:
            x = tf.cast(x, target.name)
        return to_jax(x)
    return numpy_to_jax(to_numpy(x))


def _torch_np_dtype(dtype):
    """The NumPy dtype of a torch dtype (None for dtypes NumPy/JAX do not know)."""
    try:
        return np.dtype(jax.numpy.dtype(str(dtype).split(".")[-1]))
    except TypeError:
        return None


def _spec(batch):
    """Structure and per-leaf rank of a batch, for consistency checks."""
    leaves, treedef = jax.tree_util.tree_flatten(batch)
    return treedef, tuple(len(getattr(leaf, "shape", ())) for leaf in leaves)


class BatchedSourceAdapter(DataAdapter):
    """Base for sources that yield whole batches. Subclasses implement `_raw_batches()`."""

    _name = "The data source"

    def __init__(self, *, steps_per_epoch=None, class_weight=None):
        super().__init__(steps_per_epoch)
        self._class_weight = check_class_weight(class_weight)
        self._first_spec = None

    def _raw_batches(self):
        raise NotImplementedError

    def _standardize(self, raw, index):
        batch = as_batch_tuple(raw, self._name, index)
        batch = tuple(tree_map(_scalar_to_array, part) for part in batch)
        spec = _spec(batch)
        if self._first_spec is None:
            self._first_spec = spec
        elif spec != self._first_spec:
            raise ValueError(
                f"{self._name} yielded batches with inconsistent structures: batch {index} has "
                f"structure {spec[0]} with leaf ranks {spec[1]}, but the first batch had "
                f"{self._first_spec[0]} with leaf ranks {self._first_spec[1]}. Every batch must "
                "have the same structure ((x,), (x, y) or (x, y, sample_weight)) and ranks."
            )
        check_cardinality(batch, f"{self._name}, batch {index}")
        return apply_class_weight(batch, self._class_weight, self._name)

    def _source_batches(self):
        for i, raw in enumerate(self._raw_batches()):
            yield self._standardize(raw, i)

    def _to_jax_batch(self, batch):
        return tuple(tree_map(leaf_to_jax, part) for part in batch)


def _scalar_to_array(x):
    # Python numbers and lists inside a batch become arrays; arrays pass untouched.
    if isinstance(x, (int, float, bool, complex, list)) or (isinstance(x, np.generic)):
        return np.asarray(x)
    return x


class GeneratorDataAdapter(BatchedSourceAdapter):
    """A Python generator or iterator yielding batches `x`, `(x,)`, `(x, y)` or
    `(x, y, sample_weight)`. One pass only: a later epoch continues it (with
    `steps_per_epoch`) or finds it exhausted, which sets `exhausted`."""

    _reiterable = False
    _name = "The generator"

    def __init__(self, generator, *, steps_per_epoch=None, class_weight=None):
        super().__init__(steps_per_epoch=steps_per_epoch, class_weight=class_weight)
        self._generator = generator

    def _raw_batches(self):
        return self._generator


__all__ = ["GeneratorDataAdapter", "BatchedSourceAdapter", "leaf_to_jax"]
