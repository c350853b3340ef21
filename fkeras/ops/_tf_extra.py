"""TensorFlow implementations of the nn / math / linalg / core / control-flow ops of `fkeras.ops`
(issue 14 part B). Star-imported at the end of `_tf.py`. Built from TF ops, so they differentiate
under `tf.GradientTape`; `cond`/`switch`/`while_loop`/`fori_loop` use TF's own control flow
(they trace inside `tf.function`), `scan`/`map`/`associative_scan` unroll over the static length.
"""

# ruff: noqa: A001, A002
from __future__ import annotations

import builtins
import math as _math

import jax
import jax.numpy as jnp
import numpy as np
import tensorflow as tf

from fkeras.ops import _tf as T
from fkeras.ops import _unrolled
from fkeras.ops._args import (
    PART_B_OPS, _bnts, _check_attention, _check_cdist, _check_ctc_strategy, _check_data_format, _check_glu,
    _check_psnr, _check_qr_mode, _check_square, _check_unroll, _check_view_as_complex, _complex_parts,
    _layer_norm_args, _scale_shift, _tuple,
)
from fkeras.ops._jax_extra import (
    _ctc_beam_search, _stft_checks, adaptive_pool, conv_transpose_args, istft_plan, saturate_limits, stft_window,
)

__all__ = list(PART_B_OPS)

_tree = jax.tree_util
_x = T._t
_float = T._float


def _tensors(tree):
    return _tree.tree_map(lambda v: v if v is None else tf.convert_to_tensor(v) if not T._is_tensor(v) else v, tree)


# --- core / control flow ---------------------------------------------------------------
def cond(pred, true_fn, false_fn):
    return tf.cond(tf.cast(pred, tf.bool), true_fn, false_fn)


def switch(index, branches, *operands):
    index = tf.clip_by_value(tf.cast(index, tf.int32), 0, len(branches) - 1)
    return tf.switch_case(index, [lambda b=b: b(*operands) for b in branches])


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    is_tuple = isinstance(loop_vars, (tuple, list))
    state = tuple(loop_vars) if is_tuple else (loop_vars,)

    def _body(*s):
        out = body(*s)
        return tuple(out) if is_tuple else (out,)

    out = tf.while_loop(cond, _body, state, maximum_iterations=maximum_iterations)
    return tuple(out) if is_tuple else out[0]


def fori_loop(lower, upper, body_fun, init_val):
    _, out = tf.while_loop(lambda i, v: i < upper, lambda i, v: (i + 1, body_fun(i, v)),
                           (tf.constant(lower, tf.int32) if not T._is_tensor(lower) else lower, init_val))
    return out


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    _check_unroll(unroll)  # xs of a static leading size (a traced one has none): TF unrolls the loop
    return _unrolled.scan(f, init, _tensors(xs), length, reverse, tf.stack, " (with a static leading size)",
                          check_length=False)


def associative_scan(f, elems, reverse=False, axis=0):
    return _unrolled.associative_scan(f, _tensors(elems), reverse, axis, lambda v: v, tf.stack,
                                      lambda v, a: tf.reverse(v, [a]), lambda v, i, a: tf.gather(v, i, axis=a))


def map(f, xs):
    return _unrolled.map(f, _tensors(xs), tf.stack)


def vectorized_map(function, elements):
    return tf.vectorized_map(function, elements)


def custom_gradient(f):
    return tf.custom_gradient(f)


def slice(inputs, start_indices, shape):
    x = _x(inputs)
    return tf.slice(x, tf.cast(start_indices, tf.int32), tf.cast(shape, tf.int32))


def slice_update(inputs, start_indices, updates):
    x = _x(inputs)
    u = tf.cast(_x(updates), x.dtype)
    grids = tf.meshgrid(*[tf.range(d) for d in u.shape], indexing="ij")
    idx = tf.stack([g + tf.cast(s, tf.int32) for g, s in zip(grids, start_indices)], axis=-1)
    return tf.tensor_scatter_nd_update(x, idx, u)


