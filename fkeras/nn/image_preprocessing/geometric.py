"""Random geometric augmentation: flips, rotations, zooms, translations, shears, perspective and elastic
warps of images (N, H, W, C) (channels_last) or (N, C, H, W); output shape = input shape."""

from __future__ import annotations

import numpy as np

from fkeras import ops
from fkeras.nn.image_preprocessing._base import (
    ImageLayer, affine_matrix, check_choice, const, factor_pair, gaussian_blur, symmetric_pair,
)
from fkeras.nn.image_preprocessing.bounding_boxes import affine_transform, clip_to_image_size, convert_format
from fkeras.ops._image import _homography

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("nearest", "bilinear")
_FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


class _AffineLayer(ImageLayer):
    """Shared `fill_mode`/`interpolation`/`fill_value` of the layers warping with `affine_transform`."""

    def _set_warp(self, fill_mode, interpolation, fill_value, fill_modes=_FILL_MODES):
        self.fill_mode = check_choice(self, fill_mode, fill_modes, "fill_mode")
        self.interpolation = check_choice(self, interpolation, _INTERPOLATIONS, "interpolation")
        self.fill_value = fill_value

    def _warp(self, images, matrix, interpolation=None):
        return ops.image.affine_transform(images, ops.cast(matrix, "float32"),
                                          interpolation=interpolation or self.interpolation,
                                          fill_mode=self.fill_mode, fill_value=self.fill_value,
                                          data_format=self.data_format)

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        """Masks warped as the images, with nearest interpolation (Keras's rule)."""
        return self.transform_images(segmentation_masks, transformation, interpolation="nearest")

    def _box_hw(self, transformation):
        shape = transformation["input_shape"]
        return shape[self.height_axis], shape[self.width_axis]


