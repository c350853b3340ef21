"""Your own activations and initializers survive `.keras` files as Keras 3 writes them: resolved on load
from `custom_objects`, `custom_object_scope` or `register_keras_serializable`, in both directions with
Keras 3.15."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402  (the oracle)

import fkeras  # noqa: E402

X = np.linspace(-1, 1, 12, dtype="float32").reshape(4, 3)


def scaled_relu(x):
    return fkeras.ops.relu(x) * 2.0


def k_scaled_relu(x):
    return keras.ops.relu(x) * 2.0


k_scaled_relu.__name__ = "scaled_relu"


@fkeras.saving.register_keras_serializable(package="fk_test")
def tripled(x):
    return x * 3.0


@fkeras.saving.register_keras_serializable(package="fk_test")
class HalfOnes(fkeras.initializers.Initializer):
    def __call__(self, shape, dtype=None, key=None):
        return np.full(shape, 0.5, dtype or "float32")

    def get_config(self):
        return {}


def _model(lib, activation, **dense_kwargs):
    return lib.Sequential([lib.Input((3,)), lib.layers.Dense(2, activation=activation, **dense_kwargs)])


def test_activation_config_is_keras_function_dict():
    config = _model(fkeras, scaled_relu).layers[-1].get_config()["activation"]
    expected = _model(keras, k_scaled_relu).layers[-1].get_config()["activation"]
    assert config == expected


@pytest.mark.parametrize("how", ["custom_objects", "scope"])
def test_custom_activation_loads_from_custom_objects(tmp_path, how):
    model = _model(fkeras, scaled_relu)
    model.save(tmp_path / "m.keras")
    if how == "custom_objects":
        loaded = fkeras.saving.load_model(tmp_path / "m.keras", custom_objects={"scaled_relu": scaled_relu})
    else:
        with fkeras.saving.custom_object_scope({"scaled_relu": scaled_relu}):
            loaded = fkeras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)


def test_unknown_custom_activation_says_how_to_fix(tmp_path):
    _model(fkeras, scaled_relu).save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="custom_objects"):
        fkeras.saving.load_model(tmp_path / "m.keras")


def test_registered_activation_and_initializer_round_trip(tmp_path):
    model = _model(fkeras, tripled, kernel_initializer=HalfOnes())
    config = model.layers[-1].get_config()
    assert config["activation"]["config"] == "fk_test>tripled"
    assert config["kernel_initializer"]["registered_name"] == "fk_test>HalfOnes"
    model.save(tmp_path / "m.keras")
    loaded = fkeras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)
    assert isinstance(loaded.layers[-1].nn_layer.kernel_initializer, HalfOnes)


def test_keras_file_with_custom_activation_loads_in_fkeras(tmp_path):
    kmodel = _model(keras, k_scaled_relu)
    kmodel.save(tmp_path / "k.keras")
    loaded = fkeras.saving.load_model(tmp_path / "k.keras", custom_objects={"scaled_relu": scaled_relu})
    np.testing.assert_allclose(loaded.predict(X, verbose=0), kmodel.predict(X, verbose=0), rtol=1e-6)


def test_fkeras_file_with_custom_activation_loads_in_keras(tmp_path):
    model = _model(fkeras, scaled_relu)
    model.save(tmp_path / "f.keras")
    loaded = keras.saving.load_model(tmp_path / "f.keras", custom_objects={"scaled_relu": k_scaled_relu})
    np.testing.assert_allclose(np.asarray(loaded.predict(X, verbose=0)), model.predict(X, verbose=0), rtol=1e-6)
