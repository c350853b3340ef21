"""TensorFlow implementations of `fkeras.ops` (same names, signatures and semantics as `_jax.py`).

Everything here is built from TF ops only, so it differentiates under `tf.GradientTape`
and traces inside `tf.function` (shapes may have unknown dimensions there; nothing calls
`.numpy()` in math). Inputs may be `tf.Tensor`, `tf.Variable`, NumPy arrays or Python
scalars. Mixed dtypes promote the way JAX does (with 64-bit types off for NumPy and
Python inputs): a Python scalar takes the dtype of the tensor it meets ("weak" typing),
ints meeting floats become floats, and TF's own dtypes are kept as they are.
"""

# ruff: noqa: A001, A002
from __future__ import annotations

import builtins
import functools
import math

import jax.numpy as jnp
import numpy as np
import tensorflow as tf
from fkeras.ops._args import _check_data_format, _einsum_kwargs, _tuple
from fkeras.ops._args import _padding as _padding_lower

EPSILON = 1e-7

# --- dtypes and promotion -----------------------------------------------------------
_KIND = {"b": 0, "i": 1, "u": 1, "f": 2, "V": 2, "c": 3}  # "V": bfloat16 via ml_dtypes
_WEAK_DEFAULT = {0: "bool", 1: "int32", 2: "float32", 3: "complex64"}
_X64_OFF = {"float64": "float32", "int64": "int32", "uint64": "uint32", "complex128": "complex64"}


def _padding(padding):
    """lax/tf.nn spell the padding "VALID"/"SAME"."""
    return _padding_lower(padding).upper()


def _is_tensor(x) -> bool:
    return isinstance(x, (tf.Tensor, tf.Variable)) or tf.is_tensor(x)


def _kind(name: str) -> int:
    if name == "bool":
        return 0
    if name.startswith(("int", "uint")):
        return 1
    if name.startswith("complex"):
        return 3
    return 2


def _weak_kind(x):
    """Kind of a Python scalar (bool < int < float < complex), else None."""
    if isinstance(x, bool):
        return 0
    if isinstance(x, int):
        return 1
    if isinstance(x, float):
        return 2
    if isinstance(x, complex):
        return 3
    return None


def _strong_dtype(x):
    """The dtype name an operand brings to promotion, or None for a weak Python scalar."""
    if _is_tensor(x):
        return x.dtype.name
    if _weak_kind(x) is not None or x is None:
        return None
    name = np.dtype(x.dtype).name if hasattr(x, "dtype") else np.asarray(x).dtype.name
    return _X64_OFF.get(name, name)


def result_dtype(*xs) -> str:
    """The dtype JAX would give `xs` combined in one elementwise op (weak Python scalars)."""
    strong = [d for d in builtins.map(_strong_dtype, xs) if d is not None]
    weak = [k for k in builtins.map(_weak_kind, xs) if k is not None]
    if not strong:
        return _WEAK_DEFAULT[builtins.max(weak, default=2)]
    first = strong[0]
    if builtins.all(d == first for d in strong):
        out = first  # the common case: skip JAX's promotion table
    else:
        out = functools.reduce(lambda a, b: jnp.promote_types(a, b).name, strong)
    if weak and builtins.max(weak) > _kind(out):
        out = _WEAK_DEFAULT[builtins.max(weak)]
    return out


def standardize_dtype(dtype):
    """A `tf.DType` from a string, NumPy/JAX dtype, Python type or `tf.DType`."""
    if dtype is None:
        return None
    if isinstance(dtype, tf.DType):
        return dtype
    if dtype is float:
        return tf.float32
    if dtype is int:
        return tf.int32
    if dtype is bool:
        return tf.bool
    name = dtype if isinstance(dtype, str) else getattr(dtype, "name", None) or np.dtype(dtype).name
    try:
        return tf.as_dtype(name)
    except TypeError as e:
        raise ValueError(f"fkeras.ops: unknown dtype {dtype!r}; expected a name like 'float32'.") from e


