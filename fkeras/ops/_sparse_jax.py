"""Sparse kernels for JAX `BCOO` (other `JAXSparse` formats are converted to BCOO first); the rules are in
`_sparse.py`. Everything traces under `jax.jit`: where an exact number of stored entries would depend on
values, the traced form keeps the padded count (BCOO's out-of-range padding indices) instead."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import sparse as jsparse

from fkeras.ops._sparse import _reshape_target


def is_sparse(x) -> bool:
    return isinstance(x, jsparse.JAXSparse)


def _bcoo(x):
    return x if isinstance(x, jsparse.BCOO) else x.to_bcoo() if hasattr(x, "to_bcoo") else \
        jsparse.BCOO.fromdense(x.todense())


def _traced(*xs) -> bool:
    return any(isinstance(a, jax.core.Tracer) for x in xs for a in (x.data, x.indices))


def todense(x):
    return x.todense()


def fromdense(x):
    return jsparse.BCOO.fromdense(jnp.asarray(x))


def _same_indices(data, x):
    return jsparse.BCOO((data, x.indices), shape=x.shape, indices_sorted=x.indices_sorted,
                        unique_indices=x.unique_indices)


def _sum_duplicates(x, nse=None):
    return jsparse.bcoo_sum_duplicates(x, nse=x.nse if _traced(x) and nse is None else nse)


def map_values(fn, x, linear):
    x = _bcoo(x)
    if not linear and not x.unique_indices:
        x = _sum_duplicates(x)
    return _same_indices(fn(x.data), x)


def _with_indices_of(x, other):
    """`x` plus explicit zeros wherever `other` stores an entry (duplicates summed, padded under jit)."""
    axis = x.indices.ndim - 2
    both = jsparse.BCOO((jnp.concatenate([x.data, jnp.zeros(other.data.shape, x.data.dtype)], axis=axis),
                         jnp.concatenate([x.indices, other.indices], axis=axis)), shape=x.shape)
    return jsparse.bcoo_sum_duplicates(both, nse=x.nse + other.nse if _traced(x, other) else None)


def union(fn, x1, x2):
    x1, x2 = _bcoo(x1), _bcoo(x2)
    if x1.indices is x2.indices:
        if not x1.unique_indices:
            x1, x2 = _sum_duplicates(x1), _sum_duplicates(x2)
        return _same_indices(fn(x1.data, x2.data), x1)
    u1, u2 = _with_indices_of(x1, x2), _with_indices_of(x2, x1)  # the same sorted index set, in the same order
    return jsparse.BCOO((fn(u1.data, u2.data), u1.indices), shape=x1.shape, indices_sorted=True,
                        unique_indices=True)


def multiply(x1, x2):
    if is_sparse(x1) and is_sparse(x2):
        x1, x2 = _bcoo(x1), _bcoo(x2)
        if x1.indices is x2.indices:
            return union(jnp.multiply, x1, x2)
        return jsparse.bcoo_multiply_sparse(x1, x2)
    s, d = (_bcoo(x1), x2) if is_sparse(x1) else (_bcoo(x2), x1)
    return _same_indices(jsparse.bcoo_multiply_dense(s, jnp.asarray(d)), s)


def divide(x1, x2):
    x1 = _bcoo(x1)
    x2 = jnp.asarray(x2)
    if x2.ndim == 0:
        return _same_indices(jnp.divide(x1.data, x2), x1)
    if not isinstance(x2, jax.core.Tracer):  # 0/0 and 0/NaN are NaN where x1 stores nothing: store them
        bad = jnp.equal(x2, 0)
        if jnp.issubdtype(x2.dtype, jnp.inexact):
            bad = bad | jnp.isnan(x2)
        bad = jsparse.bcoo_fromdense(jnp.broadcast_to(bad, x1.shape), n_batch=x1.n_batch, n_dense=x1.n_dense,
                                     index_dtype=x1.indices.dtype)
        x1 = _with_indices_of(x1, bad)
    return jsparse.sparsify(jnp.divide)(x1, x2)


def matmul(x1, x2):
    def layout(x):
        return jsparse.bcoo_update_layout(_bcoo(x), n_batch=len(x.shape) - 2, on_inefficient=None) \
            if is_sparse(x) else jnp.asarray(x)

    return jsparse.sparsify(jnp.matmul)(layout(x1), layout(x2))


def reduce_sum(x, axes, keepdims):
    x = _bcoo(x)
    out = jsparse.bcoo_reduce_sum(x, axes=axes)
    if keepdims:
        out = jsparse.bcoo_broadcast_in_dim(out, shape=tuple(1 if i in axes else d for i, d in enumerate(x.shape)),
                                            broadcast_dimensions=[i for i in range(len(x.shape)) if i not in axes])
    return out


def mean_dtype(x):
    d = jnp.dtype(x.dtype)
    return "float32" if d == jnp.bool_ or jnp.issubdtype(d, jnp.integer) else d.name


def expand_dims(x, axis):
    x = _bcoo(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    rank = len(x.shape) + len(axes)
    axes = sorted(a % rank for a in axes)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return jsparse.bcoo_broadcast_in_dim(x, shape=tuple(shape),
                                         broadcast_dimensions=[i for i in range(rank) if i not in axes])


def reshape(x, newshape):
    x = _bcoo(x)
    return jsparse.bcoo_reshape(x, new_sizes=_reshape_target(x.shape, newshape))


def squeeze(x, axis=None):
    x = _bcoo(x)
    if axis is None:
        axis = tuple(i for i, d in enumerate(x.shape) if d == 1)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return jsparse.bcoo_squeeze(x, dimensions=tuple(a % len(x.shape) for a in axes))


def transpose(x, axes=None):
    x = _bcoo(x)
    n = len(x.shape)
    perm = tuple(range(n))[::-1] if axes is None else tuple(a % n for a in axes)
    return jsparse.bcoo_transpose(x, permutation=perm)


def concatenate(xs, axis):
    return jsparse.bcoo_concatenate([_bcoo(x) for x in xs], dimension=axis)


def bincount_values(dense, x, weights, minlength):
    """Counts of the stored values of `x` (per row of a batched 2-D `x`), as Keras's JAX backend."""
    x = _bcoo(x)
    if weights is not None:
        if not is_sparse(weights):
            raise ValueError("fkeras.ops.bincount: a sparse `x` takes sparse `weights` with the same indices, "
                             f"got {type(weights).__name__}.")
        weights = _bcoo(weights).data
    return dense(x.data, weights=weights, minlength=minlength)


def meta_shape(x):
    return tuple(x.shape)


def meta_ndim(x):
    return len(x.shape)


def meta_size(x):
    return int(np.prod(x.shape))


def meta_dtype(x):
    return jnp.dtype(x.dtype).name
