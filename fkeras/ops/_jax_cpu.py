"""CPU lowerings of the hot JAX ops, chosen per platform at compile time.

Two compile settings matter on XLA:CPU, and each gets its own lowering of the stride-1 2D conv:

- Plain `jax.jit` (XLA's default options): XLA routes convs through its YNNPACK fusion, slow on
  this kind of CPU (a 128x26x26x64 -> 64 "valid" conv: 90 ms; its kernel gradient 114 ms). The
  "rewrite" lowering computes the conv as a "same" conv + slice and its kernel gradient as kh*kw
  shifted matmuls (batch split in two when the contraction is long, so both cores work); it pays
  off from 16 input channels.
- fkeras's own programs (`jit` below: the Engine's steps, `fit`/`evaluate`/`predict`, and
  `fkeras.train.jit`) compile with that fusion off (`compiler_options()`), where XLA's own conv
  is fast (13 ms and 33 ms for the same conv). While tracing for them (`plain_conv_is_fast()`),
  the "xla" lowering keeps XLA's conv forward and writes both gradients as convs in XLA's
  canonical layout: XLA's own transpose picks, inside `lax.scan` (steps_per_execution), a layout
  that runs ~50x slower.

Both forms give the input gradient as an explicitly padded conv. Non-overlapping 2D max pooling
is a reshape + max with a first-max gradient (the one XLA's select-and-scatter gives) in both.
Depthwise convs (channels last) are a sum of kernel-tap slices times per-channel weights in both
(XLA:CPU's grouped conv is 40-200x slower with or without YNNPACK: MobileNetV2 inference 4-5x).
`jax.lax.platform_dependent` keeps XLA's own lowering on GPU/TPU. Set `FKERAS_CPU_KERNELS=0`
to use XLA's lowerings and default options everywhere.
"""

from __future__ import annotations

import contextvars
import functools
import itertools
import math
import os
import re

import jax
import jax.numpy as jnp
from jax import lax

_DN = ("NHWC", "HWIO", "NHWC")


def enabled() -> bool:
    return os.environ.get("FKERAS_CPU_KERNELS", "1") != "0"


def _same_pads(k):
    return (k - 1) // 2, k // 2


def _conv_same_sliced(x, w, padding):
    """Stride-1 conv, NHWC/HWIO. "VALID" runs as "SAME" + slice (faster on XLA:CPU)."""
    y = lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=_DN)
    if padding == "SAME":
        return y
    (kh, kw) = w.shape[:2]
    (th, _), (tw, _) = _same_pads(kh), _same_pads(kw)
    ho, wo = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    return y[:, th:th + ho, tw:tw + wo, :]


def conv2d_lowering(in_channels: int):
    """Which stride-1 conv2d lowering this trace takes on CPU: "xla" inside an fkeras-compiled program
    (XLA's conv, kernel gradient as a canonical conv: `plain_conv_is_fast`), "rewrite" under XLA's
    default options with >= 16 input channels, else None (XLA's own: measured faster with 1-8
    input channels on a 2-core AVX-512 CPU)."""
    if plain_conv_is_fast():
        return "xla"
    return "rewrite" if in_channels >= 16 else None


_YNN_OPTION = "xla_cpu_experimental_ynn_fusion_type"
_PLAIN_CONV = contextvars.ContextVar("fkeras_plain_conv", default=False)


def plain_conv_is_fast() -> bool:
    """True while tracing for a program compiled without YNNPACK fusions (`jit`, or XLA_FLAGS)."""
    if _PLAIN_CONV.get():
        return True
    m = re.search(_YNN_OPTION + r"=(\S*)", os.environ.get("XLA_FLAGS", ""))
    return m is not None and "conv" not in m.group(1)


@functools.cache
def _ynn_option_supported() -> bool:
    """Whether this jaxlib knows the option (it is experimental; a jaxlib without it keeps the default)."""
    try:
        jax.jit(lambda v: v + 1, compiler_options={_YNN_OPTION: ""}).lower(jnp.float32(0)).compile()
        return True
    except Exception:  # noqa: BLE001 - an unknown option or value: fall back to XLA's defaults
        return False


# every YNNPACK fusion XLA:CPU has but the convolution one (XLA's own conv is faster here, `plain_conv_is_fast`)
_YNN_NO_CONV = ("LIBRARY_FUSION_TYPE_DOT,LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,"
                "LIBRARY_FUSION_TYPE_REDUCE")


def compiler_options() -> dict | None:
    """XLA options for fkeras's compiled CPU programs: YNNPACK's convolution fusion off, its dot/elementwise/
    reduce fusions on. None off CPU or when disabled."""
    if not enabled() or jax.default_backend() != "cpu" or not _ynn_option_supported():
        return None
    return {_YNN_OPTION: _YNN_NO_CONV}


