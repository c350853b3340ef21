"""The shared machinery of the image preprocessing layers.

Every layer splits its work as Keras 3.15 does: `get_random_transformation(images, rng)` draws the
random parameters (a dict with Keras's keys, e.g. `{"flips": (N, 1, 1, 1) bool}`) and
`transform_images(images, transformation)` applies them. `call` runs both only when `training` is
True (random layers are identity at inference, as in Keras, apart from the cast to the compute
dtype). Randomness comes from the explicit `rng` key `apply` receives; without one, from the
layer's `seed` (same seed -> same result); torch/TF inputs without either draw from fkeras's global
generator. The drawn parameters are JAX arrays, moved to the input's framework before use, so
the same layer runs on torch and TF tensors. Inside a TF graph (a `tf.data` map, a `tf.function`) a
random layer runs per batch on the host through `tf.numpy_function` (`_graph_call`), so each batch
gets fresh draws: the seed's Keras sequence, else `rng` folded with the batch count, else the global
generator.

Images are (N, H, W, C) for channels_last and (N, C, H, W) for channels_first; a single image
(rank 3) is handled as a batch of one.
"""

from __future__ import annotations

import itertools
import math
import threading

import jax
import numpy as np

from fkeras import backend, ops
from fkeras import random as frandom
from fkeras.nn.base import Layer, expect_rank
from fkeras.nn.image_preprocessing import _boxes as boxes
from fkeras.nn.image_preprocessing import bounding_boxes as bbox


def data_format_of(layer, data_format):
    data_format = data_format or backend.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise layer.error(f"expected data_format 'channels_last' or 'channels_first', got {data_format!r}.")
    return data_format


def factor_pair(layer, factor, bounds, name="factor"):
    """Keras's `_set_factor`: a number f -> (max(-|f|, lo), |f|); a pair -> sorted; checked against bounds."""
    msg = (f"The `{name}` argument should be a number (or a list of two numbers) in the range "
           f"[{bounds[0]}, {bounds[1]}]. Received: {name}={factor}")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or factor[0] > bounds[1] or factor[1] < bounds[0]:
            raise layer.error(msg)
        lower, upper = sorted(factor)
    elif isinstance(factor, (int, float)) and not isinstance(factor, bool):
        if factor < bounds[0] or factor > bounds[1]:
            raise layer.error(msg)
        factor = abs(factor)
        lower, upper = max(-factor, bounds[0]), factor
    else:
        raise layer.error(msg)
    return lower, upper


def symmetric_pair(layer, factor, name, lo_open=False, lo=-1.0, hi=1.0, pair_lo=None):
    """RandomZoom/Translation/Shear's factor rule: a number f -> (-|f|, |f|); a pair -> sorted. `pair_lo`:
    the lowest value a pair may hold (RandomShear's config holds (-f, f), which Keras itself refuses)."""
    def check(v, lo=lo):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v > hi or (v <= lo if lo_open else v < lo):
            rng = f"({lo}, {hi}]" if lo_open else f"[{lo}, {hi}]"
            raise layer.error(f"`{name}` should be a number (or a list of two numbers) in the range {rng}. "
                              f"Received: {name}={factor}")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            raise layer.error(f"`{name}` should be a number or a list of two numbers. Received: {name}={factor}")
        check(factor[0], lo if pair_lo is None else pair_lo)
        check(factor[1], lo if pair_lo is None else pair_lo)
        return tuple(sorted(factor))
    check(factor)
    return -abs(factor), abs(factor)


def value_range_of(layer, value_range, sort=True):
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise layer.error(f"The `value_range` argument should be a list of two numbers. Received: "
                          f"value_range={value_range}")
    return sorted(value_range) if sort else value_range


def check_choice(layer, value, allowed, what):
    if value not in allowed:
        raise layer.error(f"unknown `{what}` {value!r}; expected one of {tuple(allowed)}.")
    return value


def transform_value_range(images, original, target, dtype="float32"):
    """Map values linearly from `original` (lo, hi) to `target` (lo, hi), in `dtype`."""
    if original[0] == target[0] and original[1] == target[1]:
        return images
    images = ops.cast(images, dtype)
    images = (images - float(original[0])) / (float(original[1]) - float(original[0]))
    return images * (float(target[1]) - float(target[0])) + float(target[0])


