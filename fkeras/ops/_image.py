"""Image ops written once over `fkeras.ops` (pad, slice, conv, elementwise math), so they run on
JAX arrays, torch tensors and TF tensors alike. Registered by `_jax_extra`, `_torch_extra` and
`_tf_extra`. Constants (kernels, weights) are NumPy arrays in the image's dtype: an op meeting
a tensor and a NumPy array runs on the tensor's framework.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pad_images", "crop_images", "extract_patches", "extract_patches_3d", "rgb_to_grayscale", "rgb_to_hsv",
           "hsv_to_rgb", "gaussian_blur", "sobel_edges", "ssim"]


def _ops():
    from fkeras import ops

    return ops


def _fmt(data_format):
    from fkeras.ops._args import _check_data_format

    return _check_data_format(data_format)


def _rank34(images, name="images"):
    rank = len(_ops().shape(images))
    if rank not in (3, 4):
        raise ValueError(f"Invalid {name} rank: expected rank 3 (single image) or rank 4 (batch of images). "
                         f"Received: {name}.shape={tuple(_ops().shape(images))}")
    return rank


def _is_float(dtype):
    return dtype.startswith(("float", "bfloat"))


def _float_dtype(dtype):
    return dtype if _is_float(dtype) else "float32"


def _two_of(a, b, target, names):
    if [a, b, target].count(None) != 1:
        raise ValueError(f"Must specify exactly two of {', '.join(names)}. "
                         f"Received: {names[0]}={a}, {names[1]}={b}, {names[2]}={target}")
    for v, n in zip((a, b, target), names):
        if v is not None and v < 0:
            raise ValueError(f"{n} must be >= 0. Received: {n}={v}")


def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None, right_padding=None,
               target_height=None, target_width=None, data_format=None):
    ops = _ops()
    data_format = _fmt(data_format)
    rank = _rank34(images)
    _two_of(top_padding, bottom_padding, target_height, ("top_padding", "bottom_padding", "target_height"))
    _two_of(left_padding, right_padding, target_width, ("left_padding", "right_padding", "target_width"))
    shape = ops.shape(images)
    h, w = (shape[-3], shape[-2]) if data_format == "channels_last" else (shape[-2], shape[-1])
    top = target_height - bottom_padding - h if top_padding is None else top_padding
    bottom = target_height - top - h if bottom_padding is None else bottom_padding
    left = target_width - right_padding - w if left_padding is None else left_padding
    right = target_width - left - w if right_padding is None else right_padding
    for v, n in ((top, "top_padding"), (bottom, "bottom_padding"), (left, "left_padding"), (right, "right_padding")):
        if v < 0:
            raise ValueError(f"{n} must be >= 0. Received: {n}={v}")
    pads = [(top, bottom), (left, right)]
    pads = pads + [(0, 0)] if data_format == "channels_last" else [(0, 0)] + pads
    if rank == 4:
        pads = [(0, 0)] + pads
    return ops.pad(images, pads)


def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None, right_cropping=None,
                target_height=None, target_width=None, data_format=None):
    ops = _ops()
    data_format = _fmt(data_format)
    rank = _rank34(images)
    _two_of(top_cropping, bottom_cropping, target_height, ("top_cropping", "bottom_cropping", "target_height"))
    _two_of(left_cropping, right_cropping, target_width, ("left_cropping", "right_cropping", "target_width"))
    shape = ops.shape(images)
    if data_format == "channels_last":
        h, w, c = shape[-3], shape[-2], shape[-1]
    else:
        c, h, w = shape[-3], shape[-2], shape[-1]
    top = h - target_height - bottom_cropping if top_cropping is None else top_cropping
    th = h - bottom_cropping - top if target_height is None else target_height
    left = w - target_width - right_cropping if left_cropping is None else left_cropping
    tw = w - right_cropping - left if target_width is None else target_width
    for v, n in ((top, "top_cropping"), (th, "target_height"), (left, "left_cropping"), (tw, "target_width")):
        if v < 0:
            raise ValueError(f"{n} must be >= 0. Received: {n}={v}")
    start, size = [top, left], [th, tw]
    if data_format == "channels_last":
        start, size = start + [0], size + [c]
    else:
        start, size = [0] + start, [c] + size
    if rank == 4:
        start, size = [0] + start, [shape[0]] + size
    return ops.slice(images, start, size)


def _patches(images, size, strides, dilation_rate, padding, data_format, n):
    ops = _ops()
    data_format = _fmt(data_format)
    size = (size,) * n if isinstance(size, int) else tuple(size)
    if len(size) != n:
        raise TypeError(f"Invalid `size` argument. Expected an int or a tuple of length {n}. Received: size={size}")
    strides = size if not strides else strides
    shape = ops.shape(images)
    unbatched = len(shape) == n + 1
    channels = shape[-1] if data_format == "channels_last" else shape[-n - 1]
    out_dim = int(np.prod(size)) * channels
    kernel = np.eye(out_dim, dtype=ops.dtype(images)).reshape(*size, channels, out_dim)
    if unbatched:
        images = ops.expand_dims(images, 0)
    out = ops.conv(images, kernel, strides=strides, padding=padding, data_format=data_format,
                   dilation_rate=dilation_rate)
    return ops.squeeze(out, 0) if unbatched else out


def extract_patches(images, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    if not isinstance(size, int) and len(size) == 3:
        return _patches(images, size, strides, dilation_rate, padding, data_format, 3)
    return _patches(images, size, strides, dilation_rate, padding, data_format, 2)


def extract_patches_3d(volumes, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    if strides is not None and not isinstance(strides, int) and len(strides) != 3:
        raise ValueError(f"Invalid `strides` argument. Got: {strides}")
    return _patches(volumes, size, strides, dilation_rate, padding, data_format, 3)


def _channel_axis(data_format):
    return -1 if _fmt(data_format) == "channels_last" else -3


def rgb_to_grayscale(images, data_format=None):
    ops = _ops()
    axis = _channel_axis(data_format)
    _rank34(images)
    channels = ops.shape(images)[axis]
    if channels not in (1, 3):
        raise ValueError(f"Invalid channel size: expected 3 (RGB) or 1 (Grayscale). "
                         f"Received input with shape: images.shape={tuple(ops.shape(images))}")
    if channels == 1:
        return images
    dtype = ops.dtype(images)
    x = ops.cast(images, _float_dtype(dtype))
    w = np.array([0.2989, 0.5870, 0.1140], _float_dtype(dtype)).reshape((3, 1, 1) if axis == -3 else (3,))
    gray = ops.sum(ops.multiply(x, w), axis=axis, keepdims=True)
    return ops.cast(gray, dtype)


def _check_float(images, name):
    dtype = _ops().dtype(images)
    if not _is_float(dtype):
        raise ValueError(f"Invalid images dtype: expected float dtype. Received: images.dtype={dtype}")
    return dtype


def _planes(images, axis):
    ops = _ops()
    return [ops.squeeze(p, axis) for p in ops.split(images, 3, axis=axis)]


def rgb_to_hsv(images, data_format=None):
    ops = _ops()
    axis = _channel_axis(data_format)
    _rank34(images)
    dtype = _check_float(images, "rgb_to_hsv")
    eps = float(np.finfo(np.dtype(dtype) if dtype != "bfloat16" else np.float32).eps)
    images = ops.where(ops.less(ops.abs(images), eps), ops.zeros_like(images), images)
    r, g, b = _planes(images, axis)
    value = ops.maximum(ops.maximum(r, g), b)
    low = ops.minimum(ops.minimum(r, g), b)
    rng = ops.subtract(value, low)
    one = ops.ones_like(value)
    zero = ops.zeros_like(value)
    safe_value = ops.where(ops.greater(value, 0.0), value, one)
    safe_range = ops.where(ops.greater(rng, 0.0), rng, one)
    saturation = ops.where(ops.greater(value, 0.0), ops.divide(rng, safe_value), zero)
    norm = ops.divide(1.0, ops.multiply(6.0, safe_range))
    hue = ops.where(ops.equal(value, g), ops.add(ops.multiply(norm, ops.subtract(b, r)), 2.0 / 6.0),
                    ops.add(ops.multiply(norm, ops.subtract(r, g)), 4.0 / 6.0))
    hue = ops.where(ops.equal(value, r), ops.multiply(norm, ops.subtract(g, b)), hue)
    hue = ops.add(ops.where(ops.greater(rng, 0.0), hue, zero), ops.cast(ops.less(hue, 0.0), dtype))
    return ops.stack([hue, saturation, value], axis=axis)


def hsv_to_rgb(images, data_format=None):
    ops = _ops()
    axis = _channel_axis(data_format)
    _rank34(images)
    _check_float(images, "hsv_to_rgb")
    h, s, v = _planes(images, axis)
    dh = ops.multiply(ops.subtract(h, ops.floor(h)), 6.0)  # (h mod 1) * 6

    def ramp(x):
        return ops.clip(x, 0.0, 1.0)

    dr = ramp(ops.subtract(ops.abs(ops.subtract(dh, 3.0)), 1.0))
    dg = ramp(ops.subtract(2.0, ops.abs(ops.subtract(dh, 2.0))))
    db = ramp(ops.subtract(2.0, ops.abs(ops.subtract(dh, 4.0))))
    one_minus_s = ops.subtract(1.0, s)
    rgb = [ops.multiply(v, ops.add(one_minus_s, ops.multiply(s, d))) for d in (dr, dg, db)]
    return ops.stack(rgb, axis=axis)


def _depthwise_same(images, kernel2d, data_format):
    """Per-channel 2-D conv with zero "same" padding; images batched, `kernel2d` a NumPy (kh, kw)."""
    ops = _ops()
    c = ops.shape(images)[-1 if data_format == "channels_last" else 1]
    k = np.tile(kernel2d[:, :, None, None], (1, 1, c, 1)).astype(kernel2d.dtype)
    return ops.depthwise_conv(images, k, 1, "same", data_format)


def _gauss1d(size, sigma, dtype):
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).astype(dtype)


def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    ops = _ops()
    data_format = _fmt(data_format)
    rank = _rank34(images)
    kernel_size = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    sigma = (sigma, sigma) if isinstance(sigma, (int, float)) else tuple(float(s) for s in sigma)
    dtype = ops.dtype(images)
    kx = _gauss1d(kernel_size[0], sigma[0], dtype)
    ky = _gauss1d(kernel_size[1], sigma[1], dtype)
    kernel = np.outer(ky, kx).astype(dtype)  # rows follow kernel_size[1], as Keras's (outer(y, x))
    x = ops.expand_dims(images, 0) if rank == 3 else images
    out = _depthwise_same(x, kernel, data_format)
    return ops.squeeze(out, 0) if rank == 3 else out


def sobel_edges(images, data_format=None):
    ops = _ops()
    data_format = _fmt(data_format)
    dtype = ops.dtype(images)
    sx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype)
    sy = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype)
    # Keras's convention: a correlation (no kernel flip), "same" zero padding; (..., C, 2) = [dy, dx]
    ey = _depthwise_same(images, sy, data_format)
    ex = _depthwise_same(images, sx, data_format)
    return ops.stack([ey, ex], axis=-1)


def ssim(image1, image2, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03, data_format=None):
    ops = _ops()
    data_format = _fmt(data_format)
    _rank34(image1, "image1")
    _rank34(image2, "image2")
    dtype = ops.dtype(image1)
    compute = _float_dtype(dtype)
    x1, x2 = ops.cast(image1, compute), ops.cast(image2, compute)
    unbatched = len(ops.shape(x1)) == 3
    if unbatched:
        x1, x2 = ops.expand_dims(x1, 0), ops.expand_dims(x2, 0)
    if data_format == "channels_last":
        x1, x2 = ops.transpose(x1, (0, 3, 1, 2)), ops.transpose(x2, (0, 3, 1, 2))
    b, c, h, w = ops.shape(x1)
    x1, x2 = ops.reshape(x1, (-1, h, w, 1)), ops.reshape(x2, (-1, h, w, 1))
    g = _gauss1d(filter_size, filter_sigma, compute)
    kernel = np.outer(g, g).astype(compute).reshape(filter_size, filter_size, 1, 1)

    def blur(v):
        return ops.conv(v, kernel, 1, "valid", "channels_last")

    mu1, mu2 = blur(x1), blur(x2)
    mu1_sq, mu2_sq, mu12 = ops.square(mu1), ops.square(mu2), ops.multiply(mu1, mu2)
    s1 = ops.subtract(blur(ops.square(x1)), mu1_sq)
    s2 = ops.subtract(blur(ops.square(x2)), mu2_sq)
    s12 = ops.subtract(blur(ops.multiply(x1, x2)), mu12)
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    num = ops.multiply(ops.add(ops.multiply(2.0, mu12), c1), ops.add(ops.multiply(2.0, s12), c2))
    den = ops.multiply(ops.add(ops.add(mu1_sq, mu2_sq), c1), ops.add(ops.add(s1, s2), c2))
    per = ops.mean(ops.divide(num, den), axis=(1, 2, 3))
    out = ops.mean(ops.reshape(per, (b, c)), axis=-1)
    if unbatched:
        out = ops.squeeze(out, 0)
    return ops.cast(out, dtype)
