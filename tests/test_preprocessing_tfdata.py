"""Image augmentation layers inside a `tf.data` map, as Keras 3.15 runs them (`ds.map(layer)`): every Random*,
AugMix, CutMix, MixUp, RandAugment and Pipeline layer maps batches of unknown size, with fresh draws per batch when
unseeded and a reproducible sequence with a seed (the first batch is the eager seeded call); outputs keep shapes,
dtypes and value ranges. Keras's TF-side draws differ from fkeras's JAX ones, so Keras is compared where the
transform is deterministic (exact values) and otherwise by statistics."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
import chex  # noqa: E402
import jax  # noqa: E402

import fkeras  # noqa: E402
from fkeras import nn  # noqa: E402

# one case per layer (small images, cheap settings); value range [0, 255] unless given
CASES = {
    "RandomFlip": {},
    "RandomRotation": {"factor": 0.1},
    "RandomZoom": {"height_factor": 0.3},
    "RandomTranslation": {"height_factor": 0.2, "width_factor": 0.2},
    "RandomShear": {"x_factor": 0.3, "y_factor": 0.2},
    "RandomPerspective": {"factor": 1.0, "scale": 0.5},
    "RandomElasticTransform": {"factor": 1.0, "scale": 0.5},
    "RandomCrop": {"height": 5, "width": 7},
    "RandomContrast": {"factor": 0.5},
    "RandomBrightness": {"factor": 0.3},
    "RandomColorDegeneration": {"factor": 0.5},
    "RandomColorJitter": {"brightness_factor": 0.2, "contrast_factor": 0.3},
    "RandomGaussianBlur": {"factor": 1.0, "kernel_size": 3, "sigma": (0.2, 1.5)},
    "RandomGrayscale": {"factor": 0.5},
    "RandomHue": {"factor": 0.5},
    "RandomInvert": {"factor": 0.5},
    "RandomPosterization": {"factor": (1, 7)},
    "RandomSaturation": {"factor": 0.5},
    "RandomSharpness": {"factor": 0.7},
    "Solarization": {"addition_factor": 0.3, "threshold_factor": 0.6},
    "RandomErasing": {"factor": 1.0},
    "CutMix": {"factor": 1.0},
    "MixUp": {"alpha": 0.7},
    "RandAugment": {"num_ops": 1, "factor": 0.5},
    "AugMix": {"num_chains": 1, "chain_depth": 1, "all_ops": False},
    "Pipeline": {},
}
MIXING = ("CutMix", "MixUp")
BATCH = 8
X = (np.random.default_rng(0).random((BATCH, 12, 12, 3)) * 255).astype("float32")
Y = np.eye(3, dtype="float32")[np.arange(BATCH) % 3]


def _layer(lib, name, seed=None):
    if name == "Pipeline":
        return lib.Pipeline([lib.RandomFlip(seed=seed), lib.RandomRotation(0.2, seed=seed)])
    return getattr(lib, name)(**CASES[name], **({} if seed is None else {"seed": seed}))


def _dataset(name, batches=2):
    """`batches` batches of the same images (so only the draws make them differ), batch size unknown."""
    if name in MIXING:
        data = {"images": np.tile(X, (batches, 1, 1, 1)), "labels": np.tile(Y, (batches, 1))}
    else:
        data = np.tile(X, (batches, 1, 1, 1))
    return tf.data.Dataset.from_tensor_slices(data).batch(BATCH)


def _images(batch):
    return (batch["images"] if isinstance(batch, dict) else batch).numpy()


def _eager(layer, name, key=None):
    x = {"images": X, "labels": Y} if name in MIXING else X
    out = layer.apply({}, x, training=True, rng=key)[0]
    return np.asarray(out["images"] if isinstance(out, dict) else out)


def test_every_keras_augmentation_layer_has_a_case():
    names = {n for n in dir(keras.layers) if n.startswith("Random") or n in (
        "AugMix", "CutMix", "MixUp", "RandAugment", "Pipeline", "Solarization")}
    assert names == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_map_unseeded_and_seeded(name):
    layer = _layer(nn, name)
    ds = _dataset(name).map(lambda v: layer.apply({}, v, training=True)[0])
    spec = ds.element_spec["images"] if name in MIXING else ds.element_spec
    expected_shape = _eager(_layer(nn, name, seed=1), name).shape
    assert spec.shape.as_list() == [None, *expected_shape[1:]] and spec.dtype == tf.float32
    # Two batches: both run eagerly on the host; a shape's third batch on runs jitted, which
    # test_compiled_after_two_batches_gives_the_eager_numbers checks in a map, and each layer's jitted apply
    # equals its eager one in test_image_preprocessing_random.py (its train step in test_image_preprocessing_model.py).
    batches = list(ds)
    outs = [_images(b) for b in batches]
    for out in outs:
        assert out.shape == expected_shape and out.dtype == np.float32 and np.isfinite(out).all()
        if name != "RandomErasing":  # (its default fill is Gaussian noise)
            assert out.min() >= -1e-3 and out.max() <= 255 + 1e-3
    assert not all(np.allclose(outs[0], o) for o in outs[1:]), "unseeded draws must differ between batches"
    if name in MIXING:
        labels = [b["labels"].numpy() for b in batches]
        assert all(lab.shape == Y.shape for lab in labels) and np.allclose(labels[0].sum(axis=1), 1.0)

    seeded = _layer(nn, name, seed=5)
    fn = lambda v: seeded.apply({}, v, training=True)[0]  # noqa: E731
    first, again = ([_images(b) for b in _dataset(name).map(fn)] for _ in range(2))
    chex.assert_trees_all_close(first, again, atol=1e-4)  # the same seed: the same sequence
    chex.assert_trees_all_close(first[0], _eager(seeded, name), atol=1e-3)  # batch 0: key [seed, 0]
    assert not np.allclose(first[0], first[1])


def test_compiled_after_two_batches_gives_the_eager_numbers():
    """A shape's third batch on runs jitted; each batch n uses the key [seed, n] either way."""
    layer = nn.RandomRotation(0.3, seed=9)
    outs = [_images(b) for b in _dataset("RandomRotation", 4).map(lambda v: layer.apply({}, v, training=True)[0])]
    for n, out in enumerate(outs):
        key = jax.random.wrap_key_data(np.array([9, n], np.uint32))
        chex.assert_trees_all_close(out, _eager(layer, "RandomRotation", key), atol=1e-3)


