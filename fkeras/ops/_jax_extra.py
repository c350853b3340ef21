"""JAX implementations of the nn / math / linalg / core / control-flow ops of `fkeras.ops`
(issue 14 part B). Loaded after `_jax.py` by `_dispatch.backend`; everything is jit-traceable.
"""

# ruff: noqa: A001, A002
import builtins
from functools import partial
import math as _math

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import optax

from fkeras.ops import _jax
from fkeras.ops import image as ops_image
from fkeras.ops import random_impl as frandom
from fkeras.ops._args import (
    PART_B_OPS, _check_attention, _check_cdist, _check_ctc_strategy, _check_data_format, _check_glu, _check_psnr,
    _check_qr_mode, _check_rank2, _check_resize, _check_square, _check_unroll, _check_view_as_complex,
    _complex_parts, _layer_norm_args, _scale_shift, _tuple,
)
from fkeras.ops._jax import _conv_dims

EPSILON = 1e-7

__all__ = list(PART_B_OPS)  # custom_gradient and rearrange are defined below


def _x(x):
    """Keras's convert_to_tensor: Python floats / float64 NumPy become float32."""
    if isinstance(x, jax.Array):
        return x
    if isinstance(x, (float, np.floating)) or (isinstance(x, np.ndarray) and x.dtype == np.float64):
        return jnp.asarray(x, "float32")
    return jnp.asarray(x)


def _float(x):
    x = _x(x)
    return x if jnp.issubdtype(x.dtype, jnp.inexact) else x.astype("float32")


# --- core / control flow ------------------------------------------------------
def cond(pred, true_fn, false_fn):
    return jax.lax.cond(pred, true_fn, false_fn)


def switch(index, branches, *operands):
    return jax.lax.switch(index, branches, *operands)


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    is_tuple = isinstance(loop_vars, (tuple, list))
    state = tuple(loop_vars) if is_tuple else (loop_vars,)

    def wrap(out):
        return tuple(out) if is_tuple else (out,)

    if maximum_iterations is None:
        out = jax.lax.while_loop(lambda s: cond(*s), lambda s: wrap(body(*s)), state)
    else:
        out = jax.lax.while_loop(
            lambda s: jnp.logical_and(cond(*s[0]), s[1] < maximum_iterations),
            lambda s: (wrap(body(*s[0])), s[1] + 1),
            (state, 0),
        )[0]
    return out if is_tuple else out[0]


def fori_loop(lower, upper, body_fun, init_val):
    return jax.lax.fori_loop(lower, upper, body_fun, init_val)


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    _check_unroll(unroll)
    return jax.lax.scan(f, init, xs, length=length, reverse=reverse, unroll=unroll)


def associative_scan(f, elems, reverse=False, axis=0):
    return jax.lax.associative_scan(f, elems, reverse=reverse, axis=axis)


def map(f, xs):
    return jax.lax.map(f, xs)


def vectorized_map(function, elements):
    return jax.vmap(function)(elements)


def slice(inputs, start_indices, shape):
    inputs = _x(inputs)
    shape = tuple(inputs.shape[i] - start_indices[i] if s == -1 else s for i, s in enumerate(shape))
    return jax.lax.dynamic_slice(inputs, start_indices, shape)


def slice_update(inputs, start_indices, updates):
    inputs = _x(inputs)
    return jax.lax.dynamic_update_slice(inputs, _x(updates).astype(inputs.dtype), start_indices)


def scatter(indices, values, shape):
    values = _x(values)
    key = tuple(jnp.moveaxis(jnp.asarray(indices), -1, 0))
    return jnp.zeros(shape, values.dtype).at[key].add(values)


def scatter_update(inputs, indices, updates, reduction=None):
    inputs = _x(inputs)
    ref = inputs.at[tuple(jnp.transpose(jnp.asarray(indices)))]
    ops = {None: ref.set, "add": ref.add, "max": ref.max, "min": ref.min, "mul": ref.multiply}
    if reduction not in ops:
        raise ValueError(
            f"fkeras.ops.scatter_update: reduction must be None, 'add', 'max', 'min' or 'mul', got {reduction!r}."
        )
    return ops[reduction](updates)


def unstack(x, num=None, axis=0):
    x = _x(x)
    return [jax.lax.index_in_dim(x, i, axis, keepdims=False) for i in range(x.shape[axis])]


def _dtype_limits(name):
    if name == "bool":
        return 0, 1
    info = ml_dtypes.iinfo(name) if "int" in name else ml_dtypes.finfo(name)
    return info.min, info.max


def saturate_limits(in_dtype, out_dtype):
    """(low, high) in `in_dtype` that clip values into `out_dtype`'s range (Keras's rule, shared by all backends)."""
    in_min, in_max = _dtype_limits(in_dtype)
    out_min, out_max = _dtype_limits(out_dtype)
    low = np.maximum(in_min, out_min).astype(in_dtype)
    if low < out_min:
        low = np.nextafter(low, 0, dtype=in_dtype)
    high = np.minimum(in_max, out_max).astype(in_dtype)
    if high > out_max:
        high = np.nextafter(high, 0, dtype=in_dtype)
    return low, high


def saturate_cast(x, dtype):
    x = _x(x)
    out = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    low, high = saturate_limits(x.dtype.name, out)
    return jnp.clip(x, low, high).astype(out)


def is_tensor(x):
    return isinstance(x, jax.Array)


# --- math ---------------------------------------------------------------------
def _segment(fn, data, segment_ids, num_segments, sorted):
    if num_segments is None:
        raise ValueError("fkeras.ops.segment_*: `num_segments` must be set on JAX (a static int), got None.")
    return fn(_x(data), jnp.asarray(segment_ids), num_segments, indices_are_sorted=sorted)


