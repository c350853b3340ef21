"""Argument checks shared by every backend of `fkeras.ops` (framework-neutral, written once)."""

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
