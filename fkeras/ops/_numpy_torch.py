"""torch side of the NumPy family (`_numpy_table`): the tensor adapter and the hand-written kernels.

Rows naming a torch function call it directly; the kernels here cover NumPy names torch spells
differently (`dim`/`keepdim`, `diagonal=`), semantics that differ (torch's `median` is the lower
median, `unique` has no `return_index`, windows are periodic), and int32 index results.
Composite kernels shared with TF come from `_numpy_composite`. Results stay on the inputs' device.
"""

# ruff: noqa: A001, A002
from __future__ import annotations

import builtins

import numpy as np
import torch

from fkeras.ops import _numpy_composite, _numpy_table
from fkeras.ops._dtypes import dtype_of, floatx, standardize_dtype
from fkeras.ops._torch import _axes, _tensor, _torch_dtype

B = _numpy_composite.BackendView("torch")  # every torch implementation, looked up at run time
KERNELS: dict = dict(_numpy_composite.kernels(B))

_kernel = _numpy_table.registrar(KERNELS)


def asarray(x, dtype=None, like=None):
    """`x` as a tensor on `like`'s device (`like`: the call's first tensor)."""
    like = like if isinstance(like, torch.Tensor) else None
    if isinstance(x, (bool, int, float)) and dtype is not None:  # a weak scalar: `dtype` is the promoted one
        return torch.tensor(x, dtype=_torch_dtype(dtype), device=None if like is None else like.device)
    t = _tensor(x, dtype=dtype)
    return t if like is None or t.device == like.device else t.to(like.device)


def cast(x, dtype):
    t = _torch_dtype(dtype)
    return x if x.dtype == t else x.to(t)


def _dims(axis, ndim):
    return tuple(range(ndim)) if axis is None else _axes(axis, ndim)


def _int_index(t):
    return t.to(torch.int32)


def _float_dtype(dtype):
    return _torch_dtype(standardize_dtype(dtype if dtype is not None else floatx()))


# --- elementwise ---------------------------------------------------------------------------------
@_kernel
def cbrt(x):
    return torch.sign(x) * torch.abs(x).pow(1.0 / 3.0)


@_kernel
def trunc(x):
    return torch.trunc(x) if x.is_floating_point() else x


@_kernel
def conj(x):
    return torch.conj(x).resolve_conj() if x.is_complex() else x


KERNELS["conjugate"] = conj


@_kernel
def real(x):
    return torch.real(x) if x.is_complex() else x


@_kernel
def imag(x):
    return torch.imag(x) if x.is_complex() else torch.zeros_like(x)


@_kernel
def ravel(x):
    return x.reshape(-1)


@_kernel
def bitwise_invert(x):
    return torch.bitwise_not(x)


KERNELS["bitwise_not"] = bitwise_invert


@_kernel
def signbit(x):
    return torch.signbit(x) if x.is_floating_point() else x < 0


@_kernel
def ldexp(x1, x2):
    x1 = x1 if x1.is_floating_point() else x1.to(_float_dtype(None))
    return x1 * torch.pow(torch.tensor(2.0, dtype=x1.dtype, device=x1.device), x2.to(x1.dtype))


@_kernel
def isclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False):
    if not (x1.is_floating_point() or x1.is_complex()):
        x1, x2 = x1.to(torch.float32), x2.to(torch.float32)
    return torch.isclose(x1, x2, rtol=rtol, atol=atol, equal_nan=equal_nan)


# --- products ------------------------------------------------------------------------------------
def _int_safe(fn, *xs):
    """torch's CPU matmul/tensordot has no int32/bool kernels: compute in int64 (or float), cast back."""
    dt = xs[0].dtype
    if dt.is_floating_point or dt.is_complex:
        return fn(*xs)
    return fn(*(x.to(torch.int64) for x in xs)).to(dt if dt != torch.bool else torch.int32)


@_kernel
def outer(x1, x2):
    return _int_safe(lambda a, b: a.reshape(-1, 1) * b.reshape(1, -1), x1, x2)


@_kernel
def inner(x1, x2):
    if x1.ndim == 0 or x2.ndim == 0:
        return x1 * x2
    return _int_safe(lambda a, b: torch.tensordot(a, b, dims=([a.ndim - 1], [b.ndim - 1])), x1, x2)


