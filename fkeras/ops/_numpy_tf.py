"""TensorFlow side of the NumPy family (`_numpy_table`): the tensor adapter and the hand-written kernels.

Rows naming a callable use `tf.experimental.numpy` (NumPy semantics on TF tensors); the kernels
here cover names it lacks (`fmax`, `trunc`, windows, `unique`, ...) and its differences (64-bit
defaults, int64 indices). Composite kernels shared with torch come from `_numpy_composite`.
Everything is TF ops, so it differentiates under `tf.GradientTape` and traces in `tf.function`.
"""

# ruff: noqa: A001, A002
from __future__ import annotations

import builtins

import numpy as np
import tensorflow as tf
import tensorflow.experimental.numpy as tnp

from fkeras.ops import _numpy_composite, _numpy_table
from fkeras.ops._dtypes import dtype_of, floatx
from fkeras.ops._dtypes import standardize_dtype as _name
from fkeras.ops._tf import _as, _cumulative_input, _t

B = _numpy_composite.BackendView("tensorflow")  # every tensorflow implementation, looked up at run time
KERNELS: dict = dict(_numpy_composite.kernels(B))

_kernel = _numpy_table.registrar(KERNELS)


def asarray(x, dtype=None, like=None):
    return _t(x) if dtype is None else _as(x, dtype)


def cast(x, dtype):
    return x if x.dtype.name == dtype else tf.cast(x, dtype)


def _i32(x):
    return tf.cast(x, tf.int32)


def _dtype(dtype):
    return tf.as_dtype(_name(dtype if dtype is not None else floatx()))


def _is_int(x):
    return x.dtype.is_integer or x.dtype == tf.bool


# --- elementwise ---------------------------------------------------------------------------------
@_kernel
def i0(x):
    return tf.math.bessel_i0(x)


@_kernel
def trunc(x):
    return x if _is_int(x) else tf.where(x < 0, tf.math.ceil(x), tf.math.floor(x))


@_kernel
def conj(x):
    return tf.math.conj(x) if x.dtype.is_complex else x


KERNELS["conjugate"] = conj


@_kernel
def copy(x):
    return tf.identity(x)


@_kernel
def ravel(x):
    return tf.reshape(x, [-1])


@_kernel
def bitwise_invert(x):
    return tf.logical_not(x) if x.dtype == tf.bool else tf.bitwise.invert(x)


KERNELS["bitwise_not"] = bitwise_invert


def _bitwise(int_fn, bool_fn):
    def kernel(x, y):
        return bool_fn(x, y) if x.dtype == tf.bool else int_fn(x, y)

    return kernel


KERNELS["bitwise_and"] = _bitwise(tf.bitwise.bitwise_and, tf.logical_and)
KERNELS["bitwise_or"] = _bitwise(tf.bitwise.bitwise_or, tf.logical_or)
KERNELS["bitwise_xor"] = _bitwise(tf.bitwise.bitwise_xor, tf.math.logical_xor)
for _n in ("bitwise_left_shift", "left_shift"):
    KERNELS[_n] = _bitwise(tf.bitwise.left_shift, None)
for _n in ("bitwise_right_shift", "right_shift"):
    KERNELS[_n] = _bitwise(tf.bitwise.right_shift, None)


def _nan_pick(pick):
    def kernel(x1, x2):
        if _is_int(x1):
            return pick(x1, x2)
        out = pick(x1, x2)
        out = tf.where(tf.math.is_nan(x1), x2, out)
        return tf.where(tf.math.is_nan(x2), x1, out)

    return kernel


KERNELS["fmax"] = _nan_pick(tf.maximum)
KERNELS["fmin"] = _nan_pick(tf.minimum)


@_kernel
def fmod(x1, x2):
    if _is_int(x1):
        return tf.truncatemod(x1, x2)
    return x1 - x2 * trunc(x1 / x2)  # differentiable, unlike tf.truncatemod


def _float_test(fn, int_value):
    def kernel(x):
        return tf.fill(tf.shape(x), int_value) if _is_int(x) else fn(x)

    return kernel


KERNELS["isfinite"] = _float_test(tf.math.is_finite, True)
KERNELS["isinf"] = _float_test(tf.math.is_inf, False)
KERNELS["isnan"] = _float_test(tf.math.is_nan, False)
KERNELS["isposinf"] = _float_test(lambda x: tf.math.is_inf(x) & (x > 0), False)
KERNELS["isneginf"] = _float_test(lambda x: tf.math.is_inf(x) & (x < 0), False)


