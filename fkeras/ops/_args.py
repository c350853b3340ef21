"""Argument checks shared by every backend of `fkeras.ops` (framework-neutral, written once), and the small
framework-neutral pieces of the ops whose kernels differ (layer_normalization's options and fused scale-shift, the
attention bias/mask broadcast), which take the framework's functions as arguments."""

import numpy as np

# The nn / math / linalg / core / control-flow ops (issue 14 part B): each framework's `_*_extra.py` exports
# exactly these (its `__all__`), and `fkeras.ops` declares them.
PART_B_OPS = (
    "cond", "switch", "while_loop", "fori_loop", "scan", "associative_scan", "map", "vectorized_map",
    "custom_gradient", "slice", "slice_update", "scatter", "scatter_update", "unstack", "saturate_cast",
    "is_tensor", "segment_sum", "segment_max", "segment_min", "segment_prod", "in_top_k", "cdist",
    "extract_sequences", "fft", "fft2", "ifft2", "rfft", "irfft", "stft", "istft", "erfc", "erfinv", "logdet",
    "view_as_complex", "view_as_real", "celu", "glu", "hard_shrink", "hard_silu", "hard_swish", "hard_tanh",
    "log_sigmoid", "soft_shrink", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "swish",
    "tanh_shrink", "threshold", "layer_normalization", "rms_normalization", "multi_hot", "polar", "psnr",
    "depth_to_space", "space_to_depth", "conv_transpose", "separable_conv", "dot_product_attention", "unfold",
    "fold", "adaptive_average_pool", "adaptive_max_pool", "ctc_loss", "ctc_decode", "cholesky",
    "cholesky_inverse", "det", "eig", "eigh", "inv", "lu_factor", "norm", "qr", "solve", "solve_triangular",
    "svd", "lstsq", "matrix_rank", "pinv", "jvp", "rearrange",
)


def _tuple(v, n, name):
    """An int or n ints -> a tuple of n Python ints."""
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    v = tuple(int(i) for i in v)
    if len(v) != n:
        raise ValueError(f"fkeras.ops: expected `{name}` as an int or {n} ints, got {v}.")
    return v


EINSUM_KWARGS = ("out", "optimize", "precision", "preferred_element_type")


def _einsum_kwargs(kwargs):
    """`einsum`'s keyword options (jnp.einsum's): checked by name on every backend. They choose the contraction
    order and precision only, so torch and TF honour them by computing the same sum; `out` must be None.
    `preferred_element_type` is set by the op itself, as Keras does (int32 for int8 operands)."""
    unknown = sorted(set(kwargs) - set(EINSUM_KWARGS))
    if unknown:
        raise TypeError(f"fkeras.ops.einsum got unexpected keyword argument(s) {unknown}; "
                        f"it accepts {list(EINSUM_KWARGS)}.")
    if kwargs.get("out") is not None:
        raise ValueError("fkeras.ops.einsum: `out` must be None (arrays are immutable), got an array.")
    return {k: v for k, v in kwargs.items() if k in ("optimize", "precision")}


def _check_data_format(data_format):
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            f"fkeras.ops: data_format must be 'channels_last' or 'channels_first', got {data_format!r}."
        )
    return data_format


def _padding(padding):
    """'valid' or 'same' (any case) -> lowercase; anything else is a ValueError."""
    p = padding.lower() if isinstance(padding, str) else padding
    if p not in ("valid", "same"):
        raise ValueError(f"fkeras.ops: padding must be 'valid' or 'same', got {padding!r}.")
    return p


RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic", "area")


def _check_resize(size, interpolation, fill_mode, crop_to_aspect_ratio, pad_to_aspect_ratio):
    """`image.resize`'s argument checks, for every backend."""
    if interpolation not in RESIZE_INTERPOLATIONS:
        raise ValueError(f"fkeras.ops.image.resize: interpolation must be one of {RESIZE_INTERPOLATIONS}, "
                         f"got {interpolation!r}.")
    if fill_mode != "constant":
        raise ValueError(f"fkeras.ops.image.resize: only fill_mode='constant' is supported, got {fill_mode!r}.")
    if pad_to_aspect_ratio and crop_to_aspect_ratio:
        raise ValueError("fkeras.ops.image.resize: only one of pad_to_aspect_ratio and crop_to_aspect_ratio can be True.")
    if len(size) != 2:
        raise ValueError(f"fkeras.ops.image.resize: size must be (height, width), got {size}.")


def _shape(shape):
    """A shape as error messages print it on every backend: torch.Size -> a plain tuple (JAX's tuple and TF's
    TensorShape already print as `(2, 3)`)."""
    return tuple(shape) if isinstance(shape, tuple) else shape


def _complex_parts(x, name, convert, is_float):
    """Keras's complex argument: the pair `x = (real, imag)` as two `convert`ed float tensors of one shape."""
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(f"fkeras.ops.{name}: expected x as a tuple (real, imag) of two float tensors, got {type(x)}.")
    real, imag = convert(x[0]), convert(x[1])
    if real.shape != imag.shape:
        raise ValueError(
            f"fkeras.ops.{name}: real and imag shapes differ: {_shape(real.shape)} vs {_shape(imag.shape)}.")
    if not (is_float(real) and is_float(imag)):
        raise ValueError(f"fkeras.ops.{name}: real and imag must be float, got {real.dtype} and {imag.dtype}.")
    return real, imag


def _check_rank2(name, shape):
    """A batch of matrices: rank >= 2."""
    if len(shape) < 2:
        raise ValueError(f"fkeras.ops.{name}: expected a tensor of rank >= 2, got shape {_shape(shape)}.")