def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    return _segment(jax.ops.segment_sum, data, segment_ids, num_segments, sorted)


def segment_max(data, segment_ids, num_segments=None, sorted=False):
    return _segment(jax.ops.segment_max, data, segment_ids, num_segments, sorted)


def segment_min(data, segment_ids, num_segments=None, sorted=False):
    return _segment(jax.ops.segment_min, data, segment_ids, num_segments, sorted)


def segment_prod(data, segment_ids, num_segments=None, sorted=False):
    return _segment(jax.ops.segment_prod, data, segment_ids, num_segments, sorted)


def in_top_k(targets, predictions, k):
    predictions = _x(predictions)
    at_label = jnp.take_along_axis(predictions, jnp.expand_dims(jnp.asarray(targets), -1), axis=-1)
    at_label = jnp.where(jnp.isnan(at_label), -jnp.inf, at_label)
    rank = 1 + jnp.sum(predictions > at_label, axis=-1)
    return rank <= k


def cdist(x, y):
    x, y = _x(x), _x(y)
    _check_cdist(x.shape, y.shape)
    d = jnp.expand_dims(x, -2) - jnp.expand_dims(y, -3)
    return jnp.sqrt(jnp.sum(d * d, axis=-1))


def extract_sequences(x, sequence_length, sequence_stride):
    x = _x(x)
    *batch, n = x.shape
    frames = (n - sequence_length) // sequence_stride + 1
    idx = np.arange(frames)[:, None] * sequence_stride + np.arange(sequence_length)[None, :]
    return x[..., idx].reshape(*batch, frames, sequence_length)


def _complex(x, name):
    return jax.lax.complex(*_complex_parts(x, name, _x, lambda v: jnp.issubdtype(v.dtype, jnp.floating)))


def _split(c):
    return jnp.real(c), jnp.imag(c)


def fft(x):
    return _split(jnp.fft.fft(_complex(x, "fft")))


def fft2(x):
    return _split(jnp.fft.fft2(_complex(x, "fft2")))


def ifft2(x):
    return _split(jnp.fft.ifft2(_complex(x, "ifft2")))


def rfft(x, fft_length=None):
    return _split(jnp.fft.rfft(_x(x), n=fft_length, axis=-1))


def irfft(x, fft_length=None):
    return jnp.fft.irfft(_complex(x, "irfft"), n=fft_length, axis=-1)


def stft_window(window, sequence_length, fft_length, dtype):
    """The analysis window padded to `fft_length` (Keras: scipy's periodic hann/hamming, or a given array)."""
    l_pad = (fft_length - sequence_length) // 2
    r_pad = fft_length - sequence_length - l_pad
    if window is None:
        return np.ones(fft_length, dtype)
    if isinstance(window, str):
        if window not in ("hann", "hamming"):
            raise ValueError(f"fkeras.ops.stft: window must be 'hann', 'hamming', an array or None, got {window!r}.")
        n = np.arange(sequence_length)
        a = 0.5 if window == "hann" else 0.54
        win = a - (1 - a) * np.cos(2 * np.pi * n / sequence_length)
    else:
        win = np.asarray(window)
        if win.ndim != 1 or win.shape[0] != sequence_length:
            raise ValueError(f"fkeras.ops.stft: window must have shape ({sequence_length},), got {win.shape}.")
    return np.pad(win, (l_pad, r_pad)).astype(dtype)


def _stft_checks(x_dtype, sequence_length, fft_length):
    if x_dtype not in ("float32", "float64"):
        raise TypeError(f"fkeras.ops.stft: expected a float32 or float64 input, got {x_dtype}.")
    if fft_length < sequence_length:
        raise ValueError(
            f"fkeras.ops.stft: fft_length must be >= sequence_length, got {fft_length} < {sequence_length}."
        )


