"""fkeras metrics (pure init/update/result and the stateful face) vs Keras 3, tolerance 1e-5
(AUC 1e-4: sums of 200 terms)."""

import chex
import jax
import numpy as np
import pytest

import fkeras.metrics as M
from fkeras.train import metrics as TM

keras = pytest.importorskip("keras")

rng = np.random.default_rng(1)
N, C = 40, 5
probs = rng.dirichlet(np.ones(C), size=N).astype("float32")
sparse = rng.integers(0, C, size=(N,)).astype("int32")
onehot = np.eye(C, dtype="float32")[sparse]
bin_true = rng.integers(0, 2, size=(N, 1)).astype("float32")
bin_pred = np.clip(bin_true * 0.3 + rng.uniform(size=(N, 1)) * 0.7, 0, 1).astype("float32")
reg_true = rng.normal(size=(N, 3)).astype("float32")
reg_pred = (reg_true + rng.normal(size=(N, 3))).astype("float32")
sw = rng.uniform(0, 2, size=(N,)).astype("float32")

CASES = [
    ("Accuracy", {}, sparse, np.argmax(probs, -1).astype("int32")),
    ("SparseCategoricalAccuracy", {}, sparse, probs),
    ("SparseCategoricalAccuracy", {}, sparse[:, None], probs),
    ("CategoricalAccuracy", {}, onehot, probs),
    ("BinaryAccuracy", {}, bin_true, bin_pred),
    ("BinaryAccuracy", {"threshold": 0.7}, bin_true, bin_pred),
    ("TopKCategoricalAccuracy", {"k": 2}, onehot, probs),
    ("MeanSquaredError", {}, reg_true, reg_pred),
    ("MeanAbsoluteError", {}, reg_true, reg_pred),
    ("Precision", {}, bin_true, bin_pred),
    ("Precision", {"thresholds": [0.3, 0.6]}, bin_true, bin_pred),
    ("Recall", {}, bin_true, bin_pred),
    ("Recall", {"thresholds": 0.4}, bin_true, bin_pred),
    ("AUC", {}, bin_true, bin_pred),
    ("AUC", {"curve": "PR"}, bin_true, bin_pred),
    ("AUC", {"num_thresholds": 50, "summation_method": "minoring"}, bin_true, bin_pred),
    ("RootMeanSquaredError", {}, reg_true, reg_pred),
    ("MeanAbsolutePercentageError", {}, reg_true, reg_pred),
    ("MeanSquaredLogarithmicError", {}, np.abs(reg_true), np.abs(reg_pred)),
    ("KLDivergence", {}, onehot, probs),
    ("Poisson", {}, np.abs(reg_true), np.abs(reg_pred)),
    ("LogCoshError", {}, reg_true, reg_pred),
    ("CosineSimilarity", {}, reg_true, reg_pred),
    ("Hinge", {}, bin_true, bin_pred),
    ("SquaredHinge", {}, bin_true, bin_pred),
    ("CategoricalHinge", {}, onehot, probs),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cls,kw,y,p", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_metric_matches_keras_over_two_batches(cls, kw, y, p, weighted):
    ours, theirs = getattr(M, cls)(**kw), getattr(keras.metrics, cls)(**kw)
    h = N // 2
    tol = dict(atol=1e-4, rtol=1e-4) if cls == "AUC" else dict(atol=1e-5, rtol=1e-5)
    for sl in (slice(0, h), slice(h, N)):
        w = sw[sl] if weighted else None
        ours.update_state(y[sl], p[sl], sample_weight=w)
        theirs.update_state(y[sl], p[sl], sample_weight=w)
    chex.assert_trees_all_close(np.asarray(ours.result()), np.asarray(theirs.result()), **tol)
    ours.reset_state()
    chex.assert_trees_all_close(np.asarray(ours.result()), np.zeros_like(np.asarray(theirs.result())), atol=0)


@pytest.mark.parametrize("kw", [dict(multi_label=True, num_labels=3), dict(multi_label=True, num_labels=3, curve="PR"),
                                dict(multi_label=True, num_labels=3, label_weights=[1.0, 2.0, 0.5]),
                                dict(label_weights=[1.0, 2.0, 0.5])])
def test_auc_multi_label_and_label_weights_match_keras(kw):
    yt = rng.integers(0, 2, size=(N, 3)).astype("float32")
    yp = np.clip(yt * 0.4 + rng.uniform(size=(N, 3)) * 0.6, 0, 1).astype("float32")
    ours, theirs = M.AUC(**kw), keras.metrics.AUC(**kw)
    ours.update_state(yt, yp, sample_weight=sw)
    theirs.update_state(yt, yp, sample_weight=sw)
    chex.assert_trees_all_close(float(ours.result()), float(theirs.result()), atol=1e-4)


def test_pure_api_is_jittable_and_stateless():
    m = M.SparseCategoricalAccuracy(name="acc")
    s0 = m.init()
    s1 = jax.jit(m.update)(s0, sparse, probs)
    expected = np.mean(np.argmax(probs, -1) == sparse)
    chex.assert_trees_all_close(float(m.result(s1)), float(expected), atol=1e-6)
    assert float(m.result(s0)) == 0.0  # s0 untouched
    assert m.name == "acc"


def test_mean_weighted_closed_form():
    m = M.Mean()
    s = m.update(m.init(), np.array([1.0, 2.0, 3.0]), sample_weight=np.array([1.0, 0.0, 3.0]))
    chex.assert_trees_all_close(float(m.result(s)), (1 + 9) / 4, atol=1e-6)


def test_stateless_variables_roundtrip():
    m = M.Precision()
    v = [np.zeros(1, "float32"), np.zeros(1, "float32")]
    v = m.stateless_update_state(v, bin_true, bin_pred)
    m.update_state(bin_true, bin_pred)
    chex.assert_trees_all_close(float(m.stateless_result(v)), float(m.result()), atol=1e-6)


def test_accuracy_resolution_by_shapes():
    assert isinstance(TM.resolve("accuracy", (8,), (8, 10)), M.SparseCategoricalAccuracy)
    assert isinstance(TM.resolve("acc", (8, 10), (8, 10)), M.CategoricalAccuracy)
    assert isinstance(TM.resolve("accuracy", (8, 1), (8, 1)), M.BinaryAccuracy)
    assert TM.resolve("acc", (8,), (8, 10)).name == "acc"
    assert TM.resolve("mse", (8, 1), (8, 1)).name == "mse"


def test_unknown_metric_errors():
    with pytest.raises(ValueError, match="Unknown metric 'acuracy'"):
        M.get("acuracy")
    with pytest.raises(ValueError, match="curve"):
        M.AUC(curve="XY")
