"""`LossScaleOptimizer`: Keras 3's dynamic loss scaling rule (closed form and vs keras==3.15.1 with the JAX
backend), compile's automatic wrapping under "mixed_float16", training through float16 gradient underflow,
learning-rate changes during training, config round trips, `.keras`/`.weights.h5` files in Keras's layout
both ways, and clear errors. Tolerances: float32 comparisons with Keras 1e-6 absolute / 1e-5 relative;
mixed_float16 fits 1e-3 (float16 rounding of the same ops)."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fkeras as fk
import fkeras.optimizers as O
from fkeras.saving import archive

keras = pytest.importorskip("keras")  # KERAS_BACKEND=jax is set by conftest


@pytest.fixture(autouse=True)
def _fresh_keras_names():
    """Keras's auto names (`input_layer_4`, `adam_1`) are global: leave them as later tests expect."""
    yield
    keras.backend.clear_session(free_memory=False)  # names only: a full gc.collect() per test costs ~0.3 s

RNG = np.random.default_rng(3)
X = RNG.normal(size=(8, 3)).astype("float32")
Y = RNG.normal(size=(8, 2)).astype("float32")
W = {"dense": {"kernel": RNG.normal(size=(3, 2)).astype("float32"), "bias": RNG.normal(size=(2,)).astype("float32")}}