class RandomFlip(ImageLayer):
    """Flip each image horizontally and/or vertically with probability 1/2 when training.

    transformation: `{"flips": (N, 1, 1, 1) bool, "input_shape"}`."""

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.mode = check_choice(self, mode, _FLIP_MODES, "mode")

    def get_random_transformation(self, images, rng, training=True):
        return {"flips": rng.uniform((images.shape[0], 1, 1, 1)) <= 0.5, "input_shape": tuple(images.shape)}

    def transform_images(self, images, transformation):
        flips = transformation["flips"]
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            images = ops.where(flips, ops.flip(images, axis=self.width_axis), images)
        if self.mode in ("vertical", "horizontal_and_vertical"):
            images = ops.where(flips, ops.flip(images, axis=self.height_axis), images)
        return images

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        return self.transform_images(ops.cast(segmentation_masks, self.compute_dtype), transformation)

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Boxes mirrored with their images (in relative xyxy), clipped; labels of empty boxes -1."""
        shape = transformation["input_shape"]
        h, w = shape[self.height_axis], shape[self.width_axis]
        fmt = self.bounding_box_format
        bounding_boxes = convert_format(bounding_boxes, fmt, "rel_xyxy", height=h, width=w)
        flips = ops.squeeze(transformation["flips"], axis=-1)
        boxes = bounding_boxes["boxes"]
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            x1, y1, x2, y2 = ops.split(boxes, 4, axis=-1)
            boxes = ops.where(flips, ops.concatenate([1 - x2, y1, 1 - x1, y2], axis=-1), boxes)
        if self.mode in ("vertical", "horizontal_and_vertical"):
            x1, y1, x2, y2 = ops.split(boxes, 4, axis=-1)
            boxes = ops.where(flips, ops.concatenate([x1, 1 - y2, x2, 1 - y1], axis=-1), boxes)
        bounding_boxes = clip_to_image_size(dict(bounding_boxes, boxes=boxes), height=h, width=w)
        return convert_format(bounding_boxes, "rel_xyxy", fmt, height=h, width=w)

    def get_config(self):
        return super().get_config() | {"seed": self.seed, "mode": self.mode}


class RandomRotation(_AffineLayer):
    """Rotate each image by a random angle in `factor` * 360 degrees (counter-clockwise for positive)
    about its centre when training.

    transformation: `{"angle": (N,) degrees, "rotation_matrix": (N, 8), "image_height", "image_width",
    "batch_size"}`."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.factor = factor_pair(self, factor, (-1, 1))
        self._set_warp(fill_mode, interpolation, fill_value)

    def get_random_transformation(self, images, rng, training=True):
        n = images.shape[0]
        h, w = self.hw(images)
        angle = rng.uniform((n,), self.factor[0] * 360.0, self.factor[1] * 360.0)
        zeros, ones = ops.zeros((n,)), ops.ones((n,))
        matrix = affine_matrix(angle, zeros, zeros, ones, zeros, zeros, h, w)
        return {"angle": angle, "rotation_matrix": matrix, "image_height": h, "image_width": w, "batch_size": n}

    def transform_images(self, images, transformation, interpolation=None):
        return self._warp(images, transformation["rotation_matrix"], interpolation)

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Each box becomes the enclosing box of its rotated corners, clipped to the image; labels of empty
        boxes -1. (Keras 3.15 reads the input boxes as xyxy whatever the format; fkeras converts them first,
        so the two agree for "xyxy".)"""
        h, w, n = transformation["image_height"], transformation["image_width"], transformation["batch_size"]
        fmt = self.bounding_box_format
        bounding_boxes = convert_format(bounding_boxes, fmt, "xyxy", height=h, width=w)
        zeros = ops.zeros_like(ops.cast(transformation["angle"], "float32"))
        ones = zeros + 1.0
        boxes = affine_transform(bounding_boxes["boxes"], transformation["angle"], zeros, zeros, ones, zeros, zeros,
                                 h, w)
        bounding_boxes = clip_to_image_size(dict(bounding_boxes, boxes=boxes), height=h, width=w)
        return convert_format(bounding_boxes, "xyxy", fmt, height=h, width=w)

    def get_config(self):
        return super().get_config() | {"factor": self.factor, "fill_mode": self.fill_mode,
                                       "fill_value": self.fill_value, "interpolation": self.interpolation,
                                       "seed": self.seed}


class RandomZoom(_AffineLayer):
    """Zoom each image by a random factor when training: `height_factor` in (-1, 1] (negative zooms in,
    output = 1 + factor of the input's height), `width_factor` likewise (None: keep the aspect ratio).

    transformation: `{"height_zoom": (N, 1), "width_zoom": (N, 1), "input_shape"}`."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.height_factor = height_factor
        self.height_lower, self.height_upper = symmetric_pair(self, height_factor, "height_factor", lo_open=True)
        self.width_factor = width_factor
        if width_factor is not None:
            self.width_lower, self.width_upper = symmetric_pair(self, width_factor, "width_factor", lo_open=True)
        self._set_warp(fill_mode, interpolation, fill_value)

    def get_random_transformation(self, images, rng, training=True):
        shape = (images.shape[0], 1)
        height_zoom = rng.uniform(shape, 1.0 + self.height_lower, 1.0 + self.height_upper)
        if self.width_factor is None:
            width_zoom = height_zoom
        else:
            width_zoom = rng.uniform(shape, 1.0 + self.width_lower, 1.0 + self.width_upper)
        return {"height_zoom": height_zoom, "width_zoom": width_zoom, "input_shape": tuple(images.shape)}

    @staticmethod
    def _matrix(transformation, h, w):
        zx = ops.cast(transformation["width_zoom"], "float32")[:, 0]
        zy = ops.cast(transformation["height_zoom"], "float32")[:, 0]
        zeros = ops.zeros_like(zx)
        return ops.stack([zx, zeros, (w - 1.0) / 2.0 * (1.0 - zx), zeros, zy, (h - 1.0) / 2.0 * (1.0 - zy),
                          zeros, zeros], axis=1)

    def transform_images(self, images, transformation, interpolation=None):
        h, w = self.hw(images)
        return self._warp(images, self._matrix(transformation, h, w), interpolation)

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Boxes cut to the input window the zoom shows, then scaled to the output; labels of empty boxes -1."""
        h, w = self._box_hw(transformation)
        fmt = self.bounding_box_format
        bounding_boxes = convert_format(bounding_boxes, fmt, "xyxy", height=h, width=w)
        m = self._matrix(transformation, h, w)
        a0, a2, b1, b2 = m[:, 0:1], m[:, 2:3], m[:, 4:5], m[:, 5:6]  # the window [a2, a0 w + a2] x [b2, b1 h + b2]
        w_start, h_start, w_end, h_end = (v[:, :, None] for v in (a2, b2, a0 * w + a2, b1 * h + b2))
        x1, y1, x2, y2 = ops.split(bounding_boxes["boxes"], 4, axis=-1)
        boxes = ops.concatenate([ops.clip(x1, w_start, w_end) - w_start, ops.clip(y1, h_start, h_end) - h_start,
                                 ops.clip(x2, w_start, w_end) - w_start, ops.clip(y2, h_start, h_end) - h_start],
                                axis=-1)
        win_h, win_w = h_end - h_start, w_end - w_start
        bounding_boxes = convert_format(dict(bounding_boxes, boxes=boxes), "xyxy", "rel_xyxy", height=win_h,
                                        width=win_w)
        bounding_boxes = clip_to_image_size(bounding_boxes, height=win_h, width=win_w, bounding_box_format="rel_xyxy")
        return convert_format(bounding_boxes, "rel_xyxy", fmt, height=h, width=w)

    def get_config(self):
        return super().get_config() | {
            "height_factor": self.height_factor, "width_factor": self.width_factor, "fill_mode": self.fill_mode,
            "interpolation": self.interpolation, "seed": self.seed, "fill_value": self.fill_value}


class RandomTranslation(_AffineLayer):
    """Shift each image by a random fraction of its height (`height_factor`) and width (`width_factor`),
    each a number or a (lower, upper) pair in [-1, 1], when training.

    transformation: `{"translations": (N, 2) pixels (dx, dy), "input_shape"}`."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_lower, self.height_upper = symmetric_pair(self, height_factor, "height_factor")
        self.width_lower, self.width_upper = symmetric_pair(self, width_factor, "width_factor")
        self._set_warp(fill_mode, interpolation, fill_value)

    def get_random_transformation(self, images, rng, training=True):
        n = images.shape[0]
        h, w = self.hw(images)
        dy = rng.uniform((n, 1), self.height_lower, self.height_upper) * h
        dx = rng.uniform((n, 1), self.width_lower, self.width_upper) * w
        return {"translations": ops.concatenate([dx, dy], axis=1), "input_shape": tuple(images.shape)}

    def transform_images(self, images, transformation, interpolation=None):
        t = ops.cast(transformation["translations"], "float32")
        ones, zeros = ops.ones_like(t[:, 0]), ops.zeros_like(t[:, 0])
        matrix = ops.stack([ones, zeros, -t[:, 0], zeros, ones, -t[:, 1], zeros, zeros], axis=1)
        return self._warp(images, matrix, interpolation)

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Boxes shifted with their images, clipped; labels of boxes shifted out -1."""
        h, w = self._box_hw(transformation)
        fmt = self.bounding_box_format
        bounding_boxes = convert_format(bounding_boxes, fmt, "xyxy", height=h, width=w)
        t = ops.cast(transformation["translations"], "float32")
        x_shift, y_shift = -t[:, 0:1, None], -t[:, 1:2, None]  # the matrix's offsets, as Keras subtracts them
        x1, y1, x2, y2 = ops.split(bounding_boxes["boxes"], 4, axis=-1)
        boxes = ops.concatenate([x1 - x_shift, y1 - y_shift, x2 - x_shift, y2 - y_shift], axis=-1)
        bounding_boxes = clip_to_image_size(dict(bounding_boxes, boxes=boxes), height=h, width=w)
        return convert_format(bounding_boxes, "xyxy", fmt, height=h, width=w)

    def get_config(self):
        return super().get_config() | {
            "height_factor": self.height_factor, "width_factor": self.width_factor, "fill_mode": self.fill_mode,
            "interpolation": self.interpolation, "seed": self.seed, "fill_value": self.fill_value}


class RandomShear(_AffineLayer):
    """Shear each image along x by a factor in `x_factor` and along y in `y_factor` (each a number or a
    pair in [0, 1]), with a random sign per image, when training.

    transformation: `{"shear_factor": (N, 2) (shear_x, shear_y), "input_shape"}`."""

    def __init__(self, x_factor=0.0, y_factor=0.0, interpolation="bilinear", fill_mode="reflect", fill_value=0.0,
                 data_format=None, seed=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.x_factor = symmetric_pair(self, x_factor, "x_factor", lo=0.0, pair_lo=-1.0)
        self.y_factor = symmetric_pair(self, y_factor, "y_factor", lo=0.0, pair_lo=-1.0)
        self._set_warp(fill_mode, interpolation, fill_value)

    def get_random_transformation(self, images, rng, training=True):
        n = images.shape[0]
        dtype = self.compute_dtype
        invert = ops.where(rng.uniform((n, 1), dtype=dtype) > 0.5, -1.0, 1.0).astype(dtype)
        shear_y = rng.uniform((n, 1), self.y_factor[0], self.y_factor[1], dtype=dtype)
        shear_x = rng.uniform((n, 1), self.x_factor[0], self.x_factor[1], dtype=dtype)
        return {"shear_factor": ops.concatenate([shear_x, shear_y], axis=1) * invert,
                "input_shape": tuple(images.shape)}

    def transform_images(self, images, transformation, interpolation=None):
        s = ops.cast(transformation["shear_factor"], "float32")
        ones, zeros = ops.ones_like(s[:, 0]), ops.zeros_like(s[:, 0])
        matrix = ops.stack([ones, s[:, 0], zeros, s[:, 1], ones, zeros, zeros, zeros], axis=1)
        return self._warp(images, matrix, interpolation)

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Box corners sheared in relative coordinates (Keras's rule: x by y, then y by the new x), clipped;
        labels of empty boxes -1."""
        h, w = self._box_hw(transformation)
        fmt, dtype = self.bounding_box_format, self.compute_dtype
        bounding_boxes = convert_format(bounding_boxes, fmt, "rel_xyxy", height=h, width=w, dtype=dtype)
        s = ops.cast(transformation["shear_factor"], dtype)
        sx, sy = s[:, 0:1], s[:, 1:2]
        x1, y1, x2, y2 = (ops.squeeze(c, axis=-1) for c in ops.split(bounding_boxes["boxes"], 4, axis=-1))
        x1 = ops.where(sx < 0, x1 - sx * y1, x1 - sx * y2)
        x2 = ops.where(sx < 0, x2 - sx * y2, x2 - sx * y1)
        y1 = ops.where(sy > 0, y1 - sy * x2, y1 - sy * x1)
        y2 = ops.where(sy > 0, y2 - sy * x1, y2 - sy * x2)
        boxes = ops.stack([x1, y1, x2, y2], axis=-1)
        bounding_boxes = clip_to_image_size(dict(bounding_boxes, boxes=boxes), height=h, width=w,
                                            bounding_box_format="rel_xyxy")
        return convert_format(bounding_boxes, "rel_xyxy", fmt, height=h, width=w, dtype=dtype)

    def get_config(self):
        return super().get_config() | {
            "x_factor": self.x_factor, "y_factor": self.y_factor, "fill_mode": self.fill_mode,
            "interpolation": self.interpolation, "seed": self.seed, "fill_value": self.fill_value}


class RandomPerspective(_AffineLayer):
    """With probability drawn from `factor`, move each image's corners by up to `scale` / 2 of the
    image size (a random perspective warp) when training.

    transformation: `{"apply_perspective": (N,) bool, "start_points", "end_points": (N, 4, 2), "input_shape"}`."""

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_value=0.0, seed=None,
                 data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.factor = factor_pair(self, factor, (0, 1))
        if not isinstance(scale, (int, float)) or scale < 0.0 or scale > 1.0:
            raise self.error(f"The `scale` argument should be a number in the range [0,1]. Received: scale={scale}")
        self.scale = scale
        self.interpolation = check_choice(self, interpolation, _INTERPOLATIONS, "interpolation")
        self.fill_value = fill_value

    def get_random_transformation(self, images, rng, training=True):
        n = images.shape[0]
        h, w = self.hw(images)
        probability = rng.uniform((n,), self.factor[0], self.factor[1])
        apply = rng.uniform((n,)) < probability
        dtype = self.compute_dtype
        perturb = rng.uniform((n, 4, 2), -0.5 * self.scale, 0.5 * self.scale, dtype=dtype)
        start = ops.convert_to_tensor([[[0.0, 0.0], [w - 1, 0.0], [0.0, h - 1], [w - 1, h - 1]]], dtype=dtype)
        start = ops.repeat(start, n, axis=0)
        return {"apply_perspective": apply, "start_points": start, "end_points": start + start * perturb,
                "input_shape": tuple(images.shape)}

    def transform_images(self, images, transformation, interpolation=None):
        out = ops.image.perspective_transform(
            images, transformation["start_points"], transformation["end_points"],
            interpolation=interpolation or self.interpolation, fill_value=self.fill_value,
            data_format=self.data_format)
        return ops.where(transformation["apply_perspective"][:, None, None, None], out, images)

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Each box becomes the enclosing box of its corners moved by the perspective map (where applied),
        clipped; labels of empty boxes -1. (Keras 3.15 returns these in "xyxy" whatever the format; fkeras
        converts back to `bounding_box_format`, so the two agree for "xyxy".)"""
        h, w = self._box_hw(transformation)
        fmt, dtype = self.bounding_box_format, self.compute_dtype
        bounding_boxes = convert_format(bounding_boxes, fmt, "xyxy", height=h, width=w)
        boxes = bounding_boxes["boxes"]
        x0, y0, x1, y1 = ops.split(boxes, 4, axis=-1)
        m = ops.cast(_homography(transformation["start_points"], transformation["end_points"]), dtype)
        n = m.shape[0]
        inverse = ops.inv(ops.reshape(ops.concatenate([m, ops.ones_like(m[:, :1])], axis=-1), (n, 3, 3)))

        def moved(x, y):
            p = ops.matmul(inverse, ops.moveaxis(ops.concatenate([x, y, ops.ones_like(x)], axis=-1), -1, -2))
            p = ops.moveaxis(p, -1, -2)
            return p[..., 0] / p[..., 2], p[..., 1] / p[..., 2]

        xs, ys = zip(*(moved(x, y) for x, y in ((x0, y0), (x1, y1), (x0, y1), (x1, y0))))
        xs, ys = ops.stack(xs, axis=-1), ops.stack(ys, axis=-1)
        warped = ops.stack([ops.min(xs, axis=-1), ops.min(ys, axis=-1), ops.max(xs, axis=-1), ops.max(ys, axis=-1)],
                           axis=-1)
        apply = ops.cast(transformation["apply_perspective"], ops.dtype(warped))
        boxes = ops.where(apply[:, None, None], warped, boxes)
        bounding_boxes = clip_to_image_size(dict(bounding_boxes, boxes=boxes), height=h, width=w)
        return convert_format(bounding_boxes, "xyxy", fmt, height=h, width=w)

    def get_config(self):
        return super().get_config() | {"factor": self.factor, "scale": self.scale,
                                       "interpolation": self.interpolation, "fill_value": self.fill_value,
                                       "seed": self.seed}


class RandomElasticTransform(_AffineLayer):
    """With probability drawn from `factor`, displace each pixel by a Gaussian-smoothed random field
    (alpha = 0.1 * max(H, W) * d, sigma = 0.05 * min(H, W) * d, d drawn from `scale`) when training,
    then clip to `value_range`.

    transformation: `{"apply_transform": (N,) bool, "distortion_factor": (), "displacement": (N, H, W)}`
    (Keras passes a seed instead of the displacement field; the field is drawn here so that the
    warp is jit-compatible: its kernel size comes from the largest sigma `scale` allows). Segmentation
    masks move with the images (nearest); bounding boxes are refused, as in Keras."""

    transforms_boxes = False

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_mode="reflect", fill_value=0.0,
                 value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.factor = factor_pair(self, factor, (0, 1))
        self.scale = factor_pair(self, scale, (0, 1), "scale")
        self._set_warp(fill_mode, interpolation, fill_value,
                       fill_modes=("constant", "nearest", "wrap", "mirror", "reflect"))
        self.value_range = value_range

    def get_random_transformation(self, images, rng, training=True):
        if self.scale[1] == 0 or self.factor[1] == 0:
            return None
        n = images.shape[0]
        h, w = self.hw(images)
        probability = rng.uniform((n,), self.factor[0], self.factor[1])
        apply = rng.uniform((n,)) < probability
        distortion = rng.uniform((), self.scale[0], self.scale[1], dtype=self.compute_dtype)
        sigma = min(h, w) * 0.05 * distortion
        max_sigma = min(h, w) * 0.05 * self.scale[1]
        size = int(6 * max_sigma) | 1
        noise = rng.normal((n, h, w, 1)) * sigma
        field = gaussian_blur(noise, (size, size), ops.stack([sigma, sigma]) + 1e-12, "channels_last")[..., 0]
        alpha = max(h, w) * 0.1 * distortion
        return {"apply_transform": apply, "distortion_factor": distortion, "displacement": alpha * field}

    def transform_images(self, images, transformation, interpolation=None):
        if transformation is None:
            return images
        x = images if self.data_format == "channels_last" else ops.transpose(images, (0, 2, 3, 1))
        n, h, w, c = x.shape
        disp = ops.cast(transformation["displacement"], "float32")[..., None]
        grid = [const(g, x) for g in np.meshgrid(np.arange(n), np.arange(h), np.arange(w), np.arange(c),
                                                 indexing="ij")]
        coords = ops.stack([grid[0], grid[1] + disp, grid[2] + disp, grid[3]], axis=0)
        order = 0 if (interpolation or self.interpolation) == "nearest" else 1
        warped = ops.image.map_coordinates(ops.cast(x, "float32"), coords, order, fill_mode=self.fill_mode,
                                           fill_value=self.fill_value)
        warped = ops.cast(warped, self.compute_dtype)
        if self.data_format == "channels_first":
            warped = ops.transpose(warped, (0, 3, 1, 2))
        out = ops.where(transformation["apply_transform"][:, None, None, None], warped, images)
        return ops.clip(out, self.value_range[0], self.value_range[1])

    def get_config(self):
        return super().get_config() | {
            "factor": self.factor, "scale": self.scale, "interpolation": self.interpolation,
            "fill_mode": self.fill_mode, "fill_value": self.fill_value, "value_range": self.value_range,
            "seed": self.seed}
