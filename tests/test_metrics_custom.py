"""Keras's custom-metric API on fkeras: a `Metric` subclass written as Keras's guides write it
(`add_variable` in `__init__`, `update_state` assigning, `result` reading) works eagerly, statelessly
and inside the jitted `fit` step, with the same numbers as Keras 3."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402  (the oracle)

import fkeras  # noqa: E402


def _guide_metric(lib):
    ops = lib.ops

    class CategoricalTruePositives(lib.metrics.Metric):
        def __init__(self, name="categorical_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
            values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
            values = ops.cast(values, "float32")
            if sample_weight is not None:
                sample_weight = ops.cast(sample_weight, "float32")
                values = ops.multiply(values, sample_weight)
            self.true_positives.assign_add(ops.sum(values))

        def result(self):
            return self.true_positives

        def reset_state(self):
            self.true_positives.assign(0.0)

    return CategoricalTruePositives()


def _weight_metric(lib):
    class RunningMean(lib.metrics.Metric):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.total = self.add_weight(name="total", initializer="zeros")
            self.count = self.add_weight(name="count", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            err = lib.ops.abs(lib.ops.cast(y_true, "float32") - y_pred)
            self.total.assign_add(lib.ops.sum(err))
            self.count.assign_add(lib.ops.cast(lib.ops.size(err), "float32"))

        def result(self):
            return self.total / self.count

    return RunningMean(name="running_mae")


def _data():
    r = np.random.default_rng(0)
    y_true = r.integers(0, 3, (8, 1))
    y_pred = r.random((8, 3)).astype("float32")
    sw = r.random((8, 1)).astype("float32")
    return y_true, y_pred, sw


@pytest.mark.parametrize("make", [_guide_metric, _weight_metric])
def test_eager_update_result_reset_equal_keras(make):
    y_true, y_pred, sw = _data()
    fm, km = make(fkeras), make(keras)
    for m in (fm, km):
        m.update_state(y_true, y_pred)
        m.update_state(y_true[:4], y_pred[:4], sample_weight=sw[:4])
    np.testing.assert_allclose(np.asarray(fm.result()), np.asarray(km.result()), rtol=1e-6)
    assert [v.name for v in fm.variables] == [v.name for v in km.variables]
    fm.reset_state()
    km.reset_state()
    np.testing.assert_allclose(np.asarray(fm.result()), np.asarray(km.result()), rtol=1e-6)


def test_stateless_api_equals_keras():
    """stateless_update_state/stateless_result give Keras's numbers and leave the variables alone.
    (Keras's own stateless_result returns the guide's Variable, read after its scope closed, so the
    value is compared with Keras's stateful result instead.)"""
    y_true, y_pred, _ = _data()
    fm, km = _guide_metric(fkeras), _guide_metric(keras)
    fv = fm.stateless_update_state([v.value for v in fm.variables], y_true, y_pred)
    km.update_state(y_true, y_pred)
    np.testing.assert_allclose(np.asarray(fm.stateless_result(fv)), np.asarray(km.result()))
    assert float(fm.result()) == 0.0
    np.testing.assert_array_equal(np.asarray(fm.stateless_reset_state()[0]), 0.0)


def test_custom_metric_inside_jitted_fit_equals_eager_count():
    """The guide's metric compiled into a model: fit's logged value is the eager count over the epoch."""
    r = np.random.default_rng(1)
    x = r.random((32, 4)).astype("float32")
    y = r.integers(0, 3, (32, 1))
    model = fkeras.Sequential([fkeras.Input((4,)), fkeras.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=[_guide_metric(fkeras)])
    logs = model.evaluate(x, y, batch_size=8, return_dict=True, verbose=0)
    expected = _guide_metric(fkeras)
    expected.update_state(y, model.predict(x, verbose=0))
    np.testing.assert_allclose(logs["categorical_true_positives"], float(expected.result()), rtol=1e-6)
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert len(history.history["categorical_true_positives"]) == 2


def test_add_variable_checks():
    m = fkeras.metrics.Metric(name="m")
    m.add_variable((2,), "ones", name="a")
    with pytest.raises(ValueError, match="already has a variable named 'a'"):
        m.add_variable((2,), "zeros", name="a")
    with pytest.raises(ValueError, match="aggregation"):
        m.add_variable((), "zeros", aggregation="median")