def to_framework(tree, like):
    """Move the JAX/NumPy arrays of `tree` to the framework of `like` (torch/TF); JAX passes through."""
    fw = ops.framework_of(like)
    if fw == "jax":
        return tree
    if fw == "torch":
        import torch

        device = like.device

        def conv(a):
            return torch.as_tensor(np.array(a), device=device) if isinstance(a, (jax.Array, np.ndarray)) else a
    else:
        import tensorflow as tf

        def conv(a):
            return tf.convert_to_tensor(np.asarray(a)) if isinstance(a, (jax.Array, np.ndarray)) else a
    return jax.tree.map(conv, tree)


def const(value, like, dtype="float32"):
    """A constant array (NumPy values) on the framework of `like`."""
    arr = np.asarray(value, dtype=dtype)
    return jax.numpy.asarray(arr) if ops.framework_of(like) == "jax" else to_framework(arr, like)


def affine_matrix(angle, translate_x, translate_y, scale, shear_x, shear_y, height, width,
                  center_x=0.5, center_y=0.5):
    """Keras's `_compute_affine_matrix`: (N, 8) projective transforms, angles and shears in degrees."""
    deg = math.pi / 180.0
    angle = angle * deg
    cx, cy = center_x * (width - 1), center_y * (height - 1)
    cos, sin = ops.cos(angle), ops.sin(angle)
    shx, shy = ops.tan(shear_x * deg), ops.tan(shear_y * deg)
    a0 = scale * (cos + shx * sin)
    a1 = scale * (-sin + shx * cos)
    a2 = translate_x + cx - cx * a0 - cy * a1
    b0 = scale * (shy * cos + sin)
    b1 = scale * (shy * -sin + cos)
    b2 = translate_y + cy - cx * b0 - cy * b1
    zeros = ops.zeros_like(a0)
    return ops.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


class Rng:
    """Draws from one JAX key: each call uses the next split, so draws are independent."""

    def __init__(self, key):
        self.key = key

    def next(self):
        self.key, sub = jax.random.split(self.key)
        return sub

    def uniform(self, shape, minval=0.0, maxval=1.0, dtype="float32"):
        return jax.random.uniform(self.next(), tuple(shape), dtype=dtype, minval=minval, maxval=maxval)

    def normal(self, shape, dtype="float32"):
        return jax.random.normal(self.next(), tuple(shape), dtype=dtype)

    def randint(self, shape, minval, maxval):
        return jax.random.randint(self.next(), tuple(shape), minval, maxval, dtype="int32")

    def beta(self, shape, a, b, dtype="float32"):
        return jax.random.beta(self.next(), a, b, tuple(shape), dtype=dtype)

    def gamma(self, shape, alpha, dtype="float32"):
        return jax.random.gamma(self.next(), alpha, tuple(shape), dtype=dtype)

    def permutation(self, n):
        return jax.random.permutation(self.next(), n).astype("int32")


def _not_for_autograph(fn):
    """Mark `fn` as `tf.autograph.experimental.do_not_convert` does (without importing TF): a `tf.data` map or
    `tf.function` calls it as plain Python instead of rewriting it and everything it calls (JAX included)."""
    fn.autograph_info__ = {}
    return fn


