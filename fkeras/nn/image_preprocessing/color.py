"""Colour augmentation and enhancement layers over images (N, H, W, C) (channels_last) or (N, C, H, W).

Colour values live in `value_range` (default (0, 255)); random layers act only when training."""

from __future__ import annotations

import numpy as np

from fkeras import backend, ops
from fkeras.nn.image_preprocessing._base import (
    ImageLayer, const, factor_pair, gaussian_blur, transform_value_range, value_range_of,
)


def _per_image(x):
    return ops.reshape(x, (-1, 1, 1, 1))


class RandomContrast(ImageLayer):
    """Scale each image's deviation from its per-channel mean by a factor in [1 - lower, 1 + upper]
    (`factor` a number or a pair in [0, 1]), clipped to `value_range`.

    transformation: `{"contrast_factor": (N, 1, 1, 1)}`."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = factor_pair(self, factor, (0, 1))
        self.value_range = value_range

    def get_random_transformation(self, images, rng, training=True):
        return {"contrast_factor": rng.uniform((images.shape[0], 1, 1, 1), 1.0 - self.factor[0],
                                               1.0 + self.factor[1], dtype=self.compute_dtype)}

    def transform_images(self, images, transformation):
        mean = ops.mean(images, axis=(self.height_axis, self.width_axis), keepdims=True)
        out = (images - mean) * ops.cast(transformation["contrast_factor"], images.dtype) + mean
        return ops.clip(out, self.value_range[0], self.value_range[1])

    def get_config(self):
        return super().get_config() | {"factor": self.factor, "value_range": self.value_range, "seed": self.seed}


class RandomBrightness(ImageLayer):
    """Add a random delta in `factor` * (value_range span) to each image (`factor` a number or a pair
    in [-1, 1]), clipped to `value_range`.

    transformation: `{"rgb_delta": (N, 1, 1, 1)}`."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = factor_pair(self, factor, (-1, 1))
        self.value_range = value_range_of(self, value_range)

    def get_random_transformation(self, images, rng, training=True):
        delta = rng.uniform((images.shape[0], 1, 1, 1), self.factor[0], self.factor[1])
        return {"rgb_delta": delta * (self.value_range[1] - self.value_range[0])}

    def transform_images(self, images, transformation):
        images = images + ops.cast(transformation["rgb_delta"], images.dtype)
        return ops.clip(images, self.value_range[0], self.value_range[1])

    def get_config(self):
        return super().get_config() | {"factor": self.factor, "value_range": self.value_range, "seed": self.seed}


class RandomColorDegeneration(ImageLayer):
    """Blend each image towards its grayscale version by a random factor in `factor` ([-1, 1]),
    clipped to `value_range`.

    transformation: `{"factor": (N, 1, 1, 1)}`."""

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.factor = factor_pair(self, factor, (-1, 1))
        self.value_range = value_range_of(self, value_range)

    def get_random_transformation(self, images, rng, training=True):
        return {"factor": rng.uniform((images.shape[0], 1, 1, 1), self.factor[0], self.factor[1])}

    def transform_images(self, images, transformation):
        factor = ops.cast(transformation["factor"], self.compute_dtype)
        gray = ops.image.rgb_to_grayscale(images, data_format=self.data_format)
        images = images + factor * (gray - images)
        return ops.cast(ops.clip(images, self.value_range[0], self.value_range[1]), self.compute_dtype)

    def get_config(self):
        return super().get_config() | {"factor": self.factor, "value_range": self.value_range, "seed": self.seed}


