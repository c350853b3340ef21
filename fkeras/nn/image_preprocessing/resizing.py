"""Resizing, CenterCrop and RandomCrop: images (N, H, W, C) -> (N, height, width, C) (channels_last)."""

from __future__ import annotations

from fkeras import ops
from fkeras.nn.image_preprocessing._base import ImageLayer, check_choice
from fkeras.nn.image_preprocessing.bounding_boxes import clip_to_image_size, convert_format

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
    train_only = False
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

    def get_random_transformation(self, images, rng, training=True):
        return self.hw(images)

    def transform_images(self, images, transformation=None, interpolation=None):
        if interpolation is None and ops.dtype(images) not in _INT_DTYPES:
            images = ops.cast(images, self.compute_dtype)
        resized = ops.image.resize(
            images, (self.height, self.width), interpolation=interpolation or self.interpolation,
            antialias=self.antialias, crop_to_aspect_ratio=self.crop_to_aspect_ratio,
            pad_to_aspect_ratio=self.pad_to_aspect_ratio, fill_mode=self.fill_mode, fill_value=self.fill_value,
            data_format=self.data_format)
        return _saturate_back(resized, ops.dtype(images))

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        """Masks resized with nearest interpolation, keeping their dtype."""
        return self.transform_images(segmentation_masks, transformation, interpolation="nearest")

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Boxes scaled (and shifted, for `crop_to_aspect_ratio`/`pad_to_aspect_ratio`) as the images are,
        clipped to (height, width); all-0 or all-(-1) padding boxes stay all 0."""
        h, w = transformation
        fmt = self.bounding_box_format
        padding = ops.logical_or(ops.all(bounding_boxes["boxes"] == -1, axis=-1),
                                 ops.all(bounding_boxes["boxes"] == 0, axis=-1))
        bounding_boxes = convert_format(bounding_boxes, fmt, "xyxy", height=h, width=w)
        boxes = bounding_boxes["boxes"]
        if self.pad_to_aspect_ratio:
            ratio = min(self.height / h, self.width / w)
            sx = sy = ratio
            dx, dy = (self.width - w * ratio) // 2, (self.height - h * ratio) // 2
        elif self.crop_to_aspect_ratio:
            source, target = w / h, self.width / self.height
            new_w, new_h = (self.height * source, self.height) if source > target else (self.width, self.width / source)
            sx, sy = new_w / w, new_h / h
            dx, dy = -((new_w - self.width) // 2), -((new_h - self.height) // 2)
        else:
            sx, sy, dx, dy = self.width / w, self.height / h, 0.0, 0.0
        boxes = ops.stack([boxes[..., 0] * sx + dx, boxes[..., 1] * sy + dy, boxes[..., 2] * sx + dx,
                           boxes[..., 3] * sy + dy], axis=-1)
        bounding_boxes = clip_to_image_size(dict(bounding_boxes, boxes=boxes), height=self.height, width=self.width)
        boxes = ops.where(padding[..., None], ops.zeros_like(bounding_boxes["boxes"]), bounding_boxes["boxes"])
        return convert_format(dict(bounding_boxes, boxes=boxes), "xyxy", fmt, height=self.height, width=self.width)

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

    def get_random_transformation(self, images, rng, training=True):
        return {"input_shape": tuple(images.shape)}

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        return self.transform_images(ops.cast(segmentation_masks, self.compute_dtype), transformation)

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Boxes cut to the centre window (or the aspect-ratio crop, scaled to the target), clipped to
        (height, width); labels of boxes cut away -1."""
        shape = transformation["input_shape"]
        h, w = shape[self.height_axis], shape[self.width_axis]
        fmt = self.bounding_box_format
        bounding_boxes = convert_format(bounding_boxes, fmt, "xyxy", height=h, width=w)
        if h >= self.height and w >= self.width:
            top, left, ch, cw = int((h - self.height) / 2), int((w - self.width) / 2), self.height, self.width
        else:
            top, left, ch, cw = smart_crop_box(h, w, self.height, self.width)
        x1, y1, x2, y2 = ops.split(bounding_boxes["boxes"], 4, axis=-1)
        boxes = ops.concatenate([ops.clip(x1, left, left + cw) - left, ops.clip(y1, top, top + ch) - top,
                                 ops.clip(x2, left, left + cw) - left, ops.clip(y2, top, top + ch) - top], axis=-1)
        bounding_boxes = dict(bounding_boxes, boxes=boxes)
        if not (h >= self.height and w >= self.width):
            bounding_boxes = convert_format(bounding_boxes, "xyxy", "rel_xyxy", height=ch, width=cw)
            bounding_boxes = convert_format(bounding_boxes, "rel_xyxy", "xyxy", height=self.height, width=self.width)
        bounding_boxes = clip_to_image_size(bounding_boxes, height=self.height, width=self.width)
        return convert_format(bounding_boxes, "xyxy", fmt, height=self.height, width=self.width)

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

    transformation: `{"offsets": (h_start, w_start) int32 scalars, "input_shape"}` (Keras's bare
    `(h_start, w_start)` is accepted by `transform_images`)."""

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
            return {"offsets": (h_start, w_start), "input_shape": tuple(images.shape)}
        top, left, _, _ = smart_crop_box(h, w, self.height, self.width)
        return {"offsets": (top, left), "input_shape": tuple(images.shape)}

    def transform_images(self, images, transformation):
        h, w = self.hw(images)
        top, left = transformation["offsets"] if isinstance(transformation, dict) else transformation
        if h > self.height and w > self.width:
            return _crop(self, images, top, left, self.height, self.width)
        # Keras slices `height` x `width` from the centred box's corner (clipped at the border), then resizes
        top, left, _, _ = smart_crop_box(h, w, self.height, self.width)
        out = _crop(self, images, top, left, min(self.height, h - top), min(self.width, w - left))
        if self.hw(out) != (self.height, self.width):
            out = ops.cast(ops.image.resize(out, (self.height, self.width), data_format=self.data_format),
                           self.compute_dtype)
        return out

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        return self.transform_images(ops.cast(segmentation_masks, self.compute_dtype), transformation)

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Boxes in the frame of the crop window: shifted by its corner, clipped to it (and scaled when a
        small image's window is resized to (height, width)); labels of boxes cut away -1. (Keras 3.15
        subtracts the row offset from x and the column offset from y and never clips above; the two agree
        when the offsets are equal and the boxes stay inside the window.)"""
        h, w = transformation["input_shape"][self.height_axis], transformation["input_shape"][self.width_axis]
        fmt = self.bounding_box_format
        top, left = transformation["offsets"]
        if h > self.height and w > self.width:
            ch, cw = self.height, self.width
        else:
            top, left, _, _ = smart_crop_box(h, w, self.height, self.width)
            ch, cw = min(self.height, h - top), min(self.width, w - left)
        bounding_boxes = convert_format(bounding_boxes, fmt, "xyxy", height=h, width=w)
        dtype = ops.dtype(bounding_boxes["boxes"])
        top, left = (v if isinstance(v, int) else ops.cast(v, dtype) for v in (top, left))
        x1, y1, x2, y2 = ops.split(bounding_boxes["boxes"], 4, axis=-1)
        boxes = ops.concatenate([ops.clip(x1 - left, 0, cw) * (self.width / cw),
                                 ops.clip(y1 - top, 0, ch) * (self.height / ch),
                                 ops.clip(x2 - left, 0, cw) * (self.width / cw),
                                 ops.clip(y2 - top, 0, ch) * (self.height / ch)], axis=-1)
        bounding_boxes = clip_to_image_size(dict(bounding_boxes, boxes=boxes), height=self.height, width=self.width)
        return convert_format(bounding_boxes, "xyxy", fmt, height=self.height, width=self.width)

    def get_config(self):
        return super().get_config() | {"height": self.height, "width": self.width, "seed": self.seed}
