"""The image/audio preprocessing layers against Keras 3.15 (the oracle).

- Every image and audio preprocessing layer Keras exports exists in fkeras.layers (enumerated).
- Random layers' transforms vs Keras's: test_image_preprocessing_transforms.py and _mixing.py; here their
  configs and their inference mode (the identity, as in Keras).
- Deterministic layers' outputs vs Keras: test_image_preprocessing_deterministic.py.
- get_config equals Keras's (after a JSON round trip, as in a .keras file) and round-trips both ways.
"""

import json

import chex
import jax
import numpy as np
import pytest

import keras  # noqa: E402  (KERAS_BACKEND=jax is set by conftest)

from image_preprocessing_common import RANDOM_CASES, case_id as _case_id, images as _images

import fkeras
from fkeras import nn


# Keras 3.15's image and audio preprocessing layers (keras.layers names): the brief's list.
KERAS_NAMES = [
    "Resizing", "CenterCrop", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
    "RandomBrightness", "RandomCrop", "RandomColorDegeneration", "RandomColorJitter", "RandomElasticTransform",
    "RandomErasing", "RandomGaussianBlur", "RandomGrayscale", "RandomHue", "RandomInvert", "RandomPerspective",
    "RandomPosterization", "RandomSaturation", "RandomSharpness", "RandomShear", "AugMix", "CutMix", "MixUp",
    "RandAugment", "AutoContrast", "Equalization", "Solarization", "ContrastLimitedAdaptiveHistogramEqualization",
    "MaxNumBoundingBoxes", "Pipeline", "MelSpectrogram", "STFTSpectrogram",
]


def _keras_image_layer_names():
    from keras.src.layers.preprocessing.image_preprocessing.base_image_preprocessing_layer import (
        BaseImagePreprocessingLayer,
    )

    names = set()
    for name in dir(keras.layers):
        obj = getattr(keras.layers, name)
        if isinstance(obj, type) and issubclass(obj, BaseImagePreprocessingLayer):
            names.add(name)
    return names


def test_every_keras_image_and_audio_preprocessing_layer_exists():
    found = _keras_image_layer_names() | {"Pipeline", "MelSpectrogram", "STFTSpectrogram"}
    assert found <= set(KERAS_NAMES) | {"Rescaling"}, sorted(found - set(KERAS_NAMES))
    assert set(KERAS_NAMES) - {"Pipeline", "MelSpectrogram", "STFTSpectrogram"} <= found
    missing = [n for n in KERAS_NAMES if not hasattr(fkeras.layers, n) or not hasattr(nn, n)]
    assert missing == []


def _norm(config):
    config = json.loads(json.dumps(config))
    config.pop("name", None)
    return config


# Keras 3.15 writes RandomShear's factors as (-f, f) but its constructor refuses negative values, so a
# RandomShear config does not load back into Keras; fkeras accepts it (pairs within [-1, 1]).
KERAS_CANNOT_LOAD_OWN_CONFIG = {"RandomShear"}

CONFIG_CASES = [(n, kw) for n, kw in RANDOM_CASES if n != "RandomCrop"] + [
    ("RandomCrop", {"height": 5, "width": 7, "seed": 11}),
    ("Resizing", {"height": 4, "width": 5}),
    ("Resizing", {"height": 4, "width": 5, "interpolation": "lanczos3", "pad_to_aspect_ratio": True,
                  "fill_value": 2.0, "antialias": True, "data_format": "channels_first"}),
    ("CenterCrop", {"height": 4, "width": 5}),
    ("AutoContrast", {}), ("AutoContrast", {"value_range": (0, 1)}),
    ("Equalization", {"bins": 64}),
    ("ContrastLimitedAdaptiveHistogramEqualization", {"clip_limit": 2.0, "tile_grid_size": (4, 4)}),
    ("MaxNumBoundingBoxes", {"max_number": 5}),
    ("MelSpectrogram", {"fft_length": 256, "num_mel_bins": 40}),
    ("STFTSpectrogram", {"mode": "psd", "frame_length": 32, "frame_step": 8, "fft_length": 64}),
    ("RandomElasticTransform", {"factor": 0.5, "scale": 0.4}),
    ("RandomColorJitter", {"brightness_factor": 0.2, "hue_factor": 0.1, "seed": 5}),
    ("RandomGrayscale", {}),
    ("RandomRotation", {"factor": 0.1}),
]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[_case_id(c) for c in CONFIG_CASES])
def test_config_matches_keras_and_round_trips(case):
    name, kw = case
    kw = dict(kw)
    extra = {} if name in ("RandomCrop", "Resizing", "CenterCrop", "AutoContrast", "Equalization", "MaxNumBoundingBoxes",
                           "ContrastLimitedAdaptiveHistogramEqualization", "MelSpectrogram", "STFTSpectrogram",
                           "RandomColorJitter") or "seed" in kw else {"seed": 3}
    klayer = getattr(keras.layers, name)(**kw, **extra)
    flayer = getattr(nn, name)(**kw, **extra)
    kc, fc = klayer.get_config(), flayer.get_config()
    assert _norm(fc) == _norm(kc)
    # both ways: Keras's config builds an fkeras layer with the same config, and the other way round
    assert _norm(getattr(nn, name).from_config(json.loads(json.dumps(kc))).get_config()) == _norm(kc)
    if name in KERAS_CANNOT_LOAD_OWN_CONFIG:
        with pytest.raises((ValueError, TypeError)):
            getattr(keras.layers, name).from_config(json.loads(json.dumps(kc)))
        return
    assert _norm(getattr(keras.layers, name).from_config(json.loads(json.dumps(fc))).get_config()) == _norm(fc)