def jit(fun, **jit_kwargs):
    """`jax.jit` as fkeras compiles its own programs: on CPU, with `compiler_options()` and XLA's
    plain conv while tracing; elsewhere exactly `jax.jit(fun, **jit_kwargs)`."""
    options = compiler_options()
    if options is None:
        return jax.jit(fun, **jit_kwargs)

    @functools.wraps(fun)
    def traced(*args, **kwargs):
        token = _PLAIN_CONV.set(True)
        try:
            return fun(*args, **kwargs)
        finally:
            _PLAIN_CONV.reset(token)

    options.update(jit_kwargs.pop("compiler_options", None) or {})
    return jax.jit(traced, compiler_options=options, **jit_kwargs)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv2d(x, w, padding, lowering="rewrite"):
    """Stride-1, undilated, ungrouped 2D conv. x: (N, H, W, Ci); w: (kh, kw, Ci, Co); padding "VALID"/"SAME".

    lowering "rewrite": forward as "same" + slice, kernel gradient as shifted matmuls (fast while
    XLA:CPU's YNNPACK conv fusion is on); "xla": XLA's conv forward, kernel gradient as one conv
    over transposed operands. Both give the input gradient as an explicitly padded conv. The
    explicit gradients keep every conv in XLA:CPU's canonical layout, also inside `lax.scan`
    (where XLA's own transpose picks a layout that runs ~50x slower).
    """
    return _conv2d_forward(x, w, padding, lowering)


def _conv2d_forward(x, w, padding, lowering):
    if lowering == "xla":
        return lax.conv_general_dilated(x, w, (1, 1), padding, dimension_numbers=_DN)
    return _conv_same_sliced(x, w, padding)


def _conv2d_fwd(x, w, padding, lowering):
    return _conv2d_forward(x, w, padding, lowering), (x, w)


def _conv2d_bwd(padding, lowering, res, dy):
    x, w = res
    kh, kw = w.shape[:2]
    if padding == "SAME":
        (ph0, ph1), (pw0, pw1) = _same_pads(kh), _same_pads(kw)
        x = jnp.pad(x, ((0, 0), (ph0, ph1), (pw0, pw1), (0, 0)))
    else:
        ph0 = ph1 = pw0 = pw1 = 0
    if lowering == "xla":
        dw = _kernel_grad_conv(x, dy)
    else:
        dw = _kernel_grad(x, dy, kh, kw)
    # Input gradient: a "full" correlation of dy with the flipped, transposed kernel, cropped to x.
    w_t = jnp.flip(w, (0, 1)).transpose(0, 1, 3, 2)
    pads = [(kh - 1 - ph0, kh - 1 - ph1), (kw - 1 - pw0, kw - 1 - pw1)]
    dx = lax.conv_general_dilated(dy, w_t, (1, 1), pads, dimension_numbers=_DN)
    return dx.astype(x.dtype), dw.astype(w.dtype)


conv2d.defvjp(_conv2d_fwd, _conv2d_bwd)


def _kernel_grad_conv(x, dy):
    """dW as one "valid" conv: x as (Ci, H, W, N) images with N features, dy as a (ho, wo, N, Co)
    kernel, giving (Ci, kh, kw, Co)."""
    dw = lax.conv_general_dilated(x.transpose(3, 1, 2, 0), dy.transpose(1, 2, 0, 3), (1, 1), "VALID",
                                  dimension_numbers=_DN, preferred_element_type=dy.dtype)
    return dw.transpose(1, 2, 0, 3)


