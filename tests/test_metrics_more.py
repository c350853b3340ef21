"""Keras 3.15's remaining metrics on fkeras: the same numbers as Keras on the same inputs (with and
without sample weights), equal configs, and the pure form (init/update/result) under jit."""

from __future__ import annotations

import os

import jax
import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402  (the oracle)

import fkeras  # noqa: E402

R = np.random.default_rng(0)
BIN_TRUE = R.integers(0, 2, (16, 3)).astype("float32")
BIN_PRED = R.random((16, 3)).astype("float32")
SW = R.random((16,)).astype("float32")
REG_TRUE = R.standard_normal((16, 3)).astype("float32")
REG_PRED = (REG_TRUE + 0.5 * R.standard_normal((16, 3))).astype("float32")
CLS_TRUE = R.integers(0, 4, (16,))
CLS_PRED = R.integers(0, 4, (16,))
ONEHOT_TRUE = np.eye(4, dtype="float32")[CLS_TRUE]
PROBS = R.random((16, 4)).astype("float32")

CASES = [
    ("TruePositives", {}, BIN_TRUE, BIN_PRED),
    ("FalsePositives", {"thresholds": [0.2, 0.7]}, BIN_TRUE, BIN_PRED),
    ("TrueNegatives", {}, BIN_TRUE, BIN_PRED),
    ("FalseNegatives", {"thresholds": 0.3}, BIN_TRUE, BIN_PRED),
    ("SensitivityAtSpecificity", {"specificity": 0.5}, BIN_TRUE, BIN_PRED),
    ("SpecificityAtSensitivity", {"sensitivity": 0.6, "num_thresholds": 50}, BIN_TRUE, BIN_PRED),
    ("PrecisionAtRecall", {"recall": 0.4, "class_id": 1}, BIN_TRUE, BIN_PRED),
    ("RecallAtPrecision", {"precision": 0.3}, BIN_TRUE, BIN_PRED),
    ("F1Score", {}, BIN_TRUE, BIN_PRED),
    ("F1Score", {"average": "macro", "threshold": 0.5}, BIN_TRUE, BIN_PRED),
    ("FBetaScore", {"beta": 2.0, "average": "weighted", "threshold": 0.4}, BIN_TRUE, BIN_PRED),
    ("FBetaScore", {"average": "micro"}, BIN_TRUE, BIN_PRED),
    ("R2Score", {}, REG_TRUE, REG_PRED),
    ("R2Score", {"class_aggregation": "variance_weighted_average"}, REG_TRUE, REG_PRED),
    ("R2Score", {"class_aggregation": None, "num_regressors": 2}, REG_TRUE, REG_PRED),
    ("IoU", {"num_classes": 4, "target_class_ids": [0, 2]}, CLS_TRUE, CLS_PRED),
    ("MeanIoU", {"num_classes": 4}, CLS_TRUE, CLS_PRED),
    ("MeanIoU", {"num_classes": 4, "ignore_class": 1}, CLS_TRUE, CLS_PRED),
    ("BinaryIoU", {"threshold": 0.4}, BIN_TRUE[:, 0], BIN_PRED[:, 0]),
    ("OneHotIoU", {"num_classes": 4, "target_class_ids": [1, 3]}, ONEHOT_TRUE, PROBS),
    ("OneHotMeanIoU", {"num_classes": 4}, ONEHOT_TRUE, PROBS),
    ("PearsonCorrelation", {}, REG_TRUE, REG_PRED),
    ("ConcordanceCorrelation", {}, REG_TRUE, REG_PRED),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize("name,kwargs,y_true,y_pred", CASES, ids=IDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_equals_keras(name, kwargs, y_true, y_pred, weighted):
    fm, km = getattr(fkeras.metrics, name)(**kwargs), getattr(keras.metrics, name)(**kwargs)
    sw = SW if weighted else None
    for m in (fm, km):
        m.update_state(y_true[:8], y_pred[:8], sample_weight=None if sw is None else sw[:8])
        m.update_state(y_true[8:], y_pred[8:], sample_weight=None if sw is None else sw[8:])
    np.testing.assert_allclose(np.asarray(fm.result()), np.asarray(km.result()), rtol=1e-5, atol=1e-6)
    drop = (lambda c: {k: v for k, v in c.items() if k != "name"})  # Keras numbers repeated auto names
    assert drop(fm.get_config()) == drop(km.get_config())
    fm.reset_state()
    km.reset_state()
    np.testing.assert_allclose(np.asarray(fm.result()), np.asarray(km.result()), atol=1e-7)


@pytest.mark.parametrize("name,kwargs,y_true,y_pred", CASES[::4], ids=IDS[::4])
def test_pure_form_jits(name, kwargs, y_true, y_pred):
    m = getattr(fkeras.metrics, name)(**kwargs)
    if hasattr(m, "build"):
        m.build(y_true.shape, y_pred.shape)
    step = jax.jit(lambda s, t, p: m.update(s, t, p))
    state = step(m.init(), y_true, y_pred)
    eager = getattr(fkeras.metrics, name)(**kwargs)
    eager.update_state(y_true, y_pred)
    np.testing.assert_allclose(np.asarray(m.result(state)), np.asarray(eager.result()), rtol=1e-6)


def test_f1_inside_fit_builds_from_the_output_shape():
    x = R.random((32, 5)).astype("float32")
    y = (R.random((32, 3)) > 0.5).astype("float32")
    model = fkeras.Sequential([fkeras.Input((5,)), fkeras.layers.Dense(3, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=[fkeras.metrics.F1Score(average="macro", threshold=0.5)])
    logs = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    ref = keras.metrics.F1Score(average="macro", threshold=0.5)
    ref.update_state(y, model.predict(x, verbose=0))
    np.testing.assert_allclose(logs["f1_score"], float(ref.result()), rtol=1e-5)


def test_shaped_metric_explains_missing_shape():
    with pytest.raises(ValueError, match="does not know the number of outputs"):
        fkeras.metrics.F1Score().init()
    with pytest.raises(ValueError, match="expects 2D inputs"):
        fkeras.metrics.F1Score().update_state(np.ones((2, 2, 2)), np.ones((2, 2, 2)))


@pytest.mark.parametrize("fn", ["pearson_correlation", "concordance_correlation"])
def test_function_forms_equal_keras(fn):
    np.testing.assert_allclose(np.asarray(getattr(fkeras.metrics, fn)(REG_TRUE, REG_PRED)),
                               np.asarray(getattr(keras.metrics, fn)(REG_TRUE, REG_PRED)), rtol=1e-5)


@pytest.mark.parametrize("args", [("F1Score", {"average": "median"}), ("FBetaScore", {"beta": 2}),
                                  ("IoU", {"num_classes": 2, "target_class_ids": [3]}),
                                  ("PrecisionAtRecall", {"recall": 1.5}), ("R2Score", {"num_regressors": -1})])
def test_bad_arguments_raise_like_keras(args):
    name, kwargs = args
    with pytest.raises(ValueError) as theirs:
        getattr(keras.metrics, name)(**kwargs)
    with pytest.raises(ValueError) as ours:
        getattr(fkeras.metrics, name)(**kwargs)
    assert str(ours.value).split(".")[0] == str(theirs.value).split(".")[0]


def test_every_keras_metric_name_exists():
    missing = [n for n in dir(keras.metrics) if not n.startswith("_") and not hasattr(fkeras.metrics, n)]
    assert not missing