def _as(x, dtype):
    """`x` as a TF tensor of `dtype` (a name or tf.DType); tensors are cast only when needed."""
    dtype = standardize_dtype(dtype)
    if _is_tensor(x):
        return x if x.dtype == dtype else tf.cast(x, dtype)
    if isinstance(x, (np.ndarray, np.generic)) or hasattr(x, "__array__"):
        return tf.constant(np.asarray(x).astype(dtype.as_numpy_dtype))
    try:
        return tf.constant(x, dtype=dtype)
    except (TypeError, ValueError):  # e.g. the Python int 1 as bool
        return tf.cast(tf.constant(x), dtype)


def _t(x):
    """`x` as a TF tensor (NumPy/Python values canonicalised like JAX: float64 -> float32)."""
    if _is_tensor(x):
        return x
    return _as(x, result_dtype(x))


def _promote(*xs):
    dtype = result_dtype(*xs)
    return [_as(x, dtype) for x in xs]


def _float(x):
    """`x` as a floating tensor (ints and bools become float32, as `jnp.exp` does)."""
    x = _t(x)
    return x if x.dtype.is_floating or x.dtype.is_complex else tf.cast(x, tf.float32)


def _float_promote(*xs):
    xs = _promote(*xs)
    if xs[0].dtype.is_floating or xs[0].dtype.is_complex:
        return xs
    return [tf.cast(x, tf.float32) for x in xs]


def _rank(x) -> int:
    return x.shape.rank


def _axes(axis, ndim):
    """None -> None; int or sequence -> sorted list of non-negative axes."""
    if axis is None:
        return None
    axes = [axis] if isinstance(axis, int) else list(axis)
    return sorted(a % ndim if ndim else a for a in axes)


def _binary(tf_fn, *, floating=False):
    def fn(x1, x2):
        a, b = (_float_promote if floating else _promote)(x1, x2)
        return tf_fn(a, b)

    return fn


def _unary(tf_fn, *, floating=False):
    def fn(x):
        return tf_fn(_float(x) if floating else _t(x))

    return fn


# --- numpy-like ---------------------------------------------------------------------
add = _binary(tf.add)
subtract = _binary(tf.subtract)
multiply = _binary(tf.multiply)
divide = _binary(tf.math.truediv, floating=True)
maximum = _binary(tf.maximum)
minimum = _binary(tf.minimum)
equal = _binary(tf.equal)
not_equal = _binary(tf.not_equal)
greater = _binary(tf.greater)
greater_equal = _binary(tf.greater_equal)
less = _binary(tf.less)
less_equal = _binary(tf.less_equal)

negative = _unary(tf.negative)
exp = _unary(tf.exp, floating=True)
log = _unary(tf.math.log, floating=True)
log1p = _unary(tf.math.log1p, floating=True)
sqrt = _unary(tf.sqrt, floating=True)
rsqrt = _unary(tf.math.rsqrt, floating=True)
square = _unary(tf.square)
abs = _unary(tf.abs)
sign = _unary(tf.sign)
tanh = _unary(tf.tanh, floating=True)
erf = _unary(tf.math.erf, floating=True)
floor = _unary(tf.floor, floating=True)


def power(x1, x2):
    a, b = _promote(x1, x2)
    return tf.pow(a, b)


def logical_and(x1, x2):
    return tf.logical_and(_as(x1, tf.bool), _as(x2, tf.bool))


def logical_or(x1, x2):
    return tf.logical_or(_as(x1, tf.bool), _as(x2, tf.bool))


def logical_not(x):
    return tf.logical_not(_as(x, tf.bool))


def stop_gradient(variable):
    return tf.stop_gradient(_t(variable))


def matmul(x1, x2):
    a, b = _promote(x1, x2)
    if a.dtype == tf.int8 and b.dtype == tf.int8:  # accumulate and return int32, as Keras
        a, b = tf.cast(a, tf.int32), tf.cast(b, tf.int32)
    if _rank(a) == 0 or _rank(b) == 0:
        raise ValueError(f"fkeras.ops.matmul: expected arrays of rank >= 1, got shapes {a.shape} and {b.shape}.")
    if _rank(a) == 1 and _rank(b) == 1:
        return tf.reduce_sum(a * b)
    if _rank(a) == 1:
        return tf.squeeze(tf.linalg.matmul(a[None, :], b), -2)
    if _rank(b) == 1:
        return tf.squeeze(tf.linalg.matmul(a, b[:, None]), -1)
    return tf.linalg.matmul(a, b)


