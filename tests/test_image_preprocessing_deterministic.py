"""Deterministic image and audio preprocessing layers against Keras 3.15: Resizing (every interpolation,
crop/pad to aspect ratio, antialias, integer images), CenterCrop, AutoContrast, Equalization, CLAHE,
MaxNumBoundingBoxes, MelSpectrogram and STFTSpectrogram give Keras's outputs on the same inputs (float32;
tolerances per test: 2e-3 of 255 for resampling, 1e-4 elsewhere)."""

import chex
import jax
import keras  # noqa: F401  (KERAS_BACKEND=jax is set by conftest)
import numpy as np
import pytest
from image_preprocessing_common import case_id as _case_id, images as _images

from fkeras import nn


RESIZE_CASES = [
    {"interpolation": interp} for interp in ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5", "area")
] + [
    {"crop_to_aspect_ratio": True},
    {"pad_to_aspect_ratio": True, "fill_value": 3.0},
    {"antialias": True, "interpolation": "bicubic"},
    {"data_format": "channels_first", "pad_to_aspect_ratio": True},
]


@pytest.mark.parametrize("kw", RESIZE_CASES, ids=[_case_id(("Resizing", k)) for k in RESIZE_CASES])
@pytest.mark.parametrize("size", [(4, 5), (13, 8)])
def test_resizing_matches_keras(kw, size):
    shape = (2, 3, 9, 11) if kw.get("data_format") == "channels_first" else (2, 9, 11, 3)
    x = _images(shape)
    if kw.get("interpolation") == "area":  # Keras's JAX backend has no "area"; its TF backend's tf.image.resize
        import tensorflow as tf

        expected = tf.image.resize(x, size, method="area").numpy()
    else:
        expected = np.asarray(keras.layers.Resizing(*size, **kw)(x))
    layer = nn.Resizing(*size, **kw)
    got = np.asarray(layer.apply(layer.init(jax.random.key(0), x), x)[0])
    chex.assert_trees_all_close(got, expected, atol=2e-3, rtol=1e-5)


def test_resizing_keeps_integer_images_integer_like_keras():
    x = _images((2, 9, 11, 3)).astype("uint8")
    expected = np.asarray(keras.layers.Resizing(5, 4, interpolation="bicubic")(x))
    layer = nn.Resizing(5, 4, interpolation="bicubic")
    got = np.asarray(layer.apply({}, x)[0])
    assert got.dtype == expected.dtype == np.uint8
    np.testing.assert_allclose(got.astype(int), expected.astype(int), atol=1)


@pytest.mark.parametrize("shape,size", [((2, 9, 11, 3), (4, 5)), ((2, 9, 11, 3), (12, 6)), ((9, 11, 3), (3, 3)),
                                        ((2, 3, 9, 11), (12, 14))])
def test_center_crop_matches_keras(shape, size):
    fmt = "channels_first" if shape[1] == 3 and len(shape) == 4 else None
    x = _images(shape)
    expected = np.asarray(keras.layers.CenterCrop(*size, data_format=fmt)(x))
    layer = nn.CenterCrop(*size, data_format=fmt)
    got = np.asarray(layer.apply({}, x)[0])
    chex.assert_trees_all_close(got, expected, atol=2e-3, rtol=1e-5)


@pytest.mark.parametrize("kw,scale", [({}, 255.0), ({"value_range": (0, 1)}, 1.0)])
def test_auto_contrast_matches_keras(kw, scale):
    x = _images((2, 8, 8, 3), scale=scale * 0.5) + 0.1 * scale
    expected = np.asarray(keras.layers.AutoContrast(**kw)(x))
    layer = nn.AutoContrast(**kw)
    for training in (False, True):  # applied in both modes
        chex.assert_trees_all_close(np.asarray(layer.apply({}, x, training=training)[0]), expected,
                                    atol=1e-4 * scale, rtol=1e-5)


@pytest.mark.parametrize("kw,scale", [({}, 255.0), ({"bins": 32, "value_range": (0, 1), "data_format": "channels_first"},
                                                            1.0)])
def test_equalization_matches_keras(kw, scale):
    shape = (2, 3, 6, 6) if kw.get("data_format") else (2, 6, 6, 3)
    x = np.round(_images(shape, scale=200.0) / 255.0 * scale, 3).astype("float32")
    k = keras.layers.Equalization(**kw)
    layer = nn.Equalization(**kw)
    chex.assert_trees_all_close(np.asarray(layer.apply({}, x, training=True)[0]), np.asarray(k(x, training=True)),
                                atol=1e-4 * scale, rtol=1e-5)
    # Keras equalizes only when training
    chex.assert_trees_all_close(np.asarray(layer.apply({}, x, training=False)[0]), np.asarray(k(x, training=False)))