def test_facade_layers_in_a_map():
    """`ds.map(lambda x: layer(x, training=True))` with fkeras.layers (not converted by AutoGraph here: its first
    rewrite of the facade's code alone takes about a minute on a CI core)."""
    plain = tf.autograph.experimental.do_not_convert
    layer = _layer(fkeras.layers, "Pipeline")
    outs = [b.numpy() for b in _dataset("Pipeline").map(plain(lambda v: layer(v, training=True)))]
    assert all(o.shape == X.shape for o in outs) and not all(np.allclose(outs[0], o) for o in outs[1:])
    seeded = _layer(fkeras.layers, "Pipeline", seed=4)
    again = [[b.numpy() for b in _dataset("Pipeline").map(plain(lambda v: seeded(v, training=True)))]
             for _ in range(2)]
    chex.assert_trees_all_close(again[0], again[1], atol=1e-4)


DETERMINISTIC = [
    ("RandomRotation", {"factor": (0.1, 0.1)}),
    ("RandomBrightness", {"factor": (0.2, 0.2)}),
    ("RandomZoom", {"height_factor": (0.2, 0.2), "width_factor": (-0.1, -0.1)}),
]


@pytest.mark.parametrize("name, kw", DETERMINISTIC, ids=[c[0] for c in DETERMINISTIC])
def test_deterministic_transforms_equal_keras_in_a_map(name, kw):
    k_layer, f_layer = getattr(keras.layers, name)(**kw), getattr(nn, name)(**kw)
    ds = tf.data.Dataset.from_tensor_slices(X).batch(5)
    expected = [b.numpy() for b in ds.map(k_layer)]  # Keras: training=True by default, TF ops inside tf.data
    got = [b.numpy() for b in ds.map(lambda v: f_layer.apply({}, v, training=True)[0])]
    chex.assert_trees_all_close(got, expected, atol=0.5, rtol=1e-5)  # (of 255: bilinear resampling)


def _map_fn(lib, name, *args, **kw):
    """Keras's layer itself (training=True by default); fkeras's nn layer's `apply(training=True)`."""
    if lib is keras:
        return getattr(keras.layers, name)(*args, **kw)
    layer = getattr(nn, name)(*args, **kw)
    return lambda v: layer.apply({}, v, training=True)[0]


def test_random_statistics_match_keras():
    """RandomFlip flips about half the images and RandomBrightness adds one delta per image, uniform in
    +-factor*255, in Keras's tf.data path and in fkeras's."""
    images = np.tile(X, (8, 1, 1, 1))  # 64 images
    ds = tf.data.Dataset.from_tensor_slices(images).batch(32)  # two batches: both eager (no compile)
    flipped = {}
    for lib in (keras, fkeras):
        layer = _map_fn(lib, "RandomFlip", "horizontal")
        out = np.concatenate([b.numpy() for b in ds.map(layer)])
        flipped[lib.__name__] = np.mean([not np.allclose(o, i) for o, i in zip(out, images)])
    assert all(0.25 < f < 0.75 for f in flipped.values()), flipped
    deltas = {}
    for lib in (keras, fkeras):
        layer = _map_fn(lib, "RandomBrightness", 0.2, value_range=(0, 1000))  # no clipping
        out = np.concatenate([b.numpy() for b in ds.map(layer)])
        deltas[lib.__name__] = (out - images).mean(axis=(1, 2, 3))
    for d in deltas.values():
        assert np.abs(d).max() <= 200 + 1e-2 and d.std() > 60  # uniform on [-200, 200]: std 115
    assert abs(deltas["keras"].mean() - deltas["fkeras"].mean()) < 80