@_kernel
def signbit(x):
    if x.dtype == tf.bool:
        return tf.zeros_like(x)
    if _is_int(x):
        return x < 0
    return (x < 0) | ((x == 0) & (tf.math.reciprocal(x) < 0))  # also -0.0


@_kernel
def heaviside(x1, x2):
    at_zero = tf.broadcast_to(x2, tf.shape(x1 + x2))
    return tf.where(x1 < 0, tf.zeros_like(x1), tf.where(x1 > 0, tf.ones_like(x1), at_zero))


@_kernel
def ldexp(x1, x2):
    x1 = x1 if x1.dtype.is_floating else tf.cast(x1, _dtype(None))
    return x1 * tf.pow(tf.constant(2.0, x1.dtype), tf.cast(x2, x1.dtype))


# --- products, reductions ------------------------------------------------------------------------
@_kernel
def inner(x1, x2):
    if x1.shape.rank == 0 or x2.shape.rank == 0:
        return x1 * x2
    return tf.tensordot(x1, x2, axes=[[x1.shape.rank - 1], [x2.shape.rank - 1]])


@_kernel
def vdot(x1, x2):
    return tf.reduce_sum(tf.reshape(conj(x1), [-1]) * tf.reshape(x2, [-1]))


@_kernel
def tensordot(x1, x2, axes=2):
    return tf.tensordot(x1, x2, axes=axes)


@_kernel
def count_nonzero(x, axis=None):
    return tf.math.count_nonzero(x, axis=axis, dtype=tf.int32)


@_kernel
def cumprod(x, axis=None, dtype=None):
    x, axis = _cumulative_input(x, axis, dtype)
    return tf.math.cumprod(x, axis=axis)


@_kernel
def trace(x, offset=0, axis1=0, axis2=1):
    d = tf.reduce_sum(diagonal(x, offset, axis1, axis2), axis=-1)
    return tf.cast(d, tf.int32) if _is_int(x) and x.dtype not in (tf.uint32, tf.uint64) else d


# --- creation ------------------------------------------------------------------------------------
@_kernel
def empty(shape, dtype=None):
    return tf.zeros(shape, _dtype(dtype))


@_kernel
def empty_like(x, dtype=None):
    x = _t(x)
    return tf.zeros_like(x, dtype=None if dtype is None else _dtype(dtype))


@_kernel
def full_like(x, fill_value, dtype=None):
    x = _t(x)
    dt = x.dtype if dtype is None else _dtype(dtype)
    return tf.fill(tf.shape(x), tf.cast(fill_value, dt))


@_kernel
def eye(N, M=None, k=0, dtype=None):
    return tf.cast(tnp.eye(N, M, k), _dtype(dtype))


@_kernel
def identity(n, dtype=None):
    return tf.eye(n, dtype=_dtype(dtype))


@_kernel
def tri(N, M=None, k=0, dtype=None):
    return tf.cast(tnp.tri(N, M, k), _dtype(dtype))


@_kernel
def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    s, e = tf.cast(_t(start), tf.float32), tf.cast(_t(stop), tf.float32)
    div = (num - 1) if endpoint else num
    step = (e - s) / div if div > 0 else (e - s) * float("nan")
    i = tf.reshape(tf.range(num, dtype=tf.float32), [-1] + [1] * len(tf.broadcast_static_shape(s.shape, e.shape)))
    vals = s + i * step if div > 0 else s + i * (e - s)
    if endpoint and num > 1:
        vals = tf.concat([vals[:-1], tf.expand_dims(e + 0 * s, 0)], axis=0)
    if axis != 0:
        vals = tnp.moveaxis(vals, 0, axis)
    if dtype is not None:
        dt = _dtype(dtype)
        vals = tf.cast(tf.floor(vals) if dt.is_integer else vals, dt)
    return (vals, step) if retstep else vals


@_kernel
def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    vals = tf.pow(tf.constant(float(base)), linspace(start, stop, num, endpoint, axis=axis))
    return vals if dtype is None else tf.cast(vals, _dtype(dtype))