class _policy:
    """Set fkeras's and Keras's global dtype policy; back to float32 on exit."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        fk.mixed_precision.set_global_policy(self.name)
        keras.mixed_precision.set_global_policy(self.name)

    def __exit__(self, *exc):
        fk.mixed_precision.set_global_policy("float32")
        keras.mixed_precision.set_global_policy("float32")


def _dense(lib, policy="float32", units=2):
    with _policy(policy):
        return lib.Sequential([lib.Input((3,)), lib.layers.Dense(units, name="dense")])


def _same_weights(ours, theirs):
    theirs.set_weights(ours.get_weights())


# --- the update rule ---------------------------------------------------------------------------
def test_update_rule_closed_form():
    """SGD inner: finite steps move p by -lr*g (the scaled gradient unscaled) and double the scale after
    `dynamic_growth_steps` of them; an inf/nan step leaves p and the inner state alone and halves it."""
    lr, growth = 0.5, 3
    opt = O.LossScaleOptimizer(O.SGD(lr), initial_scale=64.0, dynamic_growth_steps=growth)
    p = {"w": jnp.ones((2,), jnp.float32)}
    s = opt.init(p)
    step = jax.jit(opt.apply)
    want_p, scale, counter, its = np.ones(2, np.float32), 64.0, 0, 0
    for k, kind in enumerate(["f", "f", "f", "inf", "f", "nan", "f", "f", "f", "f"]):
        g_true = np.array([0.25, -0.5], np.float32) * (k + 1)
        g = {"w": jnp.asarray(g_true * scale if kind == "f" else [float(kind), 1.0], jnp.float32)}
        p, s = step(g, s, p)
        if kind == "f":
            want_p = want_p - lr * g_true
            its += 1
            counter, scale = (0, scale * 2) if counter == growth - 1 else (counter + 1, scale)
        else:
            counter, scale = 0, scale / 2
        chex.assert_trees_all_close(p["w"], want_p, rtol=1e-6)
        assert (int(s.step_counter), float(s.dynamic_scale), int(s.inner.iterations)) == (counter, scale, its), k
    assert int(s.iterations) == 0 and float(s.learning_rate) == 0.0  # Keras keeps the wrapper's own at 0


def test_matches_keras_apply():
    """Same weights and gradients (one step with an inf) as Keras's LossScaleOptimizer(Adam), step by step."""
    ours = O.LossScaleOptimizer(O.Adam(0.01), initial_scale=16.0, dynamic_growth_steps=2)
    theirs = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(0.01), initial_scale=16.0,
                                                 dynamic_growth_steps=2)
    leaves, treedef = jax.tree.flatten(W)
    theirs.build([keras.Variable(np.array(a)) for a in leaves])
    # Keras's JAX trainer path (its eager stateful `apply` of this optimizer leaks tracers under JAX)
    k_tv, k_ov = [jnp.asarray(a) for a in leaves], [v.value for v in theirs.variables]
    k_step = jax.jit(theirs.stateless_apply)
    p, s = jax.tree.map(jnp.asarray, W), ours.init(W)
    step = jax.jit(ours.apply)
    for k in range(6):
        g = jax.tree.map(lambda w: (RNG.normal(size=w.shape) * 50).astype("float32"), W)
        if k == 2:
            g["dense"]["bias"][0] = np.inf
        p, s = step(g, s, p)
        k_tv, k_ov = k_step(k_ov, jax.tree.leaves(g), k_tv)
        chex.assert_trees_all_close(p, jax.tree.unflatten(treedef, k_tv), atol=1e-6, rtol=1e-5)
        # Keras's variables: own iterations and learning rate, step_counter, dynamic_scale, inner iterations
        assert [a.tolist() for a in jax.tree.leaves(s)[:5]] == [np.asarray(a).tolist() for a in k_ov[:5]], k
        # ... and the whole list in Keras's `optimizer.variables` order (Adam: m0, v0, m1, v1, ...)
        chex.assert_trees_all_close(ours.state_to_list(s), list(k_ov), atol=1e-6, rtol=1e-5)
    # the list form Keras-JAX custom train_steps use agrees with the pure form
    tv = jax.tree.leaves(W)
    g = [jnp.ones_like(a) for a in tv]
    new_tv, new_ov = ours.stateless_apply(ours.state_to_list(ours.init(tv)), g, tv)
    ref_p, ref_s = ours.apply(g, ours.init(tv), tv)
    chex.assert_trees_all_close(new_tv, ref_p, rtol=0, atol=0)
    chex.assert_trees_all_close(new_ov, ours.state_to_list(ref_s), rtol=0, atol=0)


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_fit_matches_keras(policy):
    """compile+fit with a LossScaleOptimizer (explicit under float32, automatic under mixed_float16) gives
    Keras's weights, loss scale and step counter. initial_scale 2**15 overflows float16 at first: both skip."""
    models = []
    for lib in (fk, keras):
        m = _dense(lib, policy)
        sgd = lib.optimizers.SGD(0.05, momentum=0.9)
        m.compile(sgd if policy == "mixed_float16" else lib.optimizers.LossScaleOptimizer(
            sgd, initial_scale=2.0**15, dynamic_growth_steps=2), loss="mse")
        models.append(m)
    ours, theirs = models
    assert type(ours.optimizer).__name__ == type(theirs.optimizer).__name__ == "LossScaleOptimizer"
    _same_weights(ours, theirs)
    h1 = ours.fit(X * 300, Y * 300, batch_size=2, epochs=2, shuffle=False, verbose=0)
    h2 = theirs.fit(X * 300, Y * 300, batch_size=2, epochs=2, shuffle=False, verbose=0)
    tol = 1e-3 if policy == "mixed_float16" else 1e-5
    chex.assert_trees_all_close(ours.get_weights(), theirs.get_weights(), rtol=tol, atol=tol)
    chex.assert_trees_all_close(h1.history["loss"], h2.history["loss"], rtol=tol)  # the unscaled loss is logged
    k_vars = [np.asarray(v) for v in theirs.optimizer.variables]
    o_vars = [np.asarray(v) for v in ours.optimizer.variables]
    assert [a.tolist() for a in o_vars[:5]] == [a.tolist() for a in k_vars[:5]]  # own 2, counter, scale, its
    assert ours.optimizer.iterations == int(theirs.optimizer.iterations)


