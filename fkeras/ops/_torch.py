"""PyTorch implementations of `fkeras.ops` (torch tensors in -> torch tensors out).

Same names, signatures and semantics as `_jax.py`, so one nn layer runs unchanged on
torch tensors. Everything stays inside torch (autograd intact, results on the input's
device). Python scalars, NumPy and JAX arrays mixed with torch tensors are converted
to tensors on the tensors' device (float64 becomes float32, as JAX does by default).
Layouts follow Keras: channels_last inputs and `(*window, in, out)` kernels are
transposed to torch's NC* / `(out, in, *window)` around `torch.nn.functional` calls.
"""

# ruff: noqa: A001
from __future__ import annotations

import builtins
import math

import numpy as np
import torch
import torch.nn.functional as F
from fkeras.ops._args import _check_data_format, _einsum_kwargs, _padding, _tuple

EPSILON = 1e-7

_DTYPES = {
    "float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64,
    "uint8": torch.uint8, "uint16": torch.uint16, "uint32": torch.uint32, "uint64": torch.uint64,
    "int8": torch.int8, "int16": torch.int16, "int32": torch.int32, "int64": torch.int64,
    "bool": torch.bool, "complex64": torch.complex64, "complex128": torch.complex128,
}


# --- conversion helpers -------------------------------------------------------
def _torch_dtype(dtype):
    """A torch dtype from a name ("float32"), a NumPy/JAX dtype or a torch dtype."""
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    name = dtype if isinstance(dtype, str) else np.dtype(dtype).name
    try:
        return _DTYPES[name]
    except KeyError:
        raise ValueError(f"fkeras.ops (torch): unsupported dtype {dtype!r}; expected one of {sorted(_DTYPES)}.") from None


def _device(*xs):
    for x in xs:
        if isinstance(x, torch.Tensor):
            return x.device
        if isinstance(x, (list, tuple)):
            d = _device(*x)
            if d is not None:
                return d
    return None


def _tensor(x, like=None, dtype=None):
    """`x` as a torch tensor on `like`'s device. Python scalars take `like`'s dtype when it can
    hold them (JAX's weak typing); arrays from NumPy/JAX keep theirs (float64 -> float32)."""
    if isinstance(x, torch.Tensor):
        return x if dtype is None else x.to(_torch_dtype(dtype))
    device = like.device if isinstance(like, torch.Tensor) else None
    if dtype is None and isinstance(x, (bool, int, float, np.bool_, np.integer, np.floating)):
        ref = like.dtype if isinstance(like, torch.Tensor) else None
        if isinstance(x, (bool, np.bool_)):
            dtype = ref if ref is not None else torch.bool
        elif isinstance(x, (int, np.integer)):
            dtype = ref if ref is not None and ref != torch.bool else torch.int32
        else:
            dtype = ref if ref is not None and ref.is_floating_point else torch.float32
        return torch.tensor(x, dtype=dtype, device=device)
    arr = np.asarray(x)
    if arr.dtype == np.float64 and dtype is None:
        arr = arr.astype(np.float32)
    t = torch.as_tensor(arr, device=device)
    return t if dtype is None else t.to(_torch_dtype(dtype))


def _pair(x1, x2):
    """Both arguments as tensors (scalars typed after the other argument)."""
    if not isinstance(x1, torch.Tensor):
        x2 = _tensor(x2)
        x1 = _tensor(x1, like=x2)
    else:
        x2 = _tensor(x2, like=x1)
    return x1, x2


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        return (axis % ndim if ndim else axis,)
    return tuple(a % ndim for a in axis)


def _narrow_int(result, x):
    """torch widens int32/bool reductions to int64; JAX keeps int32."""
    if result.dtype == torch.int64 and x.dtype in (torch.bool, torch.int8, torch.int16, torch.int32, torch.uint8):
        return result.to(torch.int32)
    return result


def _float(x):
    return x if x.is_floating_point() or x.is_complex() else x.to(torch.float32)


