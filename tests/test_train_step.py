"""The pure engine: TrainState, jitted train/eval/predict steps, compile counts, steps_per_execution,
frozen masks, multi-output losses. Closed forms at tolerance 1e-6 (float32)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fkeras import nn
from fkeras.train import CompiledLoss, CompiledMetrics, Engine, TrainState, forward_of, losses, optimizers

rng = np.random.default_rng(3)
X = rng.normal(size=(72, 5)).astype("float32")
Y = (X[:, 0] + X[:, 1] > 0).astype("int32")


def _engine(net, opt=None, loss="sparse_categorical_crossentropy", metrics=("acc",), mask=None, seed=0):
    v = net.init(jax.random.key(0), X[:4])
    eng = Engine(forward_of(net), CompiledLoss(loss), CompiledMetrics(list(metrics)), opt or optimizers.SGD(0.1),
                 trainable_mask=mask)
    eng.build(v.params, v.state, (X[:32], Y[:32]))
    ts = eng.init_train_state(v.params, v.state, rng=seed)
    return eng, ts


def _batches(bs=32):
    return [(X[i:i + bs], Y[i:i + bs]) for i in range(0, len(X), bs)]


def test_sgd_step_equals_closed_form():
    net = nn.Sequential([nn.Dense(2)])
    eng, ts = _engine(net)
    p0 = jax.tree.map(np.array, ts.params)
    fwd = forward_of(net)

    def loss_fn(p):
        y, _, _ = fwd(p, {}, X[:32], True, None)
        return losses.SparseCategoricalCrossentropy()(Y[:32], y)

    g = jax.grad(loss_fn)(p0)
    ts, logs = eng.jit_train(ts, (X[:32], Y[:32]))
    chex.assert_trees_all_close(ts.params, jax.tree.map(lambda p, gg: p - 0.1 * gg, p0, g), atol=1e-6)
    chex.assert_trees_all_close(float(logs["loss"]), float(loss_fn(p0)), atol=1e-6)
    assert int(ts.step) == 1 and int(ts.opt_state.iterations) == 1


def test_compiled_once_per_shape_across_epochs():
    eng, ts = _engine(nn.Sequential([nn.Dense(8, activation="relu"), nn.Dense(2)]))
    for _ in range(3):  # 72 = 32 + 32 + 8: one full shape, one ragged shape
        ts = ts.replace(metrics=eng.init_metrics())
        for b in _batches():
            ts, logs = eng.jit_train(ts, b)
        m = eng.init_metrics()
        for b in _batches():
            m, _ = eng.jit_eval(ts.params, ts.state, m, b)
        eng.jit_predict(ts.params, ts.state, X[:32])
    assert eng.trace_counts["train"] == 2
    assert eng.trace_counts["eval"] == 2
    assert eng.trace_counts["predict"] == 1


def test_steps_per_execution_scan_equals_single_steps():
    net = nn.Sequential([nn.Dense(8, activation="relu"), nn.Dense(2)])
    eng, ts = _engine(net, optimizers.Adam(0.01))
    eng2, ts2 = _engine(net, optimizers.Adam(0.01))
    bs = [(X[i:i + 16], Y[i:i + 16]) for i in range(0, 64, 16)]
    for b in bs:
        ts, logs = eng.jit_train(ts, b)
    from fkeras.train.steps import stack_batches

    ts2, logs2 = eng2.jit_train_multi(ts2, stack_batches(bs))
    chex.assert_trees_all_close(ts.params, ts2.params, atol=1e-6)
    chex.assert_trees_all_close(logs, logs2, atol=1e-6)
    assert int(ts2.step) == 4


def test_steps_per_execution_compiles_the_steps_unrolled():
    """As Keras's JAX trainer: the fused steps are unrolled, not a while loop (XLA:CPU runs strided,
    dilated, 1D and depthwise conv gradients 10-70x slower inside a loop body)."""
    from fkeras.train.steps import stack_batches

    net = nn.Sequential([nn.Conv2D(4, 3, strides=2), nn.Flatten(), nn.Dense(2)])
    xs = np.random.default_rng(0).random((3, 8, 9, 9, 3), dtype=np.float32)
    ys = np.zeros((3, 8), np.int32)
    v = net.init(jax.random.key(0), xs[0])
    eng = Engine(forward_of(net), CompiledLoss("sparse_categorical_crossentropy"), CompiledMetrics([]),
                 optimizers.SGD(0.1))
    eng.build(v.params, v.state, (xs[0], ys[0]))
    ts = eng.init_train_state(v.params, v.state, rng=0)
    batches = stack_batches([(xs[i], ys[i]) for i in range(3)])
    hlo = eng.jit_train_multi.lower(ts, batches).compile().as_text()
    # one forward and one kernel-gradient conv per step in the program (a loop would hold one of each)
    assert sum(" convolution(" in line for line in hlo.splitlines()) == 6


def test_frozen_mask_gets_no_update_and_no_weight_decay():
    a, b = nn.Dense(4, name="a"), nn.Dense(2, name="b")
    net = nn.Sequential([a, b])
    eng, ts = _engine(net, optimizers.AdamW(0.05, weight_decay=0.5), mask={"a": False, "b": True})
    before = jax.tree.map(np.array, ts.params)
    for bt in _batches():
        ts, _ = eng.jit_train(ts, bt)
    chex.assert_trees_all_close(ts.params["a"], before["a"], atol=0)
    assert not np.allclose(ts.params["b"]["kernel"], before["b"]["kernel"])
    assert jax.tree.leaves(ts.opt_state.slots["momentum"]["a"]) == []  # no slots for frozen weights


def test_dropout_same_seed_same_result_different_seed_differs():
    net = nn.Sequential([nn.Dense(16), nn.Dropout(0.5), nn.Dense(2)])
    eng, _ = _engine(net)
    v = net.init(jax.random.key(0), X[:4])
    outs = []
    for seed in (7, 7, 8):
        ts = eng.init_train_state(v.params, v.state, rng=seed)
        for b in _batches():
            ts, _ = eng.jit_train(ts, b)
        outs.append(ts.params)
    chex.assert_trees_all_close(outs[0], outs[1], atol=0)
    assert not np.allclose(outs[0]["dense_1"]["kernel"], outs[2]["dense_1"]["kernel"])
    assert eng.trace_counts["train"] == 2  # one engine, two batch shapes, three runs


def test_multi_output_weighted_losses_and_logs():
    head = nn.Dense(3)

    def forward(params, state, x, training, rng):
        y, _ = head.apply((params, {}), x)
        return {"cls": jax.nn.softmax(y), "reg": y[:, :1]}, state, jnp.zeros(())

    v = head.init(jax.random.key(1), X[:4])
    yreg = X[:, :1] * 2
    loss = {"cls": "sparse_categorical_crossentropy", "reg": "mse"}
    eng = Engine(forward, CompiledLoss(loss, {"cls": 1.0, "reg": 0.5}), CompiledMetrics({"cls": ["acc"]}),
                 optimizers.SGD(0.0))
    batch = (X[:32], {"cls": Y[:32], "reg": yreg[:32]})
    eng.build(v.params, v.state, batch)
    ts = eng.init_train_state(v.params, {})
    ts, logs = eng.jit_train(ts, batch)
    out, _, _ = forward(v.params, {}, X[:32], False, None)
    ce = float(losses.SparseCategoricalCrossentropy()(Y[:32], out["cls"]))
    mse = float(np.mean((np.asarray(out["reg"]) - yreg[:32]) ** 2))
    chex.assert_trees_all_close(float(logs["loss"]), ce + 0.5 * mse, atol=1e-5)
    chex.assert_trees_all_close(float(logs["cls_loss"]), ce, atol=1e-5)
    chex.assert_trees_all_close(float(logs["reg_loss"]), mse, atol=1e-5)
    assert "cls_acc" in logs


def test_wrong_input_shape_is_a_clear_error_before_state_changes():
    eng, ts = _engine(nn.Sequential([nn.Dense(2)]))
    with pytest.raises(ValueError, match="last dimension 5"):
        eng.jit_train(ts, (X[:8, :3], Y[:8]))
    ts, _ = eng.jit_train(ts, (X[:8], Y[:8]))  # ts still usable
    assert int(ts.step) == 1
