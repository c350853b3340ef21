"""PyTorch implementations of the nn / math / linalg / core / control-flow ops of `fkeras.ops`
(issue 14 part B). Star-imported at the end of `_torch.py`. Control flow runs as Python on
eager tensors (torch has no traced loops); everything else stays in torch, autograd intact.
"""

# ruff: noqa: A001, A002
from __future__ import annotations

import builtins
import math as _math
import warnings

import jax.numpy as jnp
import numpy as np
import torch
import torch.nn.functional as F
from torch.func import jvp as _jvp

from fkeras.ops import _torch as T
from fkeras.ops import _unrolled
from fkeras.ops._args import (
    PART_B_OPS, _bnts, _check_attention, _check_cdist, _check_ctc_strategy, _check_data_format, _check_glu,
    _check_psnr, _check_qr_mode, _check_square, _check_unroll, _check_view_as_complex, _complex_parts,
    _layer_norm_args, _scale_shift, _tuple,
)
from fkeras.ops._jax_extra import (
    _ctc_beam_search, _stft_checks, conv_transpose_args, istft_plan, saturate_limits, stft_window,
)

__all__ = list(PART_B_OPS)

_t = T._tensor


def _x(x):
    return _t(x)


def _int(v):
    return int(v.item()) if isinstance(v, torch.Tensor) else int(v)


# --- core / control flow ------------------------------------------------------------
def cond(pred, true_fn, false_fn):
    return true_fn() if bool(pred) else false_fn()


def switch(index, branches, *operands):
    i = builtins.min(builtins.max(_int(index), 0), len(branches) - 1)
    return branches[i](*operands)


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    is_tuple = isinstance(loop_vars, (tuple, list))
    state = tuple(loop_vars) if is_tuple else (loop_vars,)
    i = 0
    while (maximum_iterations is None or i < maximum_iterations) and bool(cond(*state)):
        out = body(*state)
        state = tuple(out) if is_tuple else (out,)
        i += 1
    return state if is_tuple else state[0]


def fori_loop(lower, upper, body_fun, init_val):
    val = init_val
    for i in range(_int(lower), _int(upper)):
        val = body_fun(i, val)
    return val


def _stack(xs):
    return torch.stack([_t(x) for x in xs])


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    _check_unroll(unroll)
    return _unrolled.scan(f, init, xs, length, reverse, _stack)


def associative_scan(f, elems, reverse=False, axis=0):
    return _unrolled.associative_scan(f, elems, reverse, axis, _t, torch.stack, lambda v, a: torch.flip(v, (a,)),
                                      lambda v, i, a: v.select(a, i))


def map(f, xs):
    return _unrolled.map(f, xs, _stack)


def vectorized_map(function, elements):
    return torch.vmap(function)(elements)


def custom_gradient(f):
    class _Fn(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *args):
            out, grad_fn = f(*args)
            ctx.grad_fn = grad_fn
            return out

        @staticmethod
        def backward(ctx, *upstream):
            grads = ctx.grad_fn(*upstream)
            return tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)

    def wrapper(*args):
        return _Fn.apply(*args)

    return wrapper


def slice(inputs, start_indices, shape):
    x = _x(inputs)
    idx = []
    for d, (s, n) in enumerate(zip(start_indices, shape)):
        s = _int(s)
        n = x.shape[d] - s if n == -1 else n
        s = builtins.min(builtins.max(s, 0), x.shape[d] - n)  # clamped, as lax.dynamic_slice
        idx.append(builtins.slice(s, s + n))
    return x[tuple(idx)]


def slice_update(inputs, start_indices, updates):
    x = _x(inputs)
    u = _t(updates, like=x).to(x.dtype)
    idx = []
    for d, s in enumerate(start_indices):
        s = builtins.min(builtins.max(_int(s), 0), x.shape[d] - u.shape[d])
        idx.append(builtins.slice(s, s + u.shape[d]))
    out = x.clone()
    out[tuple(idx)] = u
    return out


def _index_tuple(indices, like):
    idx = _t(indices, like=like).long()
    return tuple(idx[..., i] for i in range(idx.shape[-1]))


def scatter(indices, values, shape):
    values = _x(values)
    out = torch.zeros(tuple(shape), dtype=values.dtype, device=values.device)
    return out.index_put(_index_tuple(indices, values), values, accumulate=True)