def _kernel_grad(x, dy, kh, kw):
    """dW[a, b] = sum over (n, h, w) of x[n, h+a, w+b, :]^T dy[n, h, w, :]: kh*kw shifted matmuls.

    Each is a skinny GEMM (c x M)(M x d) with a long contraction M = n*ho*wo; when M dominates the
    output (M > c*d) XLA:CPU runs it on about one core, so the batch is split in two halves
    contracted as a batched matmul and summed (measured 102 -> 83 ms for 128x26x26x64 -> 64).
    """
    n, ho, wo = dy.shape[0], dy.shape[1], dy.shape[2]
    c, d = x.shape[-1], dy.shape[-1]
    split = 2 if n % 2 == 0 and n * ho * wo > c * d else 1
    xs = x.reshape(split, n // split, *x.shape[1:])
    dys = dy.reshape(split, n // split, *dy.shape[1:])
    rows = [
        jnp.stack([
            jnp.einsum("snhwc,snhwd->scd", xs[:, :, a:a + ho, b:b + wo, :], dys,
                       preferred_element_type=dy.dtype)
            for b in range(kw)
        ])
        for a in range(kh)
    ]
    return jnp.stack(rows).sum(axis=2)


def _pool_blocks(x, ph, pw):
    n, h, w, c = x.shape
    ho, wo = h // ph, w // pw
    return x[:, :ho * ph, :wo * pw, :].reshape(n, ho, ph, wo, pw, c)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def max_pool2d(x, ph, pw):
    """Non-overlapping "valid" 2D max pooling (pool == strides), NHWC."""
    return jnp.max(_pool_blocks(x, ph, pw), axis=(2, 4))


def _max_pool2d_fwd(x, ph, pw):
    return max_pool2d(x, ph, pw), x


def _max_pool2d_bwd(ph, pw, x, dy):
    n, h, w, c = x.shape
    ho, wo = h // ph, w // pw
    blocks = _pool_blocks(x, ph, pw).transpose(0, 1, 3, 2, 4, 5).reshape(n, ho, wo, ph * pw, c)
    first = jnp.argmax(blocks, axis=3)  # first max in row-major window order, like select-and-scatter
    onehot = first[:, :, :, None, :] == jnp.arange(ph * pw, dtype=first.dtype)[None, None, None, :, None]
    dx = jnp.where(onehot, dy[:, :, :, None, :], jnp.zeros((), dy.dtype))
    dx = dx.reshape(n, ho, wo, ph, pw, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, ho * ph, wo * pw, c)
    return (jnp.pad(dx, ((0, 0), (0, h - ho * ph), (0, w - wo * pw), (0, 0))),)


max_pool2d.defvjp(_max_pool2d_fwd, _max_pool2d_bwd)


def on_cpu(fast, plain, *args):
    """Run `fast(*args)` when compiling for CPU and `plain(*args)` elsewhere."""
    if not enabled():
        return plain(*args)
    return lax.platform_dependent(*args, cpu=fast, default=plain)


def _depthwise_taps(x, w, strides, pads, dilation):
    """Depthwise conv, channels last, any spatial rank: the sum over kernel taps of a strided slice of
    the padded input times that tap's per-channel weights. x: (N, *spatial, C); w: (*k, 1, C * M)."""
    k = w.shape[:-2]
    mult = w.shape[-1] // x.shape[-1]
    if mult > 1:
        x = jnp.repeat(x, mult, axis=-1)  # output channel c * M + m reads input channel c
    x = jnp.pad(x, ((0, 0),) + tuple(pads) + ((0, 0),))
    out_size = [(x.shape[1 + i] - (k[i] - 1) * dilation[i] - 1) // strides[i] + 1 for i in range(len(k))]
    acc = jnp.float32 if jnp.issubdtype(x.dtype, jnp.floating) and jnp.finfo(x.dtype).bits < 32 else x.dtype
    out = None
    for tap in itertools.product(*(range(n) for n in k)):
        start = (0,) + tuple(t * d for t, d in zip(tap, dilation)) + (0,)
        limit = (x.shape[0],) + tuple(s + (o - 1) * st + 1 for s, o, st in zip(start[1:-1], out_size, strides)) + (
            x.shape[-1],)
        term = lax.slice(x, start, limit, (1,) + tuple(strides) + (1,)).astype(acc) * w[tap + (0,)].astype(acc)
        out = term if out is None else out + term
    return out.astype(x.dtype)


def _depthwise_plain(x, w, strides, pads, dilation):
    spatial = "DHW"[-(x.ndim - 2):] if x.ndim <= 5 else None
    dn = ("N" + spatial + "C", spatial + "IO", "N" + spatial + "C")
    return lax.conv_general_dilated(x, w, strides, pads, rhs_dilation=dilation, dimension_numbers=dn,
                                    feature_group_count=x.shape[-1])


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def depthwise_conv(x, w, strides, pads, dilation):
    """Depthwise conv (channels last; `w` as `feature_group_count=C` takes it) as kernel-tap slices:
    XLA:CPU's grouped conv is 40-200x slower than this fused multiply-add, with or without YNNPACK.
    Gradients: autodiff of the taps up to 3x3 kernels (4-6x faster than the grouped conv's), the
    grouped conv's beyond (the taps' kernel gradient grows with the kernel)."""
    return _depthwise_taps(x, w, strides, pads, dilation)


def _depthwise_fwd(x, w, strides, pads, dilation):
    return _depthwise_taps(x, w, strides, pads, dilation), (x, w)


def _depthwise_bwd(strides, pads, dilation, res, dy):
    x, w = res
    f = _depthwise_taps if math.prod(w.shape[:-2]) <= 9 else _depthwise_plain
    _, vjp = jax.vjp(lambda a, b: f(a, b, strides, pads, dilation), x, w)
    return vjp(dy)


depthwise_conv.defvjp(_depthwise_fwd, _depthwise_bwd)
