"""Randomness of the image augmentation layers: deterministic limits equal Keras 3.15's full call, draws
have the documented distributions, the same key/seed gives the same output, jit and torch tensors give
what eager JAX gives, and bad arguments fail clearly."""

import chex
import jax
import jax.numpy as jnp
import keras  # noqa: F401  (KERAS_BACKEND=jax is set by conftest)
import numpy as np
import pytest
from image_preprocessing_common import images

from fkeras import nn

# factors that make the transform deterministic: fkeras's full `apply(training=True)` equals Keras's call
DETERMINISTIC_CASES = [
    ("RandomRotation", {"factor": (0.1, 0.1)}),
    ("RandomRotation", {"factor": (-0.05, -0.05), "fill_mode": "constant", "data_format": "channels_first"}),
    ("RandomZoom", {"height_factor": (0.2, 0.2), "width_factor": (-0.1, -0.1)}),
    ("RandomTranslation", {"height_factor": (0.1, 0.1), "width_factor": (-0.2, -0.2), "fill_mode": "nearest"}),
    ("RandomBrightness", {"factor": (0.1, 0.1)}),
    ("RandomColorDegeneration", {"factor": (0.4, 0.4)}),
    ("RandomSaturation", {"factor": (0.3, 0.3), "value_range": (0, 1)}),
    ("RandomSharpness", {"factor": (0.3, 0.3)}),
    ("RandomPosterization", {"factor": (3, 3)}),
    ("RandomGrayscale", {"factor": 1.0}),
    ("RandomInvert", {"factor": (1.0, 1.0)}),
    ("RandomGaussianBlur", {"factor": (1.0, 1.0), "sigma": (0.6, 0.6)}),
    ("Solarization", {}),
    ("RandomElasticTransform", {"scale": 0.0}),
    ("RandomPerspective", {"factor": 0.0}),
]


@pytest.mark.parametrize("case", DETERMINISTIC_CASES, ids=[f"{n}-{kw}" for n, kw in DETERMINISTIC_CASES])
def test_deterministic_limit_equals_keras_call(case):
    name, kw = case
    scale = 1.0 if kw.get("value_range") == (0, 1) else 255.0
    shape = (2, 3, 8, 9) if kw.get("data_format") == "channels_first" else (2, 8, 9, 3)
    x = images(shape, scale=scale)
    expected = np.asarray(getattr(keras.layers, name)(**kw, seed=1)(x, training=True))
    layer = getattr(nn, name)(**kw)
    got = np.asarray(layer.apply({}, x, training=True, rng=jax.random.key(7))[0])
    chex.assert_trees_all_close(got, expected, atol=2e-3 * scale, rtol=1e-5)


def _apply(layer, x, key=None, training=True):
    return np.asarray(layer.apply(layer.init(jax.random.key(0), x), x, training=training, rng=key)[0])