class RandomGaussianBlur(ImageLayer):
    """With a probability drawn from `factor` ([0, 1]), blur each image with a `kernel_size` (odd)
    Gaussian whose (sigma_x, sigma_y) are drawn from `sigma` ([0, 1]); clipped to `value_range`.

    transformation: `{"should_apply_blur": (N,) bool, "blur_factor": (2,)}`."""

    def __init__(self, factor=1.0, kernel_size=3, sigma=1.0, value_range=(0, 255), data_format=None, seed=None,
                 **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.factor = factor_pair(self, factor, (0, 1))
        self.kernel_size = self._kernel_size(kernel_size)
        self.sigma = factor_pair(self, sigma, (0, 1), "sigma")
        self.value_range = value_range

    def _kernel_size(self, k):
        pair = tuple(k) if isinstance(k, (tuple, list)) else (k, k)
        if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v % 2 == 0 for v in pair):
            raise self.error(f"kernel_size must be an odd number (or a pair of odd numbers). Received: "
                             f"kernel_size={k}")
        return pair

    def get_random_transformation(self, images, rng, training=True):
        n = images.shape[0]
        probability = rng.uniform((n,), self.factor[0], self.factor[1])
        apply = rng.uniform((n,)) < probability
        blur = rng.uniform((2,), self.sigma[0], self.sigma[1], dtype=self.compute_dtype) + 1e-6
        return {"should_apply_blur": apply, "blur_factor": blur}

    def transform_images(self, images, transformation):
        blurred = gaussian_blur(images, self.kernel_size, transformation["blur_factor"], self.data_format)
        images = ops.where(transformation["should_apply_blur"][:, None, None, None], blurred, images)
        return ops.cast(ops.clip(images, self.value_range[0], self.value_range[1]), self.compute_dtype)

    def get_config(self):
        return super().get_config() | {"factor": self.factor, "kernel_size": self.kernel_size, "sigma": self.sigma,
                                       "value_range": self.value_range, "seed": self.seed}


