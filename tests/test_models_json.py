"""`Model.to_json`, `fkeras.models.model_from_json` and `save_model`, in Keras 3.15's format both ways."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402  (the oracle)

import fkeras  # noqa: E402


def _seq(lib):
    return lib.Sequential([lib.Input((3,)), lib.layers.Dense(2, activation="relu", name="d")], name="s")


def test_to_json_is_keras_json_and_round_trips():
    ours = json.loads(_seq(fkeras).to_json())
    theirs = json.loads(_seq(keras).to_json())
    assert ours["class_name"] == theirs["class_name"] == "Sequential"
    assert [l["class_name"] for l in ours["config"]["layers"]] == [l["class_name"] for l in theirs["config"]["layers"]]
    rebuilt = fkeras.models.model_from_json(_seq(fkeras).to_json())
    assert [l.name for l in rebuilt.layers] == ["d"] and rebuilt.layers[0].get_config()["units"] == 2
    assert rebuilt.predict(np.ones((1, 3), "float32"), verbose=0).shape == (1, 2)


def test_json_crosses_with_keras_both_ways():
    assert type(keras.models.model_from_json(_seq(fkeras).to_json())).__name__ == "Sequential"
    assert isinstance(fkeras.models.model_from_json(_seq(keras).to_json()), fkeras.Sequential)


def test_model_from_json_checks_its_input():
    with pytest.raises(TypeError, match="expected a JSON string"):
        fkeras.models.model_from_json({"class_name": "Sequential"})
    with pytest.raises(ValueError, match="not valid JSON"):
        fkeras.models.model_from_json("{not json")


def test_save_model_writes_a_keras_file(tmp_path):
    model = _seq(fkeras)
    fkeras.models.save_model(model, tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)), model.predict(x, verbose=0), rtol=1e-6)
