"""Image ops written once over `fkeras.ops` (pad, slice, conv, elementwise math), so they run on
JAX arrays, torch tensors and TF tensors alike. Registered by `_jax_extra`, `_torch_extra` and
`_tf_extra`. Constants (kernels, weights) are NumPy arrays in the image's dtype: an op meeting
a tensor and a NumPy array runs on the tensor's framework.
"""

from __future__ import annotations

import itertools

import jax
import numpy as np

from fkeras import ops  # loaded with a framework's kernels (`_dispatch.backend`), after `fkeras.ops` is complete
from fkeras.ops import random_impl as frandom
from fkeras.ops._args import _check_data_format, _check_resize
from fkeras.ops._jax_extra import (
    _ORDER, _SCALE_METHODS, _area_resize, _aspect_box, _check_interp, _check_map_coordinates, _hw_axes,
)

__all__ = ["pad_images", "crop_images", "extract_patches", "extract_patches_3d", "rgb_to_grayscale", "rgb_to_hsv",
           "hsv_to_rgb", "gaussian_blur", "sobel_edges", "ssim"]


def _fmt(data_format):
    return _check_data_format(data_format)


def _rank34(images, name="images"):
    rank = len(ops.shape(images))
    if rank not in (3, 4):
        raise ValueError(f"Invalid {name} rank: expected rank 3 (single image) or rank 4 (batch of images). "
                         f"Received: {name}.shape={tuple(ops.shape(images))}")
    return rank


def _is_float(dtype):
    return dtype.startswith(("float", "bfloat"))


def _float_dtype(dtype):
    return dtype if _is_float(dtype) else "float32"


def _nonnegative(names, values):
    for n, v in zip(names, values):
        if v is not None and v < 0:
            raise ValueError(f"{n} must be >= 0. Received: {n}={v}")


def _two_of(a, b, target, names):
    if [a, b, target].count(None) != 1:
        raise ValueError(f"Must specify exactly two of {', '.join(names)}. "
                         f"Received: {names[0]}={a}, {names[1]}={b}, {names[2]}={target}")
    _nonnegative(names, (a, b, target))


def _frame_args(images, data_format, kind, top, left, bottom, right, target_height, target_width):
    """pad_images' and crop_images' common start (`kind`: "padding" or "cropping"): exactly two of each of (top,
    bottom, target_height) and (left, right, target_width), none negative. Returns (data_format, rank, shape)."""
    data_format = _fmt(data_format)
    rank = _rank34(images)
    _two_of(top, bottom, target_height, (f"top_{kind}", f"bottom_{kind}", "target_height"))
    _two_of(left, right, target_width, (f"left_{kind}", f"right_{kind}", "target_width"))
    return data_format, rank, ops.shape(images)


def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None, right_padding=None,
               target_height=None, target_width=None, data_format=None):
    data_format, rank, shape = _frame_args(images, data_format, "padding", top_padding, left_padding, bottom_padding,
                                           right_padding, target_height, target_width)
    h, w = (shape[-3], shape[-2]) if data_format == "channels_last" else (shape[-2], shape[-1])
    top = target_height - bottom_padding - h if top_padding is None else top_padding
    bottom = target_height - top - h if bottom_padding is None else bottom_padding
    left = target_width - right_padding - w if left_padding is None else left_padding
    right = target_width - left - w if right_padding is None else right_padding
    _nonnegative(("top_padding", "bottom_padding", "left_padding", "right_padding"), (top, bottom, left, right))
    pads = [(top, bottom), (left, right)]
    pads = pads + [(0, 0)] if data_format == "channels_last" else [(0, 0)] + pads
    if rank == 4:
        pads = [(0, 0)] + pads
    return ops.pad(images, pads)