class RandomGrayscale(ImageLayer):
    """Turn each image to grayscale (kept with its channel count) with probability `factor`.

    transformation: `(N, 1, 1, 1)` bool."""

    def __init__(self, factor=0.5, data_format=None, seed=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor < 0 or factor > 1:
            raise self.error(f"`factor` should be between 0 and 1. Received: factor={factor}")
        self.factor = factor

    def get_random_transformation(self, images, rng, training=True):
        return _per_image(rng.uniform((images.shape[0],)) < self.factor)

    def transform_images(self, images, transformation):
        gray = ops.image.rgb_to_grayscale(images, data_format=self.data_format)
        return ops.where(transformation, gray, images)

    def get_config(self):
        config = super().get_config() | {"factor": self.factor}
        config.pop("seed", None)
        return config


class RandomHue(ImageLayer):
    """Shift each image's hue by a random amount (up to `factor` / 2 of the hue circle, either sign),
    in `value_range`.

    transformation: `{"factor": (N,)}` (the hue shift, in turns)."""

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.factor = factor_pair(self, factor, (0, 1))
        self.value_range = value_range

    def get_random_transformation(self, images, rng, training=True):
        n = images.shape[0]
        invert = ops.where(rng.uniform((n,)) > 0.5, -1.0, 1.0)
        return {"factor": invert * rng.uniform((n,), self.factor[0], self.factor[1]) * 0.5}

    def transform_images(self, images, transformation):
        images = transform_value_range(images, self.value_range, (0, 1), self.compute_dtype)
        shift = ops.cast(transformation["factor"], images.dtype)[:, None, None]
        hsv = ops.image.rgb_to_hsv(images, data_format=self.data_format)
        ax = self.channel_axis
        h, s, v = (ops.take(hsv, i, axis=ax) for i in range(3))
        h = h + shift
        h = ops.where(h > 1.0, h - 1.0, h)
        h = ops.where(h < 0.0, h + 1.0, h)
        rgb = ops.image.hsv_to_rgb(ops.stack([h, s, v], axis=ax), data_format=self.data_format)
        rgb = transform_value_range(ops.clip(rgb, 0, 1), (0, 1), self.value_range, self.compute_dtype)
        return ops.cast(rgb, self.compute_dtype)

    def get_config(self):
        return super().get_config() | {"factor": self.factor, "value_range": self.value_range, "seed": self.seed}


class RandomInvert(ImageLayer):
    """Invert each image (value_range[1] - x) with a probability drawn from `factor` ([0, 1]).

    transformation: `{"apply_inversion": (N,) bool}`."""

    def __init__(self, factor=1.0, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.factor = factor_pair(self, factor, (0, 1))
        self.value_range = value_range

    def get_random_transformation(self, images, rng, training=True):
        n = images.shape[0]
        probability = rng.uniform((n,), self.factor[0], self.factor[1])
        return {"apply_inversion": rng.uniform((n,)) < probability}

    def transform_images(self, images, transformation):
        return ops.where(transformation["apply_inversion"][:, None, None, None], self.value_range[1] - images, images)

    def get_config(self):
        return super().get_config() | {"factor": self.factor, "value_range": self.value_range, "seed": self.seed}


class RandomPosterization(ImageLayer):
    """Keep only the top `bits` of each 8-bit colour value, `bits` drawn per image from `factor`
    (a number or a pair in [1, 8]).

    transformation: `{"shift_factor": (N,) uint8}` (8 - bits)."""

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.factor = factor_pair(self, factor, (1, 8))
        self.value_range = value_range_of(self, value_range)

    def get_random_transformation(self, images, rng, training=True):
        n = images.shape[0]
        if self.factor[0] != self.factor[1]:
            bits = ops.cast(rng.randint((n,), int(self.factor[0]), int(self.factor[1])), "uint8")
        else:
            bits = ops.cast(ops.full((n,), int(self.factor[0])), "uint8")
        return {"shift_factor": ops.cast(8 - ops.cast(bits, "int32"), "uint8")}

    def transform_images(self, images, transformation):
        shift = _per_image(ops.cast(transformation["shift_factor"], "uint8"))
        images = transform_value_range(images, self.value_range, (0, 255), self.compute_dtype)
        images = ops.cast(images, "uint8")
        images = ops.left_shift(ops.right_shift(images, shift), shift)
        return transform_value_range(ops.cast(images, self.compute_dtype), (0, 255), self.value_range,
                                     self.compute_dtype)

    def get_config(self):
        return super().get_config() | {"factor": self.factor, "value_range": self.value_range, "seed": self.seed}


class RandomSaturation(ImageLayer):
    """Scale each image's HSV saturation by f / (1 - f), f drawn from `factor`; saturation is clipped to
    `value_range` (Keras's rule).

    transformation: `{"factor": (N,)}` (the multiplier)."""

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.factor = factor_pair(self, factor, (-1, 1))
        self.value_range = value_range_of(self, value_range)

    def get_random_transformation(self, images, rng, training=True):
        f = rng.uniform((images.shape[0],), self.factor[0], self.factor[1])
        return {"factor": f / (1 - f + backend.epsilon())}

    def transform_images(self, images, transformation):
        f = ops.cast(transformation["factor"], self.compute_dtype)[:, None, None]
        hsv = ops.image.rgb_to_hsv(images, data_format=self.data_format)
        ax = self.channel_axis
        h, s, v = (ops.take(hsv, i, axis=ax) for i in range(3))
        s = ops.clip(s * f, self.value_range[0], self.value_range[1])
        return ops.image.hsv_to_rgb(ops.stack([h, s, v], axis=ax), data_format=self.data_format)

    def get_config(self):
        return super().get_config() | {"factor": self.factor, "value_range": self.value_range, "seed": self.seed}


class RandomSharpness(ImageLayer):
    """Blend each image with its 3x3-smoothed version by 1 - 2f, f drawn from `factor` ([0, 1]):
    f > 0.5 sharpens, f < 0.5 softens; clipped to `value_range`.

    transformation: `{"factor": (N,)}`."""

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.factor = factor_pair(self, factor, (0, 1))
        self.value_range = value_range_of(self, value_range)

    def get_random_transformation(self, images, rng, training=True):
        return {"factor": rng.uniform((images.shape[0],), self.factor[0], self.factor[1])}

    def transform_images(self, images, transformation):
        dtype = self.compute_dtype
        if self.data_format == "channels_first":
            images = ops.swapaxes(images, -3, -1)
        sharp = _per_image(ops.cast(transformation["factor"] * 2, dtype))
        a, b = 1.0 / 13.0, 5.0 / 13.0
        kernel = ops.convert_to_tensor([[a, a, a], [a, b, a], [a, a, a]], dtype=dtype)
        kernel = ops.tile(ops.reshape(kernel, (3, 3, 1, 1)), (1, 1, images.shape[-1], 1))
        smooth = ops.cast(ops.depthwise_conv(images, kernel, 1, "same", "channels_last"), dtype)
        images = ops.clip(images + (1.0 - sharp) * (smooth - images), self.value_range[0], self.value_range[1])
        if self.data_format == "channels_first":
            images = ops.swapaxes(images, -3, -1)
        return images

    def get_config(self):
        return super().get_config() | {"factor": self.factor, "value_range": self.value_range, "seed": self.seed}


class RandomColorJitter(ImageLayer):
    """RandomBrightness, RandomContrast, RandomSaturation and RandomHue in turn (each only when its
    factor is given), sharing `value_range` and `seed`.

    transformation: `{"brightness": ..., "contrast": ..., "saturation": ..., "hue": ...}` (the sub-layers')."""

    def __init__(self, value_range=(0, 255), brightness_factor=None, contrast_factor=None, saturation_factor=None,
                 hue_factor=None, seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.value_range = value_range
        self.brightness_factor, self.contrast_factor = brightness_factor, contrast_factor
        self.saturation_factor, self.hue_factor = saturation_factor, hue_factor
        common = {"value_range": value_range, "seed": seed, "dtype": self.dtype_policy,
                  "data_format": self.data_format}
        subs = {}
        for key, cls, factor in (("brightness", RandomBrightness, brightness_factor),
                                 ("contrast", RandomContrast, contrast_factor),
                                 ("saturation", RandomSaturation, saturation_factor),
                                 ("hue", RandomHue, hue_factor)):
            if factor is not None:
                subs[key] = cls(factor, **common)  # automatic names, as Keras's sub-layers
        self._subs = subs

    def get_random_transformation(self, images, rng, training=True):
        return {k: layer.get_random_transformation(images, rng) for k, layer in self._subs.items()}

    def transform_images(self, images, transformation):
        for key, layer in self._subs.items():
            images = layer.transform_images(images, transformation[key])
        return ops.cast(images, self.compute_dtype)

    def get_config(self):
        return super().get_config() | {
            "value_range": self.value_range, "brightness_factor": self.brightness_factor,
            "contrast_factor": self.contrast_factor, "saturation_factor": self.saturation_factor,
            "hue_factor": self.hue_factor, "seed": self.seed}


class AutoContrast(ImageLayer):
    """Stretch each image's per-channel values to span `value_range` (min -> low, max -> high).
    Applied in training and inference; NaN channels (constant images) are left unchanged."""

    random = False
    train_only = False

    def __init__(self, value_range=(0, 255), **kwargs):
        super().__init__(**kwargs)
        self.value_range = value_range_of(self, value_range)

    def transform_images(self, images, transformation=None):
        original = images
        x = ops.cast(transform_value_range(images, self.value_range, (0, 255), self.compute_dtype), self.compute_dtype)
        low = ops.min(x, axis=(1, 2), keepdims=True)
        high = ops.max(x, axis=(1, 2), keepdims=True)
        scale = 255.0 / (high - low)
        x = ops.clip(x * scale - low * scale, 0.0, 255.0)
        x = transform_value_range(x, (0, 255), self.value_range, self.compute_dtype)
        return ops.where(ops.isnan(x), original, x)

    def get_config(self):
        return super().get_config() | {"value_range": self.value_range}


class Equalization(ImageLayer):
    """Histogram equalization per channel (the histogram of `bins` bins is taken over the whole batch, as
    Keras does), mapping values through the normalised CDF. Applied when training, as in Keras."""

    random = False
    train_only = True

    def __init__(self, value_range=(0, 255), bins=256, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
            raise self.error(f"expected `bins` to be a positive int, got {bins!r}.")
        self.bins = bins
        self.value_range = value_range_of(self, value_range)

    def _equalize(self, channel):
        lo, hi = self.value_range
        scale = 255.0 / (hi - lo)
        channel = channel * scale + (0.0 - lo * scale)
        nb = self.bins
        idx = ops.clip(ops.cast(ops.cast(channel, "float32") * (nb - 1) / 255.0, "int32"), 0, nb - 1)
        hist = ops.segment_sum(ops.ones_like(ops.reshape(idx, (-1,)), dtype="float32"), ops.reshape(idx, (-1,)),
                               num_segments=nb)
        cdf = ops.cumsum(hist)
        cdf_min = ops.take(cdf, ops.argmax(ops.cast(cdf > 0, "int32")))
        denom = cdf[-1] - cdf_min
        denom = ops.where(denom == 0, 1.0, denom)
        lut = ops.clip(ops.round((cdf - cdf_min) * 255.0 / denom), 0, 255)
        lut_idx = ops.cast(ops.clip(channel / 255.0 * (nb - 1), 0, nb - 1), "int32")
        equalized = ops.cast(ops.take(lut, lut_idx), channel.dtype)
        out = ops.where(ops.count_nonzero(hist) <= 1, channel, equalized)
        back = (hi - lo) / 255.0
        return out * back + lo

    def transform_images(self, images, transformation=None):
        ax = self.channel_axis
        channels = [self._equalize(ops.take(images, i, axis=ax)) for i in range(images.shape[ax])]
        return ops.cast(ops.stack(channels, axis=ax), self.compute_dtype)

    def get_config(self):
        return super().get_config() | {"bins": self.bins, "value_range": self.value_range}


class Solarization(ImageLayer):
    """Add a random amount (`addition_factor` * 255) to each image, then invert (255 - x) the values at
    or above a random threshold (`threshold_factor` * 255); each factor a number f (-> (0, f)) or a pair in
    [0, 1]. In `value_range`; applied when training.

    transformation: `{"additions": (N, 1, 1, 1), "thresholds": (N, 1, 1, 1)}` on the 0-255 scale."""

    def __init__(self, addition_factor=0.0, threshold_factor=0.0, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.addition_factor = self._factor(addition_factor, "addition_factor")
        self.threshold_factor = self._factor(threshold_factor, "threshold_factor")
        self.value_range = value_range_of(self, value_range)

    def _factor(self, f, name):
        def bad():
            return self.error(f"The `addition_factor` and `threshold_factor` arguments should be a number (or a "
                              f"list of two numbers) in the range [0, 1]. Received: {name}={f}")
        if isinstance(f, (tuple, list)):
            if len(f) != 2 or any(v > 1.0 or v < 0 for v in f):
                raise bad()
            return tuple(sorted(f))
        if isinstance(f, bool) or not isinstance(f, (int, float)) or f > 1.0 or f < 0:
            raise bad()
        return 0, f

    def get_random_transformation(self, images, rng, training=True):
        shape, dtype = (images.shape[0], 1, 1, 1), self.compute_dtype
        return {"additions": rng.uniform(shape, self.addition_factor[0], self.addition_factor[1] * 255, dtype=dtype),
                "thresholds": rng.uniform(shape, self.threshold_factor[0], self.threshold_factor[1] * 255,
                                          dtype=dtype)}

    def transform_images(self, images, transformation):
        if transformation is None:
            return images
        dtype = self.compute_dtype
        x = transform_value_range(images, self.value_range, (0, 255), dtype)
        x = ops.clip(x + ops.cast(transformation["additions"], dtype), 0, 255)
        x = ops.where(x < ops.cast(transformation["thresholds"], dtype), x, 255 - x)
        return ops.cast(transform_value_range(x, (0, 255), self.value_range, dtype), dtype)

    def get_config(self):
        return super().get_config() | {"value_range": self.value_range, "addition_factor": self.addition_factor,
                                       "threshold_factor": self.threshold_factor, "seed": self.seed}


class ContrastLimitedAdaptiveHistogramEqualization(ImageLayer):
    """CLAHE: per tile of a `tile_grid_size` grid, a histogram clipped at `clip_limit` (excess spread
    evenly) gives a CDF; each pixel maps through the bilinear blend of its four neighbouring tiles'
    CDFs. Applied in training and inference; the output keeps the input's dtype."""

    random = False
    train_only = False
    cast_input = False

    def __init__(self, value_range=(0, 255), clip_limit=4.0, tile_grid_size=(8, 8), data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.value_range = value_range
        self.clip_limit = clip_limit
        grid = tuple(tile_grid_size) if isinstance(tile_grid_size, (tuple, list)) else None
        if grid is None or len(grid) != 2 or any(isinstance(g, bool) or not isinstance(g, int) or g < 1
                                                 for g in grid):
            raise self.error(f"expected `tile_grid_size` as two positive ints, got {tile_grid_size!r}.")
        self.tile_grid_size = tile_grid_size

    def transform_images(self, images, transformation=None):
        dtype = ops.dtype(images)
        if self.data_format == "channels_first":
            images = ops.transpose(images, (0, 2, 3, 1))
        x = ops.cast(transform_value_range(images, self.value_range, (0, 255), "float32"), "float32")
        x = self._clahe(x)
        x = ops.cast(transform_value_range(x, (0, 255), self.value_range, "float32"), dtype)
        if self.data_format == "channels_first":
            x = ops.transpose(x, (0, 3, 1, 2))
        return x

    def _clahe(self, images):
        n, height, width, c = images.shape
        gh, gw = self.tile_grid_size
        th, tw = -(-height // gh), -(-width // gw)
        ph, pw = th * gh - height, tw * gw - width
        padded = images
        if ph or pw:
            padded = ops.pad(images, [[0, 0], [0, ph], [0, pw], [0, 0]], mode="symmetric")
        tiles = ops.transpose(ops.reshape(padded, (n, gh, th, gw, tw, c)), (0, 1, 3, 5, 2, 4))
        values = ops.clip(ops.cast(ops.reshape(tiles, (n * gh * gw * c, th * tw)), "int32"), 0, 255)
        group = const(np.arange(n * gh * gw * c)[:, None] * 256, images, "int32")
        hists = ops.segment_sum(ops.ones_like(ops.reshape(values, (-1,)), dtype="float32"),
                                ops.reshape(values + group, (-1,)), num_segments=n * gh * gw * c * 256)
        hists = ops.reshape(hists, (n, gh, gw, c, 256))
        if self.clip_limit > 0:
            limit = float(self.clip_limit * (th * tw) / 256.0)
            clipped = ops.clip(hists, 0, limit)
            hists = clipped + ops.sum(hists - clipped, axis=-1, keepdims=True) / 256.0
        cdf = ops.cumsum(hists, axis=-1)
        cdf_min = ops.min(cdf, axis=-1, keepdims=True)
        denom = float(th * tw) - cdf_min
        denom = ops.where(denom == 0, ops.ones_like(denom), denom)
        cdf = ops.clip((cdf - cdf_min) * 255.0 / denom, 0, 255)
        cdf = ops.concatenate([cdf[:, :1], cdf, cdf[:, -1:]], axis=1)
        cdf = ops.concatenate([cdf[:, :, :1], cdf, cdf[:, :, -1:]], axis=2)  # (n, gh + 2, gw + 2, c, 256)

        def axis_weights(size, tile, grid):
            pos = const((np.arange(size, dtype="float32") - tile / 2.0) / tile + 1.0, images)
            lo = ops.floor(pos)
            w = pos - lo
            return (ops.cast(ops.clip(lo, 0, grid + 1), "int32"), ops.cast(ops.clip(lo + 1.0, 0, grid + 1), "int32"),
                    w)

        y0, y1, wy = axis_weights(th * gh, th, gh)
        x0, x1, wx = axis_weights(tw * gw, tw, gw)
        flat = ops.reshape(cdf, (-1,))
        sc, sx = 256, 256 * c
        sy = sx * (gw + 2)
        sb = sy * (gh + 2)
        pixels = ops.cast(ops.clip(padded, 0, 255), "int32")
        base = const(np.arange(n)[:, None, None, None] * sb + np.arange(c)[None, None, None, :] * sc, images,
                     "int32") + pixels

        def at(yi, xi):
            return ops.take(flat, base + yi[None, :, None, None] * sy + xi[None, None, :, None] * sx)

        wx_, wy_ = wx[None, None, :, None], wy[None, :, None, None]
        top = at(y0, x0) * (1.0 - wx_) + at(y0, x1) * wx_
        bottom = at(y1, x0) * (1.0 - wx_) + at(y1, x1) * wx_
        return (top * (1.0 - wy_) + bottom * wy_)[:, :height, :width, :]

    def get_config(self):
        return super().get_config() | {"value_range": self.value_range, "clip_limit": self.clip_limit,
                                       "tile_grid_size": self.tile_grid_size}
