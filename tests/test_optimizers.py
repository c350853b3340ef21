"""fkeras optimizers vs Keras 3's on the same weights and gradients for a few steps (tolerance 1e-6
relative, float32), schedules vs Keras's, learning-rate changes without retracing, optax protocol."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fkeras.optimizers as O
from fkeras.optimizers import schedules as S

keras = pytest.importorskip("keras")

rng = np.random.default_rng(2)
W = {"dense": {"kernel": rng.normal(size=(3, 4)).astype("float32"), "bias": rng.normal(size=(4,)).astype("float32")}}
GRADS = [jax.tree.map(lambda w: rng.normal(size=w.shape).astype("float32") * 3, W) for _ in range(4)]


def _keras_run(opt, steps=4):
    leaves, treedef = jax.tree.flatten(W)
    vs = [keras.Variable(np.array(l)) for l in leaves]
    for g in GRADS[:steps]:
        opt.apply(jax.tree.leaves(g), vs)
    return jax.tree.unflatten(treedef, [np.asarray(v.value) for v in vs])


def _ours_run(opt, steps=4):
    p = jax.tree.map(jnp.asarray, W)
    s = opt.init(p)
    step = jax.jit(opt.apply)
    for g in GRADS[:steps]:
        p, s = step(g, s, p)
    return p


CASES = [
    ("SGD", {}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adam", {}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True, "clipnorm": 1.0}),
    ("AdamW", {"learning_rate": 0.01}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1, "global_clipnorm": 2.0}),
    ("RMSprop", {}),
    ("RMSprop", {"momentum": 0.5, "centered": True, "clipvalue": 0.5}),
    ("Adagrad", {"learning_rate": 0.1}),
    ("Nadam", {"learning_rate": 0.01}),
    ("Lion", {"learning_rate": 0.01, "weight_decay": 0.05}),
]


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_updates_match_keras(name, kw):
    ours = _ours_run(getattr(O, name)(**kw))
    theirs = _keras_run(getattr(keras.optimizers, name)(**kw))
    chex.assert_trees_all_close(ours, theirs, atol=1e-6, rtol=1e-5)


SCHED = [
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.5)),
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.5, staircase=True)),
    ("PiecewiseConstantDecay", dict(boundaries=[2, 5], values=[0.1, 0.05, 0.01])),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.3)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=4, end_learning_rate=0.01, power=2.0)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=4, cycle=True)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=5, alpha=0.1)),
    ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=5, warmup_target=0.1, warmup_steps=3)),
]


@pytest.mark.parametrize("name,kw", SCHED, ids=[f"{c[0]}-{i}" for i, c in enumerate(SCHED)])
def test_schedules_match_keras(name, kw):
    ours, theirs = getattr(S, name)(**kw), getattr(keras.optimizers.schedules, name)(**kw)
    for step in range(0, 12):
        chex.assert_trees_all_close(float(ours(step)), float(theirs(step)), atol=1e-7, rtol=1e-6)


def test_optimizer_with_schedule_matches_keras():
    kw = dict(initial_learning_rate=0.1, decay_steps=1, decay_rate=0.5)
    ours = _ours_run(O.SGD(S.ExponentialDecay(**kw), momentum=0.9))
    theirs = _keras_run(keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(**kw), momentum=0.9))
    chex.assert_trees_all_close(ours, theirs, atol=1e-6, rtol=1e-5)


def test_learning_rate_lives_in_state_no_retrace():
    opt = O.SGD(0.1)
    traces = []

    def step(g, s, p):
        traces.append(1)
        return opt.apply(g, s, p)

    step = jax.jit(step)
    p = jax.tree.map(jnp.asarray, W)
    s = opt.init(p)
    p1, s1 = step(GRADS[0], s, p)
    s1 = s1._replace(learning_rate=jnp.asarray(0.01, jnp.float32))
    p2, _ = step(GRADS[1], s1, p1)
    assert len(traces) == 1
    expected = jax.tree.map(lambda a, g: a - 0.01 * g, p1, GRADS[1])
    chex.assert_trees_all_close(p2, expected, atol=1e-6)


def test_optax_protocol_and_frozen_leaves():
    opt = O.Adam(0.01)
    tx = opt.as_optax()
    p = jax.tree.map(jnp.asarray, W)
    s = tx.init(p)
    updates, s = tx.update(GRADS[0], s, p)
    p_optax = optax.apply_updates(p, updates)
    p_direct, _ = opt.apply(GRADS[0], opt.init(p), p)
    chex.assert_trees_all_close(p_optax, p_direct, atol=1e-6)
    # a None leaf (frozen weight) gets no slot and no update
    frozen = {"dense": {"kernel": p["dense"]["kernel"], "bias": None}}
    s = opt.init(frozen)
    assert len(jax.tree.leaves(s.slots)) == 2
    g = {"dense": {"kernel": GRADS[0]["dense"]["kernel"], "bias": None}}
    new, _ = opt.apply(g, s, frozen)
    assert new["dense"]["bias"] is None


def test_get_and_errors():
    assert isinstance(O.get("adam"), O.Adam) and isinstance(O.get("RMSprop"), O.RMSprop)
    with pytest.raises(ValueError, match="Unknown optimizer 'adan'"):
        O.get("adan")
    with pytest.raises(ValueError, match="only one of"):
        O.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        O.SGD(S.ExponentialDecay(0.1, 2, 0.5)).learning_rate = 0.3
    cfg = O.Adam(0.02, beta_1=0.8).get_config()
    assert cfg["learning_rate"] == 0.02 and cfg["beta_1"] == 0.8
    assert O.Adam.from_config(cfg).beta_1 == 0.8


def test_stateful_apply_gradients_on_variables_matches_keras():
    import fkeras

    leaves = jax.tree.leaves(W)
    ours = [fkeras.Variable(np.array(l)) for l in leaves]
    theirs = [keras.Variable(np.array(l)) for l in leaves]
    o, k = O.Adam(0.01), keras.optimizers.Adam(0.01)
    for g in GRADS[:3]:
        o.apply_gradients(zip(jax.tree.leaves(g), ours))
        k.apply_gradients(zip(jax.tree.leaves(g), theirs))
    chex.assert_trees_all_close([np.asarray(v.value) for v in ours], [np.asarray(v.value) for v in theirs],
                                atol=1e-6, rtol=1e-5)
    assert o.iterations == 3 and len(o.variables) == 2 + 2 * len(leaves)
    o.learning_rate = 0.5
    assert o.learning_rate == 0.5
