"""Resizing, CenterCrop and RandomCrop: images (N, H, W, C) -> (N, height, width, C) (channels_last)."""

from __future__ import annotations

from fkeras import ops
from fkeras.nn.image_preprocessing._base import ImageLayer, check_choice

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5", "area")
_INT_DTYPES = ("uint8", "uint16", "uint32", "int8", "int16", "int32", "int64")


def _size(layer, height, width):
    for arg, v in (("height", height), ("width", width)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise layer.error(f"expected `{arg}` to be a positive int, got {v!r}.")
    return height, width


def _saturate_back(resized, dtype):
    """Resized values back to the input's integer dtype: rounded and clipped to its range (Keras)."""
    if ops.dtype(resized) == dtype:
        return resized
    if dtype in _INT_DTYPES:
        return ops.saturate_cast(ops.round(resized), dtype)
    return ops.cast(resized, dtype)


class Resizing(ImageLayer):
    """Resize images to (height, width) with `interpolation`; optionally crop or pad to keep the
    aspect ratio. Active in training and inference. Integer images keep their dtype (rounded)."""

    random = False
    cast_input = False

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, antialias=False,
                 data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.height, self.width = _size(self, height, width)
        self.interpolation = check_choice(self, interpolation, _INTERPOLATIONS, "interpolation")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise self.error("only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be True.")
        self.crop_to_aspect_ratio = crop_to_aspect_ratio
        self.pad_to_aspect_ratio = pad_to_aspect_ratio
        self.fill_mode = check_choice(self, fill_mode, ("constant",), "fill_mode")
        self.fill_value = fill_value
        self.antialias = bool(antialias)

    def call(self, variables, x, training=False, rng=None):
        if ops.dtype(x) not in _INT_DTYPES:
            x = ops.cast(x, self.compute_dtype)
        return self.transform_images(x, None)

    def transform_images(self, images, transformation=None):
        resized = ops.image.resize(
            images, (self.height, self.width), interpolation=self.interpolation, antialias=self.antialias,
            crop_to_aspect_ratio=self.crop_to_aspect_ratio, pad_to_aspect_ratio=self.pad_to_aspect_ratio,
            fill_mode=self.fill_mode, fill_value=self.fill_value, data_format=self.data_format)
        return _saturate_back(resized, ops.dtype(images))

    def get_config(self):
        return super().get_config() | {
            "height": self.height, "width": self.width, "interpolation": self.interpolation,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio, "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
            "fill_mode": self.fill_mode, "fill_value": self.fill_value, "antialias": self.antialias,
        }


def _crop(layer, images, top, left, height, width):
    """images[:, top:top+height, left:left+width] on the layer's spatial axes (top/left may be traced)."""
    start = [0, 0, 0, 0]
    shape = list(images.shape)
    start[layer.height_axis], start[layer.width_axis] = top, left
    shape[layer.height_axis], shape[layer.width_axis] = height, width
    if all(isinstance(s, int) for s in start):
        index = [slice(None)] * 4
        index[layer.height_axis] = slice(top, top + height)
        index[layer.width_axis] = slice(left, left + width)
        return images[tuple(index)]
    return ops.slice(images, [ops.cast(s, "int32") for s in start], shape)


def smart_crop_box(h, w, height, width):
    """Keras's `smart_resize` crop: the centred box of the target aspect ratio (top, left, h, w)."""
    crop_h = max(min(h, int(float(w * height) / width)), 1)
    crop_w = max(min(w, int(float(h * width) / height)), 1)
    return int(float(h - crop_h) / 2), int(float(w - crop_w) / 2), crop_h, crop_w


class CenterCrop(ImageLayer):
    """Crop the centre (height, width) of each image; an image smaller than the target is first
    cropped to the target's aspect ratio and resized (Keras's `smart_resize`). Always active."""

    random = False
    train_only = False

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.height, self.width = _size(self, height, width)

    def transform_images(self, images, transformation=None):
        h, w = self.hw(images)
        if h >= self.height and w >= self.width:
            return _crop(self, images, (h - self.height) // 2, (w - self.width) // 2, self.height, self.width)
        top, left, ch, cw = smart_crop_box(h, w, self.height, self.width)
        cropped = _crop(self, images, top, left, ch, cw)
        out = ops.image.resize(cropped, (self.height, self.width), data_format=self.data_format)
        return ops.cast(out, self.compute_dtype)

    def get_config(self):
        return super().get_config() | {"height": self.height, "width": self.width}


class RandomCrop(ImageLayer):
    """Crop a random (height, width) window when training (an image not larger than the target in both
    dims gets the centred aspect-ratio crop, resized). Identity at inference, as in Keras.

    transformation: `(h_start, w_start)` int32 scalars."""

    def __init__(self, height, width, seed=None, data_format=None, name=None, **kwargs):
        if seed is None:  # Keras stores a drawn default seed in the config
            import random as _py_random

            seed = _py_random.randint(1, int(1e9))
        super().__init__(data_format=data_format, seed=seed, name=name, **kwargs)
        self.height, self.width = _size(self, height, width)

    def get_random_transformation(self, images, rng, training=True):
        h, w = self.hw(images)
        if training and h > self.height and w > self.width:
            h_start = ops.cast(rng.uniform((), 0.0, float(h - self.height + 1)), "int32")
            w_start = ops.cast(rng.uniform((), 0.0, float(w - self.width + 1)), "int32")
            return h_start, w_start
        top, left, _, _ = smart_crop_box(h, w, self.height, self.width)
        return top, left

    def transform_images(self, images, transformation):
        h, w = self.hw(images)
        top, left = transformation
        if h > self.height and w > self.width:
            return _crop(self, images, top, left, self.height, self.width)
        # Keras slices `height` x `width` from the centred box's corner (clipped at the border), then resizes
        top, left, _, _ = smart_crop_box(h, w, self.height, self.width)
        out = _crop(self, images, top, left, min(self.height, h - top), min(self.width, w - left))
        if self.hw(out) != (self.height, self.width):
            out = ops.cast(ops.image.resize(out, (self.height, self.width), data_format=self.data_format),
                           self.compute_dtype)
        return out

    def get_config(self):
        return super().get_config() | {"height": self.height, "width": self.width, "seed": self.seed}
