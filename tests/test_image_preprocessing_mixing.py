"""RandomErasing, CutMix, MixUp, RandAugment and AugMix against Keras 3.15: given Keras's drawn
transformation, the same images (atol 2e-3 of the value range) and, for CutMix/MixUp, the same mixed
labels (atol 1e-6); AugMix's jit-friendly step form (a layer index and every layer's transformation)
gives what Keras's named-step form gives."""

import chex
import jax
import jax.numpy as jnp
import keras  # noqa: F401  (KERAS_BACKEND=jax is set by conftest)
import numpy as np
import pytest
from image_preprocessing_common import MIXING_CASES, case_id, check_transform_matches_keras, images, to_jax

from fkeras import nn


@pytest.mark.parametrize("case", MIXING_CASES, ids=[case_id(c) for c in MIXING_CASES])
def test_mixing_transform_matches_keras(case):
    check_transform_matches_keras(case, keras, nn)


@pytest.mark.parametrize("name", ["MixUp", "CutMix"])
def test_mixed_labels_match_keras(name):
    x = images((4, 5, 5, 3))
    labels = np.eye(4, dtype="float32")[[0, 1, 2, 3]]
    klayer = getattr(keras.layers, name)(seed=2)
    flayer = getattr(nn, name)(seed=2)
    t = klayer.get_random_transformation(x, training=True)
    expected = np.asarray(klayer.transform_labels(labels, t))
    got = np.asarray(flayer.transform_labels(jnp.asarray(labels), to_jax(t)))
    chex.assert_trees_all_close(got, expected, atol=1e-6)
    # called on a dict, the layer mixes images and labels with one draw: rows still sum to 1
    out, _ = flayer.apply({}, {"images": x, "labels": labels}, training=True, rng=jax.random.key(0))
    assert set(out) == {"images", "labels"}
    chex.assert_trees_all_close(np.asarray(out["labels"]).sum(-1), np.ones(4), atol=1e-5)
    assert not np.allclose(np.asarray(out["labels"]), labels)


def test_augmix_index_steps_equal_named_steps():
    x = images((2, 6, 6, 3))
    layer = nn.AugMix(num_chains=1, chain_depth=2, all_ops=False, seed=0)
    t = layer.get_random_transformation(jnp.asarray(x), __import__("fkeras.nn.image_preprocessing._base",
                                                                   fromlist=["Rng"]).Rng(jax.random.key(4)))
    names = list(layer._names)
    named = dict(t, chain_transforms=[
        [{"layer_name": names[int(s["layer_index"])], "transformation": s["transformations"][names[int(s["layer_index"])]]}
         for s in chain if int(s["layer_index"]) < len(names)] for chain in t["chain_transforms"]])
    a = np.asarray(layer.transform_images(jnp.asarray(x), t))
    b = np.asarray(layer.transform_images(jnp.asarray(x), named))
    chex.assert_trees_all_close(a, b, atol=1e-3)
    jitted = np.asarray(jax.jit(layer.transform_images)(jnp.asarray(x), t))
    chex.assert_trees_all_close(jitted, a, atol=1e-3)
