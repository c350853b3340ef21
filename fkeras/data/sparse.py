"""Sparse inputs for the data adapters: JAX `BCOO` (any `JAXSparse`), `tf.SparseTensor`, torch sparse tensors and
scipy.sparse matrices (recognised by class, scipy is never imported) become `SparseRows`, a host COO sorted by
row that slices and gathers rows like an array; a batch reaches the model as a JAX `BCOO`.

Every batch of one adapter stores the same number of entries (`pad_nse`: the most any `batch_size` rows hold),
padded with BCOO's out-of-range indices, so the jitted step compiles once for all full batches.
"""

from __future__ import annotations

import numpy as np


_SPARSE_TYPES: dict = {}  # class -> True / False / "torch" (a torch tensor: sparse by its layout)


def _sparse_kind(cls):
    kind = _SPARSE_TYPES.get(cls)
    if kind is None:
        kind = cls is SparseRows
        for parent in cls.__mro__:
            mod, name = parent.__module__, parent.__name__
            if (mod.startswith("jax.experimental.sparse") and name == "JAXSparse") or (
                    mod.startswith("tensorflow") and name == "SparseTensor") or (
                    mod.startswith("scipy.sparse") and name in ("spmatrix", "sparray", "_spbase")):
                kind = True
        if not kind and cls.__module__.startswith("torch") and cls.__name__ in ("Tensor", "Parameter"):
            kind = "torch"
        _SPARSE_TYPES[cls] = kind
    return kind


def is_sparse(x) -> bool:
    """A sparse tensor/matrix of any supported kind (checked by class, importing nothing)."""
    kind = _sparse_kind(type(x))
    if kind == "torch":
        return str(x.layout) != "torch.strided"
    return bool(kind)


class SparseRows:
    """A sparse array on the host: `indices` (nnz, ndim) int64 sorted by row (first index), `values` (nnz,),
    `shape`. `rows[a:b]` and `rows.take(idx)` select rows, as NumPy slicing does for dense arrays."""

    def __init__(self, indices, values, shape, pad_nse=None):
        self.indices = np.asarray(indices, np.int64).reshape(-1, len(shape))
        self.values = np.asarray(values)
        self.shape = tuple(int(d) for d in shape)
        self.pad_nse = pad_nse
        if len(self.shape) == 0:
            raise ValueError("fkeras data: a sparse input needs a batch dimension (rank >= 1), got a scalar.")
        self._rowptr = np.searchsorted(self.indices[:, 0], np.arange(self.shape[0] + 1), side="left")

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def ndim(self):
        return len(self.shape)

    def __len__(self):
        return self.shape[0]

    def astype(self, dtype):
        return SparseRows(self.indices, self.values.astype(dtype), self.shape, self.pad_nse)

    def row_counts(self):
        return np.diff(self._rowptr)

    def batch_nse_bound(self, batch_size):
        """The most entries any `batch_size` rows hold (the padded size of every batch)."""
        counts = np.sort(self.row_counts())[::-1]
        return max(int(counts[:batch_size].sum()), 1)

    def __getitem__(self, key):
        if not isinstance(key, slice):
            return self.take(np.atleast_1d(np.asarray(key)))
        start, stop, step = key.indices(self.shape[0])
        if step != 1:
            return self.take(np.arange(start, stop, step))
        a, b = self._rowptr[start], self._rowptr[stop]
        idx = self.indices[a:b].copy()
        idx[:, 0] -= start
        return SparseRows(idx, self.values[a:b], (stop - start,) + self.shape[1:], self.pad_nse)

    def take(self, rows, axis=0, out=None, mode=None):  # np.take(rows, idx, axis=0) lands here
        if axis != 0 or out is not None:
            raise ValueError("fkeras data: sparse inputs are selected along the batch axis only.")
        rows = np.asarray(rows, np.int64)
        counts = self.row_counts()[rows]
        starts = self._rowptr[rows]
        total = int(counts.sum())
        # the positions of every selected row's entries, in the order of `rows`
        offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(total)
        idx = self.indices[offsets].copy()
        idx[:, 0] = np.repeat(np.arange(len(rows)), counts)
        return SparseRows(idx, self.values[offsets], (len(rows),) + self.shape[1:], self.pad_nse)

    def to_bcoo(self):
        """A JAX BCOO of this batch, padded to `pad_nse` entries with out-of-range indices (BCOO's padding)."""
        from jax.experimental import sparse as jsparse

        idx, vals = self.indices, self.values
        n = self.pad_nse
        if n is not None and n > len(vals):
            pad = n - len(vals)
            idx = np.concatenate([idx, np.broadcast_to(np.asarray(self.shape, np.int64), (pad, len(self.shape)))])
            vals = np.concatenate([vals, np.zeros(pad, vals.dtype)])
        return jsparse.BCOO((vals, idx.astype(np.int32)), shape=self.shape, indices_sorted=True,
                            unique_indices=True)


def to_rows(x) -> SparseRows:
    """Any supported sparse input -> SparseRows (sorted by row, duplicates summed)."""
    if isinstance(x, SparseRows):
        return x
    mod = type(x).__module__
    if mod.startswith("jax"):
        from jax.experimental import sparse as jsparse

        x = x if isinstance(x, jsparse.BCOO) else x.to_bcoo()
        x = jsparse.bcoo_update_layout(x, n_batch=0, n_dense=0)
        x = jsparse.bcoo_sum_duplicates(x)
        indices, values, shape = np.asarray(x.indices), np.asarray(x.data), x.shape
        keep = (indices < np.asarray(shape)).all(axis=1)  # drop BCOO padding
        indices, values = indices[keep], values[keep]
    elif mod.startswith("tensorflow"):
        import tensorflow as tf

        x = tf.sparse.reorder(x)
        indices, values, shape = x.indices.numpy(), x.values.numpy(), tuple(x.dense_shape.numpy())
    elif mod.startswith("torch"):
        x = x.to_sparse_coo().coalesce().detach().cpu()
        indices, values, shape = x.indices().numpy().T, x.values().numpy(), tuple(x.shape)
    elif mod.startswith("scipy"):
        coo = x.tocoo()
        indices, values, shape = np.stack([coo.row, coo.col], axis=1), coo.data, coo.shape
    else:
        raise TypeError(f"fkeras data: not a sparse input: {type(x).__name__}.")
    order = np.lexsort(indices.T[::-1]) if len(indices) else np.arange(0)
    return SparseRows(indices[order], values[order], shape)