@_kernel
def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    s, e = tf.cast(_t(start), tf.float32), tf.cast(_t(stop), tf.float32)
    logs = linspace(tf.math.log(tf.abs(s)) / np.log(10.0), tf.math.log(tf.abs(e)) / np.log(10.0), num, endpoint)
    out = tf.sign(s) * tf.pow(10.0, logs)
    parts = [tf.expand_dims(s + 0 * e, 0), out[1:]]
    if endpoint and num > 1:
        parts = [parts[0], out[1:-1], tf.expand_dims(e + 0 * s, 0)]
    out = tf.concat(parts, 0) if num > 0 else out
    if axis != 0:
        out = tnp.moveaxis(out, 0, axis)
    return out if dtype is None else tf.cast(out, _dtype(dtype))


@_kernel
def array(x, dtype=None):
    return tf.identity(_t(x) if dtype is None else _as(x, dtype))


def _window(n, fn):
    n = int(n)
    if n < 1:
        return tf.zeros([0], _dtype(None))
    if n == 1:
        return tf.ones([1], _dtype(None))
    i = tf.range(n, dtype=tf.float64)
    return tf.cast(fn(i, float(n)), _dtype(None))


KERNELS["bartlett"] = lambda x: _window(x, lambda i, n: 1 - tf.abs(2 * i / (n - 1) - 1))
KERNELS["blackman"] = lambda x: _window(x, lambda i, n: 0.42 - 0.5 * tf.cos(2 * np.pi * i / (n - 1))
                                        + 0.08 * tf.cos(4 * np.pi * i / (n - 1)))
KERNELS["hamming"] = lambda x: _window(x, lambda i, n: 0.54 - 0.46 * tf.cos(2 * np.pi * i / (n - 1)))
KERNELS["hanning"] = lambda x: _window(x, lambda i, n: 0.5 - 0.5 * tf.cos(2 * np.pi * i / (n - 1)))


@_kernel
def kaiser(x, beta):
    beta = float(beta)
    return _window(x, lambda i, n: tf.math.bessel_i0(beta * tf.sqrt(1 - (2 * i / (n - 1) - 1) ** 2))
                   / tf.math.bessel_i0(tf.constant(beta, tf.float64)))


@_kernel
def meshgrid(*x, indexing="xy"):
    if indexing not in ("xy", "ij"):
        raise ValueError(f"Valid values for `indexing` are 'xy' and 'ij'. Received: indexing={indexing}")
    return list(tf.meshgrid(*[tf.reshape(_t(t), [-1]) for t in x], indexing=indexing))


@_kernel
def vander(x, N=None, increasing=False):
    n = x.shape[0] if N is None else N
    p = tf.range(n, dtype=x.dtype) if increasing else tf.range(n - 1, -1, -1, dtype=x.dtype)
    return tf.pow(tf.expand_dims(x, -1), p) if n else tf.zeros([x.shape[0], 0], x.dtype)


# --- shape manipulation ----------------------------------------------------------------------------
@_kernel
def rot90(array, k=1, axes=(0, 1)):
    return tnp.rot90(array, k, axes)


@_kernel
def diag(x, k=0):
    return tnp.diag(x, k)


@_kernel
def diagflat(x, k=0):
    return tnp.diagflat(x, k)


@_kernel
def diagonal(x, offset=0, axis1=0, axis2=1):
    if x.dtype == tf.bool:
        return tf.cast(tnp.diagonal(tf.cast(x, tf.int8), offset, axis1, axis2), tf.bool)
    return tnp.diagonal(x, offset, axis1, axis2)


def _band(x, k, lower):
    n, m = tf.shape(x)[-2], tf.shape(x)[-1]  # dynamic: works on unknown dims inside tf.function
    r = tf.range(n)[:, None]
    c = tf.range(m)[None, :]
    mask = (c - r <= k) if lower else (c - r >= k)
    return tf.where(mask, x, tf.zeros_like(x))


KERNELS["tril"] = lambda x, k=0: _band(x, k, True)
KERNELS["triu"] = lambda x, k=0: _band(x, k, False)


@_kernel
def diff(a, n=1, axis=-1):
    for _ in range(n):
        nd = a.shape.rank
        ax = axis % nd
        hi = a[(slice(None),) * ax + (slice(1, None),)]
        lo = a[(slice(None),) * ax + (slice(None, -1),)]
        a = tf.math.logical_xor(hi, lo) if a.dtype == tf.bool else hi - lo
    return a


