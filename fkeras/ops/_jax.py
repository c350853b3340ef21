"""JAX implementations of `fkeras.ops` (the default framework; everything is jit-traceable)."""

# ruff: noqa: A001
import builtins

import jax
import jax.numpy as jnp
import numpy as np

from fkeras.ops import _jax_cpu
from fkeras.ops._args import _check_data_format, _einsum_kwargs, _tuple
from fkeras.ops._args import _padding as _padding_lower

EPSILON = 1e-7

# --- numpy-like -------------------------------------------------------------
def matmul(x1, x2):
    x1, x2 = jnp.asarray(x1), jnp.asarray(x2)
    if x1.dtype == jnp.int8 and x2.dtype == jnp.int8:  # int8 x int8 accumulates and returns int32, as Keras
        return jnp.matmul(x1, x2, preferred_element_type=jnp.int32)
    return jnp.matmul(x1, x2)
dot = jnp.dot
add = jnp.add
subtract = jnp.subtract
multiply = jnp.multiply
divide = jnp.true_divide
power = jnp.power
negative = jnp.negative
exp = jnp.exp
log = jnp.log
log1p = jnp.log1p
sqrt = jnp.sqrt
rsqrt = jax.lax.rsqrt
square = jnp.square
abs = jnp.abs
sign = jnp.sign
tanh = jnp.tanh
erf = jax.scipy.special.erf
floor = jnp.floor
maximum = jnp.maximum
minimum = jnp.minimum
equal = jnp.equal
not_equal = jnp.not_equal
greater = jnp.greater
greater_equal = jnp.greater_equal
less = jnp.less
less_equal = jnp.less_equal
logical_and = jnp.logical_and
logical_or = jnp.logical_or
logical_not = jnp.logical_not
stop_gradient = jax.lax.stop_gradient


def _padding(padding):
    """lax/tf.nn spell the padding "VALID"/"SAME"."""
    return _padding_lower(padding).upper()


def einsum(subscripts, *operands, **kwargs):
    kwargs = _einsum_kwargs(kwargs)
    operands = [jnp.asarray(o) for o in operands]
    int8 = {o.dtype for o in operands} == {jnp.dtype("int8")}
    return jnp.einsum(subscripts, *operands, preferred_element_type=jnp.int32 if int8 else None, **kwargs)


def round(x, decimals=0):
    return jnp.round(x, decimals)


def clip(x, x_min, x_max):
    return jnp.clip(x, x_min, x_max)


def sum(x, axis=None, keepdims=False):
    return jnp.sum(x, axis=axis, keepdims=keepdims)


def prod(x, axis=None, keepdims=False, dtype=None):
    return jnp.prod(x, axis=axis, keepdims=keepdims, dtype=dtype)


def mean(x, axis=None, keepdims=False):
    return jnp.mean(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False, initial=None):
    return jnp.max(x, axis=axis, keepdims=keepdims, initial=initial)


def min(x, axis=None, keepdims=False, initial=None):
    return jnp.min(x, axis=axis, keepdims=keepdims, initial=initial)


def any(x, axis=None, keepdims=False):
    return jnp.any(x, axis=axis, keepdims=keepdims)


def all(x, axis=None, keepdims=False):
    return jnp.all(x, axis=axis, keepdims=keepdims)


def argmax(x, axis=None, keepdims=False):
    return jnp.argmax(x, axis=axis, keepdims=keepdims).astype("int32")


def argmin(x, axis=None, keepdims=False):
    return jnp.argmin(x, axis=axis, keepdims=keepdims).astype("int32")