@_kernel
def vdot(x1, x2):
    return _int_safe(lambda a, b: torch.sum(torch.conj(a).reshape(-1) * b.reshape(-1)), x1, x2)


@_kernel
def tensordot(x1, x2, axes=2):
    return _int_safe(lambda a, b: torch.tensordot(a, b, dims=axes), x1, x2)


@_kernel
def append(x1, x2, axis=None):
    if axis is None:
        return torch.cat([x1.reshape(-1), x2.reshape(-1)])
    return torch.cat([x1, x2], dim=axis)


# --- reductions ----------------------------------------------------------------------------------
@_kernel
def amax(x, axis=None, keepdims=False):
    return B.max(x, axis=axis, keepdims=keepdims)


@_kernel
def amin(x, axis=None, keepdims=False):
    return B.min(x, axis=axis, keepdims=keepdims)


@_kernel
def ptp(x, axis=None, keepdims=False):
    if x.dtype == torch.bool:
        raise TypeError("fkeras.ops.ptp: bool input is not supported (max - min of booleans), as in Keras.")
    return B.max(x, axis=axis, keepdims=keepdims) - B.min(x, axis=axis, keepdims=keepdims)


@_kernel
def count_nonzero(x, axis=None):
    return torch.count_nonzero(x, dim=_dims(axis, x.ndim))


@_kernel
def cumprod(x, axis=None, dtype=None):
    if axis is None:
        x, axis = x.reshape(-1), 0
    if dtype is not None:
        return torch.cumprod(x, dim=axis, dtype=_torch_dtype(standardize_dtype(dtype)))
    keep = torch.int32 if x.dtype == torch.bool else x.dtype
    out = torch.cumprod(x.to(torch.int64) if x.dtype == torch.bool else x, dim=axis)
    return out.to(keep)