def scatter(indices, values, shape):
    values = _x(values)
    return tf.scatter_nd(tf.cast(_x(indices), tf.int32), values, tf.cast(shape, tf.int32))


def scatter_update(inputs, indices, updates, reduction=None):
    x = _x(inputs)
    u = tf.cast(_x(updates), x.dtype)
    idx = tf.cast(_x(indices), tf.int32)
    if reduction is None:
        return tf.tensor_scatter_nd_update(x, idx, u)
    if reduction == "add":
        return tf.tensor_scatter_nd_add(x, idx, u)
    if reduction == "max":
        return tf.tensor_scatter_nd_max(x, idx, u)
    if reduction == "min":
        return tf.tensor_scatter_nd_min(x, idx, u)
    if reduction == "mul":
        k = idx.shape[-1]
        lead = x.shape[:k]
        strides = tf.constant([int(np.prod(lead[i + 1:])) for i in range(k)], tf.int32)
        lin = tf.reduce_sum(tf.reshape(idx, [-1, k]) * strides, -1)
        rest = x.shape[k:]
        factors = tf.math.unsorted_segment_prod(tf.reshape(u, [-1, *rest]), lin, int(np.prod(lead)))
        return tf.reshape(tf.reshape(x, [-1, *rest]) * factors, tf.shape(x))
    raise ValueError(
        f"fkeras.ops.scatter_update: reduction must be None, 'add', 'max', 'min' or 'mul', got {reduction!r}.")


def unstack(x, num=None, axis=0):
    return tf.unstack(_x(x), num=num, axis=axis)


def saturate_cast(x, dtype):
    x = _x(x)
    out = dtype if isinstance(dtype, str) else np.dtype(dtype).name
    low, high = saturate_limits(x.dtype.name, out)
    return tf.cast(tf.clip_by_value(x, tf.constant(low, x.dtype), tf.constant(high, x.dtype)), out)


def is_tensor(x):
    return tf.is_tensor(x)


# --- math ------------------------------------------------------------------------------------
def _segment(fn, data, segment_ids, num_segments, empty=None):
    data = _x(data)
    ids = tf.cast(_x(segment_ids), tf.int32)
    n = tf.reduce_max(ids) + 1 if num_segments is None else num_segments
    out = fn(data, ids, n)
    if empty is not None and data.dtype.is_floating:  # TF fills empty segments with dtype min/max, JAX with -inf/inf
        count = tf.math.unsorted_segment_sum(tf.ones_like(ids), ids, n)
        count = tf.reshape(count, [-1] + [1] * (len(data.shape) - 1))
        out = tf.where(count > 0, out, tf.constant(empty, data.dtype))
    return out


def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    return _segment(tf.math.unsorted_segment_sum, data, segment_ids, num_segments)


def segment_max(data, segment_ids, num_segments=None, sorted=False):
    return _segment(tf.math.unsorted_segment_max, data, segment_ids, num_segments, -np.inf)


def segment_min(data, segment_ids, num_segments=None, sorted=False):
    return _segment(tf.math.unsorted_segment_min, data, segment_ids, num_segments, np.inf)


def segment_prod(data, segment_ids, num_segments=None, sorted=False):
    return _segment(tf.math.unsorted_segment_prod, data, segment_ids, num_segments)


def in_top_k(targets, predictions, k):
    p = _x(predictions)
    at = tf.gather(p, tf.cast(_x(targets), tf.int32), batch_dims=1)[..., None]
    at = tf.where(tf.math.is_nan(at), tf.constant(-np.inf, p.dtype), at)
    return (1 + tf.reduce_sum(tf.cast(p > at, tf.int32), -1)) <= k


def cdist(x, y):
    x, y = T._promote(x, y)
    _check_cdist(x.shape, y.shape)
    d = tf.expand_dims(x, -2) - tf.expand_dims(y, -3)
    return tf.sqrt(tf.reduce_sum(d * d, -1))


def extract_sequences(x, sequence_length, sequence_stride):
    return tf.signal.frame(_x(x), sequence_length, sequence_stride, pad_end=False)