@pytest.mark.parametrize("kw,shape", [({}, (2, 16, 16, 3)), ({"clip_limit": 2.0, "tile_grid_size": (3, 2)}, (2, 10, 7, 1)),
                                      ({"clip_limit": 0.0, "tile_grid_size": (2, 2)}, (1, 8, 8, 2)),
                                      ({"value_range": (0, 1), "tile_grid_size": (2, 2)}, (1, 8, 8, 3)),
                                      ({"data_format": "channels_first", "tile_grid_size": (2, 2)}, (1, 3, 8, 6))])
def test_clahe_matches_keras(kw, shape):
    scale = 1.0 if kw.get("value_range") == (0, 1) else 255.0
    x = _images(shape, scale=scale)
    klayer = keras.layers.ContrastLimitedAdaptiveHistogramEqualization(**kw)
    expected = np.asarray(jax.jit(klayer)(x))  # Keras's JAX ops, compiled once (eager dispatch is slow)
    layer = nn.ContrastLimitedAdaptiveHistogramEqualization(**kw)
    got = np.asarray(layer.apply({}, x)[0])
    chex.assert_trees_all_close(got, expected, atol=1e-3 * scale, rtol=1e-5)


def test_max_num_bounding_boxes_passes_images_like_keras():
    x = _images((2, 4, 4, 3))
    layer = nn.MaxNumBoundingBoxes(3)
    chex.assert_trees_all_close(np.asarray(layer.apply({}, x)[0]), np.asarray(keras.layers.MaxNumBoundingBoxes(3)(x)))


@pytest.mark.parametrize("kw", [{"fft_length": 256, "sequence_stride": 64, "num_mel_bins": 40},
                                {"fft_length": 128, "sequence_length": 100, "sequence_stride": 50, "window": "hamming",
                                 "sampling_rate": 8000, "num_mel_bins": 16, "power_to_db": False, "mag_exp": 1.0},
                                {"fft_length": 256, "num_mel_bins": 32, "top_db": 20.0, "ref_power": 2.0,
                                 "max_freq": 5000, "min_freq": 100.0}])
def test_mel_spectrogram_matches_keras(kw):
    x = np.random.default_rng(1).normal(size=(2, 2000)).astype("float32")
    klayer = keras.layers.MelSpectrogram(**kw)
    expected = np.asarray(jax.jit(klayer)(x))  # Keras's JAX ops, compiled once (eager dispatch is slow)
    layer = nn.MelSpectrogram(**kw)
    got = np.asarray(layer.apply({}, x)[0])
    assert got.shape == expected.shape
    tol = dict(atol=2e-3, rtol=2e-4) if kw.get("power_to_db", True) else dict(atol=1e-3, rtol=1e-3)
    chex.assert_trees_all_close(got, expected, **tol)


@pytest.mark.parametrize("mode", ["log", "magnitude", "psd", "real", "imag", "angle", "stft"])
@pytest.mark.parametrize("fmt_kw", [{}, {"data_format": "channels_first", "expand_dims": True},
                                    {"expand_dims": True, "padding": "same", "scaling": "spectrum", "periodic": True}])
def test_stft_spectrogram_matches_keras(mode, fmt_kw):
    kw = dict(mode=mode, frame_length=16, frame_step=4, fft_length=32, **fmt_kw)
    shape = (2, 2, 64) if fmt_kw.get("data_format") == "channels_first" else (2, 64, 2)
    x = np.random.default_rng(2).normal(size=shape).astype("float32")
    klayer = keras.layers.STFTSpectrogram(**kw)
    expected = np.asarray(klayer(x))
    layer = nn.STFTSpectrogram(**kw)
    v = layer.init(jax.random.key(0), x)
    assert sorted(v.params) == sorted(w.name for w in klayer.weights)
    for w in klayer.weights:
        chex.assert_trees_all_close(np.asarray(v.params[w.name]), np.asarray(w.value), atol=1e-6)
    got = np.asarray(layer.apply(v, x)[0])
    assert got.shape == expected.shape
    if mode == "angle":  # angles of (near-)zero bins are arbitrary (the sign of a zero): compare where defined
        kw["mode"] = "magnitude"
        defined = np.asarray(keras.layers.STFTSpectrogram(**kw)(x)) > 1e-3
        got, expected = np.exp(1j * got)[defined], np.exp(1j * expected)[defined]
    chex.assert_trees_all_close(got, expected, atol=1e-4, rtol=1e-4)