def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None, right_cropping=None,
                target_height=None, target_width=None, data_format=None):
    data_format, rank, shape = _frame_args(images, data_format, "cropping", top_cropping, left_cropping,
                                           bottom_cropping, right_cropping, target_height, target_width)
    if data_format == "channels_last":
        h, w, c = shape[-3], shape[-2], shape[-1]
    else:
        c, h, w = shape[-3], shape[-2], shape[-1]
    top = h - target_height - bottom_cropping if top_cropping is None else top_cropping
    th = h - bottom_cropping - top if target_height is None else target_height
    left = w - target_width - right_cropping if left_cropping is None else left_cropping
    tw = w - right_cropping - left if target_width is None else target_width
    _nonnegative(("top_cropping", "target_height", "left_cropping", "target_width"), (top, th, left, tw))
    start, size = [top, left], [th, tw]
    if data_format == "channels_last":
        start, size = start + [0], size + [c]
    else:
        start, size = [0] + start, [c] + size
    if rank == 4:
        start, size = [0] + start, [shape[0]] + size
    return ops.slice(images, start, size)


def _patches(images, size, strides, dilation_rate, padding, data_format, n):
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
    dtype = ops.dtype(images)
    if not _is_float(dtype):
        raise ValueError(f"Invalid images dtype: expected float dtype. Received: images.dtype={dtype}")
    return dtype


def _planes(images, axis):
    return [ops.squeeze(p, axis) for p in ops.split(images, 3, axis=axis)]


def rgb_to_hsv(images, data_format=None):
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
    c = ops.shape(images)[-1 if data_format == "channels_last" else 1]
    k = np.tile(kernel2d[:, :, None, None], (1, 1, c, 1)).astype(kernel2d.dtype)
    return ops.depthwise_conv(images, k, 1, "same", data_format)


def _gauss1d(size, sigma, dtype):
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).astype(dtype)


def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
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
    data_format = _fmt(data_format)
    dtype = ops.dtype(images)
    sx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype)
    sy = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype)
    # Keras's convention: a correlation (no kernel flip), "same" zero padding; (..., C, 2) = [dy, dx]
    ey = _depthwise_same(images, sy, data_format)
    ex = _depthwise_same(images, sx, data_format)
    return ops.stack([ey, ex], axis=-1)


def ssim(image1, image2, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03, data_format=None):
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


# --- resampling as matrices (torch / TF): the exact operators JAX's kernels apply -------------------------
_MATRIX_CACHE: dict = {}


def resize_matrix(n_in, n_out, method, antialias):
    """(n_in, n_out) NumPy matrix W with resize(x) = x @ W along one axis, read off jax.image.resize of the
    identity (resizing is linear and separable), so every framework resamples exactly as JAX / Keras-on-JAX."""
    key = (n_in, n_out, method, antialias)
    if key not in _MATRIX_CACHE:
        if method == "area":
            eye = np.eye(n_in, dtype=np.float32)[:, :, None]  # (n_in, n_in, 1): resize axis 1 only
            w = np.asarray(_area_resize(eye, 0, 1, n_in, n_out))[:, :, 0]
        else:
            w = np.asarray(jax.image.resize(np.eye(n_in, dtype=np.float32), (n_in, n_out), method=method,
                                            antialias=antialias))
        _MATRIX_CACHE[key] = w
    return _MATRIX_CACHE[key]


def _apply_axis(x, w, axis, ndim):
    """x with `axis` replaced by its product with the NumPy matrix w (n_in, n_out)."""
    perm = [i for i in range(ndim) if i != axis] + [axis]
    inv = list(np.argsort(perm))
    y = ops.matmul(ops.transpose(x, perm), w.astype(ops.dtype(x)))
    return ops.transpose(y, inv)