def einsum(subscripts, *operands, **kwargs):
    _einsum_kwargs(kwargs)
    operands = _promote(*operands)
    if operands[0].dtype == tf.int8:  # accumulate in int32, as Keras
        operands = [tf.cast(o, tf.int32) for o in operands]
    return tf.einsum(subscripts, *operands)


def dot(x1, x2):
    a, b = _promote(x1, x2)
    if _rank(a) == 0 or _rank(b) == 0:
        return a * b
    if _rank(b) == 1:
        return tf.tensordot(a, b, axes=[[_rank(a) - 1], [0]])
    return tf.tensordot(a, b, axes=[[_rank(a) - 1], [_rank(b) - 2]])


def round(x, decimals=0):
    x = _t(x)
    if not x.dtype.is_floating:
        if decimals >= 0:
            return x
        f = 10 ** (-decimals)
        return tf.cast(tf.round(tf.cast(x, tf.float32) / f) * f, x.dtype)
    if decimals == 0:
        return tf.round(x)  # half to even, like NumPy
    f = tf.cast(10.0**decimals, x.dtype)
    return tf.round(x * f) / f


def clip(x, x_min, x_max):
    x, lo, hi = _promote(x, x_min, x_max)
    return tf.minimum(tf.maximum(x, lo), hi)


def _reduce(tf_fn, x, axis, keepdims):
    return tf_fn(x, axis=_axes(axis, _rank(x)), keepdims=keepdims)


def sum(x, axis=None, keepdims=False):
    x = _t(x)
    if x.dtype == tf.bool:
        x = tf.cast(x, tf.int32)
    return _reduce(tf.reduce_sum, x, axis, keepdims)