def var(x, axis=None, keepdims=False):
    return jnp.var(x, axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    return jnp.std(x, axis=axis, keepdims=keepdims)


def logsumexp(x, axis=None, keepdims=False):
    return jax.nn.logsumexp(x, axis=axis, keepdims=keepdims)


def reshape(x, newshape):
    return jnp.reshape(x, newshape)


def transpose(x, axes=None):
    return jnp.transpose(x, axes)


def expand_dims(x, axis):
    return jnp.expand_dims(x, axis)


def squeeze(x, axis=None):
    return jnp.squeeze(x, axis)


def broadcast_to(x, shape):
    return jnp.broadcast_to(x, shape)


def tile(x, repeats):
    return jnp.tile(x, repeats)


def repeat(x, repeats, axis=None):
    return jnp.repeat(x, repeats, axis=axis)


def flip(x, axis=None):
    return jnp.flip(x, axis)


def concatenate(xs, axis=0):
    return jnp.concatenate(xs, axis=axis)


def stack(x, axis=0):
    return jnp.stack(x, axis=axis)


def split(x, indices_or_sections, axis=0):
    return jnp.split(x, indices_or_sections, axis=axis)


def pad(x, pad_width, mode="constant", constant_values=None):
    if constant_values is not None:
        return jnp.pad(x, pad_width, mode=mode, constant_values=constant_values)
    return jnp.pad(x, pad_width, mode=mode)


def take(x, indices, axis=None):
    return jnp.take(x, indices, axis=axis)


def take_along_axis(x, indices, axis=None):
    return jnp.take_along_axis(x, indices, axis=axis)


def where(condition, x1=None, x2=None):
    if x1 is None and x2 is None:
        return jnp.nonzero(condition)
    return jnp.where(condition, x1, x2)


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    # sparse=True: the wrapper in _sparse.py makes the result sparse
    return jax.nn.one_hot(x, num_classes, axis=axis, dtype=dtype or "float32")


def cast(x, dtype):
    return jnp.asarray(x).astype(dtype)


def convert_to_tensor(x, dtype=None, sparse=None):  # sparse inputs: the wrapper in _sparse.py; dense stay dense
    if dtype is None and isinstance(x, (float, np.floating)) or (
        dtype is None and isinstance(x, np.ndarray) and x.dtype == np.float64
    ):
        dtype = "float32"
    return jnp.asarray(x, dtype=dtype)


def convert_to_numpy(x):
    return np.asarray(x)


def shape(x):
    return tuple(jnp.shape(x))


def ndim(x):
    return jnp.ndim(x)


def size(x):
    return jnp.size(x)


def dtype(x):
    return jnp.asarray(x).dtype.name if not hasattr(x, "dtype") else np.dtype(x.dtype).name


def zeros(shape, dtype=None):
    return jnp.zeros(shape, dtype=dtype or "float32")


def ones(shape, dtype=None):
    return jnp.ones(shape, dtype=dtype or "float32")


def zeros_like(x, dtype=None):
    return jnp.zeros_like(x, dtype=dtype)


def ones_like(x, dtype=None):
    return jnp.ones_like(x, dtype=dtype)


def full(shape, fill_value, dtype=None):
    return jnp.full(shape, fill_value, dtype=dtype or "float32")


def arange(start, stop=None, step=None, dtype=None):
    return jnp.arange(start, stop, step, dtype=dtype)


def cumsum(x, axis=None, dtype=None):
    return jnp.cumsum(x, axis=axis, dtype=dtype)


def sort(x, axis=-1):
    return jnp.sort(x, axis=axis)


def top_k(x, k, sorted=True):
    return jax.lax.top_k(x, k)


# --- nn ---------------------------------------------------------------------
relu = jax.nn.relu
relu6 = jax.nn.relu6
sigmoid = jax.nn.sigmoid
silu = jax.nn.silu
softplus = jax.nn.softplus
softsign = jax.nn.soft_sign
selu = jax.nn.selu


def hard_sigmoid(x):
    return jax.nn.relu6(x + 3.0) / 6.0


def leaky_relu(x, negative_slope=0.2):
    return jax.nn.leaky_relu(x, negative_slope)


def elu(x, alpha=1.0):
    return jax.nn.elu(x, alpha)


def gelu(x, approximate=True):
    return jax.nn.gelu(x, approximate=approximate)


def softmax(x, axis=-1):
    return jax.nn.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return jax.nn.log_softmax(x, axis=axis)



def _conv_dims(ndim, data_format):
    spatial = "DHW"[3 - (ndim - 2):]
    if data_format == "channels_first":
        lhs = "NC" + spatial
    else:
        lhs = "N" + spatial + "C"
    return (lhs, spatial + "IO", lhs)




def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    data_format = _check_data_format(data_format)
    n = inputs.ndim - 2
    in_ch = inputs.shape[1] if data_format == "channels_first" else inputs.shape[-1]
    groups = in_ch // kernel.shape[-2]
    strides = _tuple(strides, n, "strides")
    dilation_rate = _tuple(dilation_rate, n, "dilation_rate")
    padding = _padding(padding)

    def plain(x, w):
        return jax.lax.conv_general_dilated(
            x,
            w,
            window_strides=strides,
            padding=padding,
            rhs_dilation=dilation_rate,
            dimension_numbers=_conv_dims(inputs.ndim, data_format),
            feature_group_count=groups,
        )

    lowering = _jax_cpu.conv2d_lowering(in_ch)
    if (lowering and n == 2 and data_format == "channels_last" and groups == 1 and strides == (1, 1)
            and dilation_rate == (1, 1)):
        return _jax_cpu.on_cpu(lambda x, w: _jax_cpu.conv2d(x, w, padding, lowering), plain, inputs, kernel)
    return plain(inputs, kernel)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    data_format = _check_data_format(data_format)
    n = inputs.ndim - 2
    in_ch = inputs.shape[1] if data_format == "channels_first" else inputs.shape[-1]
    kernel = jnp.reshape(kernel, kernel.shape[:-2] + (1, kernel.shape[-2] * kernel.shape[-1]))
    strides, dilation_rate = _tuple(strides, n, "strides"), _tuple(dilation_rate, n, "dilation_rate")

    def plain(x, w):
        return jax.lax.conv_general_dilated(
            x,
            w,
            window_strides=strides,
            padding=_padding(padding),
            rhs_dilation=dilation_rate,
            dimension_numbers=_conv_dims(inputs.ndim, data_format),
            feature_group_count=in_ch,
        )

    if data_format == "channels_last" and n <= 3:
        window = [(k - 1) * d + 1 for k, d in zip(kernel.shape[:-2], dilation_rate)]
        pads = tuple(jax.lax.padtype_to_pads(inputs.shape[1:-1], window, strides, _padding(padding)))
        return _jax_cpu.on_cpu(lambda x, w: _jax_cpu.depthwise_conv(x, w, strides, pads, dilation_rate), plain,
                               inputs, kernel)
    return plain(inputs, kernel)


def _pool_window(inputs, pool_size, strides, data_format):
    n = inputs.ndim - 2
    pool_size = _tuple(pool_size, n, "pool_size")
    strides = pool_size if strides is None else _tuple(strides, n, "strides")
    if data_format == "channels_first":
        return (1, 1) + pool_size, (1, 1) + strides
    return (1,) + pool_size + (1,), (1,) + strides + (1,)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    data_format = _check_data_format(data_format)
    window, strides = _pool_window(inputs, pool_size, strides, data_format)
    padding = _padding(padding)

    def plain(x):
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, window, strides, padding)

    if inputs.ndim == 4 and data_format == "channels_last" and padding == "VALID" and window == strides:
        return _jax_cpu.on_cpu(lambda x: _jax_cpu.max_pool2d(x, window[1], window[2]), plain, inputs)
    return plain(inputs)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    data_format = _check_data_format(data_format)
    window, strides = _pool_window(inputs, pool_size, strides, data_format)
    padding = _padding(padding)
    total = jax.lax.reduce_window(inputs, 0.0, jax.lax.add, window, strides, padding)
    if padding == "VALID":
        return total / np.prod(window)
    count = jax.lax.reduce_window(jnp.ones_like(inputs), 0.0, jax.lax.add, window, strides, padding)
    return total / count


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    target = jnp.asarray(target, dtype="int32")
    if target.ndim == output.ndim and target.shape[-1] == 1:
        target = jnp.squeeze(target, -1)
    if from_logits:
        log_prob = jax.nn.log_softmax(output, axis=axis)
    else:
        output = output / jnp.sum(output, axis, keepdims=True)
        log_prob = jnp.log(jnp.clip(output, EPSILON, 1.0 - EPSILON))
    onehot = jax.nn.one_hot(target, output.shape[axis], axis=axis, dtype=log_prob.dtype)
    return -jnp.sum(onehot * log_prob, axis=axis)


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    target = jnp.asarray(target, dtype=output.dtype)
    if from_logits:
        log_prob = jax.nn.log_softmax(output, axis=axis)
    else:
        output = output / jnp.sum(output, axis, keepdims=True)
        log_prob = jnp.log(jnp.clip(output, EPSILON, 1.0 - EPSILON))
    return -jnp.sum(target * log_prob, axis=axis)


