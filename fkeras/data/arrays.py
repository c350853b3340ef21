"""Adapter for in-memory arrays: NumPy, JAX, pandas, torch and TF tensors, nested in
tuples/lists/dicts.

Every leaf becomes a NumPy array once, at construction (a view where the source allows:
CPU torch/TF/JAX arrays are not copied unless their dtype is cast). Batches are then
slices (views) or, when shuffling, one gather per leaf.
"""

from __future__ import annotations

import math

import numpy as np

from fkeras.data.sparse import SparseRows, is_sparse, to_rows
from fkeras.data.base import (
    DataAdapter,
    check_cardinality,
    check_class_weight,
    class_weight_to_sample_weights,
    describe,
    is_array_like,
    numpy_to_jax,
    sparse_to_bcoo,
    to_numpy,
    tree_leaves,
    tree_map,
)


def can_convert_arrays(arrays) -> bool:
    """True if every leaf of `arrays` (None allowed) is an array-like the adapter can slice."""
    return all(is_array_like(leaf) for leaf in tree_leaves(arrays))


def _check_batch_size(batch_size):
    if batch_size is None:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer or None; got {batch_size!r}.")
    return int(batch_size)


def _check_shuffle(shuffle):
    if isinstance(shuffle, str) and shuffle == "batch":
        return "batch"
    if isinstance(shuffle, (bool, np.bool_)):
        return bool(shuffle)
    raise ValueError(f"`shuffle` must be True, False or 'batch'; got {shuffle!r}.")


class ArrayDataAdapter(DataAdapter):
    """Batches of `(x, y, sample_weight)` sliced from in-memory arrays.

    Args:
        x, y, sample_weight: array-likes or nested tuples/lists/dicts of them, all with the
            same first dimension `n`.
        batch_size: samples per batch; default 32, or `ceil(n / steps_per_epoch)` when only
            `steps_per_epoch` is given (as Keras).
        steps_per_epoch: batches per epoch; epochs continue where the previous one stopped.
        shuffle: False, True (a new permutation each epoch) or "batch" (shuffle inside each
            batch only).
        class_weight: dict class index -> weight, turned into per-sample weights from `y`.
        seed: int seed of the epoch permutations (None: NumPy's global generator, which
            `fkeras.utils.set_random_seed` seeds). Same seed -> same batches.
    """

    _name = "The array data"

    def __init__(self, x, y=None, sample_weight=None, *, batch_size=None, steps_per_epoch=None,
                 shuffle=False, class_weight=None, seed=None):
        super().__init__(steps_per_epoch)
        batch_size = _check_batch_size(batch_size)
        self._shuffle = _check_shuffle(shuffle)
        class_weight = check_class_weight(class_weight)
        for name, part in (("x", x), ("y", y), ("sample_weight", sample_weight)):
            bad = [leaf for leaf in tree_leaves(part) if not is_array_like(leaf)]
            if bad:
                raise ValueError(
                    f"Expected `{name}` to be array-like (NumPy/JAX/pandas/torch/TF arrays, or "
                    f"tuples/lists/dicts of them); found {describe(bad[0])}."
                )
        if x is None or not tree_leaves(x):
            raise ValueError("`x` has no arrays: expected an array or a tuple/list/dict of arrays.")

        x = tree_map(to_numpy, x)
        y = tree_map(to_numpy, y)
        if sample_weight is not None:
            if class_weight is not None:
                raise ValueError("You cannot use `class_weight` and `sample_weight` at the same time.")
            sample_weight = tree_map(to_numpy, sample_weight)
            if isinstance(y, (tuple, list, dict)) and not isinstance(sample_weight, (tuple, list, dict)):
                sw = sample_weight
                if not (sw.ndim == 1 or (sw.ndim == 2 and sw.shape[1] == 1)):
                    raise ValueError(
                        "For a model with multiple outputs, a single `sample_weight` array must "
                        f"have one weight per sample (shape (n,)); got shape {sw.shape}."
                    )
                sample_weight = tree_map(lambda _: sw, y)
        if class_weight is not None:
            if y is None:
                raise ValueError("`class_weight` needs targets `y`.")
            if isinstance(y, (tuple, list, dict)):
                raise ValueError("`class_weight` is only supported for models with a single output.")
            sample_weight = class_weight_to_sample_weights(y, class_weight)

        if y is None:
            inputs = (x,)
        elif sample_weight is None:
            inputs = (x, y)
        else:
            inputs = (x, y, sample_weight)
        n = check_cardinality(inputs, "fit data")
        if n == 0:
            raise ValueError("The array data is empty: `x` has 0 samples.")
        self._inputs = inputs
        self._num_samples = n
        if batch_size is None:
            batch_size = int(math.ceil(n / steps_per_epoch)) if steps_per_epoch else 32
        self._batch_size = batch_size
        for leaf in tree_leaves(inputs):  # every batch of a sparse input stores the same number of entries
            if isinstance(leaf, SparseRows):
                leaf.pad_nse = leaf.batch_nse_bound(batch_size)
        self._source_num_batches = int(math.ceil(n / batch_size))
        self._partial_batch_size = n % batch_size
        self._rng = np.random.default_rng(seed) if seed is not None else None

    @property
    def num_samples(self) -> int:
        return self._num_samples

    def _permutation(self, n):
        return self._rng.permutation(n) if self._rng is not None else np.random.permutation(n)

    def _source_batches(self):
        n, bs = self._num_samples, self._batch_size
        perm = self._permutation(n) if self._shuffle is True else None
        for i in range(self._source_num_batches):
            start, stop = i * bs, min((i + 1) * bs, n)
            if perm is not None:
                idx = perm[start:stop]
            elif self._shuffle == "batch":
                idx = self._permutation(stop - start) + start
            else:
                idx = slice(start, stop)
            if isinstance(idx, slice):
                yield tuple(tree_map(lambda a: a[idx], part) for part in self._inputs)
            else:
                yield tuple(tree_map(lambda a: np.take(a, idx, axis=0), part) for part in self._inputs)

    # Leaves are already standardized NumPy arrays (sparse ones SparseRows, which become BCOOs).
    def _to_numpy_batch(self, batch):
        return tuple(tree_map(sparse_to_bcoo, part) for part in batch)

    def _to_jax_batch(self, batch):
        return tuple(tree_map(numpy_to_jax, part) for part in batch)