def _check_square(name, shape):
    """A batch of square matrices: rank >= 2, the last two dimensions equal."""
    _check_rank2(name, shape)
    if shape[-1] != shape[-2]:
        raise ValueError(f"fkeras.ops.{name}: expected square matrices, got shape {_shape(shape)}.")


def _check_view_as_complex(shape):
    if shape[-1] != 2:
        raise ValueError(f"fkeras.ops.view_as_complex: the last axis must have size 2, got shape {_shape(shape)}.")


def _check_qr_mode(mode):
    if mode not in ("reduced", "complete"):
        raise ValueError(f"fkeras.ops.qr: mode must be 'reduced' or 'complete', got {mode!r}.")


def _check_unroll(unroll):
    """`scan`'s `unroll`: a positive int or a bool."""
    if not isinstance(unroll, bool) and (not isinstance(unroll, int) or unroll < 1):
        raise ValueError(f"fkeras.ops.scan: `unroll` must be a positive int or a bool, got {unroll!r}.")


def _check_attention(q_shape, k_shape, v_shape, flash_error, attn_logits_soft_cap):
    """`dot_product_attention`'s checks, in Keras's order: (B, T, N, H) inputs; `flash_error` (the backend's
    message when it cannot run flash attention, else None); no logit soft cap off TPU; N a multiple of the key
    heads. Returns (N, key heads)."""
    for name, s in (("query", q_shape), ("key", k_shape), ("value", v_shape)):
        if len(s) != 4:
            raise ValueError(f"fkeras.ops.dot_product_attention: {name} must be 4-D (B, T, N, H), got {_shape(s)}.")
    if flash_error:
        raise RuntimeError(f"fkeras.ops.dot_product_attention: {flash_error}")
    if attn_logits_soft_cap is not None:
        raise ValueError(
            "fkeras.ops.dot_product_attention: attn_logits_soft_cap needs flash attention (TPU); got "
            f"{attn_logits_soft_cap}.")
    n, kh = q_shape[2], k_shape[2]
    if n % kh:
        raise ValueError(f"fkeras.ops.dot_product_attention: query heads {n} must be a multiple of key heads {kh}.")
    return n, kh


def _bnts(t, n, name, expand_dims):
    """An attention bias/mask broadcastable to (B, N, T, S): Keras accepts (T, S), (B, T, S), (B, 1|N, T, S), ...;
    a rank-3 one whose axis 1 is N gains the T axis, others a heads axis."""
    while len(t.shape) < 4:
        t = expand_dims(t, 2) if (len(t.shape) == 3 and t.shape[1] == n) else expand_dims(t, 1)
    if t.shape[1] not in (1, n):
        raise ValueError(f"fkeras.ops.dot_product_attention: {name} must have 1 or {n} heads, got {_shape(t.shape)}.")
    return t


def _check_ctc_strategy(strategy):
    if strategy != "greedy":
        raise ValueError(f"fkeras.ops.ctc_decode: strategy must be 'greedy' or 'beam_search', got {strategy!r}.")


def _layer_norm_args(kwargs, axis, epsilon, shape, convert, reshape):
    """`layer_normalization`'s options for an input of `shape`: (rms_scaling, epsilon, sorted non-negative axes,
    `param`). `param(v)` is a gamma/beta `convert`ed (None stays None) and, unless it already has the input's rank or
    normalizes only the last axis, `reshape`d to broadcast over the axes. The functional graph records **kwargs as
    one config entry, unpacked here."""
    kwargs.update(kwargs.pop("kwargs", {}))
    rms_scaling = kwargs.pop("rms_scaling", False)
    if kwargs:
        raise TypeError(f"fkeras.ops.layer_normalization: unexpected arguments {sorted(kwargs)}.")
    nd = len(shape)
    axes = sorted(a % nd for a in ([axis] if isinstance(axis, int) else axis))
    bshape = [1] * nd
    for a in axes:
        bshape[a] = shape[a]

    def param(v):
        if v is None:
            return None
        v = convert(v)
        return reshape(v, bshape) if len(v.shape) != nd and axes != [nd - 1] else v

    return rms_scaling, 1e-7 if epsilon is None else epsilon, axes, param


def _scale_shift(x, mean, inv, gamma=None, beta=None):
    """Keras's fused normalization `x * inv * gamma + (beta - mean * inv * gamma)`, in plain arithmetic (any
    framework's tensors); `gamma`/`beta` None leave their term out."""
    if gamma is not None:
        inv = inv * gamma
    res = -mean * inv
    if beta is not None:
        res = res + beta
    return x * inv + res


def _check_cdist(x_shape, y_shape):
    """`cdist`'s inputs: (..., P, M) and (..., R, M)."""
    if len(x_shape) < 2 or len(y_shape) < 2:
        raise ValueError(f"fkeras.ops.cdist: inputs must have rank >= 2, got shapes {_shape(x_shape)} and "
                         f"{_shape(y_shape)}.")
    if x_shape[-1] != y_shape[-1]:
        raise ValueError(f"fkeras.ops.cdist: last dimensions must match, got {_shape(x_shape)} and {_shape(y_shape)}.")


def _check_glu(shape, axis):
    if shape[axis] % 2:
        raise ValueError(f"fkeras.ops.glu: axis {axis} must have an even size, got shape {_shape(shape)}.")


def _check_psnr(shape1, shape2):
    if shape1 != shape2:
        raise ValueError(f"fkeras.ops.psnr: input shapes must match, got {_shape(shape1)} and {_shape(shape2)}.")