@_kernel
def trace(x, offset=0, axis1=0, axis2=1):
    d = torch.diagonal(x, offset=offset, dim1=axis1, dim2=axis2).sum(-1)
    if x.dtype in (torch.bool, torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
        return d.to(torch.int32)
    return d


# --- creation ------------------------------------------------------------------------------------
@_kernel
def empty(shape, dtype=None):
    return torch.zeros(tuple(shape) if not isinstance(shape, int) else (shape,), dtype=_float_dtype(dtype))


@_kernel
def empty_like(x, dtype=None):
    x = _tensor(x)
    return torch.zeros_like(x, dtype=_torch_dtype(standardize_dtype(dtype)) if dtype is not None else None)


@_kernel
def full_like(x, fill_value, dtype=None):
    x = _tensor(x)
    if dtype is None:
        dtype = standardize_dtype(dtype_of(x))
    return torch.full(tuple(x.shape), fill_value, dtype=_torch_dtype(standardize_dtype(dtype)), device=x.device)


@_kernel
def eye(N, M=None, k=0, dtype=None):
    M = N if M is None else M
    ones = torch.ones(N, M, dtype=torch.bool)
    mask = torch.triu(ones, diagonal=k) & torch.tril(ones, diagonal=k)
    return mask.to(_float_dtype(dtype))


@_kernel
def identity(n, dtype=None):
    return eye(n, dtype=dtype)


@_kernel
def tri(N, M=None, k=0, dtype=None):
    M = N if M is None else M
    return torch.tril(torch.ones(N, M, dtype=torch.bool), diagonal=k).to(_float_dtype(dtype))


def _scalar(v):
    return v.item() if isinstance(v, torch.Tensor) and v.ndim == 0 else v


def _space(start, stop, num, endpoint, dtype, axis):
    """(values, step) of NumPy's linspace in float32/64, start/stop scalars or arrays."""
    device = next((v.device for v in (start, stop) if isinstance(v, torch.Tensor)), None)
    start, stop = _scalar(start), _scalar(stop)
    s = torch.as_tensor(start, dtype=torch.float32, device=device)
    e = torch.as_tensor(stop, dtype=torch.float32, device=device)
    div = (num - 1) if endpoint else num
    step = (e - s) / div if div > 0 else torch.full_like(e - s, float("nan"))
    batch = len(torch.broadcast_shapes(s.shape, e.shape))
    i = torch.arange(num, dtype=torch.float32, device=device).reshape((-1,) + (1,) * batch)
    vals = s + i * step if div > 0 else s + i * (e - s)
    if endpoint and num > 1:
        vals[-1] = e
    if axis != 0:
        vals = torch.moveaxis(vals, 0, axis)
    return vals, step


@_kernel
def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    vals, step = _space(start, stop, num, endpoint, dtype, axis)
    if dtype is not None:
        t = _torch_dtype(standardize_dtype(dtype))
        vals = torch.floor(vals).to(t) if not t.is_floating_point else vals.to(t)
    return (vals, step) if retstep else vals


@_kernel
def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    vals, _ = _space(start, stop, num, endpoint, None, axis)
    out = torch.pow(torch.as_tensor(float(base)), vals)
    return out if dtype is None else out.to(_torch_dtype(standardize_dtype(dtype)))


@_kernel
def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    start, stop = _scalar(start), _scalar(stop)
    s, e = torch.as_tensor(start, dtype=torch.float32), torch.as_tensor(stop, dtype=torch.float32)
    sign = torch.sign(s)
    vals, _ = _space(torch.log10(torch.abs(s)), torch.log10(torch.abs(e)), num, endpoint, None, 0)
    out = sign * torch.pow(torch.tensor(10.0), vals)
    out[0] = s
    if endpoint and num > 1:
        out[-1] = e
    if axis != 0:
        out = torch.moveaxis(out, 0, axis)
    return out if dtype is None else out.to(_torch_dtype(standardize_dtype(dtype)))


@_kernel
def array(x, dtype=None):
    t = _tensor(x) if dtype is None else _tensor(x, dtype=standardize_dtype(dtype))
    return t.clone()


def _window(n, fn):
    n = int(_scalar(n))
    if n < 1:
        return torch.zeros(0, dtype=_float_dtype(None))
    if n == 1:
        return torch.ones(1, dtype=_float_dtype(None))
    i = torch.arange(n, dtype=torch.float64)
    return fn(i, n).to(_float_dtype(None))


@_kernel
def bartlett(x):
    return _window(x, lambda i, n: 1 - torch.abs(2 * i / (n - 1) - 1))


@_kernel
def blackman(x):
    return _window(x, lambda i, n: 0.42 - 0.5 * torch.cos(2 * np.pi * i / (n - 1))
                   + 0.08 * torch.cos(4 * np.pi * i / (n - 1)))


@_kernel
def hamming(x):
    return _window(x, lambda i, n: 0.54 - 0.46 * torch.cos(2 * np.pi * i / (n - 1)))


@_kernel
def hanning(x):
    return _window(x, lambda i, n: 0.5 - 0.5 * torch.cos(2 * np.pi * i / (n - 1)))


@_kernel
def kaiser(x, beta):
    beta = float(_scalar(beta))
    return _window(x, lambda i, n: torch.special.i0(beta * torch.sqrt(1 - (2 * i / (n - 1) - 1) ** 2))
                   / torch.special.i0(torch.tensor(beta, dtype=torch.float64)))


@_kernel
def meshgrid(*x, indexing="xy"):
    if indexing not in ("xy", "ij"):
        raise ValueError(f"Valid values for `indexing` are 'xy' and 'ij'. Received: indexing={indexing}")
    return list(torch.meshgrid(*[_tensor(t).reshape(-1) for t in x], indexing=indexing))


@_kernel
def vander(x, N=None, increasing=False):
    return torch.vander(x, N=N, increasing=increasing).to(x.dtype)


# --- shape manipulation ----------------------------------------------------------------------------
@_kernel
def moveaxis(x, source, destination):
    return torch.movedim(x, source, destination)


@_kernel
def swapaxes(x, axis1, axis2):
    return torch.swapaxes(x, axis1, axis2)


@_kernel
def roll(x, shift, axis=None):
    if axis is None:
        return torch.roll(x.reshape(-1), shift).reshape(x.shape)
    return torch.roll(x, shift, dims=axis)


@_kernel
def rot90(array, k=1, axes=(0, 1)):
    return torch.rot90(array, k, list(axes))


@_kernel
def diag(x, k=0):
    if x.ndim not in (1, 2):
        raise ValueError(f"diag: x must be 1-D or 2-D, got shape {tuple(x.shape)}.")
    if x.ndim == 2:
        return torch.diagonal(x, offset=k)
    return torch.diag(x, k)


@_kernel
def diagflat(x, k=0):
    return torch.diag(x.reshape(-1), k)


@_kernel
def diagonal(x, offset=0, axis1=0, axis2=1):
    return torch.diagonal(x, offset=offset, dim1=axis1, dim2=axis2)


@_kernel
def tril(x, k=0):
    return torch.tril(x, diagonal=k) if x.dtype != torch.bool else torch.tril(x.to(torch.uint8), k).bool()


@_kernel
def triu(x, k=0):
    return torch.triu(x, diagonal=k) if x.dtype != torch.bool else torch.triu(x.to(torch.uint8), k).bool()


@_kernel
def diff(a, n=1, axis=-1):
    if a.dtype == torch.bool:
        for _ in range(n):
            a = torch.logical_xor(a.narrow(axis, 1, a.shape[axis] - 1), a.narrow(axis, 0, a.shape[axis] - 1))
        return a
    return torch.diff(a, n=n, dim=axis)


def _sections(x, indices_or_sections, axis):
    if isinstance(indices_or_sections, int):
        return list(torch.tensor_split(x, indices_or_sections, dim=axis))
    return list(torch.tensor_split(x, list(indices_or_sections), dim=axis))


@_kernel
def array_split(x, indices_or_sections, axis=0):
    return _sections(x, indices_or_sections, axis)


def _even_split(x, indices_or_sections, axis):
    if isinstance(indices_or_sections, int) and x.shape[axis] % indices_or_sections:
        raise ValueError("array split does not result in an equal division")
    return _sections(x, indices_or_sections, axis)


@_kernel
def hsplit(x, indices_or_sections):
    return _even_split(x, indices_or_sections, 1 if x.ndim > 1 else 0)


@_kernel
def vsplit(x, indices_or_sections):
    return _even_split(x, indices_or_sections, 0)


@_kernel
def dsplit(x, indices_or_sections):
    return _even_split(x, indices_or_sections, 2)


def _stackable(xs):
    like = next((t for t in xs if isinstance(t, torch.Tensor)), None)
    ts = [_tensor(t, like=like) for t in xs]
    dt = ts[0].dtype
    for t in ts[1:]:
        dt = torch.promote_types(dt, t.dtype)
    return [t.to(dt) for t in ts]


@_kernel
def hstack(xs):
    return torch.hstack(_stackable(xs))


@_kernel
def vstack(xs):
    return torch.vstack(_stackable(xs))


@_kernel
def dstack(xs):
    return torch.dstack(_stackable(xs))


@_kernel
def get_item(x, key):
    return x[key]


@_kernel
def nonzero(x):
    return tuple(_int_index(t) for t in torch.nonzero(x, as_tuple=True))


@_kernel
def unravel_index(indices, shape):
    return tuple(_int_index(t) for t in torch.unravel_index(indices.to(torch.int64), tuple(shape)))


@_kernel
def argsort(x, axis=-1):
    if x.ndim == 0:
        return torch.zeros((), dtype=torch.int64, device=x.device)
    if x.dtype == torch.bool:
        x = x.to(torch.uint8)
    return torch.argsort(x, dim=axis, stable=True)


@_kernel
def argpartition(x, kth, axis=-1):
    if axis is None:
        x, axis = x.reshape(-1), 0
    return argsort(x, axis=axis)  # a full sort is one valid partition around every kth


@_kernel
def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    if not x.is_floating_point():
        return x
    return torch.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


@_kernel
def isin(x1, x2, assume_unique=False, invert=False):
    return torch.isin(x1, x2, assume_unique=assume_unique, invert=invert)


# --- semantics that differ between frameworks ---------------------------------------------------------
@_kernel
def searchsorted(sorted_sequence, values, side="left"):
    if side not in ("left", "right"):
        raise ValueError(f"`side` must be 'left' or 'right'. Received: side={side}")
    return torch.searchsorted(sorted_sequence, values, side=side)


@_kernel
def digitize(x, bins):
    # NumPy digitize (right=False, increasing bins) = index of the first bin edge > x.
    return torch.bucketize(x, bins.to(x.dtype), right=True)


@_kernel
def bincount(x, weights=None, minlength=0, sparse=False):
    # sparse=True and sparse `x`: the wrapper in _sparse.py
    w = None if weights is None else _tensor(weights, like=x)
    if x.ndim == 2:
        length = builtins.max(int(x.max()) + 1 if x.numel() else 0, minlength)
        rows = [torch.bincount(r, None if w is None else w[i], minlength=length) for i, r in enumerate(x)]
        out = torch.stack(rows)
    else:
        out = torch.bincount(x, w, minlength=minlength)
    return out.to(torch.int32) if w is None else out


@_kernel
def histogram(x, bins=10, range=None):
    if x.ndim != 1:
        raise ValueError(f"Input tensor must be 1-dimensional. Received: input.shape={tuple(x.shape)}")
    lo, hi = (x.min(), x.max()) if range is None else (torch.tensor(range[0], device=x.device),
                                                         torch.tensor(range[1], device=x.device))
    lo, hi = lo.to(x.dtype), hi.to(x.dtype)
    edges = lo + (hi - lo) * torch.arange(bins + 1, dtype=x.dtype, device=x.device) / bins
    idx = torch.clamp(torch.bucketize(x, edges, right=True) - 1, 0, bins - 1)
    inside = (x >= lo) & (x <= hi)
    counts = torch.zeros(bins, dtype=x.dtype, device=x.device).index_add_(
        0, idx[inside], torch.ones_like(idx[inside], dtype=x.dtype))  # float counts, as jnp.histogram
    return counts, edges


@_kernel
def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False, axis=None, size=None,
           fill_value=None):
    flat = x.reshape(-1) if axis is None else x
    vals, inverse, counts = torch.unique(flat, sorted=True, return_inverse=True, return_counts=True, dim=axis)
    first = inv = None
    if return_index:
        n = flat.shape[0 if axis is None else axis]
        pos = torch.arange(n, device=x.device)
        first = torch.full((vals.shape[0 if axis is None else axis],), n, dtype=torch.int64, device=x.device)
        first = first.scatter_reduce(0, inverse.reshape(-1), pos, reduce="amin")
    if return_inverse:
        inv = inverse if axis is not None else inverse.reshape(x.shape)
    if size is not None:  # a static length: truncate, or pad values with fill_value and counts/index with 0
        pad = size - vals.shape[0]
        if pad > 0:
            fill = fill_value if fill_value is not None else (vals[0] if vals.numel() else 0)
            vals = torch.cat([vals, torch.full((pad,), fill, dtype=vals.dtype, device=vals.device)])
            counts = torch.cat([counts, counts.new_zeros(pad)])
            first = None if first is None else torch.cat([first, first.new_zeros(pad)])
        vals, counts = vals[:size], counts[:size]
        first = None if first is None else first[:size]
    extras = [e for e, want in ((first, return_index), (inv, return_inverse), (counts, return_counts)) if want]
    extras = [_int_index(e) for e in extras]
    return (vals, *extras) if extras else vals


