"""Argument checks shared by every backend of `fkeras.ops` (framework-neutral, written once)."""

import numpy as np


def _tuple(v, n, name):
    """An int or n ints -> a tuple of n Python ints."""
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    v = tuple(int(i) for i in v)
    if len(v) != n:
        raise ValueError(f"fkeras.ops: expected `{name}` as an int or {n} ints, got {v}.")
    return v


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
