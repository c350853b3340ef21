"""Keras 3.15's focal, overlap, metric-learning and sequence losses on fkeras: the same numbers as Keras
(with and without sample weights, every reduction), the same configs, `get` by name, and a test that
enumerates `keras.losses` so no name is silently missing."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402  (the oracle)

import fkeras  # noqa: E402

R = np.random.default_rng(0)
BIN_T = R.integers(0, 2, (6, 4)).astype("float32")
BIN_P = R.uniform(0.05, 0.95, (6, 4)).astype("float32")
LOGITS = R.standard_normal((6, 4)).astype("float32")
ONEHOT = np.eye(4, dtype="float32")[R.integers(0, 4, 6)]
PROBS = (np.exp(LOGITS) / np.exp(LOGITS).sum(-1, keepdims=True)).astype("float32")
SPARSE = R.integers(0, 4, (6,))
EMB = R.standard_normal((6, 5)).astype("float32")
EMB /= np.linalg.norm(EMB, axis=-1, keepdims=True)
EMB_LABELS = np.array([0, 1, 0, 1, 2, 2])
CTC_T = np.array([[1, 2, 0], [3, 0, 0], [2, 2, 1]], "int32")
CTC_P = R.standard_normal((3, 7, 5)).astype("float32")
SW = R.uniform(0.1, 1.0, (6,)).astype("float32")

CASES = [
    ("BinaryFocalCrossentropy", {}, BIN_T, BIN_P),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.5,
                                 "label_smoothing": 0.1}, BIN_T, BIN_P),
    ("BinaryFocalCrossentropy", {"from_logits": True}, BIN_T, LOGITS),
    ("CategoricalFocalCrossentropy", {}, ONEHOT, PROBS),
    ("CategoricalFocalCrossentropy", {"from_logits": True, "label_smoothing": 0.2, "gamma": 3.0}, ONEHOT, LOGITS),
    ("Dice", {}, BIN_T, BIN_P),
    ("Dice", {"axis": -1}, BIN_T, BIN_P),
    ("Tversky", {"alpha": 0.3, "beta": 0.7}, BIN_T, BIN_P),
    ("Tversky", {"axis": -1}, BIN_T, BIN_P),
    ("CategoricalGeneralizedCrossEntropy", {"q": 0.3}, SPARSE, PROBS),
    ("Circle", {}, EMB_LABELS, EMB),
    ("Circle", {"gamma": 20.0, "margin": 0.25, "remove_diagonal": False}, EMB_LABELS, EMB),
    ("CTC", {}, CTC_T, CTC_P),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize("name,kwargs,y_true,y_pred", CASES, ids=IDS)
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", None])
def test_loss_objects_equal_keras(name, kwargs, y_true, y_pred, reduction):
    f = getattr(fkeras.losses, name)(reduction=reduction, **kwargs)
    k = getattr(keras.losses, name)(reduction=reduction, **kwargs)
    np.testing.assert_allclose(np.asarray(f(y_true, y_pred)), np.asarray(k(y_true, y_pred)), rtol=2e-5, atol=1e-6)
    assert f.get_config() == k.get_config()


@pytest.mark.parametrize("name,kwargs,y_true,y_pred", [c for c in CASES if c[0] not in ("Dice", "Tversky", "CTC")],
                         ids=[i for c, i in zip(CASES, IDS) if c[0] not in ("Dice", "Tversky", "CTC")])
def test_sample_weights_equal_keras(name, kwargs, y_true, y_pred):
    f, k = getattr(fkeras.losses, name)(**kwargs), getattr(keras.losses, name)(**kwargs)
    sw = SW[: len(y_true)]
    np.testing.assert_allclose(np.asarray(f(y_true, y_pred, sample_weight=sw)),
                               np.asarray(k(y_true, y_pred, sample_weight=sw)), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("fn", ["binary_focal_crossentropy", "categorical_focal_crossentropy", "dice", "tversky"])
def test_function_forms_equal_keras(fn):
    args = (ONEHOT, PROBS)
    np.testing.assert_allclose(np.asarray(getattr(fkeras.losses, fn)(*args)),
                               np.asarray(getattr(keras.losses, fn)(*args)), rtol=2e-5, atol=1e-6)
    assert fkeras.losses.get(fn) is getattr(fkeras.losses, fn)


def test_every_keras_loss_name_exists():
    missing = [n for n in dir(keras.losses) if not n.startswith("_") and not hasattr(fkeras.losses, n)]
    assert not missing


def test_bad_arguments_like_keras():
    with pytest.raises(ValueError, match="q must be in the interval"):
        fkeras.losses.CategoricalGeneralizedCrossEntropy(q=1.5)
    with pytest.raises(ValueError, match="expected to be a tensor of shape"):
        fkeras.losses.CTC()(CTC_T[:, :, None], CTC_P)


def test_focal_loss_trains_in_fit():
    x = R.random((32, 4)).astype("float32")
    y = (x.sum(-1, keepdims=True) > 2).astype("float32")
    model = fkeras.Sequential([fkeras.Input((4,)), fkeras.layers.Dense(1, activation="sigmoid")])
    model.compile(fkeras.optimizers.Adam(0.1), fkeras.losses.BinaryFocalCrossentropy(gamma=2.0))
    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