# --- numpy-like -------------------------------------------------------------
def matmul(x1, x2):
    x1, x2 = _pair(x1, x2)
    dt = torch.result_type(x1, x2)
    if x1.dtype == torch.int8 and x2.dtype == torch.int8:  # accumulate and return int32, as Keras
        dt = torch.int32
    return torch.matmul(x1.to(dt), x2.to(dt))


def einsum(subscripts, *operands, **kwargs):
    _einsum_kwargs(kwargs)
    operands = [_tensor(o, like=_first_tensor(operands)) for o in operands]
    dt = operands[0].dtype
    for o in operands[1:]:
        dt = torch.promote_types(dt, o.dtype)
    if dt == torch.int8:  # accumulate in int32, as Keras
        dt = torch.int32
    return torch.einsum(subscripts, *[o.to(dt) for o in operands])


def _first_tensor(xs):
    for x in xs:
        if isinstance(x, torch.Tensor):
            return x
    return None


def dot(x1, x2):
    x1, x2 = _pair(x1, x2)
    dt = torch.result_type(x1, x2)
    x1, x2 = x1.to(dt), x2.to(dt)
    if x1.ndim == 0 or x2.ndim == 0:
        return x1 * x2
    if x2.ndim == 1:
        return torch.tensordot(x1, x2, dims=([x1.ndim - 1], [0]))
    return torch.tensordot(x1, x2, dims=([x1.ndim - 1], [x2.ndim - 2]))


def add(x1, x2):
    return torch.add(*_pair(x1, x2))


def subtract(x1, x2):
    return torch.subtract(*_pair(x1, x2))


def multiply(x1, x2):
    return torch.multiply(*_pair(x1, x2))


def divide(x1, x2):
    return torch.true_divide(*_pair(x1, x2))


def power(x1, x2):
    return torch.pow(*_pair(x1, x2))


def negative(x):
    return torch.negative(x)


def exp(x):
    return torch.exp(_float(x))


def log(x):
    return torch.log(_float(x))


def log1p(x):
    return torch.log1p(_float(x))


def sqrt(x):
    return torch.sqrt(_float(x))


def rsqrt(x):
    return torch.rsqrt(_float(x))


def square(x):
    return torch.square(x)


def abs(x):
    return torch.abs(x)


def sign(x):
    return torch.sign(x)


def tanh(x):
    return torch.tanh(_float(x))


def erf(x):
    return torch.erf(_float(x))


def floor(x):
    return torch.floor(x) if x.is_floating_point() else x


def round(x, decimals=0):
    if not x.is_floating_point():
        return x
    return torch.round(x, decimals=decimals)


def maximum(x1, x2):
    return torch.maximum(*_pair(x1, x2))


def minimum(x1, x2):
    return torch.minimum(*_pair(x1, x2))


def clip(x, x_min, x_max):
    x = _tensor(x)
    if x.dtype == torch.bool:
        x = x.to(torch.int32)
    lo = x_min if isinstance(x_min, (int, float)) else _tensor(x_min, like=x)
    hi = x_max if isinstance(x_max, (int, float)) else _tensor(x_max, like=x)
    return torch.clamp(x, lo, hi)


def equal(x1, x2):
    return torch.eq(*_pair(x1, x2))


def not_equal(x1, x2):
    return torch.ne(*_pair(x1, x2))


def greater(x1, x2):
    return torch.gt(*_pair(x1, x2))


def greater_equal(x1, x2):
    return torch.ge(*_pair(x1, x2))


def less(x1, x2):
    return torch.lt(*_pair(x1, x2))


def less_equal(x1, x2):
    return torch.le(*_pair(x1, x2))


def logical_and(x1, x2):
    x1, x2 = _pair(x1, x2)
    return torch.logical_and(x1, x2)


def logical_or(x1, x2):
    x1, x2 = _pair(x1, x2)
    return torch.logical_or(x1, x2)


def logical_not(x):
    return torch.logical_not(x)


def sum(x, axis=None, keepdims=False):
    x = _tensor(x)
    return _narrow_int(torch.sum(x, dim=_axes(axis, x.ndim), keepdim=keepdims), x)


