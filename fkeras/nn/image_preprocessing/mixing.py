"""Erasing, mixing and policy augmentation: RandomErasing, CutMix, MixUp, RandAugment, AugMix.

Images (N, H, W, C) (channels_last) or (N, C, H, W); CutMix and MixUp also mix `labels` (N, classes)
when called on `{"images": ..., "labels": ...}`. All act only when training."""

from __future__ import annotations

import functools

from fkeras import ops
from fkeras.nn.image_preprocessing._base import ImageLayer, check_choice, factor_pair
from fkeras.nn.image_preprocessing.color import (
    AutoContrast, Equalization, RandomBrightness, RandomColorDegeneration, RandomContrast, RandomPosterization,
    RandomSharpness, Solarization,
)
from fkeras.nn.image_preprocessing.geometric import RandomRotation, RandomShear, RandomTranslation


def _box_masks(layer, images, x0, x1, y0, y1):
    """(N, H, W, C) bool: pixels inside each image's box [x0, x1) x [y0, y1)."""
    h, w = layer.hw(images)
    dtype = layer.compute_dtype
    gy, gx = ops.meshgrid(ops.arange(h, dtype=dtype), ops.arange(w, dtype=dtype), indexing="ij")
    if layer.data_format == "channels_last":
        gy, gx = gy[None, :, :, None], gx[None, :, :, None]
    else:
        gy, gx = gy[None, None], gx[None, None]
    x0, x1, y0, y1 = (v[:, None, None, None] for v in (x0, x1, y0, y1))
    masks = (gx >= x0) & (gx < x1) & (gy >= y0) & (gy < y1)
    return ops.repeat(masks, images.shape[layer.channel_axis], axis=layer.channel_axis)


def _crop_bounds(layer, rng, n, length, ratio):
    crop = ops.cast(ratio * length, layer.compute_dtype)
    start = rng.uniform((n,), 0, 1, dtype=layer.compute_dtype) * (length - crop)
    return start, start + crop


