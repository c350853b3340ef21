"""Each optimizer is one definition over `fkeras.ops`: the same object run on JAX arrays and on torch
tensors for 5 steps from the same weights and gradients gives Keras 3.15's updates (keras.optimizers.X,
JAX backend). Tolerances (float32): vs Keras atol 1e-6 / rtol 1e-5 (as tests/test_optimizers.py);
JAX vs torch atol 1e-6 / rtol 1e-6 (same formula, elementwise kernels of two libraries). Also:
slot declarations are what saving reads, the pure optimizer keeps no hidden state, and Keras's
"training loop from scratch in JAX" guide (build + stateless_apply) runs unchanged."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fkeras
import fkeras.optimizers as O
from fkeras import ops
from fkeras.optimizers import schedules as S

keras = pytest.importorskip("keras")  # KERAS_BACKEND=jax is set by conftest
torch = pytest.importorskip("torch")

KERAS_TOL = dict(atol=1e-6, rtol=1e-5)
TORCH_TOL = dict(atol=1e-6, rtol=1e-6)
STEPS = 5

RNG = np.random.default_rng(7)
SHAPES = [(3, 4), (4,), (2, 2, 3)]
W0 = [RNG.normal(size=s).astype("float32") for s in SHAPES]
GRADS = [[(RNG.normal(size=s) * 3).astype("float32") for s in SHAPES] for _ in range(STEPS)]

CASES = [
    ("SGD", {}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.05}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True, "clipnorm": 1.0}),
    ("Adam", {"learning_rate": 0.01}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True, "global_clipnorm": 2.0}),
    ("AdamW", {"learning_rate": 0.01}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1, "clipvalue": 0.5}),
    ("RMSprop", {"learning_rate": 0.01}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.01}),
    ("Adagrad", {"learning_rate": 0.1}),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "clipnorm": 2.0}),
    ("Nadam", {"learning_rate": 0.01}),
    ("Nadam", {"learning_rate": 0.01, "weight_decay": 0.02, "global_clipnorm": 1.0}),
    ("Adamax", {"learning_rate": 0.02}),
    ("Adamax", {"learning_rate": 0.02, "weight_decay": 0.05, "clipvalue": 0.5}),
    ("Lion", {"learning_rate": 0.01}),
    ("Lion", {"learning_rate": 0.01, "weight_decay": 0.05, "clipnorm": 0.5}),
    ("Adadelta", {"learning_rate": 1.0}),
    ("Adadelta", {"learning_rate": 1.0, "rho": 0.9, "weight_decay": 0.05, "global_clipnorm": 2.0}),
    ("Ftrl", {"learning_rate": 0.1}),
    ("Ftrl", {"learning_rate": 0.1, "learning_rate_power": -0.3, "initial_accumulator_value": 0.5,
              "l1_regularization_strength": 0.01, "l2_regularization_strength": 0.02,
              "l2_shrinkage_regularization_strength": 0.03, "beta": 0.1, "clipvalue": 2.0}),
    ("Lamb", {"learning_rate": 0.01}),
    ("Lamb", {"learning_rate": 0.01, "weight_decay": 0.05, "clipnorm": 1.0}),
    ("ScheduleFreeAdamW", {"learning_rate": 0.01}),
    ("ScheduleFreeAdamW", {"learning_rate": 0.01, "warmup_steps": 3, "weight_decay": 0.05, "clipnorm": 1.0}),
]


def _to_torch_state(state):
    """A JAX optimizer state as the same pytree of torch tensors (what the torch engine keeps)."""
    return jax.tree.map(lambda a: torch.from_numpy(np.array(a)), state)


def _run_jax(opt):
    p, s = [jnp.asarray(w) for w in W0], opt.init([jnp.asarray(w) for w in W0])
    step = jax.jit(opt.apply)
    for g in GRADS:
        p, s = step(g, s, p)
    return [np.asarray(a) for a in p], s


def _run_torch(opt):
    p, s = [torch.from_numpy(w.copy()) for w in W0], _to_torch_state(opt.init(W0))
    for g in GRADS:
        p, s = opt.apply([torch.from_numpy(a) for a in g], s, p)
    assert all(isinstance(a, torch.Tensor) for a in jax.tree.leaves((p, s)))  # it ran on torch, end to end
    return [a.numpy() for a in p], s


def _run_keras(opt):
    vs = [keras.Variable(w.copy()) for w in W0]
    for g in GRADS:
        opt.apply([jnp.asarray(a) for a in g], vs)
    return [np.asarray(v.value) for v in vs], opt


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_one_definition_on_jax_and_torch_equals_keras(name, kw):
    opt = getattr(O, name)(**kw)
    jax_p, jax_s = _run_jax(opt)
    torch_p, torch_s = _run_torch(opt)
    keras_p, k_opt = _run_keras(getattr(keras.optimizers, name)(**kw))
    chex.assert_trees_all_close(jax_p, keras_p, **KERAS_TOL)
    chex.assert_trees_all_close(torch_p, keras_p, **KERAS_TOL)
    chex.assert_trees_all_close(torch_p, jax_p, **TORCH_TOL)
    chex.assert_trees_all_close(jax.tree.map(lambda t: t.numpy(), torch_s), jax.tree.map(np.asarray, jax_s),
                                **TORCH_TOL)
    assert int(jax_s.iterations) == int(torch_s.iterations) == int(k_opt.iterations) == STEPS
    # the declared slot groups give Keras's variable order (Adam: m0, v0, m1, v1, ...; RMSprop: all velocities,
    # then all momentums), then the extra scalars: what `.keras` saving reads
    expected = [n for grp in opt.slot_groups() for i in range(len(W0)) for n, _ in grp]
    k_names = [v.name for v in k_opt.variables[2:]]
    assert len(k_names) == len(expected) + len(jax_s.extra)  # Nadam's u_product last (Keras leaves it unnamed)
    assert all(k.endswith("_" + e) for k, e in zip(k_names, expected)), (k_names, expected)


def test_schedule_and_learning_rate_change_on_torch():
    """A schedule is evaluated from the torch state's iteration count; a learning rate set in the state
    (what callbacks do) is read by the next update, on either framework."""
    kw = dict(initial_learning_rate=0.1, decay_steps=1, decay_rate=0.5)
    opt = O.SGD(S.ExponentialDecay(**kw), momentum=0.9)
    torch_p, torch_s = _run_torch(opt)
    keras_p, _ = _run_keras(keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(**kw), momentum=0.9))
    chex.assert_trees_all_close(torch_p, keras_p, **KERAS_TOL)
    assert float(torch_s.learning_rate) == pytest.approx(0.1 * 0.5 ** (STEPS - 1))
    opt = O.SGD(0.1)
    for p, s in ((W0, opt.init(W0)), ([torch.from_numpy(w) for w in W0], _to_torch_state(opt.init(W0)))):
        s = s._replace(learning_rate=s.learning_rate * 0 + 0.01)
        new, _ = opt.apply(GRADS[0], s, p) if not isinstance(p[0], torch.Tensor) else opt.apply(
            [torch.from_numpy(g) for g in GRADS[0]], s, p)
        chex.assert_trees_all_close([np.asarray(a) for a in new], [w - 0.01 * g for w, g in zip(W0, GRADS[0])],
                                    atol=1e-6)


def test_loss_scale_optimizer_rule_on_torch_equals_keras():
    """LossScaleOptimizer(Adam) with an inf step: same rule on JAX and torch, Keras's numbers (its JAX path,
    `stateless_apply`)."""
    ours = O.LossScaleOptimizer(O.Adam(0.01), initial_scale=16.0, dynamic_growth_steps=2)
    theirs = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(0.01), initial_scale=16.0,
                                                 dynamic_growth_steps=2)
    theirs.build([keras.Variable(w) for w in W0])
    k_tv, k_ov = [jnp.asarray(w) for w in W0], [v.value for v in theirs.variables]
    jp, js = [jnp.asarray(w) for w in W0], ours.init(W0)
    tp, ts = [torch.from_numpy(w.copy()) for w in W0], _to_torch_state(ours.init(W0))
    for k, g in enumerate(GRADS):
        g = [a * 40 for a in g]
        if k == 2:
            g[1] = g[1].copy()
            g[1][0] = np.inf
        k_tv, k_ov = theirs.stateless_apply(k_ov, [jnp.asarray(a) for a in g], k_tv)
        jp, js = ours.apply(g, js, jp)
        tp, ts = ours.apply([torch.from_numpy(a) for a in g], ts, tp)
        chex.assert_trees_all_close([np.asarray(a) for a in jp], [np.asarray(a) for a in k_tv], **KERAS_TOL)
        chex.assert_trees_all_close([a.numpy() for a in tp], [np.asarray(a) for a in jp], **TORCH_TOL)
    assert [float(ts.dynamic_scale), int(ts.step_counter)] == [float(js.dynamic_scale), int(js.step_counter)] == [
        float(k_ov[3]), int(k_ov[2])]


def test_a_new_optimizer_is_one_definition_and_runs_on_both_engines():
    """A user's optimizer written over fkeras.ops (Keras's Adamax rule, here as a subclass of the base) trains
    on the JAX and the torch engine to the same weights, and matches Keras's Adamax."""

    class MyAdamax(O.Optimizer):
        def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kw):
            super().__init__(learning_rate, **kw)
            self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

        def slot_groups(self):
            return ((("momentum", 0.0), ("norm", 0.0)),)

        def update_leaf(self, g, p, s, lr, t, extra):
            step = ops.cast(t + 1, ops.dtype(p))
            m = s["momentum"] + (g - s["momentum"]) * (1 - self.beta_1)
            u = ops.maximum(self.beta_2 * s["norm"], ops.abs(g))
            return p - (lr * m) / ((1 - ops.power(self.beta_1, step)) * (u + self.epsilon)), {"momentum": m,
                                                                                                "norm": u}

    Adamax = MyAdamax
    jax_p, _ = _run_jax(Adamax(0.02))
    torch_p, _ = _run_torch(Adamax(0.02))
    keras_p, _ = _run_keras(keras.optimizers.Adamax(0.02))
    chex.assert_trees_all_close(jax_p, keras_p, **KERAS_TOL)
    chex.assert_trees_all_close(torch_p, jax_p, **TORCH_TOL)
    x = RNG.normal(size=(16, 4)).astype("float32")
    y = RNG.integers(0, 3, size=(16,)).astype("int32")
    models = []
    for engine in ("jax", "torch"):
        fkeras.nn.clear_session()
        m = fkeras.Sequential([fkeras.Input((4,)), fkeras.layers.Dense(3, activation="softmax", name="d")])
        if models:
            m.set_weights(models[0].get_weights())
        m.compile(optimizer=Adamax(0.05), loss="sparse_categorical_crossentropy", engine=engine)
        models.append(m)
    w0 = models[0].get_weights()
    for m in models:
        m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    chex.assert_trees_all_close(models[1].get_weights(), models[0].get_weights(), rtol=1e-4, atol=1e-6)
    assert not np.allclose(models[0].get_weights()[0], w0[0])


