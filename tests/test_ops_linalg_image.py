"""fkeras.ops.image equals keras.ops.image (Keras 3.15, jax backend): values and dtypes; the ops written
once over fkeras.ops (pad/crop, patches, colour spaces, blur, Sobel, SSIM, resize, map_coordinates,
affine/perspective/elastic transforms, scale_and_translate) give JAX's results on torch and TF,
values and gradients.
Tolerance rtol=atol=1e-5 (1e-4 for resampling and SSIM). (linalg cases live in test_ops_nn_more.py.)
"""

from __future__ import annotations

import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fkeras.ops as fops
from test_ops_nn_more import _convert, assert_same

image = fops.image


def _img(r, *shape):
    return r.uniform(0, 1, shape).astype(np.float32)


class Case:
    def __init__(self, id, op, args, kwargs=None, tol=1e-5, grad=False):
        self.id, self.op, self.args, self.kwargs, self.tol, self.grad = id, op, args, kwargs or {}, tol, grad

    def build(self):
        return list(self.args(np.random.default_rng(zlib.crc32(self.id.encode())))), dict(self.kwargs)


C = Case
CASES = [
    C("pad_images", "pad_images", lambda r: (_img(r, 2, 4, 5, 3), 1, 2), {"target_height": 7, "target_width": 9}),
    C("pad_images_cf_single", "pad_images", lambda r: (_img(r, 3, 4, 5),),
      {"top_padding": 1, "bottom_padding": 0, "left_padding": 2, "right_padding": 1, "data_format": "channels_first"}),
    C("crop_images", "crop_images", lambda r: (_img(r, 2, 6, 7, 3), 1, 2), {"target_height": 3, "target_width": 4}),
    C("crop_images_cf", "crop_images", lambda r: (_img(r, 3, 6, 7),),
      {"top_cropping": 1, "bottom_cropping": 2, "left_cropping": 0, "right_cropping": 3,
       "data_format": "channels_first"}),
    C("extract_patches", "extract_patches", lambda r: (_img(r, 2, 6, 6, 3), 2)),
    C("extract_patches_strided_same", "extract_patches", lambda r: (_img(r, 1, 7, 6, 2), (3, 2)),
      {"strides": (2, 1), "padding": "same"}),
    C("extract_patches_single", "extract_patches", lambda r: (_img(r, 6, 6, 3), 3)),
    C("extract_patches_3d", "extract_patches_3d", lambda r: (_img(r, 1, 4, 4, 4, 2), 2)),
    C("rgb_to_grayscale", "rgb_to_grayscale", lambda r: (_img(r, 2, 4, 5, 3),), grad=True),
    C("rgb_to_grayscale_cf", "rgb_to_grayscale", lambda r: (_img(r, 3, 4, 5),), {"data_format": "channels_first"}),
    C("rgb_to_grayscale_uint8", "rgb_to_grayscale", lambda r: ((255 * _img(r, 4, 5, 3)).astype(np.uint8),)),
    C("rgb_to_hsv", "rgb_to_hsv", lambda r: (_img(r, 2, 4, 5, 3),), grad=True),
    C("rgb_to_hsv_gray_pixels", "rgb_to_hsv", lambda r: (np.repeat(_img(r, 1, 3, 3, 1), 3, -1),)),
    C("hsv_to_rgb", "hsv_to_rgb", lambda r: (_img(r, 2, 4, 5, 3),), grad=True),
    C("hsv_to_rgb_cf", "hsv_to_rgb", lambda r: (_img(r, 3, 4, 5),), {"data_format": "channels_first"}),
    C("gaussian_blur", "gaussian_blur", lambda r: (_img(r, 2, 6, 7, 3),),
      {"kernel_size": (3, 5), "sigma": (1.0, 2.0), "data_format": "channels_last"}, grad=True),
    C("gaussian_blur_cf_single", "gaussian_blur", lambda r: (_img(r, 2, 6, 6),), {"data_format": "channels_first"}),
    C("sobel_edges", "sobel_edges", lambda r: (_img(r, 2, 5, 6, 3),), grad=True),
    C("ssim", "ssim", lambda r: (_img(r, 2, 12, 13, 3), _img(r, 2, 12, 13, 3)), tol=1e-4, grad=True),
    C("ssim_cf_single", "ssim", lambda r: (_img(r, 2, 12, 12), _img(r, 2, 12, 12)),
      {"data_format": "channels_first", "filter_size": 5, "max_val": 2.0}, tol=1e-4),
    # JAX kernels
    C("resize_bilinear", "resize", lambda r: (_img(r, 2, 5, 6, 3), (8, 4)), tol=1e-4, grad=True),
    C("resize_nearest_cf", "resize", lambda r: (_img(r, 2, 3, 5, 6), (10, 12)),
      {"interpolation": "nearest", "data_format": "channels_first"}, tol=1e-4),
    C("resize_bicubic_antialias", "resize", lambda r: (_img(r, 1, 9, 8, 2), (4, 3)),
      {"interpolation": "bicubic", "antialias": True}, tol=1e-4),
    C("resize_lanczos3", "resize", lambda r: (_img(r, 1, 6, 6, 1), (9, 9)), {"interpolation": "lanczos3"}, tol=1e-4),
    C("resize_lanczos5", "resize", lambda r: (_img(r, 6, 6, 2), (4, 4)), {"interpolation": "lanczos5"}, tol=1e-4),
    C("resize_crop_aspect", "resize", lambda r: (_img(r, 2, 6, 10, 3), (4, 4)), {"crop_to_aspect_ratio": True},
      tol=1e-4),
    C("resize_pad_aspect", "resize", lambda r: (_img(r, 2, 6, 10, 3), (4, 4)),
      {"pad_to_aspect_ratio": True, "fill_value": 0.5}, tol=1e-4),
    C("resize_uint8", "resize", lambda r: ((255 * _img(r, 1, 4, 4, 1)).astype(np.uint8), (7, 7)),
      {"interpolation": "bicubic"}),
    C("affine_transform", "affine_transform",
      lambda r: (_img(r, 2, 6, 7, 3), np.array([[1.1, 0.1, -0.5, -0.1, 0.9, 0.7, 0.0, 0.0]] * 2, np.float32)),
      tol=1e-4, grad=True),
    C("affine_transform_nearest_wrap", "affine_transform",
      lambda r: (_img(r, 6, 7, 3), np.array([0.8, 0.2, 1.0, 0.1, 1.2, -1.0, 0.0, 0.0], np.float32)),
      {"interpolation": "nearest", "fill_mode": "wrap"}, tol=1e-4),
    C("affine_transform_reflect_cf", "affine_transform",
      lambda r: (_img(r, 1, 2, 6, 7), np.array([[1.0, 0.3, -2.0, 0.0, 1.0, 1.5, 0.0, 0.0]], np.float32)),
      {"fill_mode": "reflect", "data_format": "channels_first"}, tol=1e-4),
    C("map_coordinates", "map_coordinates",
      lambda r: (_img(r, 5, 6), r.uniform(-1, 6, (2, 3, 4)).astype(np.float32), 1), tol=1e-4),
    C("map_coordinates_nearest_mirror", "map_coordinates",
      lambda r: (_img(r, 5, 6), r.uniform(-3, 8, (2, 7)).astype(np.float32), 0), {"fill_mode": "mirror"}, tol=1e-4),
    C("perspective_transform", "perspective_transform",
      lambda r: (_img(r, 2, 8, 8, 3), np.array([[[0, 0], [7, 0], [0, 7], [7, 7]]] * 2, np.float32),
                 np.array([[[1, 0.5], [6, 0], [0, 6.5], [7.5, 7]], [[0, 1], [7, 0], [1, 7], [6, 6]]], np.float32)),
      tol=1e-4),
    C("perspective_transform_single", "perspective_transform",
      lambda r: (_img(r, 8, 8, 2), np.array([[0, 0], [7, 0], [0, 7], [7, 7]], np.float32),
                 np.array([[1, 0.5], [6, 0], [0, 6.5], [7.5, 7]], np.float32)), {"interpolation": "nearest"},
      tol=1e-4),
    C("elastic_transform", "elastic_transform", lambda r: (_img(r, 2, 8, 9, 3),),
      {"alpha": 3.0, "sigma": 1.0, "seed": 3}, tol=1e-4),
    C("scale_and_translate", "scale_and_translate",
      lambda r: (_img(r, 2, 6, 6, 3), (2, 9, 8, 3), np.array([1.5, 1.3], np.float32),
                 np.array([0.5, -0.2], np.float32), (1, 2), "linear"), tol=1e-4),
]