class RandomErasing(ImageLayer):
    """With a probability drawn from `factor`, replace a random box of each image (its side ratios
    sqrt of a draw from `scale`) by `fill_value` (None: Gaussian noise * value_range[1]), clipped to
    `value_range`.

    transformation: `{"apply_erasing": (N,) bool, "batch_masks": images-shaped bool, "fill_value"}`."""

    def __init__(self, factor=1.0, scale=(0.02, 0.33), fill_value=None, value_range=(0, 255), seed=None,
                 data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.factor = factor_pair(self, factor, (0, 1))
        self.scale = factor_pair(self, scale, (0, 1), "scale")
        if fill_value is not None and not (isinstance(fill_value, (int, float)) or (
                isinstance(fill_value, (tuple, list)) and len(fill_value) == 3)):
            raise self.error(f"The `fill_value` argument should be a number (or a list of three numbers). "
                             f"Received: fill_value={fill_value}")
        self.fill_value = fill_value
        self.value_range = value_range

    def get_random_transformation(self, images, rng, training=True):
        n = images.shape[0]
        h, w = self.hw(images)
        dtype = self.compute_dtype
        ratio = ops.sqrt(rng.uniform((n, 2), self.scale[0], self.scale[1], dtype=dtype))
        x0, x1 = _crop_bounds(self, rng, n, w, ratio[:, 0])
        y0, y1 = _crop_bounds(self, rng, n, h, ratio[:, 1])
        probability = rng.uniform((n,), self.factor[0], self.factor[1])
        apply = rng.uniform((n,)) < probability
        if self.fill_value is None:
            fill = rng.normal(images.shape, dtype=dtype) * self.value_range[1]
        elif isinstance(self.fill_value, (tuple, list)):
            fill = ops.full(images.shape, ops.convert_to_tensor(self.fill_value, dtype), dtype=dtype)
        else:
            fill = ops.full(images.shape, self.fill_value, dtype=dtype)
        fill = ops.clip(fill, self.value_range[0], self.value_range[1])
        return {"apply_erasing": apply, "batch_masks": _box_masks(self, images, x0, x1, y0, y1), "fill_value": fill}

    def transform_images(self, images, transformation):
        erased = ops.where(transformation["batch_masks"], ops.cast(transformation["fill_value"], images.dtype), images)
        return ops.where(transformation["apply_erasing"][:, None, None, None], erased, images)

    def get_config(self):
        return super().get_config() | {"factor": self.factor, "scale": self.scale, "fill_value": self.fill_value,
                                       "value_range": self.value_range, "seed": self.seed}


class CutMix(ImageLayer):
    """Paste a random box from another image of the batch into each image (box area from a Beta(a, a)
    draw, a drawn from `factor`); labels mix by the pasted area.

    transformation: `{"permutation_order": (N,) int32, "batch_masks": images-shaped bool, "mix_weight": (N, 1, 1, 1)}`."""

    def __init__(self, factor=1.0, seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.factor = factor_pair(self, factor, (0, 1))

    def get_random_transformation(self, images, rng, training=True):
        n = images.shape[0]
        h, w = self.hw(images)
        dtype = self.compute_dtype
        alpha = rng.uniform((), self.factor[0], self.factor[1], dtype=dtype) + 1e-6
        ratio = ops.sqrt(1.0 - rng.beta((n,), alpha, alpha, dtype=dtype))
        x0, x1 = _crop_bounds(self, rng, n, w, ratio)
        y0, y1 = _crop_bounds(self, rng, n, h, ratio)
        masks = _box_masks(self, images, x0, x1, y0, y1)
        mix = 1.0 - (x1 - x0) * (y1 - y0) / (w * h)
        return {"permutation_order": rng.permutation(n), "batch_masks": masks, "mix_weight": mix[:, None, None, None]}

    def transform_images(self, images, transformation):
        return ops.where(transformation["batch_masks"], ops.take(images, transformation["permutation_order"], axis=0),
                         images)

    def transform_labels(self, labels, transformation):
        w = ops.cast(ops.reshape(transformation["mix_weight"], (-1, 1)), ops.dtype(labels))
        return w * labels + (1.0 - w) * ops.take(labels, transformation["permutation_order"], axis=0)

    transforms_boxes = False  # as in Keras 3.15

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        """The same box pasted from the same partner's mask (Keras's rule; in the compute dtype)."""
        masks = ops.cast(segmentation_masks, self.compute_dtype)
        axis = self.channel_axis
        where = ops.take(transformation["batch_masks"], ops.arange(masks.shape[axis]), axis=axis)
        return ops.where(where, ops.take(masks, transformation["permutation_order"], axis=0), masks)

    def get_config(self):
        return super().get_config() | {"factor": self.factor, "seed": self.seed}


class MixUp(ImageLayer):
    """Blend each image (and label) with another of the batch: w * x + (1 - w) * x[perm], w ~ Beta(alpha,
    alpha) per image.

    transformation: `{"mix_weight": (N,), "permutation_order": (N,) int}`."""

    def __init__(self, alpha=0.2, data_format=None, seed=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha <= 0:
            raise self.error(f"expected `alpha` to be a positive number, got {alpha!r}.")
        self.alpha = alpha

    def get_random_transformation(self, images, rng, training=True):
        n = images.shape[0]
        return {"permutation_order": rng.permutation(n), "mix_weight": rng.beta((n,), self.alpha, self.alpha)}

    def transform_images(self, images, transformation):
        w = ops.cast(ops.reshape(transformation["mix_weight"], (-1, 1, 1, 1)), self.compute_dtype)
        other = ops.take(images, transformation["permutation_order"], axis=0)
        return w * images + (1.0 - w) * other

    def transform_labels(self, labels, transformation):
        w = ops.cast(ops.reshape(transformation["mix_weight"], (-1, 1)), ops.dtype(labels))
        return w * labels + (1.0 - w) * ops.take(labels, transformation["permutation_order"], axis=0)

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Each image keeps its boxes and gains its partner's: boxes (N, 2B, 4), labels (N, 2B). (Keras 3.15
        joins the boxes the same way but stacks the labels along the batch axis, (2N, B).)"""
        order = transformation["permutation_order"]
        boxes, labels = bounding_boxes["boxes"], bounding_boxes["labels"]
        return {"boxes": ops.concatenate([boxes, ops.take(boxes, order, axis=0)], axis=1),
                "labels": ops.concatenate([labels, ops.take(labels, order, axis=0)], axis=1)}

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        """Masks blended as the images: w * m + (1 - w) * m[perm], float. (Keras 3.15 gathers the partner
        masks from the flattened array, which mixes the wrong values.)"""
        w = ops.cast(ops.reshape(transformation["mix_weight"], (-1, 1, 1, 1)), self.compute_dtype)
        masks = ops.cast(segmentation_masks, self.compute_dtype)
        return w * masks + (1.0 - w) * ops.take(masks, transformation["permutation_order"], axis=0)

    def get_config(self):
        return super().get_config() | {"alpha": self.alpha, "seed": self.seed}


def _policy_layers(owner, names, factor, value_range, interpolation, seed, creation_order):
    """The augmentation sub-layers of RandAugment/AugMix, with Keras's arguments, made in Keras's order with
    automatic names (so they use up the same auto names as Keras: a later `Equalization` is `equalization_1`)."""
    det = {"data_format": owner.data_format, "dtype": owner.dtype_policy,
           "bounding_box_format": owner.bounding_box_format}
    rnd = dict(det, seed=seed)
    make = {
        "random_shear": lambda **k: RandomShear(x_factor=factor, y_factor=factor, interpolation=interpolation,
                                                **rnd, **k),
        "random_translation": lambda **k: RandomTranslation(factor, factor, interpolation=interpolation, **rnd, **k),
        "random_rotation": lambda **k: RandomRotation(factor, interpolation=interpolation, **rnd, **k),
        "random_brightness": lambda **k: RandomBrightness(factor, value_range=value_range, **rnd, **k),
        "random_color_degeneration": lambda **k: RandomColorDegeneration(factor, value_range=value_range, **rnd, **k),
        "random_contrast": lambda **k: RandomContrast(factor, value_range=value_range, **rnd, **k),
        "random_sharpness": lambda **k: RandomSharpness(factor, value_range=value_range, **rnd, **k),
        "random_posterization": lambda **k: RandomPosterization(max(1, int(8 * factor[1])), value_range=value_range,
                                                                **rnd, **k),
        "solarization": lambda **k: Solarization(factor, factor, value_range=value_range, **rnd, **k),
        "auto_contrast": lambda **k: AutoContrast(value_range=value_range, **det, **k),
        "equalization": lambda **k: Equalization(value_range=value_range, **det, **k),
    }
    made = {name: make[name]() for name in creation_order if name in names}
    return {name: made[name] for name in names}


_RAND_AUGMENT_LAYERS = ("random_shear", "random_translation", "random_rotation", "random_brightness",
                        "random_color_degeneration", "random_contrast", "random_sharpness", "random_posterization",
                        "solarization", "auto_contrast", "equalization")

_RAND_AUGMENT_CREATION = _RAND_AUGMENT_LAYERS[:7] + ("solarization", "random_posterization", "auto_contrast",
                                                     "equalization")


class RandAugment(ImageLayer):
    """Apply `num_ops` augmentations, each picked uniformly per batch from Keras's 11 (shear, translation,
    rotation, brightness, colour degeneration, contrast, sharpness, posterization, solarization,
    auto-contrast, equalization), all with magnitude `factor`.

    transformation: `{"transforms": {layer name: its transformation}, "layer_idxes": (num_ops,) int32}`."""

    def __init__(self, value_range=(0, 255), num_ops=2, factor=0.5, interpolation="bilinear", seed=None,
                 data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.value_range = value_range
        if isinstance(num_ops, bool) or not isinstance(num_ops, int) or num_ops < 0:
            raise self.error(f"expected `num_ops` to be an int >= 0, got {num_ops!r}.")
        self.num_ops = num_ops
        self.factor = factor_pair(self, factor, (0, 1))
        self.interpolation = check_choice(self, interpolation, ("nearest", "bilinear"), "interpolation")
        self._layers = _policy_layers(self, _RAND_AUGMENT_LAYERS, self.factor, value_range, interpolation, seed,
                                      _RAND_AUGMENT_CREATION)

    def get_random_transformation(self, images, rng, training=True):
        idx = rng.randint((self.num_ops,), 0, len(_RAND_AUGMENT_LAYERS))
        transforms = {name: layer.get_random_transformation(images, rng) for name, layer in self._layers.items()}
        return {"transforms": transforms, "layer_idxes": idx}

    def transform_images(self, images, transformation):
        idx = transformation["layer_idxes"]
        transforms = transformation["transforms"]
        for i in range(self.num_ops):
            for j, name in enumerate(_RAND_AUGMENT_LAYERS):  # Keras's order (pytrees sort dict keys)
                out = ops.cast(self._layers[name].transform_images(images, transforms[name]), self.compute_dtype)
                images = ops.where(idx[i] == j, out, images)
        return images

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Keras's rule: going through the layers in order, each layer's boxes (of the boxes so far) replace
        them where any of the `num_ops` picks is that layer."""
        idx, transforms = transformation["layer_idxes"], transformation["transforms"]
        for j, name in enumerate(_RAND_AUGMENT_LAYERS):
            moved = self._layers[name].transform_bounding_boxes(dict(bounding_boxes), transforms[name])
            for i in range(self.num_ops):
                bounding_boxes = dict(bounding_boxes, **{k: ops.where(idx[i] == j, moved[k], bounding_boxes[k])
                                                        for k in ("boxes", "labels")})
        return bounding_boxes

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        idx, transforms = transformation["layer_idxes"], transformation["transforms"]
        for i in range(self.num_ops):
            for j, name in enumerate(_RAND_AUGMENT_LAYERS):
                moved = self._layers[name].transform_segmentation_masks(segmentation_masks, transforms[name])
                segmentation_masks = ops.where(idx[i] == j, moved, segmentation_masks)
        return segmentation_masks

    def get_config(self):
        return super().get_config() | {"value_range": self.value_range, "num_ops": self.num_ops,
                                       "factor": self.factor, "interpolation": self.interpolation, "seed": self.seed}


def _run_branch(name, layer, dtype, images, transformations):
    return ops.cast(layer.transform_images(images, transformations[name]), dtype)


def _skip_branch(images, transformations):
    return images


def _run_mask_branch(name, layer, dtype, masks, transformations):
    return ops.cast(layer.transform_segmentation_masks(masks, transformations[name]), dtype)


_AUGMIX_ALL = ("random_shear", "random_translation", "random_rotation", "random_posterization", "solarization",
               "auto_contrast", "equalization", "random_brightness", "random_color_degeneration", "random_contrast",
               "random_sharpness")
_AUGMIX_BASIC = _AUGMIX_ALL[:7]
_AUGMIX_CREATION = ("random_shear", "random_translation", "random_rotation", "solarization", "random_posterization",
                    "auto_contrast", "equalization", "random_brightness", "random_color_degeneration",
                    "random_contrast", "random_sharpness")


class AugMix(ImageLayer):
    """AugMix: `num_chains` chains of up to `chain_depth` random augmentations (each step one of Keras's
    list, or none), mixed with Dirichlet(`alpha`) weights, then blended with the input by a Beta(alpha,
    alpha) weight; clipped to `value_range`.

    transformation: `{"chain_mixing_weights": (num_chains,), "weight_sample": (), "chain_transforms":
    [[step, ...], ...]}` where a step is Keras's `{"layer_name", "transformation"}` or fkeras's jit-friendly
    `{"layer_index": () int32 (len(layers) = no-op), "transformations": {layer name: transformation}}`."""

    def __init__(self, value_range=(0, 255), num_chains=3, chain_depth=3, factor=0.3, alpha=1.0, all_ops=True,
                 interpolation="bilinear", seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.value_range = value_range
        for arg, v in (("num_chains", num_chains), ("chain_depth", chain_depth)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise self.error(f"expected `{arg}` to be a positive int, got {v!r}.")
        self.num_chains, self.chain_depth = num_chains, chain_depth
        self.factor = factor_pair(self, factor, (0, 1))
        self.alpha = alpha
        self.all_ops = all_ops
        self.interpolation = check_choice(self, interpolation, ("nearest", "bilinear"), "interpolation")
        self._names = _AUGMIX_ALL if all_ops else _AUGMIX_BASIC
        self._layers = _policy_layers(self, self._names, self.factor, value_range, interpolation, seed,
                                      _AUGMIX_CREATION)
        # one branch per layer (and a last one doing nothing), made once so that `switch` reuses its traces
        self._branches = tuple(functools.partial(_run_branch, name, self._layers[name], self.compute_dtype)
                               for name in self._names) + (_skip_branch,)
        self._mask_branches = tuple(functools.partial(_run_mask_branch, name, self._layers[name], self.compute_dtype)
                                    for name in self._names) + (_skip_branch,)

    def get_random_transformation(self, images, rng, training=True):
        g = rng.gamma((self.num_chains,), self.alpha)
        chains = []
        for _ in range(self.num_chains):
            steps = []
            for _ in range(self.chain_depth):
                steps.append({"layer_index": rng.randint((), 0, len(self._names) + 1),
                              "transformations": {name: layer.get_random_transformation(images, rng)
                                                  for name, layer in self._layers.items()}})
            chains.append(steps)
        return {"chain_mixing_weights": g / ops.sum(g), "weight_sample": rng.beta((), self.alpha, self.alpha),
                "chain_transforms": chains}

    def _step(self, images, step):
        if "layer_name" in step:
            return ops.cast(self._layers[step["layer_name"]].transform_images(images, step["transformation"]),
                            self.compute_dtype)
        return ops.switch(step["layer_index"], self._branches, images, step["transformations"])

    def transform_images(self, images, transformation):
        dtype = self.compute_dtype
        weights = ops.cast(transformation["chain_mixing_weights"], dtype)
        w = ops.cast(transformation["weight_sample"], dtype)
        mixed = ops.zeros_like(images)
        for i, chain in enumerate(transformation["chain_transforms"]):
            x = images
            for step in chain:
                x = self._step(x, step)
            mixed = mixed + x * weights[i]
        out = w * images + (1 - w) * mixed
        return ops.cast(ops.clip(out, self.value_range[0], self.value_range[1]), dtype)

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        """Masks through the same chains (each step's layer moves masks its own way), mixed with the same
        weights, unclipped (Keras's rule)."""
        dtype = self.compute_dtype
        weights = ops.cast(transformation["chain_mixing_weights"], dtype)
        w = ops.cast(transformation["weight_sample"], dtype)
        masks = ops.cast(segmentation_masks, dtype)
        mixed = ops.zeros_like(masks)
        for i, chain in enumerate(transformation["chain_transforms"]):
            x = masks
            for step in chain:
                if "layer_name" in step:
                    x = _run_mask_branch(step["layer_name"], self._layers[step["layer_name"]], dtype, x,
                                         {step["layer_name"]: step["transformation"]})
                else:
                    x = ops.switch(step["layer_index"], self._mask_branches, x, step["transformations"])
            mixed = mixed + x * weights[i]
        return w * masks + (1 - w) * mixed

    def get_config(self):
        return super().get_config() | {
            "value_range": self.value_range, "num_chains": self.num_chains, "chain_depth": self.chain_depth,
            "factor": self.factor, "alpha": self.alpha, "all_ops": self.all_ops, "interpolation": self.interpolation,
            "seed": self.seed}
