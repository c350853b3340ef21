"""Image files ⇄ arrays with Pillow, as Keras's `keras.utils.load_img` and friends; `smart_resize`.

Arrays are `(height, width, channels)` ("channels_last") or `(channels, height, width)`.
"""

from __future__ import annotations

import io
import pathlib
import warnings

import numpy as np

from fkeras import ops
from fkeras.backend import floatx, image_data_format

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def _pil():
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError('Image loading needs Pillow, which is not installed: pip install "fkeras[images]"') from e
    return Image


def _data_format(data_format):
    data_format = (data_format or image_data_format()).lower()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
                         f"Received: data_format={data_format}")
    return data_format


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A rank-3 array → PIL image (RGBA/RGB/L by channel count; "I" for one channel above 255).

    With `scale` the values are shifted and stretched to 0..255 first.
    """
    Image = _pil()
    data_format = _data_format(data_format)
    x = np.asarray(x, dtype=dtype or floatx())
    if x.ndim != 3:
        raise ValueError(f"Expected image array to have rank 3 (single image). Got array with shape: {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        top = np.max(x)
        if top != 0:
            x /= top
        x *= 255
    channels = x.shape[2]
    if channels == 4:
        return Image.fromarray(x.astype("uint8"), "RGBA")
    if channels == 3:
        return Image.fromarray(x.astype("uint8"), "RGB")
    if channels == 1:
        if np.max(x) > 255:
            return Image.fromarray(x[:, :, 0].astype("int32"), "I")
        return Image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"Unsupported channel number: {channels}")


def img_to_array(img, data_format=None, dtype=None):
    """A PIL image (or anything array-like) → a rank-3 float array (a 2-D image gets a channel axis)."""
    data_format = _data_format(data_format)
    x = np.asarray(img, dtype=dtype or floatx())
    if x.ndim == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    elif x.ndim == 2:
        x = x.reshape((1, *x.shape) if data_format == "channels_first" else (*x.shape, 1))
    else:
        raise ValueError(f"Unsupported image shape: {x.shape}")
    return x


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Write an image array to `path` (format from the suffix unless `file_format`; RGBA → RGB for JPEG)."""
    data_format = _data_format(data_format)
    if file_format is None and isinstance(path, (str, pathlib.Path)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.", stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False):
    """Load an image file (path or `io.BytesIO`) as a PIL image.

    Args:
        color_mode: "grayscale", "rgb" or "rgba".
        target_size: `(height, width)` to resize to, or None.
        interpolation: Pillow resampling: "nearest", "bilinear", "bicubic", "hamming", "box", "lanczos".
        keep_aspect_ratio: crop the centre to the target's aspect ratio before resizing.
    """
    Image = _pil()
    if color_mode not in ("grayscale", "rgb", "rgba"):
        raise ValueError(f'color_mode must be "grayscale", "rgb", or "rgba"; got {color_mode!r}')
    if isinstance(path, io.BytesIO):
        img = Image.open(path)
    elif isinstance(path, (pathlib.Path, bytes, str)):
        if isinstance(path, pathlib.Path):
            path = str(path.resolve())
        with open(path, "rb") as f:
            img = Image.open(io.BytesIO(f.read()))
    else:
        raise TypeError(f"path should be path-like or io.BytesIO, not {type(path)}")
    if color_mode == "grayscale":
        if img.mode not in ("L", "I;16", "I"):
            img = img.convert("L")
    elif img.mode != color_mode.upper():
        img = img.convert(color_mode.upper())
    if target_size is None:
        return img
    size = (target_size[1], target_size[0])
    if img.size == size:
        return img
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"Invalid interpolation method {interpolation} specified. Supported methods are "
                         f"{', '.join(_INTERPOLATIONS)}")
    resample = getattr(getattr(Image, "Resampling", Image), interpolation.upper())
    if not keep_aspect_ratio:
        return img.resize(size, resample)
    width, height = img.size
    crop_h = min(height, (width * size[1]) // size[0])
    crop_w = min(width, (height * size[0]) // size[1])
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return img.resize(size, resample, box=[left, top, left + crop_w, top + crop_h])


def _center_crop_box(height, width, size):
    """`(top, left, crop_h, crop_w)` of the largest centred window with `size`'s aspect ratio (Keras's rule)."""
    th, tw = size
    crop_h = max(min(height, int(float(width * th) / tw)), 1)
    crop_w = max(min(width, int(float(height * tw) / th)), 1)
    return int(float(height - crop_h) / 2), int(float(width - crop_w) / 2), crop_h, crop_w


def smart_resize(x, size, interpolation="bilinear", data_format="channels_last", **kwargs):
    """Resize `(h, w, c)` or `(n, h, w, c)` images to `size` without distorting them: the largest centred
    window with the target aspect ratio is cropped, then resized (`fkeras.ops.image.resize`, so NumPy, JAX,
    torch and TF tensors all work). NumPy in → NumPy out."""
    kwargs.pop("backend_module", None)
    if kwargs:
        raise TypeError(f"smart_resize() got unexpected keyword arguments: {list(kwargs.keys())}")
    if len(size) != 2:
        raise ValueError(f"Expected `size` to be a tuple of 2 integers, but got: {size}.")
    img = x if hasattr(x, "shape") and not isinstance(x, (list, tuple)) else np.asarray(x)
    rank = len(img.shape)
    if rank < 3 or rank > 4:
        raise ValueError("Expected an image array with shape `(height, width, channels)`, or `(batch_size, height, "
                         f"width, channels)`, but got input with incorrect rank, of shape {tuple(img.shape)}.")
    hw = (-3, -2) if data_format == "channels_last" else (-2, -1)
    height, width = int(img.shape[hw[0]]), int(img.shape[hw[1]])
    top, left, ch, cw = _center_crop_box(height, width, size)
    index = [slice(None)] * rank
    index[rank + hw[0]] = slice(top, top + ch)
    index[rank + hw[1]] = slice(left, left + cw)
    out = ops.image.resize(img[tuple(index)], size=size, interpolation=interpolation, data_format=data_format)
    return np.array(out) if isinstance(x, np.ndarray) else out