def _complex(x, name):
    return tf.complex(*_complex_parts(x, name, _x, lambda v: v.dtype.is_floating))


def _split(c):
    return tf.math.real(c), tf.math.imag(c)


def fft(x):
    return _split(tf.signal.fft(_complex(x, "fft")))


def fft2(x):
    return _split(tf.signal.fft2d(_complex(x, "fft2")))


def ifft2(x):
    return _split(tf.signal.ifft2d(_complex(x, "ifft2")))


def rfft(x, fft_length=None):
    x = _float(x)
    n = x.shape[-1] if fft_length is None else fft_length
    return _split(tf.signal.rfft(x, fft_length=[n]))


def irfft(x, fft_length=None):
    c = _complex(x, "irfft")
    n = 2 * (c.shape[-1] - 1) if fft_length is None else fft_length
    return tf.signal.irfft(c, fft_length=[n])


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    x = _x(x)
    _stft_checks(x.dtype.name, sequence_length, fft_length)
    if center:
        pad = [[0, 0]] * (len(x.shape) - 1) + [[fft_length // 2, fft_length // 2]]
        x = tf.pad(x, pad, mode="REFLECT")
    win = tf.constant(stft_window(window, sequence_length, fft_length, x.dtype.name))
    frames = tf.signal.frame(x, fft_length, sequence_stride) * win
    return _split(tf.signal.rfft(frames, fft_length=[fft_length]))


def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann", center=True):
    c = _complex(x, "istft")
    if len(c.shape) < 2:
        raise ValueError(f"fkeras.ops.istft: input must have at least 2 dimensions, got shape {c.shape}.")
    dtype = tf.math.real(c).dtype.name
    frames = tf.signal.irfft(c, fft_length=[fft_length])
    n_frames = c.shape[-2]
    win_np = stft_window(window, sequence_length, fft_length, dtype)
    _, norm, (start, end) = istft_plan(win_np, n_frames, sequence_stride, fft_length, length, center)
    signal = tf.signal.overlap_and_add(frames * tf.constant(win_np), sequence_stride)
    return (signal / tf.constant(norm))[..., start:end]


def erfc(x):
    return tf.math.erfc(_float(x))


def erfinv(x):
    return tf.math.erfinv(_float(x))


def logdet(x):
    return tf.linalg.slogdet(_x(x))[1]


def view_as_complex(x):
    x = _x(x)
    _check_view_as_complex(x.shape)
    return tf.complex(x[..., 0], x[..., 1])


def view_as_real(x):
    x = _x(x)
    if not x.dtype.is_complex:
        raise ValueError(f"fkeras.ops.view_as_real: expected a complex tensor, got {x.dtype}.")
    return tf.stack([tf.math.real(x), tf.math.imag(x)], -1)


# --- nn: activations ------------------------------------------------------------------------
def _zero(x):
    return tf.zeros_like(x)


def celu(x, alpha=1.0):
    x = _float(x)
    return tf.maximum(x, 0.0) + tf.minimum(0.0, alpha * (tf.exp(x / alpha) - 1))


def glu(x, axis=-1):
    x = _x(x)
    _check_glu(x.shape, axis)
    a, b = tf.split(x, 2, axis=axis)
    return a * tf.sigmoid(b)


def hard_shrink(x, threshold=0.5):
    x = _x(x)
    return tf.where(tf.abs(x) > threshold, x, _zero(x))


def hard_silu(x):
    x = _float(x)
    return x * tf.nn.relu6(x + 3.0) / 6.0


hard_swish = hard_silu


def hard_tanh(x):
    x = _x(x)
    return tf.clip_by_value(x, tf.constant(-1, x.dtype), tf.constant(1, x.dtype))


def log_sigmoid(x):
    return tf.math.log_sigmoid(_float(x))


def soft_shrink(x, threshold=0.5):
    x = _x(x)
    return tf.where(x > threshold, x - threshold, tf.where(x < -threshold, x + threshold, _zero(x)))


def sparse_plus(x):
    x = _float(x)
    return tf.where(x <= -1, _zero(x), tf.where(x < 1, (x + 1) ** 2 / 4, x))


def sparse_sigmoid(x):
    x = _float(x)
    return tf.where(x <= -1, _zero(x), tf.where(x < 1, (x + 1) / 2, tf.ones_like(x)))


def sparsemax(x, axis=-1):
    x = _x(x)
    nd = len(x.shape)
    axis = axis % nd
    perm = None
    if axis != nd - 1:
        perm = [i for i in range(nd) if i != axis] + [axis]
        x = tf.transpose(x, perm)
    srt = -tf.sort(-x, axis=-1)
    csum = tf.cumsum(srt, axis=-1)
    r = tf.range(1, x.shape[-1] + 1, dtype=x.dtype)
    support = srt - (csum - 1) / r > 0
    k = tf.reduce_sum(tf.cast(support, x.dtype), -1, keepdims=True)
    tau = (tf.reduce_sum(tf.where(support, csum, _zero(csum)), -1, keepdims=True) - 1) / k
    out = tf.maximum(x - tau, 0.0)
    if perm is not None:
        out = tf.transpose(out, np.argsort(perm))
    return out


def squareplus(x, b=4):
    x = _float(x)
    return (x + tf.sqrt(x * x + b)) / 2


def swish(x):
    x = _float(x)
    return x * tf.sigmoid(x)


def tanh_shrink(x):
    x = _float(x)
    return x - tf.tanh(x)


def threshold(x, threshold, default_value):
    x = _x(x)
    return tf.where(x > threshold, x, tf.cast(default_value, x.dtype) * tf.ones_like(x))


# --- nn: normalisation and misc -----------------------------------------------------------
def _compute(x):
    x = _x(x)
    return tf.cast(x, "float64" if x.dtype == tf.float64 else "float32"), x.dtype


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    x, out_dtype = _compute(x)
    rms_scaling, epsilon, axes, bc = _layer_norm_args(kwargs, axis, epsilon, x.shape,
                                                      lambda v: tf.cast(_x(v), x.dtype), tf.reshape)
    if rms_scaling:
        _, var = tf.nn.moments(x, axes, keepdims=True)
        out = x * tf.math.rsqrt(var + epsilon)
        return tf.cast(out * bc(gamma) if gamma is not None else out, out_dtype)
    mean = tf.reduce_mean(x, axes, keepdims=True)
    var = tf.reduce_mean(tf.square(x - tf.stop_gradient(mean)), axes, keepdims=True)
    return tf.cast(_scale_shift(x, mean, tf.math.rsqrt(var + epsilon), bc(gamma), bc(beta)), out_dtype)


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    epsilon = 1e-7 if epsilon is None else epsilon
    x, out_dtype = _compute(x)
    if len(x.shape) == 0:
        x = x[None]
    axes = list(axis) if isinstance(axis, (tuple, list)) else [axis]
    out = x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axes, keepdims=True) + epsilon)
    if scale is not None:
        out = out * tf.cast(_x(scale), x.dtype)
    return tf.cast(out, out_dtype)


