"""NumPy-family kernels written once over a backend module `B` (`fkeras.ops._torch` or `fkeras.ops._tf`).

These ops have no like-named callable in torch or TF (or one with other semantics: torch's
`median` is the lower median, TF has no quantile), so they are composed from ops every
backend already has (`B.where`, `B.sort`, `B.take_along_axis`, ...). `kernels(B)` returns them
bound to one backend; arguments arrive normalised by `_numpy_table` (arrays of the row's dtype).
"""

# ruff: noqa: A001, A002
from __future__ import annotations

import functools
import re

import numpy as np

from fkeras.ops import _dispatch
from fkeras.ops._dtypes import standardize_dtype


class BackendView:
    """Attribute access to every implementation of one framework (`_dispatch.backend`), looked up when a
    kernel runs, so the kernels may use ops defined in any of the framework's modules."""

    def __init__(self, framework: str):
        self._framework = framework

    def __getattr__(self, name):
        return getattr(_dispatch.backend(self._framework), name)

_INF = float("inf")
_NAN = float("nan")


def _dt(x):
    return standardize_dtype(x.dtype)


def _is_float(x):
    d = _dt(x)
    return d.startswith(("float", "bfloat", "complex"))


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % ndim for a in axes))


def _sum_ready(B, x):
    """Ints narrower than 32 bits and bools sum as int32 (uint as uint32), as jnp does."""
    d = _dt(x)
    if d in ("bool", "int8", "int16"):
        return B.cast(x, "int32")
    if d in ("uint8", "uint16"):
        return B.cast(x, "uint32")
    return x


# --- quantiles ---------------------------------------------------------------------------------
def quantile(B, x, q, axis=None, method="linear", keepdims=False, nan=False):
    """NumPy's quantile (q in [0, 1]) by sorting; `nan=True` ignores NaNs (nanquantile)."""
    if method not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise ValueError(f"fkeras.ops.quantile: method must be one of linear, lower, higher, midpoint, nearest; "
                         f"got {method!r}.")
    shape = tuple(x.shape)
    nd = len(shape)
    axes = _axes(axis, nd)
    rest = [i for i in range(nd) if i not in axes]
    perm = rest + list(axes)
    y = B.transpose(x, perm) if perm != list(range(nd)) else x
    if len(axes) != 1:  # several (or no) reduced axes become one last axis; one axis needs no reshape
        y = B.reshape(y, [shape[i] for i in rest] + [-1])  # (unknown dims work with one reduced axis)
    isn = B.isnan(y)
    s = B.sort(B.where(isn, _INF, y), axis=-1)
    valid = B.logical_not(isn) if nan else B.equal(isn, isn)
    count = B.sum(B.cast(valid, _dt(x)), axis=-1, keepdims=True)  # (*rest, 1)
    q = B.cast(B.convert_to_tensor(q), _dt(x))
    qs = tuple(q.shape)
    if qs:  # a vector of quantiles: a leading axis of the result
        q = B.reshape(q, qs + (1,) * (len(rest) + 1))
        s = B.broadcast_to(s, qs + tuple(s.shape))
        count = B.broadcast_to(count, qs + tuple(count.shape))
    pos = q * (count - 1.0)
    lo, hi = B.floor(pos), B.ceil(pos)
    top = B.maximum(count - 1.0, 0.0)

    def at(p):
        idx = B.cast(B.minimum(B.maximum(p, 0.0), top), "int32")
        return B.squeeze(B.take_along_axis(s, idx, axis=-1), axis=-1)

    if method == "linear":
        v_lo, v_hi = at(lo), at(hi)
        out = v_lo + (v_hi - v_lo) * B.squeeze(pos - lo, axis=-1)
    elif method == "lower":
        out = at(lo)
    elif method == "higher":
        out = at(hi)
    elif method == "midpoint":
        out = (at(lo) + at(hi)) * 0.5
    else:
        out = at(B.round(pos))
    if nan:
        out = B.where(B.squeeze(count, axis=-1) == 0, _NAN, out)
    else:
        out = B.where(B.any(isn, axis=-1), _NAN, out)
    if keepdims:
        for a in axes:
            out = B.expand_dims(out, len(qs) + a)
    return out