def binary_crossentropy(target, output, from_logits=False):
    target = jnp.asarray(target, dtype=output.dtype)
    if from_logits:
        return -target * jax.nn.log_sigmoid(output) - (1.0 - target) * jax.nn.log_sigmoid(-output)
    output = jnp.clip(output, EPSILON, 1.0 - EPSILON)
    return -(target * jnp.log(output) + (1.0 - target) * jnp.log(1.0 - output))


def normalize(x, axis=-1, order=2, epsilon=None):
    epsilon = EPSILON if epsilon is None else epsilon
    norm = jnp.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / jnp.maximum(norm, epsilon)


def moments(x, axes, keepdims=False, synchronized=False):
    axes = tuple(axes) if not isinstance(axes, int) else (axes,)
    # Compute in float32 at least, as Keras does for float16/bfloat16 inputs.
    compute = jnp.promote_types(x.dtype, jnp.float32)
    xc = x.astype(compute)
    m = jnp.mean(xc, axis=axes, keepdims=True)
    v = jnp.mean(jnp.square(xc - jax.lax.stop_gradient(m)), axis=axes, keepdims=True)
    if not keepdims:
        m, v = jnp.squeeze(m, axes), jnp.squeeze(v, axes)
    return m.astype(x.dtype), v.astype(x.dtype)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    inv = jax.lax.rsqrt(jnp.reshape(variance, shape) + epsilon)
    if scale is not None:
        inv = inv * jnp.reshape(scale, shape)
    out = (x - jnp.reshape(mean, shape)) * inv
    if offset is not None:
        out = out + jnp.reshape(offset, shape)
    return out


del builtins