def prod(x, axis=None, keepdims=False, dtype=None):
    x = _t(x)
    if dtype is not None:
        x = _as(x, dtype)
    elif x.dtype == tf.bool:
        x = tf.cast(x, tf.int32)
    return _reduce(tf.reduce_prod, x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    return _reduce(tf.reduce_mean, _float(x), axis, keepdims)


def _with_initial(y, initial, fn):
    if initial is None:
        return y
    return fn(y, tf.cast(initial, y.dtype))


def max(x, axis=None, keepdims=False, initial=None):
    return _with_initial(_reduce(tf.reduce_max, _t(x), axis, keepdims), initial, tf.maximum)


def min(x, axis=None, keepdims=False, initial=None):
    return _with_initial(_reduce(tf.reduce_min, _t(x), axis, keepdims), initial, tf.minimum)


def any(x, axis=None, keepdims=False):
    return _reduce(tf.reduce_any, _as(x, tf.bool), axis, keepdims)


def all(x, axis=None, keepdims=False):
    return _reduce(tf.reduce_all, _as(x, tf.bool), axis, keepdims)


def _arg(tf_fn, x, axis, keepdims):
    x = _t(x)
    nd = _rank(x)
    if axis is None:
        out = tf_fn(tf.reshape(x, [-1]), axis=0, output_type=tf.int32)
        return tf.reshape(out, [1] * nd) if keepdims else out
    out = tf_fn(x, axis=axis, output_type=tf.int32)
    return tf.expand_dims(out, axis) if keepdims else out


def argmax(x, axis=None, keepdims=False):
    return _arg(tf.argmax, x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    return _arg(tf.argmin, x, axis, keepdims)


def var(x, axis=None, keepdims=False):
    return _reduce(tf.math.reduce_variance, _float(x), axis, keepdims)


def std(x, axis=None, keepdims=False):
    return _reduce(tf.math.reduce_std, _float(x), axis, keepdims)


def logsumexp(x, axis=None, keepdims=False):
    return _reduce(tf.reduce_logsumexp, _float(x), axis, keepdims)


def _shape_list(shape):
    """A reshape target: ints, with None meaning 'infer' (-1), as under tf.function's free batch."""
    scalar = isinstance(shape, int) or (_is_tensor(shape) and shape.shape.rank == 0)
    shape = [shape] if scalar else list(shape)
    if builtins.sum(d is None for d in shape) > 1:
        raise ValueError(f"fkeras.ops.reshape: at most one unknown dimension allowed, got {tuple(shape)}.")
    return [-1 if d is None else d for d in shape]


def reshape(x, newshape):
    return tf.reshape(_t(x), _shape_list(newshape))


def transpose(x, axes=None):
    return tf.transpose(_t(x), perm=None if axes is None else list(axes))


def expand_dims(x, axis):
    x = _t(x)
    if isinstance(axis, int):
        return tf.expand_dims(x, axis)
    out_nd = _rank(x) + len(axis)
    for a in sorted(a % out_nd for a in axis):
        x = tf.expand_dims(x, a)
    return x


def squeeze(x, axis=None):
    x = _t(x)
    return tf.squeeze(x, axis=None if axis is None else _axes(axis, _rank(x)))


def broadcast_to(x, shape):
    return tf.broadcast_to(_t(x), list(shape))


def tile(x, repeats):
    x = _t(x)
    reps = [repeats] if isinstance(repeats, int) else list(repeats)
    nd = _rank(x)
    if len(reps) < nd:
        reps = [1] * (nd - len(reps)) + reps
    elif len(reps) > nd:
        x = tf.reshape(x, [1] * (len(reps) - nd) + _dyn_shape(x))
    return tf.tile(x, reps)


def repeat(x, repeats, axis=None):
    return tf.repeat(_t(x), repeats, axis=axis)


def flip(x, axis=None):
    x = _t(x)
    axes = list(range(_rank(x))) if axis is None else _axes(axis, _rank(x))
    return tf.reverse(x, axes)


def concatenate(xs, axis=0):
    xs = _promote(*xs)
    if axis is None:
        return tf.concat([tf.reshape(x, [-1]) for x in xs], 0)
    return tf.concat(xs, axis=axis)


def stack(x, axis=0):
    return tf.stack(_promote(*x), axis=axis)


def split(x, indices_or_sections, axis=0):
    x = _t(x)
    if isinstance(indices_or_sections, int):
        n = x.shape[axis]
        if n is not None and n % indices_or_sections:
            raise ValueError(
                f"fkeras.ops.split: axis {axis} of length {n} does not divide into {indices_or_sections} equal parts."
            )
        return tf.split(x, indices_or_sections, axis=axis)
    bounds = [0, *indices_or_sections]
    n = x.shape[axis] if x.shape[axis] is not None else tf.shape(x)[axis]
    sizes = [b - a for a, b in zip(bounds, bounds[1:])] + [n - bounds[-1]]
    return tf.split(x, sizes, axis=axis)


def _pad_pairs(pad_width, nd):
    pw = np.asarray(pad_width, dtype=np.int64)
    if pw.ndim == 0:
        pw = np.full((nd, 2), int(pw))
    elif pw.ndim == 1:
        pw = np.broadcast_to(pw.reshape(1, -1) if pw.size == 2 else pw.reshape(-1, 1), (nd, 2))
    elif pw.shape == (1, 2):
        pw = np.broadcast_to(pw, (nd, 2))
    if pw.shape != (nd, 2):
        raise ValueError(
            f"fkeras.ops.pad: expected pad_width as (before, after) for each of {nd} axes, got {pad_width!r}."
        )
    return pw.tolist()


def pad(x, pad_width, mode="constant", constant_values=None):
    x = _t(x)
    modes = {"constant": "CONSTANT", "reflect": "REFLECT", "symmetric": "SYMMETRIC"}
    if mode not in modes:
        raise NotImplementedError(
            f"fkeras.ops.pad: mode={mode!r} has no tensorflow implementation; use one of {sorted(modes)}."
        )
    if constant_values is not None and mode != "constant":
        raise ValueError(f"fkeras.ops.pad: constant_values is only used with mode='constant', got mode={mode!r}.")
    value = 0 if constant_values is None else constant_values
    return tf.pad(x, _pad_pairs(pad_width, _rank(x)), mode=modes[mode], constant_values=tf.cast(value, x.dtype))


def _fix_negative(indices, dim):
    return tf.where(indices < 0, indices + tf.cast(dim, indices.dtype), indices)


def _dyn_dim(x, axis):
    d = x.shape[axis]
    return d if d is not None else tf.shape(x)[axis]


def _dyn_shape(x):
    static = x.shape.as_list()
    if None not in static:
        return static
    dyn = tf.shape(x)
    return [dyn[i] if d is None else d for i, d in enumerate(static)]


def _int_indices(indices):
    indices = _t(indices)
    return indices if indices.dtype.is_integer else tf.cast(indices, tf.int32)


def take(x, indices, axis=None):
    x = _t(x)
    if axis is None:
        x, axis = tf.reshape(x, [-1]), 0
    axis = axis % _rank(x)
    return tf.gather(x, _fix_negative(_int_indices(indices), _dyn_dim(x, axis)), axis=axis)


def take_along_axis(x, indices, axis=None):
    x, indices = _t(x), _int_indices(indices)
    if axis is None:
        x, indices, axis = tf.reshape(x, [-1]), tf.reshape(indices, [-1]), 0
    nd = _rank(x)
    axis = axis % nd
    if _rank(indices) != nd:
        raise ValueError(
            f"fkeras.ops.take_along_axis: expected indices of rank {nd} (like x), got shape {indices.shape}."
        )
    indices = _fix_negative(indices, _dyn_dim(x, axis))
    # Move `axis` last, broadcast the other axes, then gather per batch element.
    perm = [a for a in range(nd) if a != axis] + [axis]
    xt, it = tf.transpose(x, perm), tf.transpose(indices, perm)
    batch = tf.broadcast_dynamic_shape(tf.shape(xt)[:-1], tf.shape(it)[:-1])
    xt = tf.broadcast_to(xt, tf.concat([batch, tf.shape(xt)[-1:]], 0))
    it = tf.broadcast_to(it, tf.concat([batch, tf.shape(it)[-1:]], 0))
    out = tf.gather(xt, it, batch_dims=nd - 1)
    inverse = np.argsort(perm).tolist()
    return tf.transpose(out, inverse)


def where(condition, x1=None, x2=None):
    condition = _as(condition, tf.bool)
    if x1 is None and x2 is None:
        idx = tf.cast(tf.where(condition), tf.int32)
        return tuple(idx[:, i] for i in range(_rank(condition)))
    if x1 is None or x2 is None:
        raise ValueError("fkeras.ops.where: expected both x1 and x2, or neither.")
    a, b = _promote(x1, x2)
    return tf.where(condition, a, b)


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    # sparse=True: the wrapper in _sparse.py makes the result sparse
    x = _int_indices(x)
    if axis != -1:
        axis = axis % (_rank(x) + 1)
    return tf.one_hot(x, num_classes, axis=axis, dtype=standardize_dtype(dtype or "float32"))


def cast(x, dtype):
    return _as(x, dtype)


def convert_to_tensor(x, dtype=None, sparse=None):  # sparse inputs: the wrapper in _sparse.py; dense stay dense
    if isinstance(x, (list, tuple)):
        x = tf.stack(_promote(*x)) if x else tf.constant([], tf.float32)
    x = tf.convert_to_tensor(_t(x))
    if dtype is not None:
        x = _as(x, dtype)
    return x


def convert_to_numpy(x):
    if isinstance(x, tf.SparseTensor):
        x = tf.sparse.to_dense(x)
    return np.asarray(x)


def shape(x):
    return tuple(x.shape)


def ndim(x):
    return _rank(_t(x))


def size(x):
    x = _t(x)
    static = x.shape.as_list()
    return math.prod(static) if None not in static else tf.size(x)


def dtype(x):
    return _t(x).dtype.name


def zeros(shape, dtype=None):
    return tf.zeros(_shape_list(shape), standardize_dtype(dtype or "float32"))


def ones(shape, dtype=None):
    return tf.ones(_shape_list(shape), standardize_dtype(dtype or "float32"))


def zeros_like(x, dtype=None):
    return tf.zeros_like(_t(x), dtype=standardize_dtype(dtype))


def ones_like(x, dtype=None):
    return tf.ones_like(_t(x), dtype=standardize_dtype(dtype))


def full(shape, fill_value, dtype=None):
    dtype = standardize_dtype(dtype or "float32")
    return tf.fill(_shape_list(shape), _as(fill_value, dtype))


def arange(start, stop=None, step=None, dtype=None):
    step = 1 if step is None else step
    if stop is None:
        start, stop = 0, start
    dtype = standardize_dtype(dtype or result_dtype(start, stop, step))
    return tf.range(_as(start, dtype), _as(stop, dtype), _as(step, dtype), dtype=dtype)


def _cumulative_input(x, axis, dtype):
    """A cumulative op's (input, axis): cast to `dtype` (bools count as int32), flattened along 0 when axis is None."""
    if dtype is not None:
        x = _as(x, dtype)
    elif x.dtype == tf.bool:
        x = tf.cast(x, tf.int32)
    if axis is None:
        x, axis = tf.reshape(x, [-1]), 0
    return x, axis


def cumsum(x, axis=None, dtype=None):
    x, axis = _cumulative_input(_t(x), axis, dtype)
    return tf.cumsum(x, axis=axis)


def sort(x, axis=-1):
    return tf.sort(_t(x), axis=axis)


def top_k(x, k, sorted=True):
    out = tf.math.top_k(_t(x), k=k, sorted=sorted)
    return out.values, out.indices


# --- nn ---------------------------------------------------------------------------------
relu = _unary(tf.nn.relu, floating=True)
relu6 = _unary(tf.nn.relu6, floating=True)
sigmoid = _unary(tf.sigmoid, floating=True)
silu = _unary(tf.nn.silu, floating=True)
softplus = _unary(tf.math.softplus, floating=True)
softsign = _unary(tf.nn.softsign, floating=True)
selu = _unary(tf.nn.selu, floating=True)


def hard_sigmoid(x):
    return tf.nn.relu6(_float(x) + 3.0) / 6.0


def leaky_relu(x, negative_slope=0.2):
    return tf.nn.leaky_relu(_float(x), alpha=negative_slope)


def elu(x, alpha=1.0):
    x = _float(x)
    if alpha == 1.0:
        return tf.nn.elu(x)
    pos = x > 0
    # The inner where keeps expm1 finite for large x, so the unused branch has a finite gradient.
    return tf.where(pos, x, alpha * tf.math.expm1(tf.where(pos, tf.zeros_like(x), x)))


def gelu(x, approximate=True):
    return tf.nn.gelu(_float(x), approximate=approximate)


def softmax(x, axis=-1):
    x = _float(x)
    if isinstance(axis, int):
        return tf.nn.softmax(x, axis=axis)
    e = tf.exp(x - tf.stop_gradient(tf.reduce_max(x, axis=list(axis), keepdims=True)))
    return e / tf.reduce_sum(e, axis=list(axis), keepdims=True)


def log_softmax(x, axis=-1):
    x = _float(x)
    if isinstance(axis, int):
        return tf.nn.log_softmax(x, axis=axis)
    return x - tf.reduce_logsumexp(x, axis=list(axis), keepdims=True)





def _to_channels_last(x, data_format):
    """TF's CPU kernels want channels last; move the channel axis there and back."""
    if data_format == "channels_first":
        nd = _rank(x)
        return tf.transpose(x, [0, *range(2, nd), 1])
    return x


def _from_channels_last(x, data_format):
    if data_format == "channels_first":
        nd = _rank(x)
        return tf.transpose(x, [0, nd - 1, *range(1, nd - 1)])
    return x


def _check_spatial(inputs, name, min_rank=3):
    if _rank(inputs) is None or _rank(inputs) < min_rank:
        raise ValueError(
            f"fkeras.ops.{name}: expected inputs of rank >= {min_rank} (batch, *spatial, channels), "
            f"got shape {inputs.shape}."
        )


def _dilate_kernel(kernel, dilation):
    """Insert `d - 1` zeros between kernel taps along each spatial axis (an explicit rhs dilation).

    TF refuses strides > 1 together with dilation > 1; a dilated kernel with dilation 1 is the same conv.
    """
    for i, d in enumerate(dilation):
        if d == 1:
            continue
        k = kernel.shape[i]
        moved = tf.experimental.numpy.moveaxis(kernel, i, 0)
        z = tf.zeros_like(moved)
        inter = tf.stack([moved] + [z] * (d - 1), axis=1)  # (k, d, ...)
        inter = tf.reshape(inter, [k * d] + moved.shape.as_list()[1:])[: (k - 1) * d + 1]
        kernel = tf.experimental.numpy.moveaxis(inter, 0, i)
    return kernel


def _conv_channels_last(inputs, kernel, strides, padding, dilation, groups):
    if groups == 1:
        return tf.nn.convolution(inputs, kernel, strides=strides, padding=padding, dilations=dilation)
    # Grouped conv is not available on TF's CPU kernels: run each group and join them.
    xs = tf.split(inputs, groups, axis=-1)
    ks = tf.split(kernel, groups, axis=-1)
    return tf.concat(
        [tf.nn.convolution(x, k, strides=strides, padding=padding, dilations=dilation) for x, k in zip(xs, ks)],
        axis=-1,
    )


def _conv_args(name, inputs, kernel, strides, padding, data_format, dilation_rate):
    """conv's and depthwise_conv's arguments, checked: (data_format, padding, float inputs and kernel of one dtype,
    the number of spatial dims n, strides and dilation as n-tuples)."""
    data_format = _check_data_format(data_format)
    padding = _padding(padding)
    inputs, kernel = _float_promote(inputs, kernel)
    _check_spatial(inputs, name)
    n = _rank(inputs) - 2
    strides, dilation = _tuple(strides, n, "strides"), _tuple(dilation_rate, n, "dilation_rate")
    return data_format, padding, inputs, kernel, n, strides, dilation


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    data_format, padding, inputs, kernel, n, strides, dilation = _conv_args(
        "conv", inputs, kernel, strides, padding, data_format, dilation_rate)
    if _rank(kernel) != n + 2:
        raise ValueError(f"fkeras.ops.conv: expected a kernel of rank {n + 2} for inputs of rank {n + 2}, "
                         f"got kernel shape {kernel.shape}.")
    x = _to_channels_last(inputs, data_format)
    in_ch, k_in = x.shape[-1], kernel.shape[-2]
    if in_ch is None or in_ch % k_in or kernel.shape[-1] % (in_ch // k_in):
        raise ValueError(
            f"fkeras.ops.conv: input channels ({in_ch}) must be a multiple of the kernel's input channels ({k_in}) "
            f"and its output channels ({kernel.shape[-1]}) divisible by the groups; got inputs {inputs.shape}, "
            f"kernel {kernel.shape}."
        )
    if builtins.any(s > 1 for s in strides) and builtins.any(d > 1 for d in dilation) or (
        n == 3 and builtins.any(d > 1 for d in dilation)
    ):
        kernel, dilation = _dilate_kernel(kernel, dilation), (1,) * n
    y = _conv_channels_last(x, kernel, strides, padding, dilation, in_ch // k_in)
    return _from_channels_last(y, data_format)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    data_format, padding, inputs, kernel, n, strides, dilation = _conv_args(
        "depthwise_conv", inputs, kernel, strides, padding, data_format, dilation_rate)
    x = _to_channels_last(inputs, data_format)
    in_ch = x.shape[-1]
    if _rank(kernel) != n + 2 or kernel.shape[-2] != in_ch:
        raise ValueError(
            f"fkeras.ops.depthwise_conv: expected a kernel (*window, {in_ch}, multiplier) of rank {n + 2}, "
            f"got kernel shape {kernel.shape} for inputs {inputs.shape}."
        )
    if builtins.any(s > 1 for s in strides) and builtins.any(d > 1 for d in dilation):
        kernel, dilation = _dilate_kernel(kernel, dilation), (1,) * n
    if n == 3:
        k = tf.reshape(kernel, kernel.shape.as_list()[:-2] + [1, in_ch * kernel.shape[-1]])
        y = _conv_channels_last(x, k, strides, padding, dilation, in_ch)
    elif n == 1:
        y = tf.nn.depthwise_conv2d(
            x[:, None], kernel[None], strides=[1, 1, strides[0], 1], padding=padding, dilations=(1, dilation[0])
        )[:, 0]
    else:
        y = tf.nn.depthwise_conv2d(x, kernel, strides=[1, *strides, 1], padding=padding, dilations=dilation)
    return _from_channels_last(y, data_format)


def _pool(tf_fn, name, inputs, pool_size, strides, padding, data_format):
    data_format = _check_data_format(data_format)
    padding = _padding(padding)
    inputs = _t(inputs)
    _check_spatial(inputs, name)
    n = _rank(inputs) - 2
    pool_size = _tuple(pool_size, n, "pool_size")
    strides = pool_size if strides is None else _tuple(strides, n, "strides")
    x = _to_channels_last(inputs, data_format)
    return _from_channels_last(tf_fn(x, pool_size, strides, padding), data_format)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool(tf.nn.max_pool, "max_pool", inputs, pool_size, strides, padding, data_format)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    # TF's SAME average pooling already leaves the padding out of the count, as Keras does.
    return _pool(tf.nn.avg_pool, "average_pool", _float(inputs), pool_size, strides, padding, data_format)


def _log_prob(output, from_logits, axis):
    if from_logits:
        return tf.nn.log_softmax(output, axis=axis)
    output = output / tf.reduce_sum(output, axis, keepdims=True)
    return tf.math.log(tf.clip_by_value(output, EPSILON, 1.0 - EPSILON))


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    output = _float(output)
    target = _as(target, tf.int32)
    if _rank(target) == _rank(output) and target.shape[-1] == 1:
        target = tf.squeeze(target, -1)
    if _rank(target) != _rank(output) - 1:
        raise ValueError(
            "fkeras.ops.sparse_categorical_crossentropy: expected target with one axis fewer than output, "
            f"got target shape {target.shape} and output shape {output.shape}."
        )
    log_prob = _log_prob(output, from_logits, axis)
    onehot = tf.one_hot(target, _dyn_dim(output, axis), axis=axis % _rank(output), dtype=log_prob.dtype)
    return -tf.reduce_sum(onehot * log_prob, axis=axis)


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    output = _float(output)
    target = _as(target, output.dtype)
    if not target.shape.is_compatible_with(output.shape):
        raise ValueError(
            "fkeras.ops.categorical_crossentropy: expected target and output of the same shape, "
            f"got {target.shape} and {output.shape}."
        )
    return -tf.reduce_sum(target * _log_prob(output, from_logits, axis), axis=axis)


def binary_crossentropy(target, output, from_logits=False):
    output = _float(output)
    target = _as(target, output.dtype)
    if from_logits:
        return -target * tf.math.log_sigmoid(output) - (1.0 - target) * tf.math.log_sigmoid(-output)
    output = tf.clip_by_value(output, EPSILON, 1.0 - EPSILON)
    return -(target * tf.math.log(output) + (1.0 - target) * tf.math.log(1.0 - output))


def normalize(x, axis=-1, order=2, epsilon=None):
    x = _float(x)
    epsilon = EPSILON if epsilon is None else epsilon
    if order == 2:
        norm = tf.sqrt(tf.reduce_sum(tf.square(x), axis=axis, keepdims=True))
    else:
        norm = tf.norm(x, ord=order, axis=axis, keepdims=True)
    return x / tf.maximum(norm, tf.cast(epsilon, x.dtype))


def moments(x, axes, keepdims=False, synchronized=False):
    x = _float(x)
    axes = _axes(axes, _rank(x))
    # Compute in float32 at least, as Keras does for float16/bfloat16 inputs.
    xc = tf.cast(x, tf.float32) if x.dtype in (tf.float16, tf.bfloat16) else x
    m = tf.reduce_mean(xc, axis=axes, keepdims=True)
    v = tf.reduce_mean(tf.square(xc - tf.stop_gradient(m)), axis=axes, keepdims=True)
    if not keepdims:
        m, v = tf.squeeze(m, axes), tf.squeeze(v, axes)
    return tf.cast(m, x.dtype), tf.cast(v, x.dtype)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    x = _float(x)
    shape = [1] * _rank(x)
    shape[axis] = -1

    def vec(v):
        return tf.reshape(_as(v, x.dtype), shape)

    inv = tf.math.rsqrt(vec(variance) + epsilon)
    if scale is not None:
        inv = inv * vec(scale)
    out = (x - vec(mean)) * inv
    if offset is not None:
        out = out + vec(offset)
    return out


# --- randomness (used by fkeras.random.dropout for TF inputs) ----------------------------
def dropout(inputs, rate, noise_shape=None):
    """Zero a `rate` fraction of `inputs` (TF's global RNG) and scale the rest by 1/(1-rate)."""
    x = _float(inputs)
    if not 0 <= rate <= 1:
        raise ValueError(f"fkeras.random.dropout: expected rate in [0, 1], got {rate!r}.")
    if rate == 1:
        return tf.zeros_like(x)
    if rate == 0:
        return x
    if noise_shape is not None:
        full_shape = _dyn_shape(x)
        noise_shape = [full_shape[i] if d is None else d for i, d in enumerate(noise_shape)]
    return tf.nn.dropout(x, rate=rate, noise_shape=noise_shape)
