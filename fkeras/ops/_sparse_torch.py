"""Sparse kernels for torch sparse tensors (COO; CSR/CSC/BSR are converted to COO), rules in `_sparse.py`.
Keras has no torch sparse support; these give the results the JAX and TF backends give, as torch sparse
COO tensors, using torch's own sparse ops where it has them (`torch.sparse.mm`, `torch.sparse.sum`, `cat`)."""

from __future__ import annotations

import math

import torch

from fkeras.ops import _torch as T
from fkeras.ops._sparse import _reshape_target


def is_sparse(x) -> bool:
    return isinstance(x, torch.Tensor) and x.layout != torch.strided


def _coo(x):
    x = x if x.layout == torch.sparse_coo else x.to_sparse_coo()
    return x.coalesce()


def _build(indices, values, shape):
    return torch.sparse_coo_tensor(indices, values, tuple(shape), check_invariants=False).coalesce()


def todense(x):
    return x.to_dense()


def fromdense(x):
    return T._tensor(x).to_sparse()


def map_values(fn, x, linear=True):
    x = _coo(x)
    return _build(x.indices(), fn(x.values()), x.shape)


def _with_indices_of(x, other):
    """`x` plus explicit zeros wherever `other` stores an entry (coalesced: sorted, unique)."""
    x, other = _coo(x), _coo(other)
    zeros = torch.sparse_coo_tensor(other.indices(), torch.zeros_like(other.values(), dtype=x.dtype), x.shape,
                            check_invariants=False)
    return (x + zeros).coalesce()


def union(fn, x1, x2):
    u1, u2 = _with_indices_of(x1, x2), _with_indices_of(x2, x1)  # the same index set, in the same order
    return _build(u1.indices(), fn(u1.values(), u2.values()), u1.shape)


def _at(d, x):
    """The dense `d` (broadcast to `x`'s shape) at the stored indices of the coalesced `x`."""
    d = T._tensor(d).broadcast_to(x.shape)
    return d[tuple(x.indices())]


def multiply(x1, x2):
    if is_sparse(x1) and is_sparse(x2):
        return (_coo(x1) * _coo(x2)).coalesce()  # torch keeps the intersection
    s, d = (_coo(x1), x2) if is_sparse(x1) else (_coo(x2), x1)
    vals = T.multiply(s.values(), _at(d, s))
    return _build(s.indices(), vals, s.shape)


def divide(x1, x2):
    x1 = _coo(x1)
    x2 = T._tensor(x2)
    if x2.ndim:  # 0/0 and 0/NaN are NaN where x1 stores nothing: store them
        full = x2.broadcast_to(x1.shape)
        bad = (full == 0) | (torch.isnan(full) if full.is_floating_point() else torch.zeros_like(full, dtype=torch.bool))
        idx = bad.nonzero().T
        x1 = _with_indices_of(x1, torch.sparse_coo_tensor(idx, torch.zeros(idx.shape[1], dtype=x1.dtype), x1.shape,
                                                          check_invariants=False))
    return _build(x1.indices(), T.divide(x1.values(), _at(x2, x1)), x1.shape)


def matmul(x1, x2):
    s1, s2 = is_sparse(x1), is_sparse(x2)
    if x1.ndim == 2 and x2.ndim == 2:
        if s1 and s2:
            return torch.sparse.mm(_coo(x1), _coo(x2)).coalesce()
        if s1:
            return torch.sparse.mm(_coo(x1), T._tensor(x2).to(x1.dtype))
        return torch.sparse.mm(_coo(x2).t(), T._tensor(x1).to(x2.dtype).t()).t()
    out = T.matmul(x1.to_dense() if s1 else x1, x2.to_dense() if s2 else x2)
    return out.to_sparse() if s1 and s2 else out


def reduce_sum(x, axes, keepdims):
    x = _coo(x)
    if not axes:
        return x
    if len(axes) == x.ndim:
        out = x.values().sum().to_sparse()  # torch.sparse.sum over every axis gives a dense scalar
    else:
        out = torch.sparse.sum(x, dim=list(axes)).coalesce()
    if keepdims:
        out = reshape(out, [1 if i in axes else d for i, d in enumerate(x.shape)])
    return out


def mean_dtype(x):
    return "float32" if not (x.is_floating_point() or x.is_complex()) else str(x.dtype).split(".")[-1]


def reshape(x, newshape):
    x = _coo(x)
    new = _reshape_target(tuple(x.shape), newshape)
    flat = torch.zeros(x.indices().shape[1], dtype=torch.int64)
    for i, d in enumerate(x.shape):
        flat = flat * d + x.indices()[i]
    idx = []
    for d in reversed(new):
        idx.append(flat % d if d else flat)
        flat = flat // d if d else flat
    idx = torch.stack(idx[::-1]) if new else torch.zeros((0, flat.shape[0]), dtype=torch.int64)
    return _build(idx, x.values(), new)


def expand_dims(x, axis):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    shape = list(x.shape)
    for a in sorted(a % (len(shape) + len(axes)) for a in axes):
        shape.insert(a, 1)
    return reshape(x, shape)


def squeeze(x, axis=None):
    shape = list(x.shape)
    axes = [i for i, d in enumerate(shape) if d == 1] if axis is None else \
        [a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis)]
    for a in axes:
        if shape[a] != 1:
            raise ValueError(f"fkeras.ops.squeeze: cannot squeeze axis {a} of size {shape[a]} (shape {shape}).")
    return reshape(x, [d for i, d in enumerate(shape) if i not in axes])


def transpose(x, axes=None):
    n = x.ndim
    perm = tuple(range(n))[::-1] if axes is None else tuple(a % n for a in axes)
    return _coo(x).permute(perm).coalesce()


def concatenate(xs, axis):
    return torch.cat([_coo(x) for x in xs], dim=axis).coalesce()


def bincount_values(dense, x, weights, minlength):
    """Counts of the stored values of `x`, per row of a 2-D `x` (as Keras's TF backend)."""
    x = _coo(x)
    w = None
    if weights is not None:
        if not is_sparse(weights):
            raise ValueError("fkeras.ops.bincount: a sparse `x` takes sparse `weights` with the same indices, "
                             f"got {type(weights).__name__}.")
        w = _coo(weights).values()
    vals = x.values().to(torch.int64)
    if x.ndim == 1:
        return dense(vals, weights=w, minlength=minlength)
    length = max(int(vals.max()) + 1 if vals.numel() else 0, minlength)
    rows = x.indices()[0]
    out = torch.zeros((x.shape[0], length), dtype=torch.int32 if w is None else w.dtype)
    out.index_put_((rows, vals), torch.ones_like(vals, dtype=out.dtype) if w is None else w, accumulate=True)
    return out


def meta_shape(x):
    return tuple(x.shape)


def meta_ndim(x):
    return x.ndim


def meta_size(x):
    return math.prod(x.shape)


def meta_dtype(x):
    return str(x.dtype).split(".")[-1]