def _keras_image():
    import keras

    assert keras.backend.backend() == "jax"
    return keras.ops.image


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_image_op_matches_keras(case):
    args, kwargs = case.build()
    jargs = [jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
    got = getattr(image, case.op)(*jargs, **kwargs)
    want = getattr(_keras_image(), case.op)(*jargs, **kwargs)
    assert_same(got, want, case.tol)


@pytest.mark.parametrize("fw", ["torch", "tensorflow"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_image_op_on_framework(case, fw):
    args, kwargs = case.build()
    fargs = [_convert(fw)(a) if isinstance(a, np.ndarray) else a for a in args]
    want = getattr(image, case.op)(*[jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args], **kwargs)
    assert_same(getattr(image, case.op)(*fargs, **kwargs), want, case.tol)


GRAD = [(c, fw) for c in CASES if c.grad for fw in ("torch", "tensorflow")]
_JAX_GRADS: dict = {}  # case id -> JAX's gradient of sum(op(x) ** 2)


@pytest.mark.parametrize("case,fw", GRAD, ids=[f"{c.id}-{fw}" for c, fw in GRAD])
def test_image_gradients_match_jax(case, fw):
    args, kwargs = case.build()
    f = getattr(image, case.op)
    def conv(c):
        return [c(a) if isinstance(a, np.ndarray) else a for a in args[1:]]

    if case.id not in _JAX_GRADS:  # jitted: one compile, not one per eager primitive; shared by torch and TF
        _JAX_GRADS[case.id] = jax.jit(jax.grad(lambda x: jnp.sum(f(x, *conv(jnp.asarray), **kwargs) ** 2)))(
            jnp.asarray(args[0]))
    want = _JAX_GRADS[case.id]
    if fw == "torch":
        import torch

        x = torch.from_numpy(args[0]).requires_grad_(True)
        (f(x, *conv(torch.from_numpy), **kwargs) ** 2).sum().backward()
        got = x.grad.numpy()
    else:
        import tensorflow as tf

        x = tf.Variable(args[0])
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(f(x, *conv(tf.constant), **kwargs) ** 2)
        got = tape.gradient(loss, x).numpy()
    np.testing.assert_allclose(got, np.asarray(want), rtol=10 * case.tol, atol=10 * case.tol)


def test_image_ops_jit():
    x = jnp.asarray(np.random.default_rng(0).uniform(0, 1, (2, 6, 6, 3)).astype(np.float32))
    f = jax.jit(lambda v: image.ssim(image.gaussian_blur(image.resize(v, (8, 8))), image.resize(v, (8, 8))))
    np.testing.assert_allclose(np.asarray(f(x)), np.asarray(
        image.ssim(image.gaussian_blur(image.resize(x, (8, 8))), image.resize(x, (8, 8)))), rtol=1e-5, atol=1e-5)


def test_image_argument_errors():
    x = jnp.zeros((1, 4, 4, 3))
    with pytest.raises(ValueError, match="exactly two"):
        image.pad_images(x, top_padding=1)
    with pytest.raises(ValueError, match="exactly two"):
        image.crop_images(x, top_cropping=1, bottom_cropping=1, target_height=2, left_cropping=0, target_width=2)
    with pytest.raises(ValueError, match="interpolation"):
        image.resize(x, (2, 2), interpolation="cubic")
    with pytest.raises(ValueError, match="rank"):
        image.rgb_to_grayscale(jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match="float"):
        image.rgb_to_hsv(jnp.zeros((4, 4, 3), "int32"))
    with pytest.raises(ValueError, match="order"):
        image.map_coordinates(jnp.zeros((3, 3)), jnp.zeros((2, 4)), 3)


def test_resize_area_matches_tensorflow():
    """'area' (a Keras-on-TF interpolation) on JAX equals tf.image.resize(method='area')."""
    tf = pytest.importorskip("tensorflow")
    x = np.random.default_rng(1).uniform(0, 1, (2, 9, 7, 3)).astype(np.float32)
    for size in ((3, 7), (4, 5), (9, 2)):
        want = tf.image.resize(x, size, method="area").numpy()
        np.testing.assert_allclose(np.asarray(image.resize(jnp.asarray(x), size, interpolation="area")), want,
                                   rtol=1e-5, atol=1e-5)