# --- compile / fit ------------------------------------------------------------------------------
def test_compile_wraps_under_mixed_float16():
    m = _dense(fk, "mixed_float16")
    adam = O.Adam(1e-3)
    m.compile(adam, loss="mse")
    assert isinstance(m.optimizer, O.LossScaleOptimizer) and m.optimizer.inner_optimizer is adam
    assert m.optimizer.name == "loss_scale_optimizer" and m.optimizer.initial_scale == 2.0**15
    assert fk.mixed_precision.LossScaleOptimizer is O.LossScaleOptimizer
    m.compile("rmsprop", loss="mse", auto_scale_loss=False)
    assert isinstance(m.optimizer, O.RMSprop)
    mine = O.LossScaleOptimizer(O.SGD(), initial_scale=4.0)
    m.compile(mine, loss="mse")
    assert m.optimizer is mine  # never wrapped twice
    for policy in ("mixed_bfloat16", "float32"):
        other = _dense(fk, policy)
        other.compile("rmsprop", loss="mse")
        assert isinstance(other.optimizer, O.RMSprop), policy
    assert fk.mixed_precision.global_policy().name == "float32"


def _deep_sigmoid(lib):
    """15 sigmoid Dense(1) layers: float16 gradients of the first kernel underflow to 0 (Keras's own test)."""
    with _policy("mixed_float16"):
        return lib.Sequential([lib.Input((1,))] + [
            lib.layers.Dense(1, use_bias=False, kernel_initializer="ones", activation="sigmoid")
            for _ in range(15)])


def test_loss_scaling_prevents_underflow():
    x, y = np.ones((1, 1), np.float32), np.ones((1, 1), np.float32)
    first = {}
    for auto in (False, True):
        m = _deep_sigmoid(fk)
        m.compile(O.SGD(learning_rate=1e9), loss="mse", auto_scale_loss=auto)  # any update would be visible
        h = m.fit(x, y, batch_size=1, verbose=0)
        first[auto] = float(m.get_weights()[0][0, 0])
        assert np.isfinite(h.history["loss"][0]) and h.history["loss"][0] < 1.0  # the unscaled loss
    assert first[False] == 1.0  # without scaling the gradient underflowed: no update
    assert first[True] != 1.0
    k = _deep_sigmoid(keras)
    k.compile(keras.optimizers.SGD(learning_rate=1e9), loss="mse")
    k.fit(x, y, batch_size=1, verbose=0)
    chex.assert_trees_all_close(first[True], float(np.asarray(k.get_weights()[0])[0, 0]), rtol=1e-3)


def test_loss_decreases_under_mixed_float16():
    m = _dense(fk, "mixed_float16", units=2)
    m.set_weights([W["dense"]["kernel"], W["dense"]["bias"]])
    m.compile(O.SGD(0.05), loss="mse")
    h = m.fit(X, Y, batch_size=4, epochs=4, shuffle=False, verbose=0)
    assert isinstance(m.optimizer, O.LossScaleOptimizer)
    assert h.history["loss"][-1] < h.history["loss"][0]
    # 8 steps: each overflowing one (the default 2**15 is too large here at first) halved the scale and was
    # skipped; the others updated
    skipped = int(np.log2(2.0**15 / float(m.optimizer.variables[3])))
    assert (skipped, m.optimizer.iterations) == (2, 6)