def prod(x, axis=None, keepdims=False, dtype=None):
    x = _tensor(x)
    if dtype is not None:
        x = x.to(_torch_dtype(dtype))
    out = x
    for a in sorted(_axes(axis, x.ndim), reverse=True):
        out = torch.prod(out, dim=a, keepdim=keepdims)
    return _narrow_int(out, x)


def mean(x, axis=None, keepdims=False):
    x = _float(_tensor(x))
    return torch.mean(x, dim=_axes(axis, x.ndim), keepdim=keepdims)


def _extreme(fn, combine, x, axis, keepdims, initial):
    x = _tensor(x)
    if x.ndim == 0:
        out = x
    else:
        out = fn(x, dim=_axes(axis, x.ndim), keepdim=keepdims)
    if initial is not None:
        out = combine(out, _tensor(initial, like=out))
    return out


def max(x, axis=None, keepdims=False, initial=None):
    return _extreme(torch.amax, torch.maximum, x, axis, keepdims, initial)


def min(x, axis=None, keepdims=False, initial=None):
    return _extreme(torch.amin, torch.minimum, x, axis, keepdims, initial)


def any(x, axis=None, keepdims=False):
    x = _tensor(x)
    return torch.any(x, dim=_axes(axis, x.ndim), keepdim=keepdims)


def all(x, axis=None, keepdims=False):
    x = _tensor(x)
    return torch.all(x, dim=_axes(axis, x.ndim), keepdim=keepdims)


def _arg(fn, x, axis, keepdims):
    x = _tensor(x)
    if axis is None:
        out = fn(x.reshape(-1), dim=0)
        if keepdims:
            out = out.reshape((1,) * x.ndim)
    else:
        out = fn(x, dim=axis, keepdim=keepdims)
    return out.to(torch.int32)