def _split_sizes(n, sections):
    q, r = divmod(n, sections)
    return [q + 1] * r + [q] * (sections - r)


def _split(x, indices_or_sections, axis, even):
    n = x.shape[axis]
    if isinstance(indices_or_sections, int):
        if even and n % indices_or_sections:
            raise ValueError("array split does not result in an equal division")
        sizes = _split_sizes(n, indices_or_sections)
    else:
        bounds = [0] + [builtins.min(builtins.max(int(i), 0), n) for i in indices_or_sections] + [n]
        sizes = [builtins.max(b - a, 0) for a, b in zip(bounds[:-1], bounds[1:])]
    return tf.split(x, sizes, axis=axis)


@_kernel
def array_split(x, indices_or_sections, axis=0):
    return _split(x, indices_or_sections, axis, even=False)


KERNELS["hsplit"] = lambda x, indices_or_sections: _split(x, indices_or_sections, 1 if x.shape.rank > 1 else 0, True)
KERNELS["vsplit"] = lambda x, indices_or_sections: _split(x, indices_or_sections, 0, True)
KERNELS["dsplit"] = lambda x, indices_or_sections: _split(x, indices_or_sections, 2, True)


def _stackable(xs):
    return [_as(t, B.result_dtype(*xs)) for t in xs]


KERNELS["hstack"] = lambda xs: tnp.hstack(_stackable(xs))
KERNELS["vstack"] = lambda xs: tnp.vstack(_stackable(xs))
KERNELS["dstack"] = lambda xs: tnp.dstack(_stackable(xs))


@_kernel
def get_item(x, key):
    return x[key]


@_kernel
def nonzero(x):
    idx = _i32(tf.where(tf.cast(x, tf.bool)))
    return tuple(idx[:, i] for i in range(x.shape.rank))


@_kernel
def unravel_index(indices, shape):
    out = tf.unravel_index(tf.reshape(tf.cast(indices, tf.int32), [-1]), tf.constant(list(shape), tf.int32))
    return tuple(tf.reshape(out[i], tf.shape(indices)) for i in range(len(shape)))


@_kernel
def argsort(x, axis=-1):
    if x.shape.rank == 0:
        return tf.constant(0, tf.int32)
    if x.dtype == tf.bool:
        x = tf.cast(x, tf.int8)
    return tf.argsort(x, axis=axis, stable=True)


@_kernel
def argpartition(x, kth, axis=-1):
    if axis is None:
        x, axis = tf.reshape(x, [-1]), 0
    return argsort(x, axis=axis)  # a full sort is one valid partition around every kth


@_kernel
def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    if _is_int(x):
        return x
    big = x.dtype.max if posinf is None else posinf
    small = x.dtype.min if neginf is None else neginf
    x = tf.where(tf.math.is_nan(x), tf.cast(nan, x.dtype), x)
    x = tf.where(tf.math.is_inf(x) & (x > 0), tf.cast(big, x.dtype), x)
    return tf.where(tf.math.is_inf(x) & (x < 0), tf.cast(small, x.dtype), x)


@_kernel
def isin(x1, x2, assume_unique=False, invert=False):
    flat = tf.reshape(x2, [-1])
    hit = tf.reduce_any(tf.equal(tf.expand_dims(x1, -1), flat), axis=-1)
    return tf.logical_not(hit) if invert else hit


# --- semantics that differ between frameworks ---------------------------------------------------------
@_kernel
def searchsorted(sorted_sequence, values, side="left"):
    if side not in ("left", "right"):
        raise ValueError(f"`side` must be 'left' or 'right'. Received: side={side}")
    flat = tf.reshape(values, [1, -1])
    out = tf.searchsorted(tf.reshape(sorted_sequence, [1, -1]), flat, side=side, out_type=tf.int32)
    return tf.reshape(out, tf.shape(values))


@_kernel
def digitize(x, bins):
    return searchsorted(tf.cast(bins, x.dtype), x, side="right")


