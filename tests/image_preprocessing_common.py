"""Shared cases and helpers of the tests/test_image_preprocessing_*.py files."""

import jax.numpy as jnp
import numpy as np


def images(shape=(3, 9, 11, 3), seed=0, scale=255.0):
    return (np.random.default_rng(seed).random(shape) * scale).astype("float32")


def to_jax(t):
    """A Keras transformation (arrays, nested dicts/lists/tuples, strings) with JAX arrays."""
    if isinstance(t, dict):
        return {k: to_jax(v) for k, v in t.items()}
    if isinstance(t, (list, tuple)):
        return type(t)(to_jax(v) for v in t)
    if hasattr(t, "shape"):
        return jnp.asarray(np.asarray(t))
    return t


def case_id(case):
    name, kw = case
    return name + ("-" + "-".join(f"{k}={v}" for k, v in kw.items()) if kw else "")


def image_shape(kw, batch=3, h=9, w=11, c=3):
    return (batch, c, h, w) if kw.get("data_format") == "channels_first" else (batch, h, w, c)


def scale_of(kw):
    return 1.0 if kw.get("value_range") == (0, 1) else 255.0


GEOMETRIC_CASES = [
    ("RandomFlip", {}),
    ("RandomFlip", {"mode": "horizontal"}),
    ("RandomFlip", {"mode": "vertical", "data_format": "channels_first"}),
    ("RandomRotation", {"factor": 0.2}),
    ("RandomRotation", {"factor": (-0.3, 0.1), "fill_mode": "constant", "fill_value": 7.0,
                        "interpolation": "nearest"}),
    ("RandomRotation", {"factor": 0.2, "fill_mode": "wrap", "data_format": "channels_first"}),
    ("RandomZoom", {"height_factor": 0.3, "width_factor": (-0.2, 0.4)}),
    ("RandomZoom", {"height_factor": (-0.5, -0.1), "fill_mode": "nearest"}),
    ("RandomTranslation", {"height_factor": 0.2, "width_factor": 0.3}),
    ("RandomTranslation", {"height_factor": (0.1, 0.3), "width_factor": 0.3, "fill_mode": "constant",
                           "data_format": "channels_first"}),
    ("RandomShear", {"x_factor": 0.3, "y_factor": 0.2}),
    ("RandomPerspective", {"factor": 0.7, "scale": 0.5}),
    ("RandomCrop", {"height": 5, "width": 7}),
    ("RandomCrop", {"height": 4, "width": 6, "data_format": "channels_first"}),
]

COLOR_CASES = [
    ("RandomContrast", {"factor": 0.5}),
    ("RandomContrast", {"factor": (0.2, 0.6), "data_format": "channels_first"}),
    ("RandomBrightness", {"factor": 0.3}),
    ("RandomBrightness", {"factor": (-0.2, 0.5), "value_range": (0, 1)}),
    ("RandomColorDegeneration", {"factor": 0.5}),
    ("RandomGaussianBlur", {"factor": 0.8, "kernel_size": 3, "sigma": 0.9}),
    ("RandomGaussianBlur", {"factor": 1.0, "kernel_size": (5, 3), "sigma": (0.3, 0.9),
                            "data_format": "channels_first"}),
    ("RandomGrayscale", {"factor": 0.5}),
    ("RandomHue", {"factor": 0.5}),
    ("RandomHue", {"factor": 0.3, "value_range": (0, 1), "data_format": "channels_first"}),
    ("RandomInvert", {"factor": 0.5}),
    ("RandomPosterization", {"factor": (2, 6)}),
    ("RandomPosterization", {"factor": 3, "value_range": (0, 1)}),
    ("RandomSaturation", {"factor": 0.5, "value_range": (0, 1)}),
    ("RandomSharpness", {"factor": 0.7}),
    ("RandomSharpness", {"factor": 0.7, "data_format": "channels_first"}),
    ("Solarization", {"addition_factor": 0.3, "threshold_factor": 0.6}),
    ("Solarization", {"threshold_factor": (0.2, 0.5), "value_range": (0, 1)}),
]

MIXING_CASES = [
    ("RandomErasing", {"factor": 0.8}),
    ("RandomErasing", {"factor": 1.0, "scale": (0.1, 0.5), "fill_value": 9.0, "data_format": "channels_first"}),
    ("CutMix", {"factor": 0.5}),
    ("MixUp", {"alpha": 0.7}),
    ("RandAugment", {"num_ops": 3, "factor": 0.3, "value_range": (0, 1)}),
    ("AugMix", {"num_chains": 2, "chain_depth": 2}),
    ("AugMix", {"all_ops": False, "num_chains": 2, "chain_depth": 2, "value_range": (0, 1)}),
]

RANDOM_CASES = GEOMETRIC_CASES + COLOR_CASES + MIXING_CASES


def check_transform_matches_keras(case, keras, nn):
    """Keras's layer draws a transformation; both layers apply it; the outputs agree (atol 2e-3 of the
    value range: bilinear resampling and HSV round trips)."""
    import chex

    name, kw = case
    scale = scale_of(kw)
    x = images(image_shape(kw), scale=scale)
    klayer = getattr(keras.layers, name)(**kw, seed=3)
    flayer = getattr(nn, name)(**kw, seed=3)
    t = klayer.get_random_transformation(x, training=True)
    expected = np.asarray(klayer.transform_images(x, t))
    got = np.asarray(flayer.transform_images(jnp.asarray(x), to_jax(t)))
    assert got.shape == expected.shape
    chex.assert_trees_all_close(got, expected, atol=2e-3 * scale, rtol=1e-5)
    if name != "RandomCrop":
        assert not np.allclose(expected, x), "the case must change the images to test anything"