class ImageLayer(Layer):
    """Base of the image preprocessing layers (see the module docstring).

    Subclasses set `random = False` for deterministic layers (applied in inference too, unless
    `train_only`), implement `get_random_transformation(images, rng, training)` (rng: an `Rng` or
    None) and `transform_images(images, transformation)` on batched images in the compute dtype.
    """

    random = True
    train_only = True  # deterministic layers Keras applies only when training (Equalization)
    cast_input = True  # cast images to the compute dtype first (Resizing keeps integer dtypes)
    training_default = True  # Keras's `call(data, training=True)`: `training=None` (not given) augments

    def __init__(self, data_format=None, seed=None, bounding_box_format=None, name=None, dtype=None,
                 trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.data_format = data_format_of(self, data_format)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise self.error(f"expected `seed` to be an int or None, got {seed!r}.")
        self.seed = seed
        if bounding_box_format is not None and str(bounding_box_format).lower() not in bbox.SUPPORTED_FORMATS:
            raise self.error(f"expected `bounding_box_format` to be one of {bbox.SUPPORTED_FORMATS} or None, got "
                             f"{bounding_box_format!r}.")
        self.bounding_box_format = bounding_box_format

    # axes of batched images
    @property
    def height_axis(self):
        return 2 if self.data_format == "channels_first" else 1

    @property
    def width_axis(self):
        return 3 if self.data_format == "channels_first" else 2

    @property
    def channel_axis(self):
        return 1 if self.data_format == "channels_first" else 3

    def hw(self, images):
        return int(images.shape[self.height_axis]), int(images.shape[self.width_axis])

    @_not_for_autograph
    def check_input(self, x, *rest):
        if isinstance(x, dict):
            extra = set(x) - {"images", "labels", "bounding_boxes", "segmentation_masks"}
            if "images" not in x or extra:
                raise self.error("dict inputs need an 'images' key and may hold 'labels', 'bounding_boxes' and "
                                 f"'segmentation_masks'. Got keys {sorted(x)}.")
            expect_rank(self, x["images"], (3, 4), "images (batch, height, width, channels) or a single image")
            if "bounding_boxes" in x:
                boxes.check_boxes(self, x["bounding_boxes"], len(x["images"].shape) == 4)
            x = x["images"]
        expect_rank(self, x, (3, 4), "images (batch, height, width, channels) or a single image")

    def key_for(self, x, rng):
        """The JAX key this call draws from: `rng`, else the layer's `seed`, else (torch/TF only) fkeras's
        global generator."""
        if rng is not None:
            return frandom.draw_key(rng)
        if self.seed is not None:
            return frandom.draw_key(int(self.seed))
        if ops.framework_of(x) == "jax":
            raise self.error("training needs an `rng` key (or a `seed`); got rng=None.")
        return frandom.draw_key(None)

    def get_random_transformation(self, images, rng, training=True):
        return None

    def transform_images(self, images, transformation):
        raise NotImplementedError

    def transform_labels(self, labels, transformation):
        """Labels (N, ...) for the transformed images: unchanged, except for the mixing layers."""
        return labels

    @_not_for_autograph
    def call(self, variables, x, training=False, rng=None):
        data = x if isinstance(x, dict) else {"images": x}
        images = data["images"]
        unbatched = len(images.shape) == 3
        if unbatched:
            images = ops.expand_dims(images, 0)
        if self.cast_input:
            images = ops.cast(images, self.compute_dtype)
        if training is None:
            training = self.training_default
        active = bool(training) if (self.random or self.train_only) else True
        if active and self.random and _in_tf_graph(images):
            return _graph_call(self, variables, x, rng)
        labels = data.get("labels")
        extras = boxes.batch_extras(data, unbatched, lambda a: to_framework(a, images))
        if active:
            draw = Rng(self.key_for(images, rng)) if self.random else None
            t = to_framework(self.get_random_transformation(images, draw, training=True), images)
            images = self.transform_images(images, t)
            if labels is not None:
                labels = self.transform_labels(labels if not unbatched else ops.expand_dims(labels, 0), t)
                labels = ops.squeeze(labels, 0) if unbatched else labels
            extras = boxes.transform_extras(self, extras, t)
        images = ops.squeeze(images, 0) if unbatched else images
        if not isinstance(x, dict):
            return images
        out = dict(data, images=images, **boxes.unbatch_extras(extras, unbatched))
        if labels is not None:
            out["labels"] = labels
        return out

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        """Bounding boxes `{"boxes": (N, B, 4), "labels": (N, B)}` (float32, `bounding_box_format`) for the
        transformed images: unchanged (colour layers), else the layer's own."""
        return bounding_boxes

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        """Segmentation masks (N, H, W, 1) for the transformed images: unchanged (colour layers), else the
        layer's own (geometric layers move them as the images, with nearest interpolation)."""
        return segmentation_masks

    def get_config(self):
        config = super().get_config() | {"data_format": self.data_format}
        if self.bounding_box_format is not None:
            config["bounding_box_format"] = self.bounding_box_format
        return config


_UNKNOWN = 7919  # (a prime: unlikely as a real or derived size)


def _in_tf_graph(x) -> bool:
    """Whether `x` is a symbolic TF tensor (inside a `tf.data` map or a `tf.function`)."""
    if ops.framework_of(x) != "tensorflow":
        return False
    import tensorflow as tf

    return tf.is_symbolic_tensor(x)


def _graph_call(layer, variables, x, rng):
    """`layer.call(variables, x, training=True, rng)` inside a TF graph: JAX cannot draw there (and
    would draw once, at tracing), so each batch runs on the host via `tf.numpy_function`, with the key
    of batch n: `[seed, n]` for a seeded layer (Keras's `SeedGenerator(seed)` sequence, so a seeded
    layer is reproducible in a `tf.data` map as in Keras, and its first batch equals the eager seeded
    call); else `rng` folded with n; else the global generator's next key. Output shapes
    are the eager path's (dims that follow an unknown input dim stay unknown). No gradient flows back
    through this op: augment inputs, or call the layer eagerly."""
    import tensorflow as tf

    leaves, treedef = jax.tree.flatten(x)

    def run(arrays, key):
        return layer.call(variables, jax.tree.unflatten(treedef, list(arrays)), training=True, rng=key)

    # unknown dims traced at a size no layer produces on its own: output dims of that size stay unknown
    specs = [jax.ShapeDtypeStruct(tuple(_UNKNOWN if d is None else d for d in leaf.shape), leaf.dtype.as_numpy_dtype)
             for leaf in leaves]
    out_leaves, out_def = jax.tree.flatten(jax.eval_shape(run, specs, jax.random.key(0)))
    shapes = [[None if d == _UNKNOWN else d for d in o.shape] for o in out_leaves]
    compiled, seen = jax.jit(run), {}
    counter, lock = itertools.count(), threading.Lock()
    base = None if rng is None else frandom.draw_key(rng)
    seed = None if layer.seed is None else int(layer.seed) & 0xFFFFFFFF

    def next_key():
        with lock:
            n = next(counter)
            if seed is not None:
                return jax.random.wrap_key_data(np.array([seed, n], dtype=np.uint32))
            if base is not None:
                return jax.random.fold_in(base, n)
            return frandom.draw_key(None)

    def host(*arrays):
        arrays = [np.asarray(a) for a in arrays]
        shape = tuple(a.shape for a in arrays)
        with lock:
            seen[shape] = n = seen.get(shape, 0) + 1
        # eager for a shape's first two batches (no compile for a short or ragged last batch), then jitted
        out = (compiled if n > 2 else run)(arrays, next_key())
        return [np.asarray(o) for o in jax.tree.leaves(out)]

    outs = tf.numpy_function(host, leaves, [tf.as_dtype(np.dtype(o.dtype)) for o in out_leaves],
                             name=f"{layer.name}_augment")
    for out, shape in zip(outs, shapes):
        out.set_shape(shape)
    return jax.tree.unflatten(out_def, list(outs))


def _gauss1d(size, sigma, dtype):
    x = const(np.arange(size) - (size - 1) / 2.0, sigma, dtype)
    k = ops.exp(-0.5 * (x / sigma) ** 2)
    return k / ops.sum(k)


def gaussian_blur(images, kernel_size, sigma, data_format):
    """Keras's `ops.image.gaussian_blur` with `sigma` (sx, sy) an array (it may be traced): the kernel is
    outer(gauss(kernel_size[1], sy), gauss(kernel_size[0], sx)), applied per channel with zero "same"
    padding. Images batched."""
    dtype = ops.dtype(images)
    sigma = ops.cast(sigma, dtype)
    kernel = ops.outer(_gauss1d(kernel_size[1], sigma[1], dtype), _gauss1d(kernel_size[0], sigma[0], dtype))
    c = images.shape[-1 if data_format == "channels_last" else 1]
    kernel = ops.tile(kernel[:, :, None, None], (1, 1, c, 1))
    return ops.depthwise_conv(images, kernel, 1, "same", data_format)