def scatter_update(inputs, indices, updates, reduction=None):
    x = _x(inputs)
    u = _t(updates, like=x).to(x.dtype)
    idx = _t(indices, like=x).long()
    if reduction is None:
        return x.index_put(tuple(idx[..., i] for i in range(idx.shape[-1])), u)
    if reduction == "add":
        return x.index_put(tuple(idx[..., i] for i in range(idx.shape[-1])), u, accumulate=True)
    modes = {"max": "amax", "min": "amin", "mul": "prod"}
    if reduction not in modes:
        raise ValueError(
            f"fkeras.ops.scatter_update: reduction must be None, 'add', 'max', 'min' or 'mul', got {reduction!r}.")
    k = idx.shape[-1]
    lead = x.shape[:k]
    strides = torch.tensor([int(np.prod(lead[i + 1:])) for i in range(k)], device=x.device)
    lin = (idx.reshape(-1, k) * strides).sum(-1)
    flat = x.reshape((-1,) + tuple(x.shape[k:]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = flat.index_reduce(0, lin, u.reshape((-1,) + tuple(x.shape[k:])), modes[reduction], include_self=True)
    return out.reshape(x.shape)


def unstack(x, num=None, axis=0):
    return list(torch.unbind(_x(x), axis))


def saturate_cast(x, dtype):
    x = _x(x)
    name = str(x.dtype).replace("torch.", "")
    out = dtype if isinstance(dtype, str) else np.dtype(dtype).name
    low, high = saturate_limits(name, out)
    return torch.clamp(x, float(low) if x.is_floating_point() else int(low),
                       float(high) if x.is_floating_point() else int(high)).to(T._torch_dtype(out))


def is_tensor(x):
    return isinstance(x, torch.Tensor)


# --- math ------------------------------------------------------------------------------
def _segment(mode, data, segment_ids, num_segments):
    data = _x(data)
    ids = _t(segment_ids, like=data).long()
    n = int(ids.max().item()) + 1 if num_segments is None else num_segments
    shape = (n,) + tuple(data.shape[1:])
    if mode == "sum":
        init = 0
    elif mode == "prod":
        init = 1
    elif data.is_floating_point():
        init = -float("inf") if mode == "amax" else float("inf")
    else:
        info = torch.iinfo(data.dtype)
        init = info.min if mode == "amax" else info.max
    out = torch.full(shape, init, dtype=data.dtype, device=data.device)
    keep = (ids >= 0) & (ids < n)  # out-of-range ids are dropped, as JAX does
    ids, data = ids[keep], data[keep]
    if mode == "sum":
        return out.index_add(0, ids, data)
    with warnings.catch_warnings():  # "index_reduce() is in beta": the op is stable enough for this use
        warnings.simplefilter("ignore", UserWarning)
        return out.index_reduce(0, ids, data, mode, include_self=True)


def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    return _segment("sum", data, segment_ids, num_segments)


def segment_max(data, segment_ids, num_segments=None, sorted=False):
    return _segment("amax", data, segment_ids, num_segments)


def segment_min(data, segment_ids, num_segments=None, sorted=False):
    return _segment("amin", data, segment_ids, num_segments)


def segment_prod(data, segment_ids, num_segments=None, sorted=False):
    return _segment("prod", data, segment_ids, num_segments)


def in_top_k(targets, predictions, k):
    p = _x(predictions)
    at = torch.gather(p, -1, _t(targets, like=p).long().unsqueeze(-1))
    at = torch.where(torch.isnan(at), torch.full_like(at, -float("inf")), at)
    return (1 + (p > at).sum(-1)) <= k


def cdist(x, y):
    x, y = T._pair(x, y)
    _check_cdist(x.shape, y.shape)
    d = x.unsqueeze(-2) - y.unsqueeze(-3)
    return torch.sqrt(torch.sum(d * d, -1))


def extract_sequences(x, sequence_length, sequence_stride):
    return _x(x).unfold(-1, sequence_length, sequence_stride)


def _complex(x, name):
    return torch.complex(*_complex_parts(x, name, _x, torch.Tensor.is_floating_point))


def _split(c):
    return c.real.contiguous(), c.imag.contiguous()


def fft(x):
    return _split(torch.fft.fft(_complex(x, "fft")))


def fft2(x):
    return _split(torch.fft.fft2(_complex(x, "fft2")))


def ifft2(x):
    return _split(torch.fft.ifft2(_complex(x, "ifft2")))


def rfft(x, fft_length=None):
    return _split(torch.fft.rfft(T._float(_x(x)), n=fft_length, dim=-1))


def irfft(x, fft_length=None):
    return torch.fft.irfft(_complex(x, "irfft"), n=fft_length, dim=-1)


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    x = _x(x)
    _stft_checks(str(x.dtype).replace("torch.", ""), sequence_length, fft_length)
    if center:
        shape = x.shape
        x = F.pad(x.reshape(-1, 1, shape[-1]), (fft_length // 2, fft_length // 2), mode="reflect")
        x = x.reshape(tuple(shape[:-1]) + (-1,))
    win = torch.as_tensor(stft_window(window, sequence_length, fft_length, str(x.dtype).replace("torch.", "")),
                          device=x.device)
    frames = x.unfold(-1, fft_length, sequence_stride) * win
    return _split(torch.fft.rfft(frames, n=fft_length, dim=-1))


def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann", center=True):
    c = _complex(x, "istft")
    if c.ndim < 2:
        raise ValueError(f"fkeras.ops.istft: input must have at least 2 dimensions, got shape {tuple(c.shape)}.")
    dtype = str(c.real.dtype).replace("torch.", "")
    frames = torch.fft.irfft(c, n=fft_length, dim=-1)
    n_frames = c.shape[-2]
    win_np = stft_window(window, sequence_length, fft_length, dtype)
    idx, norm, (start, end) = istft_plan(win_np, n_frames, sequence_stride, fft_length, length, center)
    win = torch.as_tensor(win_np, device=frames.device)
    batch = tuple(frames.shape[:-2])
    signal = torch.zeros(batch + norm.shape, dtype=frames.dtype, device=frames.device)
    signal = signal.index_add(-1, torch.as_tensor(idx, device=frames.device), (frames * win).reshape(batch + (-1,)))
    return (signal / torch.as_tensor(norm, device=frames.device))[..., start:end]


def erfc(x):
    return torch.special.erfc(T._float(_x(x)))


def erfinv(x):
    return torch.special.erfinv(T._float(_x(x)))


def logdet(x):
    return torch.linalg.slogdet(_x(x))[1]


def view_as_complex(x):
    x = _x(x)
    _check_view_as_complex(x.shape)
    return torch.complex(x[..., 0], x[..., 1])


def view_as_real(x):
    x = _x(x)
    if not x.is_complex():
        raise ValueError(f"fkeras.ops.view_as_real: expected a complex tensor, got {x.dtype}.")
    return torch.stack([x.real, x.imag], -1)


# --- nn: activations --------------------------------------------------------------------
def celu(x, alpha=1.0):
    return F.celu(T._float(_x(x)), alpha=alpha)


def glu(x, axis=-1):
    x = _x(x)
    _check_glu(x.shape, axis)
    return F.glu(x, dim=axis)


def hard_shrink(x, threshold=0.5):
    x = _x(x)
    return torch.where(torch.abs(x) > threshold, x, torch.zeros_like(x))


def hard_silu(x):
    x = T._float(_x(x))
    return x * F.relu6(x + 3.0) / 6.0


hard_swish = hard_silu


def hard_tanh(x):
    return F.hardtanh(_x(x))


def log_sigmoid(x):
    return F.logsigmoid(T._float(_x(x)))


def soft_shrink(x, threshold=0.5):
    x = _x(x)
    zero = torch.zeros_like(x)
    return torch.where(x > threshold, x - threshold, torch.where(x < -threshold, x + threshold, zero))


def sparse_plus(x):
    x = T._float(_x(x))
    return torch.where(x <= -1, torch.zeros_like(x), torch.where(x < 1, (x + 1) ** 2 / 4, x))


def sparse_sigmoid(x):
    x = T._float(_x(x))
    return torch.where(x <= -1, torch.zeros_like(x), torch.where(x < 1, (x + 1) / 2, torch.ones_like(x)))


def sparsemax(x, axis=-1):
    x = _x(x)
    srt = torch.sort(x, dim=axis, descending=True).values
    csum = torch.cumsum(srt, dim=axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    r = torch.arange(1, x.shape[axis] + 1, device=x.device, dtype=x.dtype).reshape(shape)
    support = srt - (csum - 1) / r > 0
    k = support.sum(dim=axis, keepdim=True).to(x.dtype)
    tau = (torch.where(support, csum, torch.zeros_like(csum)).sum(dim=axis, keepdim=True) - 1) / k
    return torch.clamp(x - tau, min=0.0)


def squareplus(x, b=4):
    x = T._float(_x(x))
    return (x + torch.sqrt(x * x + b)) / 2


def swish(x):
    return F.silu(T._float(_x(x)))


def tanh_shrink(x):
    x = T._float(_x(x))
    return x - torch.tanh(x)


def threshold(x, threshold, default_value):
    x = _x(x)
    return torch.where(x > threshold, x, torch.full_like(x, default_value))


# --- nn: normalisation and misc ----------------------------------------------------------
def _compute(x):
    x = _x(x)
    return x.to(torch.promote_types(x.dtype, torch.float32)), x.dtype


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    x, out_dtype = _compute(x)
    rms_scaling, epsilon, axes, bc = _layer_norm_args(kwargs, axis, epsilon, x.shape,
                                                      lambda v: _t(v, like=x).to(x.dtype), torch.reshape)
    if rms_scaling:
        out = x * torch.rsqrt(torch.var(x, dim=axes, keepdim=True, unbiased=False) + epsilon)
        return (out * bc(gamma) if gamma is not None else out).to(out_dtype)
    mean = x.mean(dim=axes, keepdim=True)
    var = torch.square(x - mean.detach()).mean(dim=axes, keepdim=True)
    return _scale_shift(x, mean, torch.rsqrt(var + epsilon), bc(gamma), bc(beta)).to(out_dtype)


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    epsilon = 1e-7 if epsilon is None else epsilon
    x, out_dtype = _compute(x)
    if x.ndim == 0:
        x = x[None]
    dims = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    out = x * torch.rsqrt(torch.square(x).mean(dim=dims, keepdim=True) + epsilon)
    if scale is not None:
        out = out * _t(scale, like=x).to(x.dtype)
    return out.to(out_dtype)


def polar(abs_, angle):
    abs_, angle = T._pair(abs_, angle)
    return torch.complex(abs_ * torch.cos(angle), abs_ * torch.sin(angle))


def psnr(x1, x2, max_val):
    x1, x2 = T._pair(x1, x2)
    _check_psnr(x1.shape, x2.shape)
    max_val = torch.as_tensor(max_val, dtype=x2.dtype, device=x2.device)
    mse = torch.mean(torch.square(x1 - x2))
    return 20 * torch.log10(max_val) - 10 * torch.log10(mse)


# --- nn: convolutions ----------------------------------------------------------------------
def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    data_format = _check_data_format(data_format)
    x = _x(inputs)
    kernel = _t(kernel, like=x)
    n = x.ndim - 2
    strides, dilation, pads = conv_transpose_args(kernel.shape, n, strides, padding, output_padding, dilation_rate)
    x = T._to_channels_first(x, data_format)
    if builtins.any(s > 1 for s in strides):  # insert stride-1 zeros between input pixels
        shape = list(x.shape[:2]) + [(d - 1) * s + 1 for d, s in zip(x.shape[2:], strides)]
        z = torch.zeros(shape, dtype=x.dtype, device=x.device)
        z[(builtins.slice(None), builtins.slice(None)) + tuple(builtins.slice(None, None, s) for s in strides)] = x
        x = z
    # negative pads crop
    flat = []
    for lo, hi in reversed(pads):
        flat += [lo, hi]
    x = F.pad(x, flat)
    # kernel (*window, out, in) -> flipped window, torch layout (out, in, *window)
    k = torch.flip(kernel, dims=tuple(range(n))).permute(n, n + 1, *range(n))
    y = T._conv_nd(x, k, (1,) * n, "valid", dilation, 1)
    return T._from_channels_first(y, data_format)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    out = T.depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return T.conv(out, pointwise_kernel, 1, "valid", data_format, dilation_rate)


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    return F.unfold(_x(x), kernel_size, dilation=dilation, padding=padding, stride=stride)


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    return F.fold(_x(x), output_size, kernel_size, dilation=dilation, padding=padding, stride=stride)


_ADAPTIVE = {
    "avg": {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d},
    "max": {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d},
}


def _adaptive(kind, inputs, output_size, data_format):
    data_format = _check_data_format(data_format)
    x = _x(inputs)
    n = x.ndim - 2
    if n not in (1, 2, 3):
        raise ValueError(f"fkeras.ops.adaptive_{kind}_pool: expected 1-3 spatial dims, got rank {x.ndim}.")
    y = _ADAPTIVE[kind][n](T._to_channels_first(x, data_format), _tuple(output_size, n, "output_size"))
    return T._from_channels_first(y, data_format)


def adaptive_average_pool(inputs, output_size, data_format=None):
    return _adaptive("avg", inputs, output_size, data_format)


def adaptive_max_pool(inputs, output_size, data_format=None):
    return _adaptive("max", inputs, output_size, data_format)


# --- nn: attention ----------------------------------------------------------------------------
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    q, k, v = _x(query), _x(key), _x(value)
    flash_error = flash_attention and not q.is_cuda and (
        "flash_attention=True needs a CUDA device on torch; pass flash_attention=None or False.")
    n, kh = _check_attention(q.shape, k.shape, v.shape, flash_error, attn_logits_soft_cap)
    t, h = q.shape[1], q.shape[3]
    if kh != n:
        k = k.repeat_interleave(n // kh, dim=2)
        v = v.repeat_interleave(n // kh, dim=2)
    scale = 1.0 / _math.sqrt(h) if scale is None else scale
    compute = torch.promote_types(q.dtype, torch.float32)
    logits = torch.einsum("btnh,bsnh->bnts", q.to(compute), k.to(compute)) * scale
    if bias is not None:
        logits = logits + _bnts(_t(bias, like=logits).to(compute), n, "bias", torch.unsqueeze)
    keep = None
    if mask is not None:
        keep = _bnts(_t(mask, like=q).bool(), n, "mask", torch.unsqueeze)
    if is_causal:
        causal = torch.ones(t, k.shape[1], dtype=torch.bool, device=q.device).tril()
        keep = causal if keep is None else keep & causal
    if keep is not None:
        big = torch.tensor(-0.7 * torch.finfo(logits.dtype).max, dtype=logits.dtype, device=q.device)
        logits = torch.where(keep, logits, big)
    probs = torch.softmax(logits.to(torch.float32), dim=-1).to(v.dtype)
    return torch.einsum("bnts,bsnh->btnh", probs, v)


# --- nn: CTC ---------------------------------------------------------------------------------------
def ctc_loss(target, output, target_length, output_length, mask_index=0):
    output = _x(output)
    output = output.to(torch.promote_types(output.dtype, torch.float32))
    logp = torch.log_softmax(output, dim=-1).transpose(0, 1)
    return F.ctc_loss(logp, _t(target, like=output).long(), _t(output_length, like=output).long(),
                      _t(target_length, like=output).long(), blank=mask_index, reduction="none")


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1, merge_repeated=True,
               mask_index=0):
    if strategy == "beam_search":  # decoding has no gradient: run JAX's kernel on host copies
        x = _x(inputs)
        x = x.to(torch.promote_types(x.dtype, torch.float32))
        paths, scores = _ctc_beam_search(jnp.asarray(x.detach().cpu().numpy()),
                                         jnp.asarray(np.asarray(T.convert_to_numpy(sequence_lengths)), "int32"),
                                         beam_width, top_paths, mask_index)
        return (torch.as_tensor(np.array(paths), device=x.device),  # np.array: a writable host copy
                torch.as_tensor(np.array(scores), device=x.device))
    _check_ctc_strategy(strategy)
    x = _x(inputs)
    x = x.to(torch.promote_types(x.dtype, torch.float32))
    lengths = _t(sequence_lengths, like=x).long()
    batch, max_len, classes = x.shape
    if mask_index is None:
        mask_index = classes - 1
    scores, idx = torch.max(x, dim=-1)
    beyond = torch.arange(max_len, device=x.device)[None, :] >= lengths[:, None]
    idx = torch.where(beyond, torch.full_like(idx, mask_index), idx)
    scores = torch.where(beyond, torch.zeros_like(scores), scores)
    if merge_repeated:
        rep = F.pad(idx[:, 1:] == idx[:, :-1], (1, 0))
        idx = torch.where(rep, torch.full_like(idx, mask_index), idx)
    blank = idx == mask_index
    idx = torch.where(blank, torch.full_like(idx, -1), idx)
    order = torch.where(blank, torch.full_like(idx, max_len), torch.arange(max_len, device=x.device)[None, :])
    order = torch.argsort(order, dim=-1, stable=True)
    idx = torch.gather(idx, -1, order).to(torch.int32)
    return idx.unsqueeze(0), -scores.sum(1, keepdim=True)


# --- linalg ---------------------------------------------------------------------------------------
def _sq(name, x):
    x = _x(x)
    _check_square(name, x.shape)
    return x


def cholesky(x, upper=False):
    out, info = torch.linalg.cholesky_ex(_sq("cholesky", x), upper=upper)
    if bool((info != 0).any()):
        raise ValueError("fkeras.ops.cholesky: decomposition failed; the input is not positive definite.")
    return out


def cholesky_inverse(x, upper=False):
    return torch.cholesky_inverse(_sq("cholesky_inverse", x), upper=upper)


def det(x):
    return torch.linalg.det(_sq("det", x))


def eig(x):
    return tuple(torch.linalg.eig(_sq("eig", x)))


def eigh(x):
    return tuple(torch.linalg.eigh(_sq("eigh", x)))


def inv(x):
    return torch.linalg.inv(_sq("inv", x))


def lu_factor(x):
    x = _x(x)
    lu, piv = torch.linalg.lu_factor(x)
    return lu, (piv - 1).to(torch.int32)  # torch's pivots are 1-based


def norm(x, ord=None, axis=None, keepdims=False):
    x = T._float(_x(x))
    if isinstance(axis, int):
        axis = (axis,)
    if axis is None and ord is None:
        return torch.linalg.vector_norm(x, keepdim=keepdims)
    if axis is None:
        axis = tuple(range(x.ndim))
    if len(axis) == 1:
        return torch.linalg.vector_norm(x, ord=2 if ord is None else ord, dim=axis, keepdim=keepdims)
    return torch.linalg.matrix_norm(x, ord="fro" if ord is None else ord, dim=axis, keepdim=keepdims)


def qr(x, mode="reduced"):
    _check_qr_mode(mode)
    return tuple(torch.linalg.qr(_x(x), mode=mode))


def solve(a, b):
    a = _sq("solve", a)
    return torch.linalg.solve(a, _t(b, like=a))


def solve_triangular(a, b, lower=False):
    a = _sq("solve_triangular", a)
    b = _t(b, like=a)
    vec = b.ndim == a.ndim - 1
    out = torch.linalg.solve_triangular(a, b.unsqueeze(-1) if vec else b, upper=not lower)
    return out.squeeze(-1) if vec else out


def svd(x, full_matrices=True, compute_uv=True):
    x = _x(x)
    if not compute_uv:
        return torch.linalg.svdvals(x)
    return tuple(torch.linalg.svd(x, full_matrices=full_matrices))


def lstsq(a, b, rcond=None):
    a = _x(a)
    b = _t(b, like=a)
    if a.ndim != 2:
        raise TypeError(f"fkeras.ops.lstsq: `a` must be 2-D, got shape {tuple(a.shape)}.")
    vec = b.ndim == 1
    sol = torch.linalg.lstsq(a, b.unsqueeze(-1) if vec else b, rcond=rcond, driver="gelsd").solution
    return sol.squeeze(-1) if vec else sol


def matrix_rank(x, tol=None):
    x = _x(x)
    if tol is None:
        return torch.linalg.matrix_rank(x).to(torch.int32)
    return (torch.linalg.svdvals(x) > tol).sum(-1).to(torch.int32)


def pinv(x, rcond=None):
    x = _x(x)
    return torch.linalg.pinv(x) if rcond is None else torch.linalg.pinv(x, rtol=rcond)


def jvp(fun, primals, tangents, has_aux=False):
    if has_aux:
        return _jvp(fun, tuple(primals), tuple(tangents), has_aux=True)
    return _jvp(fun, tuple(primals), tuple(tangents))


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
