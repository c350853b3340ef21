"""Keras names that forward to fkeras's single definitions: `fkeras.backend`, `fkeras.config`,
`fkeras.utils` and top-level names, checked against Keras 3.15 where they compute something."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402  (the oracle)

import fkeras  # noqa: E402


def test_backend_helpers():
    x = fkeras.Input((3,))
    assert fkeras.backend.is_keras_tensor(x) and fkeras.utils.is_keras_tensor(x + 1)
    assert not fkeras.backend.is_keras_tensor(1.0)
    fkeras.backend.clear_session(free_memory=False)
    keras.backend.clear_session(free_memory=False)
    assert [fkeras.backend.get_uid("p") for _ in range(3)] == [keras.backend.get_uid("p") for _ in range(3)]
    fkeras.backend.clear_session(free_memory=False)
    assert fkeras.backend.get_uid("p") == 1
    for d in ("bfloat16", "int8", float, bool):
        assert fkeras.utils.standardize_dtype(d) == keras.utils.standardize_dtype(d)


def test_config_names():
    assert not fkeras.config.is_nnx_enabled()
    fkeras.config.set_backend("jax")
    with pytest.raises(ValueError, match="one backend"):
        fkeras.config.set_backend("torch")
    assert fkeras.config.enable_unsafe_deserialization is fkeras.saving.enable_unsafe_deserialization
    assert fkeras.config.set_floatx is fkeras.backend.set_floatx


def test_utils_forward_to_the_registry_and_serialization():
    @fkeras.utils.register_keras_serializable(package="api_names_test")
    def twice(x):
        return x * 2

    assert fkeras.utils.get_registered_name(twice) == "api_names_test>twice"
    assert fkeras.utils.get_registered_object("api_names_test>twice") is twice
    with fkeras.utils.custom_object_scope({"thrice": len}):
        assert fkeras.utils.get_registered_object("thrice") is len
    layer = fkeras.utils.deserialize_keras_object(fkeras.utils.serialize_keras_object(fkeras.layers.Dense(3)))
    assert layer.get_config()["units"] == 3


def test_top_level_names():
    assert fkeras.version() == fkeras.__version__
    assert fkeras.Loss is fkeras.losses.Loss and fkeras.Metric is fkeras.metrics.Metric
    assert fkeras.Optimizer is fkeras.optimizers.Optimizer and fkeras.Initializer is fkeras.initializers.Initializer
    assert fkeras.Regularizer is fkeras.regularizers.Regularizer and fkeras.KerasTensor is fkeras.layers.KerasTensor
    assert fkeras.DTypePolicy("mixed_float16").compute_dtype == "float16"
