"""Sparse kernels for `tf.SparseTensor` (rules in `_sparse.py`). Built from `tf.sparse` ops, so they run eagerly
and inside `tf.function`."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from fkeras.ops import _tf as T
from fkeras.ops._sparse import _reshape_target


def is_sparse(x) -> bool:
    return isinstance(x, tf.SparseTensor)


def todense(x):
    return tf.sparse.to_dense(x)


def fromdense(x):
    return tf.sparse.from_dense(T._t(x))


def _static_shape(x):
    shape = x.shape.as_list()
    if None in shape:
        raise ValueError(f"fkeras.ops: this sparse op needs a static shape, got {x.shape}.")
    return shape


def map_values(fn, x, linear=True):
    return tf.SparseTensor(x.indices, fn(x.values), x.dense_shape)


def _zeros_at(x, dtype):
    return tf.SparseTensor(x.indices, tf.zeros_like(x.values, dtype=dtype), x.dense_shape)


def _with_indices_of(x, other):
    """`x` plus explicit zeros wherever `other` stores an entry, in canonical (row-major) order."""
    return tf.sparse.add(tf.sparse.reorder(x), tf.sparse.reorder(_zeros_at(other, x.dtype)))


def union(fn, x1, x2):
    u1, u2 = _with_indices_of(x1, x2), _with_indices_of(x2, x1)  # the same index set, in the same order
    return tf.SparseTensor(u1.indices, fn(u1.values, u2.values), u1.dense_shape)


def _gather_dense(d, x):
    """The dense `d` (broadcast to `x`'s shape) at `x`'s stored indices."""
    d = tf.broadcast_to(d, tf.cast(x.dense_shape, tf.int32))
    return tf.gather_nd(d, x.indices)


def multiply(x1, x2):
    if is_sparse(x1) and is_sparse(x2):
        dtype = T.result_dtype(x1.values, x2.values)
        a, b = tf.sparse.reorder(x1), tf.sparse.reorder(x2)
        ones_b = tf.sparse.to_dense(tf.SparseTensor(b.indices, tf.ones_like(b.values, tf.int32), b.dense_shape))
        keep = tf.gather_nd(ones_b, a.indices) > 0  # the intersection: entries both store
        a = tf.sparse.retain(a, keep)
        vals = tf.cast(a.values, dtype) * tf.gather_nd(tf.cast(tf.sparse.to_dense(b), dtype), a.indices)
        return tf.SparseTensor(a.indices, vals, a.dense_shape)
    s, d = (x1, x2) if is_sparse(x1) else (x2, x1)
    d = T._t(d)
    dtype = T.result_dtype(s.values, d)
    return tf.SparseTensor(s.indices, tf.cast(s.values, dtype) * tf.cast(_gather_dense(d, s), dtype), s.dense_shape)


def divide(x1, x2):
    x2 = T._t(x2)
    dtype = T.result_dtype(x1.values, x2)
    dtype = dtype if dtype.startswith(("float", "complex", "bfloat")) else "float32"
    if x2.shape.rank:  # 0/0 and 0/NaN are NaN where x1 stores nothing: store them
        full = tf.broadcast_to(x2, tf.cast(x1.dense_shape, tf.int32))
        bad = tf.equal(full, 0)
        if x2.dtype.is_floating:
            bad = bad | tf.math.is_nan(full)
        where = tf.where(bad)
        x1 = _with_indices_of(x1, tf.SparseTensor(where, tf.zeros(tf.shape(where)[:1], x1.dtype), x1.dense_shape))
    vals = tf.cast(x1.values, dtype) / tf.cast(_gather_dense(x2, x1), dtype)
    return tf.SparseTensor(x1.indices, vals, x1.dense_shape)


def matmul(x1, x2):
    s1, s2 = is_sparse(x1), is_sparse(x2)
    if len(x1.shape) == 2 and len(x2.shape) == 2 and not (s1 and s2):
        a, b = (x1, T._t(x2)) if s1 else (T._t(x1), x2)
        return tf.sparse.sparse_dense_matmul(a, b)
    out = T.matmul(todense(x1) if s1 else x1, todense(x2) if s2 else x2)
    return tf.sparse.from_dense(out) if s1 and s2 else out


def reduce_sum(x, axes, keepdims):
    if not axes:
        return x
    out = tf.sparse.reduce_sum(x, axis=list(axes), keepdims=keepdims, output_is_sparse=True)
    out.set_shape([1 if i in axes else d for i, d in enumerate(x.shape)] if keepdims else
                  [d for i, d in enumerate(x.shape) if i not in axes])  # tf.function loses it
    return out


def mean_dtype(x):
    return "float32" if x.dtype.is_integer or x.dtype == tf.bool else x.dtype.name


def expand_dims(x, axis):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    rank = len(x.shape) + len(axes)
    for a in sorted(a % rank for a in axes):
        x = tf.sparse.expand_dims(x, a)
    return x


def reshape(x, newshape):
    return tf.sparse.reshape(x, _reshape_target(_static_shape(x), newshape))


def squeeze(x, axis=None):
    shape = _static_shape(x)
    axes = [i for i, d in enumerate(shape) if d == 1] if axis is None else \
        [a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis)]
    for a in axes:
        if shape[a] != 1:
            raise ValueError(f"fkeras.ops.squeeze: cannot squeeze axis {a} of size {shape[a]} (shape {shape}).")
    return tf.sparse.reshape(x, [d for i, d in enumerate(shape) if i not in axes])


def transpose(x, axes=None):
    n = len(x.shape)
    return tf.sparse.transpose(x, None if axes is None else [a % n for a in axes])


def concatenate(xs, axis):
    return tf.sparse.concat(axis, xs)


def bincount_values(dense, x, weights, minlength):
    """Counts of the stored values of `x`, per row of a 2-D `x`, as Keras's TF backend (`tf.sparse.bincount`)."""
    w = None
    if weights is not None:
        if not is_sparse(weights):
            raise ValueError("fkeras.ops.bincount: a sparse `x` takes sparse `weights` with the same indices, "
                             f"got {type(weights).__name__}.")
        w = weights.values
    out = tf.sparse.bincount(x, weights=w, minlength=minlength, axis=-1)
    return tf.sparse.to_dense(out) if w is not None else tf.cast(tf.sparse.to_dense(out), tf.int32)


def meta_shape(x):
    return tuple(x.shape)


def meta_ndim(x):
    return len(x.shape)


def meta_size(x):
    return int(np.prod(_static_shape(x)))


def meta_dtype(x):
    return x.dtype.name