def median(B, x, axis=None, keepdims=False):
    return quantile(B, x, 0.5, axis, "linear", keepdims)


def percentile(B, x, q, axis=None, method="linear", keepdims=False):
    return quantile(B, x, B.divide(B.convert_to_tensor(q), 100.0), axis, method, keepdims)


def nanquantile(B, x, q, axis=None, method="linear", keepdims=False):
    return quantile(B, x, q, axis, method, keepdims, nan=True)


def nanpercentile(B, x, q, axis=None, method="linear", keepdims=False):
    return quantile(B, x, B.divide(B.convert_to_tensor(q), 100.0), axis, method, keepdims, nan=True)


def nanmedian(B, x, axis=None, keepdims=False):
    return quantile(B, x, 0.5, axis, "linear", keepdims, nan=True)


# --- NaN-ignoring reductions ----------------------------------------------------------------------
def nanmax(B, x, axis=None, keepdims=False):
    if not _is_float(x):
        return B.max(x, axis=axis, keepdims=keepdims)
    isn = B.isnan(x)
    m = B.max(B.where(isn, -_INF, x), axis=axis, keepdims=keepdims)
    return B.where(B.all(isn, axis=axis, keepdims=keepdims), _NAN, m)


def nanmin(B, x, axis=None, keepdims=False):
    if not _is_float(x):
        return B.min(x, axis=axis, keepdims=keepdims)
    isn = B.isnan(x)
    m = B.min(B.where(isn, _INF, x), axis=axis, keepdims=keepdims)
    return B.where(B.all(isn, axis=axis, keepdims=keepdims), _NAN, m)


def nansum(B, x, axis=None, keepdims=False):
    if _is_float(x):
        x = B.where(B.isnan(x), 0.0, x)
    return B.sum(_sum_ready(B, x), axis=axis, keepdims=keepdims)


def nanprod(B, x, axis=None, keepdims=False):
    if _is_float(x):
        x = B.where(B.isnan(x), 1.0, x)
    return B.prod(_sum_ready(B, x), axis=axis, keepdims=keepdims)


def nanmean(B, x, axis=None, keepdims=False):
    isn = B.isnan(x)
    total = B.sum(B.where(isn, 0.0, x), axis=axis, keepdims=keepdims)
    return total / B.sum(B.cast(B.logical_not(isn), _dt(x)), axis=axis, keepdims=keepdims)


def nanvar(B, x, axis=None, keepdims=False):
    isn = B.isnan(x)
    count = B.sum(B.cast(B.logical_not(isn), _dt(x)), axis=axis, keepdims=keepdims)
    mean = nanmean(B, x, axis=axis, keepdims=True)
    d = B.where(isn, 0.0, x - mean)
    return B.sum(d * d, axis=axis, keepdims=keepdims) / count


def nanstd(B, x, axis=None, keepdims=False):
    return B.sqrt(nanvar(B, x, axis=axis, keepdims=keepdims))


def _nanarg(B, fn, fill, x, axis, keepdims):
    if not _is_float(x):
        return fn(x, axis=axis, keepdims=keepdims)
    isn = B.isnan(x)
    idx = fn(B.where(isn, fill, x), axis=axis, keepdims=keepdims)
    return B.where(B.all(isn, axis=axis, keepdims=keepdims), -1, idx)


def nanargmax(B, x, axis=None, keepdims=False):
    return _nanarg(B, B.argmax, -_INF, x, axis, keepdims)


def nanargmin(B, x, axis=None, keepdims=False):
    return _nanarg(B, B.argmin, _INF, x, axis, keepdims)


def nancumsum(B, x, axis=None, dtype=None):
    if _is_float(x):
        x = B.where(B.isnan(x), 0.0, x)
    return B.cumsum(x, axis=axis, dtype=dtype)