def polar(abs_, angle):
    abs_, angle = T._promote(abs_, angle)
    return tf.complex(abs_ * tf.cos(angle), abs_ * tf.sin(angle))


def psnr(x1, x2, max_val):
    x1, x2 = T._promote(x1, x2)
    _check_psnr(x1.shape, x2.shape)
    max_val = tf.cast(max_val, x2.dtype)
    mse = tf.reduce_mean(tf.square(x1 - x2))
    log10 = np.log(10.0).astype(x2.dtype.as_numpy_dtype)
    return 20 * tf.math.log(max_val) / log10 - 10 * tf.math.log(mse) / log10


# --- nn: convolutions -------------------------------------------------------------------------
def _dilate_axis(x, axis, s):
    """Insert s - 1 zeros between entries along `axis` (length d -> (d - 1) * s + 1)."""
    if s == 1:
        return x
    d = x.shape[axis]
    z = tf.zeros_like(x)
    st = tf.stack([x] + [z] * (s - 1), axis=axis + 1)
    shape = tf.unstack(tf.shape(x))
    shape[axis] = d * s
    st = tf.reshape(st, tf.stack(shape))
    return tf.gather(st, tf.range((d - 1) * s + 1), axis=axis)


def _pad_or_crop(x, axis, lo, hi):
    if lo < 0:
        x = tf.gather(x, tf.range(-lo, x.shape[axis]), axis=axis)
        lo = 0
    if hi < 0:
        x = tf.gather(x, tf.range(0, x.shape[axis] + hi), axis=axis)
        hi = 0
    pads = [[0, 0]] * len(x.shape)
    pads[axis] = [lo, hi]
    return tf.pad(x, pads)


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    data_format = _check_data_format(data_format)
    x, kernel = T._float_promote(inputs, kernel)
    n = len(x.shape) - 2
    strides, dilation, pads = conv_transpose_args(kernel.shape, n, strides, padding, output_padding, dilation_rate)
    x = T._to_channels_last(x, data_format)
    for i in range(n):
        x = _dilate_axis(x, 1 + i, strides[i])
        x = _pad_or_crop(x, 1 + i, *pads[i])
    k = tf.reverse(kernel, list(range(n)))
    k = tf.transpose(k, list(range(n)) + [n + 1, n])  # (*window, in, out)
    y = T.conv(x, k, 1, "valid", "channels_last", dilation)
    return T._from_channels_last(y, data_format)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    out = T.depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return T.conv(out, pointwise_kernel, 1, "valid", data_format, dilation_rate)