@_kernel
def correlate(x1, x2, mode="valid"):
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"mode must be 'valid', 'same' or 'full'; got {mode!r}.")
    n, m = x1.shape[0], x2.shape[0]
    swap = m > n
    a, v = (x2, x1) if swap else (x1, x2)
    n, m = a.shape[0], v.shape[0]
    pad = {"valid": (0, 0), "same": (m // 2, m - 1 - m // 2), "full": (m - 1, m - 1)}[mode]
    ap = torch.nn.functional.pad(a, pad)
    out = torch.nn.functional.conv1d(ap.reshape(1, 1, -1), v.reshape(1, 1, -1)).reshape(-1)
    return out.flip(0) if swap else out


@_kernel
def slogdet(x):
    sign, logabs = torch.linalg.slogdet(x)
    return sign, logabs


def _map_leading(fn, xs):
    """torch.vmap over axis 0; a pyfunc vmap cannot trace (data-dependent Python control flow) runs row by row."""
    try:
        return torch.vmap(fn)(*xs)
    except RuntimeError:
        rows = [fn(*(x[i] for x in xs)) for i in range(xs[0].shape[0] if xs else 1)]
        if rows and isinstance(rows[0], (tuple, list)):
            return tuple(torch.stack([_tensor(r[j]) for r in rows]) for j in range(len(rows[0])))
        return torch.stack([_tensor(r) for r in rows])


KERNELS["vectorize"] = _numpy_composite.vectorize_with(B, _map_leading)


@_kernel
def view(x, dtype=None):
    return x.view(_torch_dtype(standardize_dtype(dtype)))


IMPLEMENTATIONS = _numpy_table.implement("torch", torch, KERNELS, asarray, cast)