def test_random_flip_flips_about_half_the_images():
    x = images((400, 3, 4, 1))
    out = _apply(nn.RandomFlip("horizontal"), x, jax.random.key(1))
    same = np.all(out == x, axis=(1, 2, 3))
    flipped = np.all(out == x[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(same | flipped)
    assert 160 < flipped.sum() < 240  # Binomial(400, 1/2): mean 200, sd 10


def test_random_brightness_adds_one_delta_per_image_within_the_factor():
    x = images((300, 2, 2, 1), scale=50.0) + 100.0  # far from the clip bounds
    out = _apply(nn.RandomBrightness((-0.1, 0.2)), x, jax.random.key(2))
    delta = (out - x).reshape(300, -1)
    chex.assert_trees_all_close(delta, np.repeat(delta[:, :1], 4, axis=1), atol=1e-3)
    assert delta.min() >= -25.5 - 1e-3 and delta.max() <= 51.0 + 1e-3
    assert abs(delta.mean() - 12.75) < 3.0  # uniform on [-25.5, 51]: mean 12.75, sd of the mean ~1.3


def test_random_crop_offsets_cover_every_position():
    x = np.arange(6 * 5, dtype="float32").reshape(1, 6, 5, 1)
    layer = nn.RandomCrop(4, 3)
    corners = set()
    for i in range(60):
        out = _apply(layer, x, jax.random.key(i))
        assert out.shape == (1, 4, 3, 1)
        corners.add(int(out[0, 0, 0, 0]))
    assert corners == {r * 5 + c for r in range(3) for c in range(3)}


def test_random_rotation_angles_are_uniform_in_the_factor():
    layer = nn.RandomRotation((-0.1, 0.2))
    from fkeras.nn.image_preprocessing._base import Rng

    t = layer.get_random_transformation(jnp.zeros((2000, 4, 4, 1)), Rng(jax.random.key(3)))
    angle = np.asarray(t["angle"])
    assert angle.min() >= -36.0 and angle.max() <= 72.0
    assert abs(angle.mean() - 18.0) < 2.0 and abs(angle.std() - 108 / 12 ** 0.5) < 2.0


def test_mixup_weights_follow_beta():
    from fkeras.nn.image_preprocessing._base import Rng

    t = nn.MixUp(alpha=0.5).get_random_transformation(jnp.zeros((4000, 1, 1, 1)), Rng(jax.random.key(4)))
    w = np.asarray(t["mix_weight"])
    assert abs(w.mean() - 0.5) < 0.02 and abs(w.var() - 0.125) < 0.01  # Beta(.5, .5): var 1/8
    assert sorted(np.asarray(t["permutation_order"]).tolist()) == list(range(4000))


def test_random_erasing_box_area_within_scale():
    x = np.ones((200, 20, 20, 1), "float32")
    out = _apply(nn.RandomErasing(factor=(1.0, 1.0), scale=(0.1, 0.3), fill_value=0.0), x, jax.random.key(5))
    area = 1.0 - out.reshape(200, -1).mean(-1)  # sides sqrt(s) of the image, s in [0.1, 0.3]
    assert area.min() > 0.05 and area.max() < 0.35
    # factor 0.5: erasing probability uniform on [0, 0.5], so about a quarter of the images are erased
    out = _apply(nn.RandomErasing(factor=0.5, fill_value=0.0), x, jax.random.key(6))
    assert 30 < (out.reshape(200, -1).min(-1) == 0).sum() < 70


ALL_RANDOM = [
    ("RandomFlip", {}), ("RandomRotation", {"factor": 0.2}), ("RandomZoom", {"height_factor": 0.3}),
    ("RandomTranslation", {"height_factor": 0.2, "width_factor": 0.2}), ("RandomShear", {"x_factor": 0.3}),
    ("RandomPerspective", {}), ("RandomElasticTransform", {}), ("RandomCrop", {"height": 4, "width": 5}),
    ("RandomContrast", {"factor": 0.5}), ("RandomBrightness", {"factor": 0.3}),
    ("RandomColorDegeneration", {"factor": 0.5}),
    ("RandomColorJitter", {"brightness_factor": 0.2, "contrast_factor": 0.3, "saturation_factor": 0.4,
                           "hue_factor": 0.2}),
    ("RandomErasing", {}), ("RandomGaussianBlur", {}), ("RandomGrayscale", {"factor": 0.5}), ("RandomHue", {"factor": 0.5}),
    ("RandomInvert", {"factor": 0.7}), ("RandomPosterization", {"factor": (2, 6)}), ("RandomSaturation", {"factor": 0.5}),
    ("RandomSharpness", {"factor": 0.7}), ("Solarization", {"addition_factor": 0.3, "threshold_factor": 0.6}),
    ("CutMix", {}), ("MixUp", {}), ("RandAugment", {"num_ops": 1}), ("AugMix", {"num_chains": 1, "chain_depth": 1}),
]


HEAVY_TO_COMPILE = {"AugMix", "RandAugment", "CutMix", "MixUp", "RandomErasing", "RandomElasticTransform"}


@pytest.mark.parametrize("case", ALL_RANDOM, ids=[n for n, _ in ALL_RANDOM])
def test_same_key_or_seed_same_output_and_jit(case):
    name, kw = case
    x = images((4, 6, 6, 3))
    layer = getattr(nn, name)(**kw)
    a = _apply(layer, x, jax.random.key(1))
    b = _apply(layer, x, jax.random.key(1))
    chex.assert_trees_all_equal(a, b)
    others = [_apply(layer, x, jax.random.key(k)) for k in (2, 3)]
    assert any(not np.allclose(a, o) for o in others), "different keys must give different augmentations"
    # seeded layers without a key: the same seed gives the same result, in any layer of that config
    s1 = _apply(getattr(nn, name)(**kw, seed=11), x)
    chex.assert_trees_all_equal(s1, _apply(getattr(nn, name)(**kw, seed=11), x))
    # torch tensors: the same draws (made with JAX from the key), the same transform in torch
    import torch

    t = layer.apply({}, torch.from_numpy(x), training=True, rng=jax.random.key(1))[0]
    assert isinstance(t, torch.Tensor)
    close = np.abs(t.numpy() - a) <= 1e-3 + 1e-5 * np.abs(a)
    # AugMix chains posterization/equalization, which truncate: an ulp may move a pixel by a bin
    assert close.mean() >= (0.98 if name == "AugMix" else 1.0), np.abs(t.numpy() - a).max()
    if name in HEAVY_TO_COMPILE:
        return  # jitted in the train step of test_image_preprocessing_model.py (their compiles are long)
    # jit (the train step's path) gives the eager values
    jitted = jax.jit(lambda v, k: layer.apply({}, v, training=True, rng=k)[0])(jnp.asarray(x), jax.random.key(1))
    chex.assert_trees_all_close(np.asarray(jitted), a, atol=1e-3)


def test_unbatched_image_is_a_batch_of_one():
    x = images((1, 8, 8, 3))
    layer = nn.RandomRotation(0.3)
    batched = _apply(layer, x, jax.random.key(0))
    single = _apply(layer, x[0], jax.random.key(0))
    chex.assert_trees_all_close(single, batched[0], atol=1e-4)


def test_torch_tensors_give_the_jax_values():
    import torch

    from fkeras.interop.torch import to_torch

    x = images((3, 8, 8, 3))
    model = nn.Sequential([nn.RandomFlip(seed=1), nn.RandomRotation(0.2, seed=2), nn.RandomContrast(0.3, seed=3),
                           nn.Resizing(5, 6), nn.CenterCrop(4, 4)])
    variables = model.init(jax.random.key(0), x)
    expected = np.asarray(model.apply(variables, x, training=True)[0])  # no rng: each layer's seed
    module = to_torch(model, variables)
    module.train()
    out = module(torch.from_numpy(x))
    assert isinstance(out, torch.Tensor)
    chex.assert_trees_all_close(out.numpy(), expected, atol=1e-3)
    module.eval()
    chex.assert_trees_all_close(module(torch.from_numpy(x)).numpy(),
                                np.asarray(model.apply(variables, x, training=False)[0]), atol=1e-4)


def test_clear_errors():
    x = images((2, 6, 6, 3))
    with pytest.raises(ValueError, match="needs an `rng` key"):
        nn.RandomFlip().apply({}, x, training=True)
    with pytest.raises(ValueError, match="rank 3 or 4|rank"):
        nn.RandomFlip(seed=1).apply({}, np.zeros((2, 3), "float32"), training=True)
    with pytest.raises(ValueError, match="factor"):
        nn.RandomRotation(1.5)
    with pytest.raises(ValueError, match="mode"):
        nn.RandomFlip("diagonal")
    with pytest.raises(ValueError, match="interpolation"):
        nn.RandomZoom(0.1, interpolation="bicubic")
    with pytest.raises(ValueError, match="bounding_box_format"):
        nn.RandomFlip(bounding_box_format="ltrb")
    with pytest.raises(ValueError, match="odd"):
        nn.RandomGaussianBlur(kernel_size=4)
    with pytest.raises(ValueError, match="segmentation|bounding"):
        nn.RandomFlip(seed=1).apply({}, {"images": x, "bounding_boxes": {}}, training=True)
    with pytest.raises(ValueError, match="height"):
        nn.Resizing(0, 3)


def test_facade_layers_draw_from_the_global_seed():
    import fkeras

    x = images((2, 6, 6, 3))
    fkeras.utils.set_random_seed(3)
    layer = fkeras.layers.RandomRotation(0.3)
    a = np.asarray(layer(x, training=True))
    b = np.asarray(layer(x, training=True))
    fkeras.utils.set_random_seed(3)
    again = np.asarray(fkeras.layers.RandomRotation(0.3)(x, training=True))
    chex.assert_trees_all_equal(a, again)  # the same global seed: the same augmentation
    assert not np.allclose(a, b)  # the next call draws a new one
    chex.assert_trees_all_equal(np.asarray(layer(x, training=False)), x)  # inference
    assert not np.allclose(np.asarray(layer(x)), x)  # no `training`: Keras's call default (training=True)


def test_tf_tensors_eager_and_fresh_draws_in_graphs():
    import tensorflow as tf

    x = images((2, 6, 6, 3))
    layer = nn.RandomContrast(0.4, seed=2)
    out = layer.apply({}, tf.constant(x), training=True)[0]
    assert isinstance(out, tf.Tensor)
    chex.assert_trees_all_close(out.numpy(), np.asarray(layer.apply({}, x, training=True)[0]), atol=1e-3)
    # in a tf.function the draws happen per call (on the host), not once at tracing
    unseeded = nn.RandomContrast(0.4)
    fn = tf.function(lambda v: unseeded.apply({}, v, training=True)[0])
    a, b = fn(tf.constant(x)).numpy(), fn(tf.constant(x)).numpy()
    assert a.shape == x.shape and not np.allclose(a, b)
    seeded = tf.function(lambda v: layer.apply({}, v, training=True)[0])
    chex.assert_trees_all_close(seeded(tf.constant(x)).numpy(), out.numpy(), atol=1e-3)  # [seed, 0] first