def test_learning_rate_and_iterations_delegate_without_recompile():
    m = _dense(fk, "mixed_float16")
    m.set_weights([W["dense"]["kernel"], W["dense"]["bias"]])
    inner = O.SGD(0.1)
    m.compile(O.LossScaleOptimizer(inner, initial_scale=256.0), loss="mse")  # no float16 overflow: no skips
    m.fit(X, Y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    traces = m._engine.trace_counts["train"]
    assert m.optimizer.iterations == inner.iterations == 2
    m.optimizer.learning_rate = 0.01
    assert m.optimizer.learning_rate == inner.learning_rate == pytest.approx(0.01)
    assert float(m.train_state.opt_state.inner.learning_rate) == pytest.approx(0.01)
    inner.learning_rate = 0.02  # through the inner object too
    assert float(m.train_state.opt_state.inner.learning_rate) == pytest.approx(0.02)
    w0 = m.get_weights()
    m.fit(X, Y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    assert m._engine.trace_counts["train"] == traces  # the jitted step was reused
    assert m.optimizer.iterations == 4 and not np.allclose(m.get_weights()[0], w0[0])
    other = _dense(fk)  # the same inner optimizer compiled on its own elsewhere now reads that model's state
    other.compile(inner, loss="mse")
    other.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    inner.learning_rate = 0.03
    assert inner.iterations == 1 and float(other.train_state.opt_state.learning_rate) == pytest.approx(0.03)


def test_optax_inner_optimizer():
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    m = _dense(fk)
    m.compile(O.LossScaleOptimizer(O.get(tx), initial_scale=8.0, dynamic_growth_steps=1), loss="mse")
    m.fit(X, Y, batch_size=4, epochs=1, verbose=0)
    assert float(m.optimizer.variables[3]) == 32.0  # doubled after each of the 2 finite steps
    m.optimizer.learning_rate = 0.5
    assert m.optimizer.learning_rate == pytest.approx(0.5) and m.optimizer.iterations == 2


class _CustomStep(fk.Sequential):
    """A Keras-JAX custom train_step that scales its loss itself (`self.optimizer.scale_loss(loss)`)."""

    def train_step(self, state, data):
        tv, ntv, ov, mv = state
        x, y = data

        def loss_fn(tv_):
            y_pred, _ = self.stateless_call(tv_, ntv, x, training=True)
            loss = self.compute_loss(x, y, y_pred)
            return self.optimizer.scale_loss(loss), (loss, y_pred)

        (_, (loss, y_pred)), grads = jax.value_and_grad(loss_fn, has_aux=True)(tv)
        tv, ov = self.optimizer.stateless_apply(ov, grads, tv)
        logs, mv = self._stateless_metrics(mv, loss, x, y, y_pred, None)
        return logs, (tv, ntv, ov, mv)


class _SuperStep(fk.Sequential):
    def train_step(self, state, data):
        return super().train_step(state, data)


@pytest.mark.parametrize("cls", [_CustomStep, _SuperStep])
def test_custom_train_step_scales_like_builtin(cls):
    with _policy("mixed_float16"):
        m = cls([fk.Input((3,)), fk.layers.Dense(2, name="dense")])
    m.set_weights([W["dense"]["kernel"], W["dense"]["bias"]])
    ref = _dense(fk, "mixed_float16")
    _same_weights(m, ref)
    for model in (m, ref):
        model.compile(O.LossScaleOptimizer(O.SGD(0.05), initial_scale=256.0), loss="mse")
        model.fit(X, Y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    assert isinstance(m.optimizer, O.LossScaleOptimizer)
    chex.assert_trees_all_close(m.get_weights(), ref.get_weights(), rtol=1e-6, atol=1e-6)
    assert int(m.optimizer.variables[2]) == 4 and m.optimizer.iterations == 4


# --- config and files ---------------------------------------------------------------------------
def test_config_round_trip_matches_keras():
    ours = O.LossScaleOptimizer(O.Adam(0.01, name="adam"), initial_scale=128.0, dynamic_growth_steps=10, name="lso")
    theirs = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(0.01, name="adam"), initial_scale=128.0,
                                                 dynamic_growth_steps=10, name="lso")
    cfg, kcfg = ours.get_config(), theirs.get_config()
    assert set(cfg) == set(kcfg) == {"name", "inner_optimizer", "initial_scale", "dynamic_growth_steps"}
    assert {k: v for k, v in cfg.items() if k != "inner_optimizer"} == {k: v for k, v in kcfg.items()
                                                                       if k != "inner_optimizer"}
    inner, kinner = cfg["inner_optimizer"], kcfg["inner_optimizer"]
    assert {k: v for k, v in inner.items() if k != "config"} == {k: v for k, v in kinner.items() if k != "config"}
    assert inner["config"].pop("learning_rate") == pytest.approx(kinner["config"].pop("learning_rate"))
    assert inner["config"] == kinner["config"]
    cfg = ours.get_config()
    for back in (O.deserialize(O.serialize(ours)), O.get(O.serialize(ours)), O.LossScaleOptimizer.from_config(cfg)):
        assert isinstance(back, O.LossScaleOptimizer) and isinstance(back.inner_optimizer, O.Adam)
        assert back.get_config() == cfg
    from_keras = O.LossScaleOptimizer.from_config(theirs.get_config())
    assert from_keras.learning_rate == pytest.approx(0.01) and from_keras.dynamic_growth_steps == 10
    k_back = keras.optimizers.LossScaleOptimizer.from_config(dict(cfg))
    assert k_back.initial_scale == 128.0 and isinstance(k_back.inner_optimizer, keras.optimizers.Adam)
    old = dict(cfg, clipnorm=None, use_ema=False)  # older Keras configs carry the base defaults
    assert O.LossScaleOptimizer.from_config(old).get_config() == cfg


def _trained(lib):
    m = _dense(lib)
    m.compile(lib.optimizers.LossScaleOptimizer(lib.optimizers.Adam(0.01), initial_scale=8.0,
                                                dynamic_growth_steps=3), loss="mse")
    m.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)  # 2 steps
    return m


def _groups(path):
    return archive.read_weights_h5(archive.read_keras_zip(path)[archive.WEIGHTS])


def test_keras_files_both_ways(tmp_path):
    ours, theirs = _trained(fk), _trained(keras)
    _same_weights(ours, theirs)  # different random inits: start both from ours, keep each optimizer state
    ours.save(tmp_path / "f.keras")
    theirs.save(tmp_path / "k.keras")
    f, k = _groups(tmp_path / "f.keras"), _groups(tmp_path / "k.keras")
    assert {p: len(v) for p, v in f.items() if v} == {p: len(v) for p, v in k.items() if v} == {
        "layers/dense": 2, "optimizer": 10, "optimizer/inner_optimizer": 6}
    assert [a.dtype for a in f["optimizer"][:6]] == [a.dtype for a in k["optimizer"][:6]]
    k_in_f, f_in_k = fk.saving.load_model(tmp_path / "k.keras"), keras.saving.load_model(tmp_path / "f.keras")
    assert isinstance(k_in_f.optimizer, O.LossScaleOptimizer) and k_in_f.optimizer.iterations == 2
    assert isinstance(f_in_k.optimizer, keras.optimizers.LossScaleOptimizer) and int(f_in_k.optimizer.iterations) == 2
    # Keras re-saving our file writes the same arrays in the same places
    f_in_k.save(tmp_path / "fk.keras")
    again = _groups(tmp_path / "fk.keras")
    for p in f:
        chex.assert_trees_all_equal(f[p], again.get(p, []))
    # training resumes with the same scale, counter and slots on each side of each crossing
    for a, b in ((ours, f_in_k), (k_in_f, theirs)):
        for model in (a, b):
            model.fit(X * 30, Y * 30, batch_size=4, epochs=2, shuffle=False, verbose=0)
        chex.assert_trees_all_close(a.get_weights(), b.get_weights(), rtol=1e-5, atol=1e-6)
        assert [float(np.asarray(v)) for v in a.optimizer.variables[2:6]] == \
               [float(np.asarray(v)) for v in b.optimizer.variables[2:6]]
    assert float(np.asarray(ours.optimizer.variables[3])) == 32.0  # 2 + 4 finite steps: grew at the 3rd and 6th


def test_weights_h5_round_trip_and_mismatch(tmp_path):
    m = _trained(fk)
    m.save_weights(tmp_path / "w.weights.h5")
    other = _dense(fk)
    other.compile(O.LossScaleOptimizer(O.Adam(0.01), initial_scale=8.0, dynamic_growth_steps=3), loss="mse")
    other.load_weights(tmp_path / "w.weights.h5")
    chex.assert_trees_all_equal(other.get_weights(), m.get_weights())
    chex.assert_trees_all_equal(other.optimizer.variables, m.optimizer.variables)
    plain = _dense(fk)
    plain.compile(O.Adam(0.01), loss="mse")
    plain.fit(X, Y, batch_size=8, verbose=0)
    before = plain.get_weights()
    with pytest.raises(ValueError, match="optimizer"):
        plain.load_weights(tmp_path / "w.weights.h5")
    chex.assert_trees_all_equal(plain.get_weights(), before)
    # a never-trained LossScaleOptimizer writes Keras's unbuilt layout (own 2 + the inner's 2)
    fresh = _dense(fk)
    fresh.compile(O.LossScaleOptimizer(O.SGD(0.3)), loss="mse")
    fresh.save_weights(tmp_path / "u.weights.h5")
    groups = archive.read_weights_h5(str(tmp_path / "u.weights.h5"))
    assert [float(a) for a in groups["optimizer"]] == [0.0, 0.0, 0.0, pytest.approx(0.3)]


# --- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,exc,match", [
    ({"dynamic": False}, ValueError, "dynamic=False"),
    ({"clipnorm": 1.0}, ValueError, "does not support `clipnorm`"),
    ({"use_ema": True}, ValueError, "does not support `use_ema`"),
    ({"learning_rate": 0.1}, ValueError, "does not support arguments: \\['learning_rate'\\]"),
    ({"initial_scale": 0.0}, ValueError, "initial_scale"),
    ({"initial_scale": math.inf}, ValueError, "initial_scale"),
    ({"initial_scale": True}, ValueError, "initial_scale"),
    ({"dynamic_growth_steps": 0}, ValueError, "dynamic_growth_steps"),
    ({"dynamic_growth_steps": 2.5}, ValueError, "dynamic_growth_steps"),
])
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        O.LossScaleOptimizer(O.SGD(), **kwargs)