def train_validation_split(arrays, validation_split):
    """Split a pytree of arrays into `(train, validation)`: the last `validation_split`
    fraction of samples (before any shuffling) is validation, as in Keras."""
    if isinstance(validation_split, bool) or not isinstance(validation_split, (float, int)) or not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be a float in (0, 1); got {validation_split!r}.")
    leaves = tree_leaves(arrays)
    bad = [leaf for leaf in leaves if not is_array_like(leaf)]
    if bad:
        raise ValueError(
            "`validation_split` is only supported for array-likes (NumPy/JAX/pandas/torch/TF "
            f"arrays); found {describe(bad[0])}. Pass `validation_data` instead."
        )
    if not leaves:
        return arrays, arrays
    sizes = {int(leaf.shape[0]) for leaf in leaves}
    if len(sizes) > 1:
        raise ValueError(f"validation_split: the arrays do not all have the same number of samples ({sorted(sizes)}).")
    n = sizes.pop()
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"Training data contains {n} samples, which is not sufficient to split it into a "
            f"validation and training set as specified by `validation_split={validation_split}`."
        )

    def take(a, start, stop):
        if is_sparse(a):
            return to_rows(a)[start:stop]
        if is_array_like(a) and hasattr(a, "iloc"):
            return a.iloc[start:stop]
        return a[start:stop]

    train = tree_map(lambda a: take(a, 0, split_at), arrays)
    val = tree_map(lambda a: take(a, split_at, n), arrays)
    return train, val


__all__ = ["ArrayDataAdapter", "can_convert_arrays", "train_validation_split", "numpy_to_jax"]