def argmax(x, axis=None, keepdims=False):
    return _arg(torch.argmax, x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    return _arg(torch.argmin, x, axis, keepdims)


def var(x, axis=None, keepdims=False):
    x = _float(_tensor(x))
    return torch.var(x, dim=_axes(axis, x.ndim), correction=0, keepdim=keepdims)


def std(x, axis=None, keepdims=False):
    x = _float(_tensor(x))
    return torch.std(x, dim=_axes(axis, x.ndim), correction=0, keepdim=keepdims)


def logsumexp(x, axis=None, keepdims=False):
    x = _float(_tensor(x))
    return torch.logsumexp(x, dim=_axes(axis, x.ndim), keepdim=keepdims)


def reshape(x, newshape):
    newshape = (newshape,) if isinstance(newshape, int) else tuple(int(d) for d in newshape)
    return torch.reshape(_tensor(x), newshape)


def transpose(x, axes=None):
    x = _tensor(x)
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    return x.permute(*axes)


def expand_dims(x, axis):
    x = _tensor(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out_ndim = x.ndim + len(axes)
    for a in sorted(a % out_ndim for a in axes):
        x = x.unsqueeze(a)
    return x


def squeeze(x, axis=None):
    x = _tensor(x)
    if axis is None:
        return torch.squeeze(x)
    axes = _axes(axis, x.ndim)
    bad = [a for a in axes if x.shape[a] != 1]
    if bad:
        raise ValueError(
            f"fkeras.ops.squeeze: expected axes of length 1, got axis {bad[0]} of length {x.shape[bad[0]]} "
            f"(shape {tuple(x.shape)})."
        )
    return torch.squeeze(x, dim=axes)


def broadcast_to(x, shape):
    return torch.broadcast_to(_tensor(x), tuple(shape))


def tile(x, repeats):
    repeats = (repeats,) if isinstance(repeats, int) else tuple(repeats)
    return torch.tile(_tensor(x), repeats)


def repeat(x, repeats, axis=None):
    x = _tensor(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    if not isinstance(repeats, int):
        repeats = _tensor(repeats, like=x, dtype="int64")
    return torch.repeat_interleave(x, repeats, dim=axis)


def flip(x, axis=None):
    x = _tensor(x)
    return torch.flip(x, dims=_axes(axis, x.ndim))


def _promoted(xs):
    like = _first_tensor(xs)
    ts = [_tensor(x, like=like) for x in xs]
    dt = ts[0].dtype
    for t in ts[1:]:
        dt = torch.promote_types(dt, t.dtype)
    return [t.to(dt) for t in ts]


def concatenate(xs, axis=0):
    return torch.cat(_promoted(xs), dim=axis)


def stack(x, axis=0):
    return torch.stack(_promoted(x), dim=axis)


def split(x, indices_or_sections, axis=0):
    x = _tensor(x)
    if isinstance(indices_or_sections, int):
        n = x.shape[axis]
        if n % indices_or_sections:
            raise ValueError(
                f"fkeras.ops.split: axis {axis} of length {n} cannot be split into {indices_or_sections} equal parts."
            )
        return list(torch.split(x, n // indices_or_sections, dim=axis))
    return list(torch.tensor_split(x, [int(i) for i in indices_or_sections], dim=axis))


_PAD_MODES = ("constant", "reflect", "symmetric", "edge", "wrap", "maximum", "minimum", "mean", "median")


def pad(x, pad_width, mode="constant", constant_values=None):
    x = _tensor(x)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    if mode == "constant":
        flat = []
        for before, after in reversed(widths.tolist()):
            flat += [before, after]
        return F.pad(x, flat, mode="constant", value=0 if constant_values is None else constant_values)
    if mode not in ("reflect", "symmetric", "edge", "wrap"):
        raise ValueError(
            f"fkeras.ops.pad: expected mode 'constant', 'reflect', 'symmetric', 'edge' or 'wrap' on torch, got {mode!r}."
        )
    if constant_values is not None:
        raise ValueError(f"fkeras.ops.pad: constant_values is only valid with mode='constant', got mode={mode!r}.")
    # NumPy's pad of an index range gives the gather indices for every non-constant mode.
    for ax, (before, after) in enumerate(widths.tolist()):
        if before or after:
            idx = np.pad(np.arange(x.shape[ax]), (before, after), mode=mode)
            x = torch.index_select(x, ax, torch.as_tensor(idx, device=x.device))
    return x


def take(x, indices, axis=None):
    x = _tensor(x)
    indices = _tensor(indices, like=None).to(device=x.device, dtype=torch.int64)
    if axis is None:
        x, axis = x.reshape(-1), 0
    axis %= x.ndim
    n = x.shape[axis]
    indices = torch.where(indices < 0, indices + n, indices)
    out = torch.index_select(x, axis, indices.reshape(-1))
    return out.reshape(tuple(x.shape[:axis]) + tuple(indices.shape) + tuple(x.shape[axis + 1:]))


def take_along_axis(x, indices, axis=None):
    x = _tensor(x)
    indices = _tensor(indices).to(device=x.device, dtype=torch.int64)
    if axis is None:
        x, indices, axis = x.reshape(-1), indices.reshape(-1), 0
    n = x.shape[axis]
    indices = torch.where(indices < 0, indices + n, indices)
    return torch.take_along_dim(x, indices, dim=axis)


def where(condition, x1=None, x2=None):
    condition = _tensor(condition)
    if x1 is None and x2 is None:
        return tuple(i.to(torch.int32) for i in torch.nonzero(condition, as_tuple=True))
    if x1 is None or x2 is None:
        raise ValueError("fkeras.ops.where: expected both `x1` and `x2`, or neither.")
    if not isinstance(x1, torch.Tensor) and not isinstance(x2, torch.Tensor):
        x1 = _tensor(x1, like=condition if condition.dtype != torch.bool else None).to(condition.device)
    x1, x2 = _pair(x1, x2)
    dt = torch.result_type(x1, x2)
    return torch.where(condition.to(torch.bool), x1.to(dt), x2.to(dt))


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    # sparse=True: the wrapper in _sparse.py makes the result sparse
    x = _tensor(x)
    classes = torch.arange(num_classes, device=x.device)
    out = (x.unsqueeze(-1).to(torch.int64) == classes).to(_torch_dtype(dtype or "float32"))
    if axis != -1:
        out = torch.movedim(out, -1, axis)
    return out


def cast(x, dtype):
    return _tensor(x).to(_torch_dtype(dtype))


def convert_to_tensor(x, dtype=None, sparse=None):  # sparse inputs: the wrapper in _sparse.py; dense stay dense
    return _tensor(x, dtype=dtype)


def convert_to_numpy(x):
    if isinstance(x, torch.Tensor):
        x = x.detach()
        if x.dtype == torch.bfloat16:
            x = x.to(torch.float32)
        return x.cpu().numpy()
    return np.asarray(x)


def shape(x):
    return tuple(x.shape)


def ndim(x):
    return x.ndim


def size(x):
    return x.numel()


def dtype(x):
    return str(x.dtype).split(".")[-1]


def zeros(shape, dtype=None):
    return torch.zeros(_shape_tuple(shape), dtype=_torch_dtype(dtype or "float32"))


def ones(shape, dtype=None):
    return torch.ones(_shape_tuple(shape), dtype=_torch_dtype(dtype or "float32"))


def _shape_tuple(shape):
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


def zeros_like(x, dtype=None):
    return torch.zeros_like(x, dtype=_torch_dtype(dtype))


def ones_like(x, dtype=None):
    return torch.ones_like(x, dtype=_torch_dtype(dtype))


def full(shape, fill_value, dtype=None):
    fill = _tensor(fill_value)
    out = torch.empty(_shape_tuple(shape), dtype=_torch_dtype(dtype or "float32"), device=fill.device)
    return torch.broadcast_to(fill.to(out.dtype), out.shape).clone()


def arange(start, stop=None, step=None, dtype=None):
    step = 1 if step is None else step
    start, stop, step = (v.item() if isinstance(v, torch.Tensor) else v for v in (start, stop, step))
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        is_int = builtins.all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
        dtype = "int32" if is_int else "float32"
    return torch.arange(start, stop, step, dtype=_torch_dtype(dtype))


def cumsum(x, axis=None, dtype=None):
    x = _tensor(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    out = torch.cumsum(x, dim=axis, dtype=_torch_dtype(dtype))
    return out if dtype is not None else _narrow_int(out, x)


def sort(x, axis=-1):
    return torch.sort(_tensor(x), dim=axis).values


def top_k(x, k, sorted=True):
    values, indices = torch.topk(_tensor(x), k, dim=-1, sorted=sorted)
    return values, indices.to(torch.int32)


def stop_gradient(variable):
    return variable.detach()


# --- nn ---------------------------------------------------------------------
def relu(x):
    return F.relu(x)


def relu6(x):
    return F.relu6(x)


def sigmoid(x):
    return torch.sigmoid(_float(x))


def silu(x):
    return F.silu(_float(x))


def softplus(x):
    # No threshold shortcut, so large inputs match JAX's logaddexp(x, 0) exactly.
    x = _float(x)
    return torch.logaddexp(x, torch.zeros((), dtype=x.dtype, device=x.device))


def softsign(x):
    return F.softsign(x)


def selu(x):
    return F.selu(x)


def hard_sigmoid(x):
    return F.relu6(x + 3.0) / 6.0


def leaky_relu(x, negative_slope=0.2):
    return F.leaky_relu(x, negative_slope)


def elu(x, alpha=1.0):
    return F.elu(x, alpha)


def gelu(x, approximate=True):
    return F.gelu(_float(x), approximate="tanh" if approximate else "none")


def softmax(x, axis=-1):
    x = _float(x)
    if isinstance(axis, int):
        return torch.softmax(x, dim=axis)
    return torch.exp(x - torch.logsumexp(x, dim=_axes(axis, x.ndim), keepdim=True))


def log_softmax(x, axis=-1):
    x = _float(x)
    if isinstance(axis, int):
        return torch.log_softmax(x, dim=axis)
    return x - torch.logsumexp(x, dim=_axes(axis, x.ndim), keepdim=True)





def _to_channels_first(x, data_format):
    if data_format == "channels_last":
        return x.permute(0, x.ndim - 1, *range(1, x.ndim - 1))
    return x


def _from_channels_first(x, data_format):
    if data_format == "channels_last":
        return x.permute(0, *range(2, x.ndim), 1)
    return x


def _same_pads(spatial, window, strides, dilation):
    """(before, after) per spatial dim for TF/JAX "same" padding (extra pixel after)."""
    pads = []
    for size_, k, s, d in zip(spatial, window, strides, dilation):
        eff = (k - 1) * d + 1
        out = -(-size_ // s)
        total = builtins.max((out - 1) * s + eff - size_, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def _pad_spatial(x, pads, value=0.0):
    """Pad the trailing spatial dims of a channels_first tensor; pads is (before, after) per dim."""
    flat = []
    for before, after in reversed(pads):
        flat += [before, after]
    return F.pad(x, flat, mode="constant", value=value)


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _conv_nd(x, kernel_oi, strides, padding, dilation, groups):
    """x: channels_first; kernel in torch layout (out, in // groups, *window)."""
    n = x.ndim - 2
    if n not in _CONV:
        raise ValueError(f"fkeras.ops.conv: expected 1, 2 or 3 spatial dims on torch, got input of rank {x.ndim}.")
    torch_pad = (0,) * n
    if padding == "same":
        pads = _same_pads(x.shape[2:], kernel_oi.shape[2:], strides, dilation)
        if builtins.all(b == a for b, a in pads):
            torch_pad = tuple(b for b, _ in pads)
        else:
            x = _pad_spatial(x, pads)
    return _CONV[n](x, kernel_oi, stride=strides, padding=torch_pad, dilation=dilation, groups=groups)


def _conv_input(inputs, kernel, data_format):
    """(inputs in channels_first, kernel a tensor on their device, the number of spatial dims n)."""
    inputs = _tensor(inputs)
    return _to_channels_first(inputs, data_format), _tensor(kernel, like=inputs), inputs.ndim - 2


def _conv_output(x, kernel_oi, strides, padding, dilation_rate, groups, data_format):
    """`_conv_nd` with Keras's strides/padding/dilation arguments, its result back in `data_format`."""
    n = x.ndim - 2
    strides, dilation = _tuple(strides, n, "strides"), _tuple(dilation_rate, n, "dilation_rate")
    y = _conv_nd(x, kernel_oi, strides, _padding(padding), dilation, groups)
    return _from_channels_first(y, data_format)


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    data_format = _check_data_format(data_format)
    x, kernel, n = _conv_input(inputs, kernel, data_format)
    in_ch = x.shape[1]
    if in_ch % kernel.shape[-2]:
        raise ValueError(
            f"fkeras.ops.conv: input channels ({in_ch}) must be a multiple of the kernel's input channels "
            f"({kernel.shape[-2]}); kernel shape {tuple(kernel.shape)}."
        )
    k = kernel.permute(n + 1, n, *range(n))
    return _conv_output(x, k, strides, padding, dilation_rate, in_ch // kernel.shape[-2], data_format)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    data_format = _check_data_format(data_format)
    x, kernel, n = _conv_input(inputs, kernel, data_format)
    k = kernel.reshape(tuple(kernel.shape[:-2]) + (1, kernel.shape[-2] * kernel.shape[-1]))
    k = k.permute(n + 1, n, *range(n))
    return _conv_output(x, k, strides, padding, dilation_rate, x.shape[1], data_format)


def _pool_args(inputs, pool_size, strides):
    n = inputs.ndim - 2
    if n not in _MAX_POOL:
        raise ValueError(f"fkeras.ops: pooling expects 1, 2 or 3 spatial dims on torch, got input of rank {inputs.ndim}.")
    pool_size = _tuple(pool_size, n, "pool_size")
    strides = pool_size if strides is None else _tuple(strides, n, "strides")
    return n, pool_size, strides


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    data_format = _check_data_format(data_format)
    n, window, strides = _pool_args(inputs, pool_size, strides)
    x = _to_channels_first(inputs, data_format)
    if _padding(padding) == "same":
        x = _pad_spatial(x, _same_pads(x.shape[2:], window, strides, (1,) * n), value=-math.inf)
    return _from_channels_first(_MAX_POOL[n](x, window, strides), data_format)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    data_format = _check_data_format(data_format)
    n, window, strides = _pool_args(inputs, pool_size, strides)
    x = _to_channels_first(inputs, data_format)
    pool = _AVG_POOL[n]
    if _padding(padding) == "valid":
        return _from_channels_first(pool(x, window, strides), data_format)
    pads = _same_pads(x.shape[2:], window, strides, (1,) * n)
    total = pool(_pad_spatial(x, pads), window, strides)
    # Divide by the number of real (unpadded) inputs in each window, as Keras does.
    ones_ = torch.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype, device=x.device)
    count = pool(_pad_spatial(ones_, pads), window, strides)
    return _from_channels_first(total / count, data_format)


def _log_probs(output, from_logits, axis):
    if from_logits:
        return torch.log_softmax(output, dim=axis)
    output = output / torch.sum(output, dim=axis, keepdim=True)
    return torch.log(torch.clamp(output, EPSILON, 1.0 - EPSILON))


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    output = _tensor(output)
    target = _tensor(target, like=None).to(device=output.device, dtype=torch.int64)
    if target.ndim == output.ndim and target.shape[-1] == 1:
        target = target.squeeze(-1)
    log_prob = _log_probs(output, from_logits, axis)
    onehot = one_hot(target, output.shape[axis], axis=axis, dtype=log_prob.dtype)
    return -torch.sum(onehot * log_prob, dim=axis)


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    output = _tensor(output)
    target = _tensor(target, like=output).to(output.dtype)
    return -torch.sum(target * _log_probs(output, from_logits, axis), dim=axis)


def binary_crossentropy(target, output, from_logits=False):
    output = _tensor(output)
    target = _tensor(target, like=output).to(output.dtype)
    if from_logits:
        return -target * F.logsigmoid(output) - (1.0 - target) * F.logsigmoid(-output)
    output = torch.clamp(output, EPSILON, 1.0 - EPSILON)
    return -(target * torch.log(output) + (1.0 - target) * torch.log(1.0 - output))


def normalize(x, axis=-1, order=2, epsilon=None):
    epsilon = EPSILON if epsilon is None else epsilon
    x = _float(_tensor(x))
    norm = torch.linalg.norm(x, ord=order, dim=axis, keepdim=True)
    return x / torch.clamp(norm, min=epsilon)


def moments(x, axes, keepdims=False, synchronized=False):
    x = _tensor(x)
    axes = _axes(axes, x.ndim)
    compute = torch.promote_types(x.dtype, torch.float32)
    xc = x.to(compute)
    m = torch.mean(xc, dim=axes, keepdim=True)
    v = torch.mean(torch.square(xc - m.detach()), dim=axes, keepdim=True)
    if not keepdims:
        m, v = m.squeeze(axes), v.squeeze(axes)
    return m.to(x.dtype), v.to(x.dtype)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    x = _tensor(x)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    inv = torch.rsqrt(_tensor(variance, like=x).reshape(shape) + epsilon)
    if scale is not None:
        inv = inv * _tensor(scale, like=x).reshape(shape)
    out = (x - _tensor(mean, like=x).reshape(shape)) * inv
    if offset is not None:
        out = out + _tensor(offset, like=x).reshape(shape)
    return out


# --- random (torch's global generator; see fkeras.random.dropout) ---------------
def dropout(inputs, rate, noise_shape=None):
    """Zero a `rate` fraction of `inputs` (mask drawn from torch's generator), scale the rest by 1/(1-rate)."""
    if not 0 <= rate <= 1:
        raise ValueError(f"fkeras.random.dropout: expected `rate` in [0, 1], got {rate!r}.")
    keep = 1.0 - rate
    if noise_shape is None:
        shape = tuple(inputs.shape)
    else:
        shape = tuple(s if d is None else int(d) for s, d in zip(inputs.shape, noise_shape))
    if keep == 0.0:
        return torch.zeros_like(inputs)
    mask = torch.rand(shape, device=inputs.device) < keep
    return torch.where(mask, inputs / keep, torch.zeros((), dtype=inputs.dtype, device=inputs.device))