def istft_plan(window, n_frames, sequence_stride, fft_length, length, center):
    """istft's host-side plan (NumPy; `window` from `stft_window`): idx, the output position of each frame sample
    ((n_frames * fft_length,), frame-major); norm, the overlap-added squared window the signal is divided by, 1 where
    it is ~0 ((out_len,)); (start, end), the part of the overlap-added signal kept."""
    out_len = fft_length + sequence_stride * (n_frames - 1)
    idx = (np.arange(n_frames)[:, None] * sequence_stride + np.arange(fft_length)[None, :]).reshape(-1)
    norm = np.zeros(out_len, window.dtype)
    np.add.at(norm, idx, np.tile(np.square(window), n_frames))
    start = fft_length // 2 if center else 0
    if length is not None:
        end = start + length
    elif center:
        end = out_len - fft_length // 2
    else:
        end = out_len
    return idx, np.where(norm > 1e-10, norm, 1.0).astype(window.dtype), (start, end)


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    x = _x(x)
    _stft_checks(x.dtype.name, sequence_length, fft_length)
    if center:
        pad = [(0, 0)] * (x.ndim - 1) + [(fft_length // 2, fft_length // 2)]
        x = jnp.pad(x, pad, mode="reflect")
    win = stft_window(window, sequence_length, fft_length, x.dtype.name)
    frames = extract_sequences(x, fft_length, sequence_stride) * win
    return _split(jnp.fft.rfft(frames, n=fft_length, axis=-1))


def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann", center=True):
    c = _complex(x, "istft")
    if c.ndim < 2:
        raise ValueError(f"fkeras.ops.istft: input must have at least 2 dimensions, got shape {c.shape}.")
    dtype = jnp.real(c).dtype.name
    frames = jnp.fft.irfft(c, n=fft_length, axis=-1)  # (..., n_frames, fft_length)
    n_frames = c.shape[-2]
    win = stft_window(window, sequence_length, fft_length, dtype)
    idx, norm, (start, end) = istft_plan(win, n_frames, sequence_stride, fft_length, length, center)
    batch = frames.shape[:-2]
    signal = jnp.zeros(batch + norm.shape, frames.dtype).at[..., idx].add((frames * win).reshape(batch + (-1,)))
    return (signal / norm)[..., start:end]


def erfc(x):
    return jax.scipy.special.erfc(_float(x))


def erfinv(x):
    return jax.scipy.special.erfinv(_float(x))


def logdet(x):
    return jnp.linalg.slogdet(_x(x))[1]


def view_as_complex(x):
    x = _x(x)
    _check_view_as_complex(x.shape)
    return jax.lax.complex(x[..., 0], x[..., 1])


def view_as_real(x):
    x = _x(x)
    if not jnp.iscomplexobj(x):
        raise ValueError(f"fkeras.ops.view_as_real: expected a complex tensor, got {x.dtype}.")
    return jnp.stack([jnp.real(x), jnp.imag(x)], axis=-1)


# --- nn: activations ----------------------------------------------------------
def celu(x, alpha=1.0):
    return jax.nn.celu(_x(x), alpha=alpha)


def glu(x, axis=-1):
    x = _x(x)
    _check_glu(x.shape, axis)
    return jax.nn.glu(x, axis=axis)


def hard_shrink(x, threshold=0.5):
    x = _x(x)
    return jnp.where(jnp.abs(x) > threshold, x, 0.0).astype(x.dtype)


def hard_silu(x):
    return jax.nn.hard_silu(_x(x))


hard_swish = hard_silu


def hard_tanh(x):
    return jax.nn.hard_tanh(_x(x))


def log_sigmoid(x):
    return jax.nn.log_sigmoid(_x(x))


def soft_shrink(x, threshold=0.5):
    x = _x(x)
    return jnp.where(x > threshold, x - threshold, jnp.where(x < -threshold, x + threshold, 0.0)).astype(x.dtype)


def sparse_plus(x):
    return jax.nn.sparse_plus(_x(x))


def sparse_sigmoid(x):
    return jax.nn.sparse_sigmoid(_x(x))


def sparsemax(x, axis=-1):
    x = _x(x)
    srt = -jnp.sort(-x, axis=axis)
    csum = jnp.cumsum(srt, axis=axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    r = jnp.arange(1, x.shape[axis] + 1).reshape(shape)
    support = srt - (csum - 1) / r > 0
    k = jnp.sum(support, axis=axis, keepdims=True)
    tau = (jnp.sum(jnp.where(support, csum, 0.0), axis=axis, keepdims=True) - 1) / k
    return jnp.maximum(x - tau, 0.0)


def squareplus(x, b=4):
    return jax.nn.squareplus(_x(x), b=b)


def swish(x):
    return jax.nn.silu(_x(x))


def tanh_shrink(x):
    x = _x(x)
    return x - jnp.tanh(x)


def threshold(x, threshold, default_value):
    x = _x(x)
    return jnp.where(x > threshold, x, default_value).astype(x.dtype)


# --- nn: normalisation and misc ------------------------------------------------
def _compute(x):
    """(x in its compute dtype: at least float32, x's own dtype: the result's)."""
    x = _x(x)
    return x.astype(jnp.promote_types(x.dtype, jnp.float32)), x.dtype


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    x, out_dtype = _compute(x)
    rms_scaling, epsilon, axes, bc = _layer_norm_args(kwargs, axis, epsilon, x.shape,
                                                      lambda v: _x(v).astype(x.dtype), jnp.reshape)
    if rms_scaling:
        out = x * jax.lax.rsqrt(jnp.var(x, axis=axes, keepdims=True) + epsilon)
        if gamma is not None:
            out = out * bc(gamma)
        return out.astype(out_dtype)
    mean = jnp.mean(x, axis=axes, keepdims=True)
    var = jnp.mean(jnp.square(x - jax.lax.stop_gradient(mean)), axis=axes, keepdims=True)
    return _scale_shift(x, mean, jax.lax.rsqrt(var + epsilon), bc(gamma), bc(beta)).astype(out_dtype)


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    epsilon = 1e-7 if epsilon is None else epsilon
    x, out_dtype = _compute(x)
    if x.ndim == 0:
        x = x[None]
    axis = sorted(axis) if isinstance(axis, (tuple, list)) else axis
    out = x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=axis, keepdims=True) + epsilon)
    if scale is not None:
        out = out * _x(scale).astype(x.dtype)
    return out.astype(out_dtype)


def polar(abs_, angle):
    abs_, angle = _x(abs_), _x(angle)
    return jax.lax.complex(abs_ * jnp.cos(angle), abs_ * jnp.sin(angle))


def psnr(x1, x2, max_val):
    x1, x2 = _x(x1), _x(x2)
    _check_psnr(x1.shape, x2.shape)
    max_val = jnp.asarray(max_val, x2.dtype)
    mse = jnp.mean(jnp.square(x1 - x2))
    return 20 * jnp.log10(max_val) - 10 * jnp.log10(mse)


# --- nn: convolutions -----------------------------------------------------------
def conv_transpose_pads(k, stride, dilation, padding, output_padding):
    """(left, right) padding of the stride-dilated input (Keras's rule: 'valid' gives length
    (in-1)*s + max(k, s), 'same' gives in*s; `output_padding` adds on the right)."""
    if padding not in ("valid", "same"):
        raise ValueError(f"fkeras.ops.conv_transpose: padding must be 'valid' or 'same', got {padding!r}.")
    k = (k - 1) * dilation + 1
    if padding == "valid":
        output_padding = builtins.max(k, stride) - k if output_padding is None else output_padding
        return k - 1, k - 1 + output_padding
    pad_len = stride + k - 2 if output_padding is None else k + k % 2 - 2 + output_padding
    left = builtins.min(pad_len // 2 + pad_len % 2, k - 1)
    return left, pad_len - left


def conv_transpose_args(kernel_shape, n, strides, padding, output_padding, dilation_rate):
    """conv_transpose's strides and dilation as n-tuples, and each spatial axis's `conv_transpose_pads`."""
    strides = _tuple(strides, n, "strides")
    dilation = _tuple(dilation_rate, n, "dilation_rate")
    opad = (None,) * n if output_padding is None else _tuple(output_padding, n, "output_padding")
    pads = [conv_transpose_pads(kernel_shape[i], strides[i], dilation[i], padding.lower(), opad[i]) for i in range(n)]
    return strides, dilation, pads


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    data_format = _check_data_format(data_format)
    inputs, kernel = _x(inputs), _x(kernel)
    n = inputs.ndim - 2
    strides, dilation, pads = conv_transpose_args(kernel.shape, n, strides, padding, output_padding, dilation_rate)
    # kernel (*window, out, in): flip the window and swap to (*window, in, out)
    k = jnp.flip(kernel, axis=tuple(range(n)))
    k = jnp.swapaxes(k, -1, -2)
    return jax.lax.conv_general_dilated(
        inputs, k, window_strides=(1,) * n, padding=pads, lhs_dilation=strides, rhs_dilation=dilation,
        dimension_numbers=_conv_dims(inputs.ndim, data_format),
    )


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    out = _jax.depthwise_conv(_x(inputs), _x(depthwise_kernel), strides, padding, data_format, dilation_rate)
    return _jax.conv(out, _x(pointwise_kernel), 1, "valid", data_format, dilation_rate)


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    x = _x(x)
    k, d, p, s = (_tuple(v, 2, name) for v, name in
                  ((kernel_size, "kernel_size"), (dilation, "dilation"), (padding, "padding"), (stride, "stride")))
    n, c = x.shape[:2]
    patches = jax.lax.conv_general_dilated_patches(
        x, filter_shape=k, window_strides=s, padding=[(p[0], p[0]), (p[1], p[1])], rhs_dilation=d,
        dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return patches.reshape(n, patches.shape[1], -1)


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    x = _x(x)
    (oh, ow), (kh, kw), (dh, dw), (ph, pw), (sh, sw) = (
        _tuple(v, 2, name) for v, name in ((output_size, "output_size"), (kernel_size, "kernel_size"),
                                           (dilation, "dilation"), (padding, "padding"), (stride, "stride")))
    n, ckk, _ = x.shape
    c = ckk // (kh * kw)
    nh = (oh + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    nw = (ow + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    cols = x.reshape(n, c, kh, kw, nh, nw)
    out = jnp.zeros((n, c, oh + 2 * ph, ow + 2 * pw), x.dtype)
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dh, j * dw
            out = out.at[:, :, r0:r0 + sh * (nh - 1) + 1:sh, c0:c0 + sw * (nw - 1) + 1:sw].add(cols[:, :, i, j])
    return out[:, :, ph:ph + oh, pw:pw + ow]


# --- nn: adaptive pooling -------------------------------------------------------
def adaptive_bins(in_size, out_size):
    """PyTorch's adaptive-pool windows: start floor(i*in/out), end ceil((i+1)*in/out)."""
    starts = [(i * in_size) // out_size for i in range(out_size)]
    ends = [-((-(i + 1) * in_size) // out_size) for i in range(out_size)]
    return starts, ends


def adaptive_pool(x, output_size, data_format, reduce, window, stack):
    """PyTorch's adaptive pooling, one spatial axis at a time, for any framework: `window(x, start, end, axis)` is
    an `adaptive_bins` window, `reduce(v, axis)` pools it, `stack(list, axis)` joins the pooled windows."""
    data_format = _check_data_format(data_format)
    n = len(x.shape) - 2
    out = _tuple(output_size, n, "output_size")
    first = 2 if data_format == "channels_first" else 1
    for d in range(n):
        axis = first + d
        starts, ends = adaptive_bins(x.shape[axis], out[d])
        x = stack([reduce(window(x, s, e, axis), axis) for s, e in zip(starts, ends)], axis)
    return x


def _adaptive_pool(inputs, output_size, data_format, reduce):
    return adaptive_pool(_x(inputs), output_size, data_format, reduce,
                         lambda v, s, e, a: jax.lax.slice_in_dim(v, s, e, axis=a), lambda vs, a: jnp.stack(vs, axis=a))


def adaptive_average_pool(inputs, output_size, data_format=None):
    return _adaptive_pool(inputs, output_size, data_format, lambda v, a: jnp.mean(v, axis=a))


def adaptive_max_pool(inputs, output_size, data_format=None):
    return _adaptive_pool(inputs, output_size, data_format, lambda v, a: jnp.max(v, axis=a))


# --- nn: attention ----------------------------------------------------------------
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    query, key, value = _x(query), _x(key), _x(value)
    flash_error = flash_attention and jax.default_backend() != "gpu" and (
        "flash_attention=True needs cuDNN flash attention on a GPU; "
        f"on {jax.default_backend()} pass flash_attention=None or False (the XLA path).")
    _check_attention(query.shape, key.shape, value.shape, flash_error, attn_logits_soft_cap)
    h = query.shape[-1]
    scale = 1.0 / _math.sqrt(h) if scale is None else scale
    if bias is not None:
        bias = _x(bias)
    if mask is not None:
        mask = _x(mask).astype(bool)
    return jax.nn.dot_product_attention(query, key, value, bias=bias, mask=mask, scale=scale, is_causal=is_causal,
                                        implementation="cudnn" if flash_attention else "xla")


# --- nn: CTC ------------------------------------------------------------------------
def ctc_loss(target, output, target_length, output_length, mask_index=0):
    target = jnp.asarray(target, "int32")
    output = _x(output)
    output = output.astype(jnp.promote_types(output.dtype, jnp.float32))
    t_len, o_len = jnp.asarray(target_length, "int32"), jnp.asarray(output_length, "int32")
    label_pad = (jnp.arange(target.shape[1])[None] >= t_len[:, None]).astype(output.dtype)
    logit_pad = (jnp.arange(output.shape[1])[None] >= o_len[:, None]).astype(output.dtype)
    return optax.ctc_loss(output, logit_pad, target, label_pad, blank_id=mask_index, log_epsilon=-1e5)


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1, merge_repeated=True,
               mask_index=0):
    if strategy == "beam_search":
        x = _x(inputs)
        x = x.astype(jnp.promote_types(x.dtype, jnp.float32))
        return _ctc_beam_search(x, jnp.asarray(sequence_lengths, "int32"), beam_width, top_paths, mask_index)
    _check_ctc_strategy(strategy)
    x = _x(inputs)
    x = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    lengths = jnp.asarray(sequence_lengths, "int32")
    batch, max_len, classes = x.shape
    if mask_index is None:
        mask_index = classes - 1
    idx = jnp.argmax(x, axis=-1)
    scores = jnp.max(x, axis=-1)
    beyond = jnp.arange(max_len)[None, :] >= lengths[:, None]
    idx = jnp.where(beyond, mask_index, idx)
    scores = jnp.where(beyond, 0.0, scores)
    if merge_repeated:
        rep = jnp.pad(idx[:, 1:] == idx[:, :-1], ((0, 0), (1, 0)))
        idx = jnp.where(rep, mask_index, idx)
    blank = idx == mask_index
    idx = jnp.where(blank, -1, idx)
    order = jnp.argsort(jnp.where(blank, max_len, jnp.arange(max_len)[None, :]), axis=-1)
    idx = jnp.take_along_axis(idx, order, axis=-1)
    return jnp.expand_dims(idx, 0), -jnp.sum(scores, axis=1)[:, None]


# --- linalg -------------------------------------------------------------------------
def _sq(name, x):
    x = _x(x)
    _check_square(name, x.shape)
    return x


def _check_ab(name, a, b):
    if b.ndim < 1:
        raise ValueError(f"fkeras.ops.{name}: expected b of rank >= 1, got shape {b.shape}.")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 and b.ndim == a.ndim else -1]:
        raise ValueError(f"fkeras.ops.{name}: incompatible shapes {a.shape} and {b.shape}.")


def cholesky(x, upper=False):
    x = _sq("cholesky", x)
    out = jnp.linalg.cholesky(x, upper=upper)
    if not isinstance(out, jax.core.Tracer) and bool(jnp.any(jnp.isnan(out))):
        raise ValueError("fkeras.ops.cholesky: decomposition failed; the input is not positive definite.")
    return out


def cholesky_inverse(x, upper=False):
    x = _sq("cholesky_inverse", x)
    eye = jnp.broadcast_to(jnp.eye(x.shape[-1], dtype=x.dtype), x.shape)
    inv_chol = jax.scipy.linalg.solve_triangular(x, eye, lower=not upper)
    t = jnp.swapaxes(inv_chol, -1, -2)
    return inv_chol @ t if upper else t @ inv_chol


def det(x):
    return jnp.linalg.det(_sq("det", x))


def eig(x):
    return jnp.linalg.eig(_sq("eig", x))


def eigh(x):
    return tuple(jnp.linalg.eigh(_sq("eigh", x)))


def inv(x):
    return jnp.linalg.inv(_sq("inv", x))


def lu_factor(x):
    x = _x(x)
    _check_rank2("lu_factor", x.shape)
    fn = jax.scipy.linalg.lu_factor
    for _ in range(x.ndim - 2):
        fn = jax.vmap(fn)
    return fn(x)


def norm(x, ord=None, axis=None, keepdims=False):
    x = _x(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype("float32")
    return jnp.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)


def qr(x, mode="reduced"):
    _check_qr_mode(mode)
    x = _x(x)
    _check_rank2("qr", x.shape)
    return tuple(jnp.linalg.qr(x, mode=mode))


def solve(a, b):
    a, b = _sq("solve", a), _x(b)
    _check_ab("solve", a, b)
    return jnp.linalg.solve(a, b)


def solve_triangular(a, b, lower=False):
    a, b = _sq("solve_triangular", a), _x(b)
    _check_ab("solve_triangular", a, b)
    return jax.scipy.linalg.solve_triangular(a, b, lower=lower)


def svd(x, full_matrices=True, compute_uv=True):
    x = _x(x)
    _check_rank2("svd", x.shape)
    out = jnp.linalg.svd(x, full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(out) if compute_uv else out


def lstsq(a, b, rcond=None):
    a, b = _x(a), _x(b)
    if a.ndim != 2:
        raise TypeError(f"fkeras.ops.lstsq: `a` must be 2-D, got shape {a.shape}.")
    if b.ndim not in (1, 2):
        raise TypeError(f"fkeras.ops.lstsq: `b` must be 1-D or 2-D, got shape {b.shape}.")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"fkeras.ops.lstsq: leading dimensions must match, got {a.shape} and {b.shape}.")
    return jnp.linalg.lstsq(a, b, rcond=rcond)[0]


def matrix_rank(x, tol=None):
    x = _x(x)
    _check_rank2("matrix_rank", x.shape)
    return jnp.linalg.matrix_rank(x, rtol=None, tol=tol).astype("int32") if tol is not None else \
        jnp.linalg.matrix_rank(x).astype("int32")


def pinv(x, rcond=None):
    x = _x(x)
    _check_rank2("pinv", x.shape)
    return jnp.linalg.pinv(x, rtol=rcond) if rcond is not None else jnp.linalg.pinv(x)


def jvp(fun, primals, tangents, has_aux=False):
    return jax.jvp(fun, primals, tangents, has_aux=has_aux)


# --- autodiff helpers, generic ops ------------------------------------------------------
def custom_gradient(f):
    return jax.custom_gradient(f)


from fkeras.ops._composite import depth_to_space, multi_hot, space_to_depth  # noqa: E402, F401
from fkeras.ops._einops import rearrange  # noqa: E402


# --- image (JAX kernels: jax.image / jax.scipy.ndimage; the generic ones are in _image.py, merged into the JAX
# backend by _dispatch, so this module does not import them back) ---------------------------------------------

_ORDER = {"nearest": 0, "bilinear": 1}
_FILL = ("constant", "nearest", "wrap", "mirror", "reflect")


def _hw_axes(ndim, data_format):
    return (ndim - 3, ndim - 2) if data_format == "channels_last" else (ndim - 2, ndim - 1)


def _aspect_box(h, w, th, tw, crop):
    """Keras's centred crop (crop=True) or pad box for keeping the aspect ratio: (size_h, size_w, start_h, start_w)."""
    if crop:
        ch = builtins.max(builtins.min(h, int(float(w * th) / tw)), 1)
        cw = builtins.max(builtins.min(w, int(float(h * tw) / th)), 1)
        return ch, cw, int(float(h - ch) / 2), int(float(w - cw) / 2)
    ph = builtins.max(h, int(float(w * th) / tw))
    pw = builtins.max(w, int(float(h * tw) / th))
    return ph, pw, int(float(ph - h) / 2), int(float(pw - w) / 2)


def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
    data_format = _check_data_format(data_format)
    _check_resize(size, interpolation, fill_mode, crop_to_aspect_ratio, pad_to_aspect_ratio)
    x = _x(images)
    if x.ndim not in (3, 4):
        raise ValueError(f"Invalid images rank: expected rank 3 (single image) or rank 4 (batch of images). "
                         f"Received input with shape: images.shape={x.shape}")
    th, tw = (int(s) for s in size)
    ah, aw = _hw_axes(x.ndim, data_format)
    h, w = x.shape[ah], x.shape[aw]
    if crop_to_aspect_ratio:
        ch, cw, sh, sw = _aspect_box(h, w, th, tw, True)
        x = jax.lax.slice_in_dim(jax.lax.slice_in_dim(x, sh, sh + ch, axis=ah), sw, sw + cw, axis=aw)
    elif pad_to_aspect_ratio:
        ph, pw, sh, sw = _aspect_box(h, w, th, tw, False)
        pads = [(0, 0)] * x.ndim
        if sh > 0:
            pads[ah] = (sh, sh)
        elif sw > 0:
            pads[aw] = (sw, sw)
        x = jnp.pad(x, pads, constant_values=jnp.asarray(fill_value, x.dtype))
    shape = list(x.shape)
    shape[ah], shape[aw] = th, tw
    dtype = x.dtype
    if interpolation == "area":
        out = _area_resize(x.astype(jnp.promote_types(dtype, jnp.float32)), ah, aw, th, tw)
    else:
        out = jax.image.resize(x, shape, method=interpolation, antialias=antialias)
    if out.dtype != dtype:  # Keras rounds and saturates back to an integer input dtype
        out = saturate_cast(jnp.round(out) if jnp.issubdtype(dtype, jnp.integer) else out, dtype.name)
    return out


def _area_resize(x, ah, aw, th, tw):
    """Area interpolation: each output pixel averages the input area it covers (weights of overlap)."""
    for axis, n_out in ((ah, th), (aw, tw)):
        n_in = x.shape[axis]
        edges_out = np.arange(n_out + 1) * n_in / n_out
        w = np.zeros((n_out, n_in))
        for o in range(n_out):
            lo, hi = edges_out[o], edges_out[o + 1]
            for i in range(int(np.floor(lo)), builtins.min(int(np.ceil(hi)), n_in)):
                w[o, i] = builtins.max(0.0, builtins.min(hi, i + 1) - builtins.max(lo, i))
        w = w / w.sum(1, keepdims=True)
        x = jnp.moveaxis(jnp.tensordot(w.astype(x.dtype), jnp.moveaxis(x, axis, 0), axes=(1, 0)), 0, axis)
    return x


def _check_map_coordinates(shape, coordinates_shape, order, fill_mode):
    """`map_coordinates`'s checks (Keras's messages), for every backend."""
    if coordinates_shape[0] != len(shape):
        raise ValueError(f"First dim of `coordinates` must be the same as the rank of `inputs`. Received inputs with "
                         f"shape: {tuple(shape)} and coordinate leading dim of {coordinates_shape[0]}")
    if len(coordinates_shape) < 2:
        raise ValueError(f"Invalid coordinates rank: expected at least rank 2. Received input with shape: "
                         f"{tuple(coordinates_shape)}")
    if fill_mode not in _FILL:
        raise ValueError(f"Invalid value for argument `fill_mode`. Expected one of {set(_FILL)}. "
                         f"Received: fill_mode={fill_mode}")
    if order not in (0, 1):
        raise ValueError(f"Invalid value for argument `order`. Expected one of [0, 1]. Received: order={order}")


def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0):
    x = _x(inputs)
    coordinates = jnp.asarray(coordinates)
    _check_map_coordinates(x.shape, coordinates.shape, order, fill_mode)
    return jax.scipy.ndimage.map_coordinates(x, list(coordinates), order, fill_mode, fill_value)


def _check_interp(interpolation, fill_mode=None):
    if interpolation not in _ORDER:
        raise ValueError(f"Invalid value for argument `interpolation`. Expected of one {set(_ORDER)}. "
                         f"Received: interpolation={interpolation}")
    if fill_mode is not None and fill_mode not in _FILL:
        raise ValueError(f"Invalid value for argument `fill_mode`. Expected of one {set(_FILL)}. "
                         f"Received: fill_mode={fill_mode}")


def _nhwc(images, data_format, name="images"):
    x = _x(images)
    if x.ndim not in (3, 4):
        raise ValueError(f"Invalid {name} rank: expected rank 3 (single image) or rank 4 (batch of images). "
                         f"Received input with shape: {name}.shape={x.shape}")
    squeeze = x.ndim == 3
    if squeeze:
        x = x[None]
    if data_format == "channels_first":
        x = jnp.transpose(x, (0, 2, 3, 1))
    return x, squeeze


def _back(x, data_format, squeeze):
    if data_format == "channels_first":
        x = jnp.transpose(x, (0, 3, 1, 2))
    return x[0] if squeeze else x


def _sample(images, ys, xs, order, fill_mode, fill_value):
    """images (N, H, W, C); ys/xs (N, H', W') input coordinates -> (N, H', W', C)."""
    def one(img, y, x):
        return jax.vmap(lambda ch: jax.scipy.ndimage.map_coordinates(ch, [y, x], order, fill_mode, fill_value),
                        in_axes=-1, out_axes=-1)(img)

    return jax.vmap(one)(images, ys, xs)


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0,
                     data_format=None):
    data_format = _check_data_format(data_format)
    _check_interp(interpolation, fill_mode)
    t = _x(transform)
    if t.ndim not in (1, 2):
        raise ValueError(f"Invalid transform rank: expected rank 1 (single transform) or rank 2 (batch of "
                         f"transforms). Received input with shape: transform.shape={t.shape}")
    x, squeeze = _nhwc(images, data_format)
    if t.ndim == 1:
        t = t[None]
    t = jnp.broadcast_to(t, (x.shape[0], 8)).astype(jnp.promote_types(t.dtype, jnp.float32))
    n, h, w, _ = x.shape
    yy, xx = jnp.meshgrid(jnp.arange(h, dtype=t.dtype), jnp.arange(w, dtype=t.dtype), indexing="ij")
    a0, a1, a2, b0, b1, b2 = (t[:, i, None, None] for i in range(6))
    # Keras's JAX backend applies the affine part only (c0, c1 ignored): x_in = a0 x + a1 y + a2, y_in = b0 x + b1 y + b2
    x_in = a0 * xx + a1 * yy + a2
    y_in = b0 * xx + b1 * yy + b2
    out = _sample(x, y_in, x_in, _ORDER[interpolation], fill_mode, fill_value)
    return _back(out.astype(x.dtype), data_format, squeeze)


def compute_homography(start_points, end_points):
    """The 8 projective coefficients mapping output (end) points to input (start) points, per batch item."""
    sx, sy = start_points[..., 0], start_points[..., 1]
    ex, ey = end_points[..., 0], end_points[..., 1]
    z, o = jnp.zeros_like(ex), jnp.ones_like(ex)
    rows_x = jnp.stack([ex, ey, o, z, z, z, -sx * ex, -sx * ey], axis=-1)
    rows_y = jnp.stack([z, z, z, ex, ey, o, -sy * ex, -sy * ey], axis=-1)
    a = jnp.concatenate([rows_x, rows_y], axis=1)
    b = jnp.concatenate([sx, sy], axis=-1)[..., None]
    return jnp.linalg.solve(a, b)[..., 0]


def perspective_transform(images, start_points, end_points, interpolation="bilinear", fill_value=0,
                          data_format=None):
    data_format = _check_data_format(data_format)
    _check_interp(interpolation)
    sp, ep = _x(start_points), _x(end_points)
    for name, p in (("start_points", sp), ("end_points", ep)):
        if p.shape[-2:] != (4, 2) or p.ndim not in (2, 3):
            raise ValueError(f"Invalid {name} shape: expected (4,2) for a single image or (N,4,2) for a batch. "
                             f"Received shape: {p.shape}")
    if sp.shape != ep.shape:
        raise ValueError(f"start_points and end_points must have the same shape. Received start_points.shape="
                         f"{sp.shape}, end_points.shape={ep.shape}")
    x, squeeze = _nhwc(images, data_format)
    if sp.ndim == 2:
        sp, ep = sp[None], ep[None]
    m = compute_homography(sp.astype("float32"), ep.astype("float32"))
    m = jnp.broadcast_to(m, (x.shape[0], 8))
    n, h, w, _ = x.shape
    yy, xx = jnp.meshgrid(jnp.arange(h, dtype="float32"), jnp.arange(w, dtype="float32"), indexing="ij")
    c = [m[:, i, None, None] for i in range(8)]
    den = c[6] * xx + c[7] * yy + 1.0
    x_in = (c[0] * xx + c[1] * yy + c[2]) / den
    y_in = (c[3] * xx + c[4] * yy + c[5]) / den
    out = _sample(x, y_in, x_in, _ORDER[interpolation], "constant", fill_value)
    return _back(out.astype(x.dtype), data_format, squeeze)


def elastic_transform(images, alpha=20.0, sigma=5.0, interpolation="bilinear", fill_mode="reflect", fill_value=0.0,
                      seed=None, data_format=None):

    data_format = _check_data_format(data_format)
    _check_interp(interpolation, fill_mode)
    x, squeeze = _nhwc(images, data_format)
    dtype = x.dtype
    n, h, w, _ = x.shape
    key = frandom.draw_key(seed)
    size = int(6 * sigma) | 1
    # Keras draws dx and dy from the same key (so they are equal); kept for identical fields.
    dx = jax.random.normal(key, (n, h, w), dtype=dtype) * sigma
    dy = jax.random.normal(key, (n, h, w), dtype=dtype) * sigma
    dx = ops_image.gaussian_blur(dx[..., None], (size, size), (sigma, sigma), "channels_last")[..., 0]
    dy = ops_image.gaussian_blur(dy[..., None], (size, size), (sigma, sigma), "channels_last")[..., 0]
    yy, xx = jnp.meshgrid(jnp.arange(h, dtype=dtype), jnp.arange(w, dtype=dtype), indexing="ij")
    out = _sample(x, yy + alpha * dy, xx + alpha * dx, _ORDER[interpolation], fill_mode, fill_value)
    return _back(out.astype(dtype), data_format, squeeze)


_SCALE_METHODS = ("linear", "bilinear", "trilinear", "cubic", "bicubic", "tricubic", "lanczos3", "lanczos5")


def scale_and_translate(images, output_shape, scale, translation, spatial_dims, method, antialias=True):
    if method not in _SCALE_METHODS:
        raise ValueError(f"Invalid value for argument `method`. Expected of one {set(_SCALE_METHODS)}. "
                         f"Received: method={method}")
    return jax.image.scale_and_translate(_x(images), output_shape, spatial_dims, _x(scale), _x(translation), method,
                                         antialias)


__all__ += ["resize", "map_coordinates", "affine_transform", "perspective_transform", "elastic_transform",
            "scale_and_translate"]


# One compiled program per shape and setting: called eagerly, its hundreds of small ops otherwise dispatch one
# by one (2.4 s a call where the jitted program takes 0.1 s after compiling).
@partial(jax.jit, static_argnums=(2, 3, 4))
def _ctc_beam_search(x, lengths, beam_width, top_paths, mask_index):
    """Keras-on-JAX's CTC prefix beam search: each beam keeps a path and two scores (ending in a label /
    in a blank); per step every beam is extended by every class, identical paths are merged (log-sum-exp)
    and the best `beam_width` kept. Classes are visited in reversed order so ties break as TF's decoder."""
    batch, max_len, classes = x.shape
    x = jax.nn.log_softmax(x)
    beyond = jnp.arange(max_len)[None, :] >= lengths[:, None]
    if mask_index is None:
        mask_index = classes - 1
    x = jnp.flip(x, axis=2)
    blank = classes - mask_index - 1
    pad = -1
    width = 2 * beam_width
    n0 = builtins.min(classes, beam_width)
    first = jnp.argsort(x[:, 0], axis=1)[:, -n0:]
    paths0 = jnp.full((batch, width, max_len), pad, jnp.int32).at[:, :n0, 0].set(
        jnp.where(first == blank, pad, first))
    scores0 = jnp.full((batch, width), -jnp.inf, x.dtype).at[:, :n0].set(jnp.take_along_axis(x[:, 0], first, axis=1))
    masked0 = paths0[:, :, 0] == pad

    def merge(inverse, scores):
        top = jnp.max(scores)
        return jnp.log(jnp.zeros_like(scores).at[inverse].add(jnp.exp(scores - top))) + top

    def unique(paths):
        u, inverse = jnp.unique(paths, return_inverse=True, size=width * classes, axis=0, fill_value=pad)
        return u, inverse.reshape(-1)

    def step(paths, scores, masked, logp):
        paths = jnp.repeat(paths, classes, axis=0)
        scores = jnp.repeat(scores, classes) + jnp.tile(logp, width)
        prev_masked = jnp.repeat(masked, classes)
        rows = jnp.arange(width * classes)
        tail_at = jnp.argmax(paths == pad, axis=1)
        tail = jnp.where(tail_at == 0, pad, paths[rows, tail_at - 1])
        cls = jnp.tile(jnp.arange(classes).at[blank].set(pad), width)
        masked = cls == pad
        cls = jnp.where(~prev_masked & (tail == cls), pad, cls)
        paths = paths.at[rows, tail_at].set(cls)
        paths, inverse = unique(paths)
        emit = merge(inverse, jnp.where(masked, -jnp.inf, scores))
        blank_s = merge(inverse, jnp.where(masked, scores, -jnp.inf))
        best = jnp.argsort(jnp.logaddexp(emit, blank_s))[-beam_width:]
        return (jnp.tile(paths[best], (2, 1)), jnp.concatenate([emit[best], blank_s[best]]),
                jnp.concatenate([jnp.zeros(beam_width, bool), jnp.ones(beam_width, bool)]))

    def one(paths, scores, masked, xs, skip):
        def body(state, inp):
            logp, stop = inp
            return jax.lax.cond(stop, lambda *s: s[:3], step, *state, logp), None

        (paths, scores, masked), _ = jax.lax.scan(body, (paths, scores, masked), (xs[1:], skip[1:]))
        paths, inverse = unique(paths)
        scores = merge(inverse, scores)
        best = jnp.argsort(scores)[-top_paths:][::-1]
        return paths[best], scores[best]

    paths, scores = jax.vmap(one)(paths0, scores0, masked0, x, beyond)
    paths = jnp.where(paths == pad, pad, classes - paths - 1)
    return jnp.transpose(paths, (1, 0, 2)), scores