def test_pure_optimizer_keeps_no_reference_to_its_model():
    """No weakrefs or back-references: compile hands the optimizer the model's state cell; the Keras face
    reads and writes the TrainState through it."""
    import gc
    import weakref

    m = fkeras.Sequential([fkeras.Input((4,)), fkeras.layers.Dense(2)])
    opt = O.Adam(0.01)
    m.compile(optimizer=opt, loss="mse")
    m.fit(np.ones((4, 4), "float32"), np.ones((4, 2), "float32"), verbose=0)
    assert not any(isinstance(v, weakref.ref) for v in vars(opt).values())
    assert opt.iterations == 1 and int(m.train_state.opt_state.iterations) == 1
    opt.learning_rate = 0.5
    assert float(m.train_state.opt_state.learning_rate) == 0.5  # written into the model's TrainState
    ref = weakref.ref(m)
    del m
    gc.collect()
    assert ref() is None  # the optimizer (still alive here) does not keep the model
    assert opt.learning_rate == 0.5


def test_keras_jax_guide_build_and_stateless_apply_loop():
    """Keras's "training loop from scratch in JAX": `optimizer.build(model.trainable_variables)`, then
    `optimizer.stateless_apply(optimizer_variables, grads, trainable_variables)` in a jitted step, gives
    Keras 3.15's weights (3 steps, atol 1e-6)."""
    x = RNG.normal(size=(16, 4)).astype("float32")
    y = RNG.integers(0, 3, size=(16,)).astype("int32")
    models = [lib.Sequential([lib.Input((4,)), lib.layers.Dense(8, activation="relu"), lib.layers.Dense(3)])
              for lib in (fkeras, keras)]
    models[1].set_weights(models[0].get_weights())
    results = []
    for lib, model in zip((fkeras, keras), models):
        optimizer = lib.optimizers.Adam(learning_rate=1e-2)
        loss_fn = lib.losses.SparseCategoricalCrossentropy(from_logits=True)
        optimizer.build(model.trainable_variables)

        def compute_loss_and_updates(tv, ntv, x, y, model=model, loss_fn=loss_fn):
            y_pred, ntv = model.stateless_call(tv, ntv, x, training=True)
            return loss_fn(y, y_pred), ntv

        grad_fn = jax.value_and_grad(compute_loss_and_updates, has_aux=True)

        @jax.jit
        def train_step(state, data, optimizer=optimizer, grad_fn=grad_fn):
            tv, ntv, ov = state
            (loss, ntv), grads = grad_fn(tv, ntv, *data)
            tv, ov = optimizer.stateless_apply(ov, grads, tv)
            return loss, (tv, ntv, ov)

        # Keras 3.15 variables need `.value` under current JAX; fkeras's go in as they are
        value = (lambda v: v) if lib is fkeras else (lambda v: v.value)
        state = ([value(v) for v in model.trainable_variables], [value(v) for v in model.non_trainable_variables],
                 [value(v) for v in optimizer.variables])
        assert len(state[2]) == len(optimizer.variables) == 2 + 2 * len(model.trainable_variables)
        for _ in range(3):
            loss, state = train_step(state, (x, y))
        results.append((float(loss), [np.asarray(a) for a in state[0]], int(state[2][0])))
    (l_f, w_f, it_f), (l_k, w_k, it_k) = results
    chex.assert_trees_all_close(w_f, w_k, atol=1e-6, rtol=1e-5)
    assert l_f == pytest.approx(l_k, rel=1e-5) and it_f == it_k == 3