def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
    data_format = _fmt(data_format)
    _check_resize(size, interpolation, fill_mode, crop_to_aspect_ratio, pad_to_aspect_ratio)
    ndim = _rank34(images)
    th, tw = (int(s) for s in size)
    ah, aw = _hw_axes(ndim, data_format)
    shape = list(ops.shape(images))
    h, w = shape[ah], shape[aw]
    x = images
    if crop_to_aspect_ratio:
        ch, cw, sh, sw = _aspect_box(h, w, th, tw, True)
        start, sz = [0] * ndim, list(shape)
        start[ah], start[aw], sz[ah], sz[aw] = sh, sw, ch, cw
        x = ops.slice(x, start, sz)
    elif pad_to_aspect_ratio:
        ph, pw, sh, sw = _aspect_box(h, w, th, tw, False)
        pads = [(0, 0)] * ndim
        if sh > 0:
            pads[ah] = (sh, sh)
        elif sw > 0:
            pads[aw] = (sw, sw)
        x = ops.pad(x, pads, constant_values=fill_value)
    dtype = ops.dtype(images)
    y = ops.cast(x, _float_dtype(dtype))
    shape = ops.shape(y)
    for axis, n_out in ((ah, th), (aw, tw)):
        y = _apply_axis(y, resize_matrix(shape[axis], n_out, interpolation, antialias), axis, ndim)
    if dtype != ops.dtype(y):
        if not _is_float(dtype):
            y = ops.round(y)
        y = ops.saturate_cast(y, dtype)
    return y


# --- point sampling (torch / TF): jax.scipy.ndimage.map_coordinates's rule, written over fkeras.ops ------------


def _fix_index(i, size, mode):
    """Out-of-range integer indices mapped back into [0, size) per fill mode (JAX's index fixers)."""
    if mode == "nearest" or mode == "constant":
        return ops.clip(i, 0, size - 1)  # constant: masked afterwards; clipped so the gather stays in range
    if mode == "wrap":
        return i % size
    if mode == "mirror":
        s = max(size - 1, 1)
        return ops.abs((i + s) % (2 * s) - s) if size > 1 else ops.zeros_like(i)
    # reflect
    s = 2 * size  # period of the reflected signal
    j = i % s
    return ops.where(ops.less(j, size), j, s - 1 - j)


def _nodes(coord, order):
    """[(int32 index, weight)] per axis: nearest rounds half away from zero, linear uses floor and floor + 1."""
    if order == 0:
        idx = ops.multiply(ops.sign(coord), ops.floor(ops.add(ops.abs(coord), 0.5)))
        return [(ops.cast(idx, "int32"), None)]
    low = ops.floor(coord)
    w_hi = ops.subtract(coord, low)
    low = ops.cast(low, "int32")
    return [(low, ops.subtract(1.0, w_hi)), (low + 1, w_hi)]


def _gather_interp(flat, index_axes, sizes, strides, base, order, mode, fill_value, dtype):
    """sum over corners of weight * flat[base + sum(index * stride)] (cval outside, in constant mode)."""
    per_axis = []
    for coord, size in zip(index_axes, sizes):
        nodes = []
        for idx, w in _nodes(coord, order):
            valid = ops.logical_and(ops.greater_equal(idx, 0), ops.less(idx, size)) if mode == "constant" else None
            nodes.append((_fix_index(idx, size, mode), valid, w))
        per_axis.append(nodes)
    out = None
    for combo in itertools.product(*per_axis):
        lin = base
        weight, valid = None, None
        for (idx, v, w), stride in zip(combo, strides):
            lin = ops.add(lin, ops.multiply(idx, stride))
            if w is not None:
                weight = w if weight is None else ops.multiply(weight, w)
            if v is not None:
                valid = v if valid is None else ops.logical_and(valid, v)
        val = ops.take(flat, lin)
        if valid is not None:
            val = ops.where(valid, val, ops.cast(ops.add(ops.zeros_like(val), fill_value), dtype))
        term = val if weight is None else ops.multiply(ops.cast(weight, ops.dtype(val)), val)
        out = term if out is None else ops.add(out, term)
    if not _is_float(dtype):
        out = ops.multiply(ops.sign(out), ops.floor(ops.add(ops.abs(out), 0.5)))
    return ops.cast(out, dtype)