def _four(v, name):
    return [_tuple(a, 2, n) for a, n in zip(v, name)]


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    x = _x(x)
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = _four((kernel_size, dilation, padding, stride),
                                                   ("kernel_size", "dilation", "padding", "stride"))
    x = tf.pad(x, [[0, 0], [0, 0], [ph, ph], [pw, pw]])
    _, c, h, w = x.shape
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (w - dw * (kw - 1) - 1) // sw + 1
    cols = [x[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
            for i in range(kh) for j in range(kw)]
    return tf.reshape(tf.stack(cols, axis=2), [-1, c * kh * kw, oh * ow])


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    x = _x(x)
    (oh, ow), (kh, kw), (dh, dw), (ph, pw), (sh, sw) = _four(
        (output_size, kernel_size, dilation, padding, stride),
        ("output_size", "kernel_size", "dilation", "padding", "stride"))
    _, ckk, _ = x.shape
    c = ckk // (kh * kw)
    nh = (oh + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    nw = (ow + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    cols = tf.reshape(x, [-1, c, kh, kw, nh, nw])
    full_h, full_w = oh + 2 * ph, ow + 2 * pw
    out = 0
    for i in range(kh):
        for j in range(kw):
            piece = _dilate_axis(_dilate_axis(cols[:, :, i, j], 2, sh), 3, sw)
            r0, c0 = i * dh, j * dw
            piece = tf.pad(piece, [[0, 0], [0, 0], [r0, full_h - r0 - piece.shape[2]],
                                   [c0, full_w - c0 - piece.shape[3]]])
            out = out + piece
    return out[:, :, ph:ph + oh, pw:pw + ow]


def _adaptive(reduce, inputs, output_size, data_format):
    return adaptive_pool(_x(inputs), output_size, data_format, reduce,
                         lambda v, s, e, a: tf.gather(v, tf.range(s, e), axis=a), lambda vs, a: tf.stack(vs, axis=a))


def adaptive_average_pool(inputs, output_size, data_format=None):
    return _adaptive(lambda v, a: tf.reduce_mean(v, a), inputs, output_size, data_format)


def adaptive_max_pool(inputs, output_size, data_format=None):
    return _adaptive(lambda v, a: tf.reduce_max(v, a), inputs, output_size, data_format)


# --- nn: attention -----------------------------------------------------------------------------
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    q, k, v = _x(query), _x(key), _x(value)
    flash_error = flash_attention and (
        "flash_attention=True is not available on TensorFlow; pass flash_attention=None or False.")
    n, kh = _check_attention(q.shape, k.shape, v.shape, flash_error, attn_logits_soft_cap)
    t, h = q.shape[1], q.shape[3]
    if kh != n:
        k = tf.repeat(k, n // kh, axis=2)
        v = tf.repeat(v, n // kh, axis=2)
    scale = 1.0 / _math.sqrt(h) if scale is None else scale
    compute = tf.float64 if q.dtype == tf.float64 else tf.float32
    logits = tf.einsum("btnh,bsnh->bnts", tf.cast(q, compute), tf.cast(k, compute)) * scale
    if bias is not None:
        logits = logits + _bnts(tf.cast(_x(bias), compute), n, "bias", tf.expand_dims)
    keep = None
    if mask is not None:
        keep = _bnts(tf.cast(_x(mask), tf.bool), n, "mask", tf.expand_dims)
    if is_causal:
        causal = tf.cast(tf.linalg.band_part(tf.ones([t, k.shape[1]]), -1, 0), tf.bool)
        keep = causal if keep is None else tf.logical_and(keep, causal)
    if keep is not None:
        big = tf.constant(-0.7 * np.finfo(compute.as_numpy_dtype).max, compute)
        logits = tf.where(keep, logits, big)
    probs = tf.cast(tf.nn.softmax(tf.cast(logits, tf.float32), -1), v.dtype)
    return tf.einsum("bnts,bsnh->btnh", probs, v)


# --- nn: CTC -------------------------------------------------------------------------------------
def ctc_loss(target, output, target_length, output_length, mask_index=0):
    output = _x(output)
    if output.dtype != tf.float64:
        output = tf.cast(output, tf.float32)
    return tf.nn.ctc_loss(labels=tf.cast(_x(target), tf.int32), logits=output,
                          label_length=tf.cast(_x(target_length), tf.int32),
                          logit_length=tf.cast(_x(output_length), tf.int32),
                          logits_time_major=False, blank_index=mask_index)


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1, merge_repeated=True,
               mask_index=0):
    if strategy == "beam_search":  # decoding has no gradient: run JAX's kernel on host copies (eager only)
        if not tf.executing_eagerly():
            raise NotImplementedError("fkeras.ops.ctc_decode: strategy='beam_search' on tensorflow runs eagerly only "
                                      "(not inside tf.function); use strategy='greedy' there.")
        x = _x(inputs)
        x = x if x.dtype == tf.float64 else tf.cast(x, tf.float32)
        paths, scores = _ctc_beam_search(jnp.asarray(x.numpy()), jnp.asarray(np.asarray(_x(sequence_lengths)), "int32"),
                                         beam_width, top_paths, mask_index)
        return tf.constant(np.asarray(paths)), tf.constant(np.asarray(scores))
    _check_ctc_strategy(strategy)
    x = _x(inputs)
    if x.dtype != tf.float64:
        x = tf.cast(x, tf.float32)
    lengths = tf.cast(_x(sequence_lengths), tf.int32)
    _, max_len, classes = x.shape
    if mask_index is None:
        mask_index = classes - 1
    idx = tf.cast(tf.argmax(x, -1), tf.int32)
    scores = tf.reduce_max(x, -1)
    beyond = tf.range(max_len)[None, :] >= lengths[:, None]
    idx = tf.where(beyond, mask_index, idx)
    scores = tf.where(beyond, tf.zeros_like(scores), scores)
    if merge_repeated:
        rep = tf.pad(idx[:, 1:] == idx[:, :-1], [[0, 0], [1, 0]])
        idx = tf.where(rep, mask_index, idx)
    blank = idx == mask_index
    idx = tf.where(blank, -1, idx)
    order = tf.where(blank, max_len, tf.range(max_len)[None, :])
    order = tf.argsort(order, axis=-1, stable=True)
    idx = tf.gather(idx, order, batch_dims=1)
    return idx[None], -tf.reduce_sum(scores, 1, keepdims=True)


# --- linalg -----------------------------------------------------------------------------------------
def _sq(name, x):
    x = _x(x)
    _check_square(name, x.shape)
    return x


def _adj(x):
    return tf.linalg.adjoint(x)


def cholesky(x, upper=False):
    out = tf.linalg.cholesky(_sq("cholesky", x))
    if tf.executing_eagerly() and bool(tf.reduce_any(tf.math.is_nan(out))):
        raise ValueError("fkeras.ops.cholesky: decomposition failed; the input is not positive definite.")
    return _adj(out) if upper else out


def cholesky_inverse(x, upper=False):
    x = _sq("cholesky_inverse", x)
    low = _adj(x) if upper else x
    eye = tf.eye(x.shape[-1], batch_shape=x.shape[:-2], dtype=x.dtype)
    return tf.linalg.cholesky_solve(low, eye)


def det(x):
    return tf.linalg.det(_sq("det", x))


def eig(x):
    return tuple(tf.linalg.eig(_sq("eig", x)))


def eigh(x):
    return tuple(tf.linalg.eigh(_sq("eigh", x)))


def inv(x):
    return tf.linalg.inv(_sq("inv", x))


def lu_factor(x):
    x = _x(x)
    lu, perm = tf.linalg.lu(x)
    # TF gives the row permutation; LAPACK-style pivots replay it as successive swaps.
    n = x.shape[-1]
    cur = tf.broadcast_to(tf.range(n), tf.shape(perm))
    pivots = []
    for i in range(n):
        j = tf.cast(tf.argmax(tf.cast(tf.equal(cur, perm[..., i:i + 1]), tf.int32), axis=-1), tf.int32)
        pivots.append(j)
        ci = cur[..., i]
        cj = tf.gather(cur, j[..., None], batch_dims=len(cur.shape) - 1)[..., 0]
        rng = tf.range(n)
        cur = tf.where(rng == i, cj[..., None], tf.where(rng == j[..., None], ci[..., None], cur))
    return lu, tf.stack(pivots, axis=-1)


def _vector_norm(x, ord, axis, keepdims):
    a = tf.abs(x)
    if ord is None or ord == 2:
        return tf.sqrt(tf.reduce_sum(tf.square(a), axis, keepdims=keepdims))
    if ord == np.inf:
        return tf.reduce_max(a, axis, keepdims=keepdims)
    if ord == -np.inf:
        return tf.reduce_min(a, axis, keepdims=keepdims)
    if ord == 0:
        return tf.reduce_sum(tf.cast(a != 0, x.dtype), axis, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f"fkeras.ops.norm: invalid vector norm order {ord!r}.")
    return tf.reduce_sum(a ** ord, axis, keepdims=keepdims) ** (1.0 / ord)


def _matrix_norm(x, ord, axis, keepdims):
    r, c = axis
    a = tf.abs(x)
    if ord is None or ord == "fro":
        out = tf.sqrt(tf.reduce_sum(tf.square(a), [r, c], keepdims=keepdims))
    elif ord in ("nuc", 2, -2):
        nd = len(x.shape)
        rest = [i for i in range(nd) if i not in (r, c)]
        s = tf.linalg.svd(tf.transpose(x, rest + [r, c]), compute_uv=False)
        out = tf.reduce_sum(s, -1) if ord == "nuc" else tf.reduce_max(s, -1) if ord == 2 else tf.reduce_min(s, -1)
        if keepdims:
            for ax in sorted((r, c)):
                out = tf.expand_dims(out, ax)
    elif ord in (1, -1, np.inf, -np.inf):
        sum_axis, red_axis = (r, c) if ord in (1, -1) else (c, r)
        sums = tf.reduce_sum(a, sum_axis, keepdims=True)
        red = tf.reduce_max if ord in (1, np.inf) else tf.reduce_min
        out = red(sums, red_axis, keepdims=True)
        if not keepdims:
            out = tf.squeeze(out, [r, c])
    else:
        raise ValueError(f"fkeras.ops.norm: invalid matrix norm order {ord!r}.")
    return out


def norm(x, ord=None, axis=None, keepdims=False):
    x = _float(x)
    nd = len(x.shape)
    if axis is None:
        if ord is None:
            out = tf.sqrt(tf.reduce_sum(tf.square(tf.abs(x))))
            return tf.reshape(out, [1] * nd) if keepdims else out
        axis = tuple(range(nd))
    axis = (axis,) if isinstance(axis, int) else tuple(a % nd for a in axis)
    if len(axis) == 1:
        return _vector_norm(x, ord, list(axis), keepdims)
    return _matrix_norm(x, ord, axis, keepdims)


def qr(x, mode="reduced"):
    _check_qr_mode(mode)
    return tuple(tf.linalg.qr(_x(x), full_matrices=mode == "complete"))


def solve(a, b):
    a = _sq("solve", a)
    b = tf.cast(_x(b), a.dtype)
    vec = len(b.shape) == len(a.shape) - 1
    out = tf.linalg.solve(a, b[..., None] if vec else b)
    return out[..., 0] if vec else out


def solve_triangular(a, b, lower=False):
    a = _sq("solve_triangular", a)
    b = tf.cast(_x(b), a.dtype)
    vec = len(b.shape) == len(a.shape) - 1
    out = tf.linalg.triangular_solve(a, b[..., None] if vec else b, lower=lower)
    return out[..., 0] if vec else out


def svd(x, full_matrices=True, compute_uv=True):
    x = _x(x)
    if not compute_uv:
        return tf.linalg.svd(x, compute_uv=False)
    s, u, v = tf.linalg.svd(x, full_matrices=full_matrices)
    return u, s, _adj(v)


def _default_rtol(x):
    return float(np.finfo(x.dtype.as_numpy_dtype).eps) * builtins.max(x.shape[-2:])


def pinv(x, rcond=None):
    x = _x(x)
    return tf.linalg.pinv(x, rcond=_default_rtol(x) if rcond is None else rcond)


def lstsq(a, b, rcond=None):
    a = _x(a)
    b = tf.cast(_x(b), a.dtype)
    if len(a.shape) != 2:
        raise TypeError(f"fkeras.ops.lstsq: `a` must be 2-D, got shape {a.shape}.")
    vec = len(b.shape) == 1
    out = tf.matmul(pinv(a, rcond), b[:, None] if vec else b)
    return out[:, 0] if vec else out


def matrix_rank(x, tol=None):
    x = _x(x)
    s = tf.linalg.svd(x, compute_uv=False)
    if tol is None:
        tol = tf.reduce_max(s, -1, keepdims=True) * _default_rtol(x)
    return tf.reduce_sum(tf.cast(s > tol, tf.int32), -1)


def jvp(fun, primals, tangents, has_aux=False):
    primals = [_x(p) for p in primals]
    with tf.autodiff.ForwardAccumulator(primals, [_x(t) for t in tangents]) as acc:
        out = fun(*primals)
        if has_aux:
            out, aux = out
    tangent_out = _tree.tree_map(acc.jvp, out)
    return (out, tangent_out, aux) if has_aux else (out, tangent_out)


from fkeras.ops._composite import depth_to_space, multi_hot, space_to_depth  # noqa: E402, F401
from fkeras.ops._einops import rearrange  # noqa: E402

# image ops written once over fkeras.ops; resize / map_coordinates / affine, perspective and elastic transforms /
# scale_and_translate apply JAX's exact resampling rules
from fkeras.ops._image import (  # noqa: E402
    crop_images, extract_patches, extract_patches_3d, gaussian_blur, hsv_to_rgb, pad_images, rgb_to_grayscale,
    rgb_to_hsv, sobel_edges, ssim,
)
from fkeras.ops._image import __all__ as _image_all  # noqa: E402
from fkeras.ops._image import (  # noqa: E402
    affine_transform, elastic_transform, map_coordinates, perspective_transform, resize, scale_and_translate,
)

__all__ += _image_all + ["resize", "map_coordinates", "affine_transform", "perspective_transform",
                         "elastic_transform", "scale_and_translate"]