def nancumprod(B, x, axis=None, dtype=None):
    if _is_float(x):
        x = B.where(B.isnan(x), 1.0, x)
    return B.cumprod(x, axis=axis, dtype=dtype)


# --- others ---------------------------------------------------------------------------------------
def cross(B, x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = B.moveaxis(x1, axisa, -1), B.moveaxis(x2, axisb, -1)
    na, nb = a.shape[-1], b.shape[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError(f"fkeras.ops.cross: the vector axes must have 2 or 3 entries, got {na} and {nb}.")
    a0, a1 = a[..., 0], a[..., 1]
    b0, b1 = b[..., 0], b[..., 1]
    if na == 2 and nb == 2:
        return a0 * b1 - a1 * b0
    a2 = a[..., 2] if na == 3 else a0 * 0  # a 2-vector is (x, y, 0)
    b2 = b[..., 2] if nb == 3 else b0 * 0
    c0, c1, c2 = a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0
    return B.moveaxis(B.stack([c0, c1, c2], axis=-1), -1, axisc)


def average(B, x, axis=None, weights=None):
    if weights is None:
        return B.mean(x, axis=axis)
    if tuple(weights.shape) != tuple(x.shape):
        if axis is None or not isinstance(axis, int) or len(weights.shape) != 1:
            raise ValueError("fkeras.ops.average: weights must have x's shape, or be 1-D along an int `axis`; "
                             f"got weights {tuple(weights.shape)}, x {tuple(x.shape)}, axis {axis}.")
        nd = len(x.shape)
        weights = B.reshape(weights, [-1 if i == axis % nd else 1 for i in range(nd)])
    return B.sum(x * weights, axis=axis) / B.sum(B.broadcast_to(weights, x.shape), axis=axis)


def trapezoid(B, y, x=None, dx=1.0, axis=-1):
    nd = len(y.shape)
    ax = axis % nd
    n = y.shape[ax]

    def part(t, start, stop):
        at = ax if len(t.shape) == nd else 0
        return t[(slice(None),) * at + (slice(start, stop),)]

    mid = (part(y, 1, n) + part(y, 0, n - 1)) * 0.5
    if x is None:
        return B.sum(mid, axis=ax) * dx
    d = part(x, 1, n) - part(x, 0, n - 1)
    if len(x.shape) == 1 and nd > 1:
        d = B.reshape(d, [-1 if i == ax else 1 for i in range(nd)])
    return B.sum(mid * d, axis=ax)


def corrcoef(B, x):
    x = B.reshape(x, (1, -1)) if len(x.shape) == 1 else x
    xc = x - B.mean(x, axis=1, keepdims=True)
    cov = B.matmul(xc, B.transpose(xc))
    d = B.sqrt(B.diagonal(cov))
    c = cov / B.expand_dims(d, 1) / B.expand_dims(d, 0)
    return B.clip(c, -1.0, 1.0)


def ptp(B, x, axis=None, keepdims=False):
    return B.max(x, axis=axis, keepdims=keepdims) - B.min(x, axis=axis, keepdims=keepdims)


def divide_no_nan(B, x1, x2):
    zero = x2 == 0
    return B.where(zero, 0.0, x1 / B.where(zero, 1.0, x2))


def allclose(B, x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False):
    return B.all(B.isclose(x1, x2, rtol=rtol, atol=atol, equal_nan=equal_nan))


def select(B, condlist, choicelist, default=0):
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: condlist and choicelist must have the same length; got {len(condlist)} and "
                         f"{len(choicelist)}.")
    if not condlist:
        raise ValueError("select: condlist must not be empty.")
    out = B.broadcast_to(B.convert_to_tensor(default), ())
    choices = [B.convert_to_tensor(c) for c in choicelist]
    for cond, choice in reversed(list(zip(condlist, choices))):
        out = B.where(B.convert_to_tensor(cond), choice, out)
    return out


# --- vectorize --------------------------------------------------------------------------------
def _parse_signature(signature):
    """NumPy gufunc signature '(m,n),(n)->(m)' -> ([('m', 'n'), ('n',)], [('m',)])."""
    def dims(part):
        groups = re.findall(r"\(([^()]*)\)", part)
        if "".join(f"({g})" for g in groups) != part.replace(" ", "").replace(",(", "(").replace("),", ")"):
            raise ValueError(f"fkeras.ops.vectorize: not a valid gufunc signature: {signature!r}.")
        return [tuple(d.strip() for d in g.split(",") if d.strip()) for g in groups]

    if not isinstance(signature, str) or "->" not in signature:
        raise ValueError(f"fkeras.ops.vectorize: signature must look like '(n),(n)->()', got {signature!r}.")
    ins, outs = signature.replace(" ", "").split("->")
    return dims(ins), dims(outs)


def vectorize_with(B, map_leading):
    """`vectorize` for one backend: `map_leading(fn, xs)` maps `fn` over axis 0 of the arrays `xs` (torch.vmap,
    tf.vectorized_map) and stacks its outputs. Loop axes are broadcast and flattened to one axis, so one map runs;
    `signature` names the core axes each argument keeps; `excluded` positions pass through unvectorized."""

    def vectorize(pyfunc, *, excluded=None, signature=None):
        excluded = set(excluded or ())
        core_in, core_out = _parse_signature(signature) if signature is not None else (None, None)

        def vectorized(*args, **kwargs):
            pos = [i for i in range(len(args)) if i not in excluded]
            if core_in is not None and len(core_in) != len(pos):
                raise TypeError(f"fkeras.ops.vectorize: the signature {signature!r} names {len(core_in)} inputs, "
                                f"got {len(pos)} vectorized arguments.")
            xs = [B.convert_to_tensor(args[i]) for i in pos]
            cores = [len(c) for c in core_in] if core_in is not None else [0] * len(xs)
            shapes = [tuple(x.shape) for x in xs]
            for x_shape, nc, i in zip(shapes, cores, pos):
                if len(x_shape) < nc:
                    raise ValueError(f"fkeras.ops.vectorize: argument {i} has shape {x_shape}, fewer axes than the "
                                     f"{nc} core axes of the signature {signature!r}.")
            loop = tuple(np.broadcast_shapes(*[s[:len(s) - nc] for s, nc in zip(shapes, cores)]))
            n = int(np.prod(loop, dtype=np.int64))
            flat = [B.reshape(B.broadcast_to(x, loop + s[len(s) - nc:]), (n,) + s[len(s) - nc:])
                    for x, s, nc in zip(xs, shapes, cores)]

            def one(*vals):
                full = list(args)
                for i, v in zip(pos, vals):
                    full[i] = v
                return pyfunc(*full, **kwargs)

            out = map_leading(one, flat)
            is_tuple = isinstance(out, (tuple, list))
            outs = tuple(out) if is_tuple else (out,)
            if core_out is not None and len(core_out) != len(outs):
                raise ValueError(f"fkeras.ops.vectorize: the signature {signature!r} names {len(core_out)} outputs, "
                                 f"pyfunc returned {len(outs)}.")
            outs = tuple(B.reshape(o, loop + tuple(o.shape[1:])) for o in outs)
            return outs if is_tuple else outs[0]

        return vectorized

    return vectorize


def kernels(B) -> dict:
    """Every kernel above bound to backend module `B`."""
    names = ("quantile", "median", "percentile", "nanquantile", "nanpercentile", "nanmedian", "nanmax", "nanmin",
             "nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanargmax", "nanargmin", "nancumsum",
             "nancumprod", "cross", "average", "trapezoid", "corrcoef", "ptp", "divide_no_nan", "allclose", "select")
    g = globals()
    out = {}
    for n in names:
        fn = g[n]
        if n == "quantile":
            fn = functools.partial(fn, nan=False)
        k = functools.partial(fn, B)
        out[n] = k
    return out