def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0):
    shape = ops.shape(inputs)
    _check_map_coordinates(shape, ops.shape(coordinates), order, fill_mode)
    dtype = ops.dtype(inputs)
    coords = ops.cast(coordinates, _float_dtype(dtype) if _is_float(dtype) else "float32")
    strides = [int(np.prod(shape[d + 1:])) for d in range(len(shape))]
    axes = [coords[d] for d in range(len(shape))]
    return _gather_interp(ops.reshape(inputs, (-1,)), axes, shape, strides, 0, order, fill_mode, fill_value, dtype)


def _sample_nhwc(x, ys, xs, order, mode, fill_value):
    """x (N, H, W, C); ys, xs (N, H', W') float input coordinates -> (N, H', W', C)."""
    n, h, w, c = ops.shape(x)
    dtype = ops.dtype(x)
    ys, xs = ops.expand_dims(ys, -1), ops.expand_dims(xs, -1)  # (N, H', W', 1)
    base = (np.arange(n, dtype=np.int32) * (h * w * c)).reshape(n, 1, 1, 1) + np.arange(c, dtype=np.int32)
    return _gather_interp(ops.reshape(x, (-1,)), [ys, xs], [h, w], [w * c, c], base, order, mode, fill_value, dtype)


def _to_nhwc(images, data_format):
    rank = _rank34(images)
    x = ops.expand_dims(images, 0) if rank == 3 else images
    if data_format == "channels_first":
        x = ops.transpose(x, (0, 2, 3, 1))
    return x, rank == 3


def _from_nhwc(x, data_format, squeeze):
    if data_format == "channels_first":
        x = ops.transpose(x, (0, 3, 1, 2))
    return ops.squeeze(x, 0) if squeeze else x


def _grid(h, w, dtype):
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return yy.astype(dtype), xx.astype(dtype)


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0,
                     data_format=None):
    data_format = _fmt(data_format)
    _check_interp(interpolation, fill_mode)
    tshape = ops.shape(transform)
    if len(tshape) not in (1, 2):
        raise ValueError(f"Invalid transform rank: expected rank 1 (single transform) or rank 2 (batch of "
                         f"transforms). Received input with shape: transform.shape={tshape}")
    x, squeeze = _to_nhwc(images, data_format)
    n, h, w, _ = ops.shape(x)
    t = ops.cast(transform, "float32")
    if len(tshape) == 1:
        t = ops.expand_dims(t, 0)
    t = ops.broadcast_to(t, (n, 8))
    yy, xx = _grid(h, w, "float32")
    a = [ops.reshape(t[:, i], (n, 1, 1)) for i in range(6)]
    x_in = ops.add(ops.add(ops.multiply(a[0], xx), ops.multiply(a[1], yy)), a[2])
    y_in = ops.add(ops.add(ops.multiply(a[3], xx), ops.multiply(a[4], yy)), a[5])
    return _from_nhwc(_sample_nhwc(x, y_in, x_in, _ORDER[interpolation], fill_mode, fill_value), data_format, squeeze)


def _homography(sp, ep):
    """Solve for the 8 coefficients mapping output (end) to input (start) points: (N, 8)."""
    sx, sy, ex, ey = sp[..., 0], sp[..., 1], ep[..., 0], ep[..., 1]
    z, o = ops.zeros_like(ex), ops.ones_like(ex)
    rows_x = ops.stack([ex, ey, o, z, z, z, ops.negative(ops.multiply(sx, ex)), ops.negative(ops.multiply(sx, ey))], -1)
    rows_y = ops.stack([z, z, z, ex, ey, o, ops.negative(ops.multiply(sy, ex)), ops.negative(ops.multiply(sy, ey))], -1)
    a = ops.concatenate([rows_x, rows_y], axis=1)
    b = ops.expand_dims(ops.concatenate([sx, sy], axis=-1), -1)
    return ops.squeeze(ops.solve(a, b), -1)