@_kernel
def bincount(x, weights=None, minlength=0, sparse=False):
    # sparse=True and sparse `x`: the wrapper in _sparse.py
    w = None if weights is None else _t(weights)
    out = tf.math.bincount(x, weights=w, minlength=minlength, axis=-1 if x.shape.rank == 2 else None,
                           dtype=tf.int32 if w is None else w.dtype)
    return out


@_kernel
def histogram(x, bins=10, range=None):
    if x.shape.rank != 1:
        raise ValueError(f"Input tensor must be 1-dimensional. Received: input.shape={tuple(x.shape)}")
    lo, hi = (tf.reduce_min(x), tf.reduce_max(x)) if range is None else (
        tf.constant(range[0], x.dtype), tf.constant(range[1], x.dtype))
    edges = lo + (hi - lo) * tf.range(bins + 1, dtype=x.dtype) / bins
    idx = tf.clip_by_value(tf.searchsorted(edges, x, side="right", out_type=tf.int32) - 1, 0, bins - 1)
    inside = (x >= lo) & (x <= hi)
    counts = tf.math.unsorted_segment_sum(tf.cast(inside, x.dtype), idx, bins)
    return counts, edges


@_kernel
def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False, axis=None, size=None,
           fill_value=None):
    if axis is not None:
        raise NotImplementedError("fkeras.ops.unique: `axis` is not supported on TF tensors.")
    flat = tf.reshape(x, [-1])
    vals, inverse = tf.unique(flat, out_idx=tf.int32)
    order = tf.argsort(vals, stable=True)  # sorted also when sorted=False (NumPy's order, Keras's on JAX)
    vals = tf.gather(vals, order)
    rank = tf.math.invert_permutation(order)
    inverse = tf.gather(rank, inverse)
    n_unique = tf.shape(vals)[0]
    counts = tf.math.unsorted_segment_sum(tf.ones_like(inverse), inverse, n_unique)
    first = tf.math.unsorted_segment_min(tf.range(tf.size(flat), dtype=tf.int32), inverse, n_unique)
    if size is not None:
        pad = size - vals.shape[0]
        if pad > 0:
            fill = fill_value if fill_value is not None else vals[0]
            vals = tf.concat([vals, tf.fill([pad], tf.cast(fill, vals.dtype))], 0)
            counts = tf.concat([counts, tf.zeros([pad], counts.dtype)], 0)
            first = tf.concat([first, tf.zeros([pad], first.dtype)], 0)
        vals, counts, first = vals[:size], counts[:size], first[:size]
    extras = [e for e, want in ((first, return_index), (tf.reshape(inverse, tf.shape(x)), return_inverse),
                                (counts, return_counts)) if want]
    return (vals, *extras) if extras else vals


@_kernel
def correlate(x1, x2, mode="valid"):
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"mode must be 'valid', 'same' or 'full'; got {mode!r}.")
    swap = x2.shape[0] > x1.shape[0]
    a, v = (x2, x1) if swap else (x1, x2)
    m = v.shape[0]
    pad = {"valid": (0, 0), "same": (m // 2, m - 1 - m // 2), "full": (m - 1, m - 1)}[mode]
    ap = tf.pad(a, [pad])
    out = tf.nn.conv1d(tf.reshape(ap, [1, -1, 1]), tf.reshape(v, [-1, 1, 1]), stride=1, padding="VALID")
    out = tf.reshape(out, [-1])
    return tf.reverse(out, [0]) if swap else out


@_kernel
def slogdet(x):
    sign, logabs = tf.linalg.slogdet(x)
    return sign, logabs


def _map_leading(fn, xs):
    return tf.vectorized_map(lambda row: fn(*row), tuple(xs))


KERNELS["vectorize"] = _numpy_composite.vectorize_with(B, _map_leading)


@_kernel
def view(x, dtype=None):
    dt = _dtype(dtype if dtype is not None else _name(dtype_of(x)))
    a, b = x.dtype.size, dt.size
    if a == b:
        return tf.bitcast(x, dt)
    if a > b:  # each element splits: the last axis grows
        out = tf.bitcast(x, dt)
        return tf.reshape(out, tf.concat([tf.shape(x)[:-1], [-1]], 0))
    x = tf.reshape(x, tf.concat([tf.shape(x)[:-1], [-1, b // a]], 0))
    return tf.bitcast(x, dt)


IMPLEMENTATIONS = _numpy_table.implement("tensorflow", tnp, KERNELS, asarray, cast)
