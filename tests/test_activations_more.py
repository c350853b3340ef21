"""Every `keras.activations` name exists in fkeras and gives Keras 3.15's numbers; `get`/`serialize`
round-trip the names, and a Dense layer accepts each by name."""

from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402  (the oracle)

import fkeras  # noqa: E402

KERAS_FUNCS = sorted(n for n in dir(keras.activations) if not n.startswith("_")
                     and n not in ("get", "serialize", "deserialize") and inspect.isfunction(getattr(keras.activations, n)))
X = np.linspace(-3, 3, 24, dtype="float32").reshape(4, 6)


def test_every_keras_activation_name_exists():
    missing = [n for n in dir(keras.activations) if not n.startswith("_") and not hasattr(fkeras.activations, n)]
    assert not missing


@pytest.mark.parametrize("name", KERAS_FUNCS)
def test_values_equal_keras(name):
    kfn, ffn = getattr(keras.activations, name), getattr(fkeras.activations, name)
    kwargs = {"threshold": 0.3, "default_value": -1.0} if name == "threshold" else {}
    np.testing.assert_allclose(np.asarray(ffn(X, **kwargs)), np.asarray(kfn(X, **kwargs)), rtol=1e-5, atol=1e-6)
    assert list(inspect.signature(ffn).parameters) == list(inspect.signature(kfn).parameters)


@pytest.mark.parametrize("name", [n for n in KERAS_FUNCS if n != "threshold"])
def test_get_serialize_roundtrip_and_dense(name):
    fn = fkeras.activations.get(name)
    assert fkeras.activations.get(fkeras.activations.serialize(fn)) is fn
    layer = fkeras.layers.Dense(6, activation=name)
    assert layer.get_config()["activation"] == keras.layers.Dense(6, activation=name).get_config()["activation"]