def perspective_transform(images, start_points, end_points, interpolation="bilinear", fill_value=0,
                          data_format=None):
    data_format = _fmt(data_format)
    _check_interp(interpolation)
    sp, ep = ops.cast(start_points, "float32"), ops.cast(end_points, "float32")
    for name, p in (("start_points", sp), ("end_points", ep)):
        s = tuple(ops.shape(p))
        if s[-2:] != (4, 2) or len(s) not in (2, 3):
            raise ValueError(f"Invalid {name} shape: expected (4,2) for a single image or (N,4,2) for a batch. "
                             f"Received shape: {s}")
    if tuple(ops.shape(sp)) != tuple(ops.shape(ep)):
        raise ValueError("start_points and end_points must have the same shape. Received start_points.shape="
                         f"{tuple(ops.shape(sp))}, end_points.shape={tuple(ops.shape(ep))}")
    x, squeeze = _to_nhwc(images, data_format)
    n, h, w, _ = ops.shape(x)
    if len(ops.shape(sp)) == 2:
        sp, ep = ops.expand_dims(sp, 0), ops.expand_dims(ep, 0)
    m = ops.broadcast_to(_homography(sp, ep), (n, 8))
    yy, xx = _grid(h, w, "float32")
    c = [ops.reshape(m[:, i], (n, 1, 1)) for i in range(8)]

    def lin(i):
        return ops.add(ops.add(ops.multiply(c[i], xx), ops.multiply(c[i + 1], yy)), c[i + 2])

    den = ops.add(ops.add(ops.multiply(c[6], xx), ops.multiply(c[7], yy)), 1.0)
    x_in, y_in = ops.divide(lin(0), den), ops.divide(lin(3), den)
    return _from_nhwc(_sample_nhwc(x, y_in, x_in, _ORDER[interpolation], "constant", fill_value), data_format,
                      squeeze)


def elastic_transform(images, alpha=20.0, sigma=5.0, interpolation="bilinear", fill_mode="reflect", fill_value=0.0,
                      seed=None, data_format=None):
    """torch / TF: the displacement field is drawn and smoothed by the JAX kernel from the same seed (so the
    warp equals JAX's), then sampled on the image's framework."""

    data_format = _fmt(data_format)
    _check_interp(interpolation, fill_mode)
    x, squeeze = _to_nhwc(images, data_format)
    n, h, w, _ = ops.shape(x)
    dtype = ops.dtype(x)
    key = frandom.draw_key(seed)
    size = int(6 * sigma) | 1
    d = jax.random.normal(key, (n, h, w), dtype=_float_dtype(dtype)) * sigma
    d = gaussian_blur(d[..., None], (size, size), (sigma, sigma), "channels_last")[..., 0]
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    disp = np.asarray(alpha * d)
    ys, xs = (yy + disp).astype(_float_dtype(dtype)), (xx + disp).astype(_float_dtype(dtype))
    out = _sample_nhwc(x, ys, xs, _ORDER[interpolation], fill_mode, fill_value)
    return _from_nhwc(out, data_format, squeeze)


def scale_and_translate(images, output_shape, scale, translation, spatial_dims, method, antialias=True):
    """torch / TF: per spatial dim, the exact matrix jax.image.scale_and_translate applies (read off the
    identity; `scale` and `translation` must be concrete values)."""
    if method not in _SCALE_METHODS:
        raise ValueError(f"Invalid value for argument `method`. Expected of one {set(_SCALE_METHODS)}. "
                         f"Received: method={method}")
    scale = np.asarray(ops.convert_to_numpy(scale), np.float32).reshape(-1)
    translation = np.asarray(ops.convert_to_numpy(translation), np.float32).reshape(-1)
    shape = ops.shape(images)
    dtype = ops.dtype(images)
    y = ops.cast(images, _float_dtype(dtype))
    for i, d in enumerate(spatial_dims):
        n_in, n_out = shape[d], output_shape[d]
        w = np.asarray(jax.image.scale_and_translate(
            np.eye(n_in, dtype=np.float32), (n_in, n_out), (1,), scale[i:i + 1], translation[i:i + 1], method,
            antialias))
        y = _apply_axis(y, w, d, len(shape))
    return ops.cast(y, dtype) if _is_float(dtype) else y
