"""Keras 3.15's initializer spellings and the STFT initializer, against Keras."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402  (the oracle)

import fkeras  # noqa: E402


def test_every_keras_initializer_name_exists_and_aliases_the_same_class():
    names = [n for n in dir(keras.initializers) if not n.startswith("_")]
    missing = [n for n in names if not hasattr(fkeras.initializers, n)]
    assert not missing
    for n in names:
        k, f = getattr(keras.initializers, n), getattr(fkeras.initializers, n)
        if isinstance(k, type):
            canonical = getattr(fkeras.initializers, k.__name__)
            assert f is canonical, (n, f, canonical)


@pytest.mark.parametrize("kwargs", [{}, {"side": "imag", "window": "hamming", "scaling": "spectrum", "periodic": True},
                                    {"window": None, "scaling": None}])
def test_stft_equals_keras(kwargs):
    expected = np.asarray(keras.initializers.STFT(**kwargs)((16, 1, 9)))
    got = np.asarray(fkeras.initializers.STFT(**kwargs)((16, 1, 9)))
    np.testing.assert_allclose(got, expected, atol=5e-6)
    # Keras returns (frame_length, 1, bins) whatever the channels; fkeras fills the shape asked for
    wide = np.asarray(fkeras.initializers.STFT(**kwargs)((16, 2, 9)))
    np.testing.assert_allclose(wide, np.broadcast_to(expected, (16, 2, 9)), atol=5e-6)
    assert fkeras.initializers.STFT(**kwargs).get_config() == keras.initializers.STFT(**kwargs).get_config()
    assert isinstance(fkeras.initializers.get("stft"), fkeras.initializers.STFT)


def test_stft_bad_arguments():
    with pytest.raises(ValueError, match="side should be"):
        fkeras.initializers.STFT(side="both")
    with pytest.raises(ValueError, match="Scaling is invalid"):
        fkeras.initializers.STFT(scaling="max")
    with pytest.raises(ValueError, match="frame_length"):
        fkeras.initializers.STFT()((3, 3))