def test_pipeline_config_matches_keras():
    kp = keras.layers.Pipeline([keras.layers.RandomFlip(seed=1, name="f"), keras.layers.Resizing(4, 4, name="r")],
                               name="pipe")
    fp = fkeras.layers.Pipeline([fkeras.layers.RandomFlip(seed=1, name="f"), fkeras.layers.Resizing(4, 4, name="r")],
                                name="pipe")
    assert json.loads(json.dumps(fp.get_config())) == json.loads(json.dumps(kp.get_config()))
    back = nn.Pipeline.from_config(json.loads(json.dumps(kp.get_config())))
    assert [type(layer).__name__ for layer in back.layers] == ["RandomFlip", "Resizing"]
    x = _images((2, 6, 6, 3))
    chex.assert_trees_all_close(np.asarray(back.apply(back.init(jax.random.key(0), x), x)[0]),
                                np.asarray(kp(x, training=False)), atol=1e-4)


# --- inference: random layers are the identity (a cast to the compute dtype), as in Keras ---------------
INFERENCE_CASES = [(n, kw) for n, kw in RANDOM_CASES if n != "RandomCrop"] + [
    ("RandomElasticTransform", {}), ("RandomColorJitter", {"brightness_factor": 0.2, "contrast_factor": 0.2}),
    ("Equalization", {}), ("Solarization", {}),
]


@pytest.mark.parametrize("case", INFERENCE_CASES, ids=[_case_id(c) for c in INFERENCE_CASES])
def test_inference_is_identity_like_keras(case):
    name, kw = case
    shape = (2, 3, 6, 7) if kw.get("data_format") == "channels_first" else (2, 6, 7, 3)
    x = _images(shape, scale=1.0 if kw.get("value_range") == (0, 1) else 255.0)
    layer = getattr(nn, name)(**kw)
    got = np.asarray(layer.apply(layer.init(jax.random.key(0), x), x, training=False)[0])
    expected = np.asarray(getattr(keras.layers, name)(**kw)(x, training=False))
    chex.assert_trees_all_close(got, expected)
    chex.assert_trees_all_close(got, x)


def test_random_crop_inference_matches_keras():
    x = _images((2, 9, 11, 3))
    layer = nn.RandomCrop(5, 7)
    got = np.asarray(layer.apply({}, x, training=False)[0])
    chex.assert_trees_all_close(got, np.asarray(keras.layers.RandomCrop(5, 7)(x, training=False)))


@pytest.mark.parametrize("shape,size", [((2, 6, 8, 3), (6, 4)), ((2, 6, 8, 3), (10, 4)), ((2, 5, 5, 3), (5, 5))])
def test_random_crop_without_room_is_keras_deterministic_crop(shape, size):
    x = _images(shape)
    klayer = keras.layers.RandomCrop(*size, seed=1)
    layer = nn.RandomCrop(*size, seed=1)
    got = np.asarray(layer.apply({}, x, training=True, rng=jax.random.key(0))[0])
    chex.assert_trees_all_close(got, np.asarray(klayer(x, training=True)), atol=2e-3)