def test_bad_inner_and_other_errors():
    with pytest.raises(TypeError, match="expected `inner_optimizer`.*got str"):
        O.LossScaleOptimizer("adam")
    with pytest.raises(TypeError, match="not itself a LossScaleOptimizer"):
        O.LossScaleOptimizer(O.LossScaleOptimizer(O.SGD()))
    with pytest.raises(ValueError, match="no 'inner_optimizer'"):
        O.LossScaleOptimizer.from_config({"name": "x"})
    with pytest.raises(TypeError, match="expected `state`"):
        O.LossScaleOptimizer(O.SGD()).scale_loss(1.0, {"scale": 2.0})
    assert O.LossScaleOptimizer(O.SGD(), initial_scale=4.0).scale_loss(3.0) == 12.0
    assert O.SGD().scale_loss(3.0) == 3.0 and O.get(optax.sgd(0.1)).scale_loss(3.0) == 3.0
    m = _dense(fk)
    with pytest.raises(ValueError, match="auto_scale_loss"):
        m.compile("sgd", loss="mse", auto_scale_loss="yes")
    assert not m.compiled  # nothing changed
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match=r"engine='torch'\) does not do loss scaling"):
        m.compile(O.LossScaleOptimizer(O.SGD()), loss="mse", engine="torch")
    assert not m.compiled
    half = _dense(fk, "mixed_float16")
    with pytest.raises(ValueError, match="auto_scale_loss=False"):
        half.compile("sgd", loss="mse", engine="torch")
    assert not half.compiled
    half.compile("sgd", loss="mse", engine="torch", auto_scale_loss=False)
    assert isinstance(half.optimizer, O.SGD)
