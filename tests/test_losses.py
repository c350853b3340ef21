"""fkeras losses vs Keras 3 (JAX backend) on the same inputs; tolerance 1e-5 (float32)."""

import chex
import numpy as np
import pytest

import fkeras.losses as L

keras = pytest.importorskip("keras")

TOL = dict(atol=1e-5, rtol=1e-5)
rng = np.random.default_rng(0)
N, C = 6, 4
logits = rng.normal(size=(N, C)).astype("float32")
probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
sparse = rng.integers(0, C, size=(N,)).astype("int32")
onehot = np.eye(C, dtype="float32")[sparse]
bin_true = rng.integers(0, 2, size=(N, 3)).astype("float32")
bin_logits = rng.normal(size=(N, 3)).astype("float32")
bin_probs = 1 / (1 + np.exp(-bin_logits))
reg_true = rng.normal(size=(N, 3)).astype("float32")
reg_pred = (reg_true + 2 * rng.normal(size=(N, 3))).astype("float32")
sw = rng.uniform(0, 2, size=(N,)).astype("float32")

CASES = [
    ("SparseCategoricalCrossentropy", {}, sparse, probs),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, sparse, logits),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, sparse[:, None], logits),
    ("CategoricalCrossentropy", {}, onehot, probs),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, onehot, logits),
    ("BinaryCrossentropy", {}, bin_true, bin_probs),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, bin_true, bin_logits),
    ("BinaryCrossentropy", {}, bin_true[:, 0], bin_probs[:, :1]),
    ("MeanSquaredError", {}, reg_true, reg_pred),
    ("MeanAbsoluteError", {}, reg_true, reg_pred),
    ("Huber", {"delta": 0.7}, reg_true, reg_pred),
    ("MeanAbsolutePercentageError", {}, reg_true, reg_pred),
    ("MeanSquaredLogarithmicError", {}, np.abs(reg_true), np.abs(reg_pred)),
    ("KLDivergence", {}, onehot, probs),
    ("Poisson", {}, np.abs(reg_true), np.abs(reg_pred)),
    ("CosineSimilarity", {}, reg_true, reg_pred),
    ("LogCosh", {}, reg_true, reg_pred),
    ("Hinge", {}, bin_true, bin_logits),
    ("SquaredHinge", {}, bin_true, bin_logits),
    ("CategoricalHinge", {}, onehot, logits),
]


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean", None, "mean_with_sample_weight"])
@pytest.mark.parametrize("cls,kw,y,p", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_loss_objects_match_keras(cls, kw, y, p, reduction):
    ours = getattr(L, cls)(reduction=reduction, **kw)
    theirs = getattr(keras.losses, cls)(reduction=reduction, **kw)
    chex.assert_trees_all_close(np.asarray(ours(y, p)), np.asarray(theirs(y, p)), **TOL)
    chex.assert_trees_all_close(np.asarray(ours(y, p, sample_weight=sw)),
                                np.asarray(theirs(y, p, sample_weight=sw)), **TOL)


def test_function_forms_and_aliases():
    chex.assert_trees_all_close(np.asarray(L.mse(reg_true, reg_pred)),
                                np.asarray(keras.losses.mean_squared_error(reg_true, reg_pred)), **TOL)
    chex.assert_trees_all_close(np.asarray(L.get("mae")(reg_true, reg_pred)),
                                np.mean(np.abs(reg_true - reg_pred), -1), **TOL)
    assert L.get("sparse_categorical_crossentropy") is L.sparse_categorical_crossentropy
    assert isinstance(L.get("Huber"), L.Huber)
    assert L.SparseCategoricalCrossentropy().name == "sparse_categorical_crossentropy"
    assert L.MeanSquaredError(name="my_mse").name == "my_mse"


def test_sparse_closed_form():
    # -log p[label], averaged over the batch
    expected = -np.log(probs[np.arange(N), sparse]).mean()
    chex.assert_trees_all_close(float(L.SparseCategoricalCrossentropy()(sparse, probs)), float(expected), atol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="Unknown loss 'nope'"):
        L.get("nope")
    with pytest.raises(ValueError, match="reduction"):
        L.MeanSquaredError(reduction="avg")
    with pytest.raises(TypeError):
        L.get(3)
