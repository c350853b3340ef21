"""MultiOptimizer / OptimizerMap against keras==3.15.1 (JAX backend): which optimizer each variable gets,
`fit` for a few steps (weights and `optimizer.variables` in Keras's order; JAX and torch engines),
`stateless_apply`, config, `.keras` files both ways. Tolerances (float32): atol 1e-6 / rtol 1e-5."""

import chex
import jax.numpy as jnp
import numpy as np
import pytest

import fkeras as fk
import fkeras.optimizers as O

keras = pytest.importorskip("keras")  # KERAS_BACKEND=jax is set by conftest

TOL = dict(atol=1e-6, rtol=1e-5)
RNG = np.random.default_rng(3)
X = RNG.normal(size=(12, 3)).astype("float32")
Y = RNG.normal(size=(12, 2)).astype("float32")


def _multi(lib, **kw):
    """Adam on d1 (AdamW with bias excluded from decay when `decay`), SGD+momentum by default, an RMSprop no
    variable matches. Patterns match both libraries' paths (Keras prefixes Sequential paths with its name)."""
    o = lib.optimizers
    first = o.AdamW(1e-2, weight_decay=0.1) if kw.get("decay") else o.Adam(1e-2)
    if kw.get("decay"):
        first.exclude_from_weight_decay(var_names=["bias"])
    om = o.OptimizerMap(default_optimizer=o.SGD(0.1, momentum=0.9),
                        optimizer_map={".*d1/.*": first, ".*unused/.*": o.RMSprop()})
    return o.MultiOptimizer(om, loss_scale_factor=kw.get("loss_scale_factor"))


def _model(lib, w=None):
    m = lib.Sequential([lib.Input((3,)), lib.layers.Dense(4, name="d1"), lib.layers.Dense(2, name="d2")])
    if w is not None:
        m.set_weights(w)
    return m


def _keras_vars(opt):
    return [np.asarray(v.value) for v in opt.variables]


def _norm(cfg):
    """A config with optimizer names dropped (Keras auto-numbers them per session: `sgd_3`) and floats as
    float32 (Keras reads the learning rate back from a float32 variable)."""
    if isinstance(cfg, dict):
        return {k: _norm(v) for k, v in cfg.items() if k != "name"}
    return float(np.float32(cfg)) if isinstance(cfg, float) else cfg


def test_names_exported():
    assert fk.optimizers.MultiOptimizer is O.MultiOptimizer and fk.optimizers.OptimizerMap is O.OptimizerMap


def test_optimizer_map_lookup_like_keras():
    """Exact key first, else the one `re.fullmatch` pattern, else the default; two matching patterns fail."""
    for lib in (fk, keras):
        o = lib.optimizers
        adam, sgd, rms = o.Adam(), o.SGD(), o.RMSprop()
        om = o.OptimizerMap(default_optimizer=rms)
        om["encoder/layer_0/dense"] = adam
        om["encoder/.*"] = sgd
        om["decoder"] = adam
        assert om["decoder"] is adam and om["encoder/layer_0/dense"] is adam
        assert om["encoder/layer_0/attention/query"] is sgd and om["decoder/layer_0/dense"] is rms
        assert len(om) == 3 and list(om) == ["encoder/layer_0/dense", "encoder/.*", "decoder"]
        om2 = o.OptimizerMap(default_optimizer=rms)
        om2[".*kernel.*"] = adam
        om2[".*dense.*"] = sgd
        with pytest.raises(ValueError, match="Multiple optimizers"):
            om2["dense/kernel"]
        with pytest.raises(ValueError, match="already exists"):
            om["decoder"] = sgd


@pytest.mark.parametrize("bad", ["lso", "multi", "str"])
def test_bad_inner_optimizers_refused(bad):
    inner = {"lso": lambda: O.LossScaleOptimizer(O.SGD()),
             "multi": lambda: O.MultiOptimizer(O.OptimizerMap(O.SGD())), "str": lambda: "adam"}[bad]()
    om = O.OptimizerMap(O.SGD())
    with pytest.raises(ValueError, match="MultiOptimizer|optimizer instance"):
        om["x/.*"] = inner
    with pytest.raises((ValueError, TypeError)):
        O.OptimizerMap(O.SGD(), {"x/.*": inner})
    with pytest.raises(TypeError, match="OptimizerMap or a callable"):
        O.MultiOptimizer("adam")
    with pytest.raises(TypeError, match="default_optimizer"):
        O.OptimizerMap("sgd")


def test_learning_rate_not_on_the_wrapper_and_loss_scale_factor():
    m = _multi(fk, loss_scale_factor=5.0)
    with pytest.raises(AttributeError, match="sub-optimizers"):
        m.learning_rate
    with pytest.raises(AttributeError, match="sub-optimizers"):
        m.learning_rate = 0.1
    assert [o.loss_scale_factor for o in m.optimizers] == [5.0] * 3
    assert float(m.scale_loss(jnp.asarray(2.0))) == 10.0
    assert [type(o).__name__ for o in m.optimizers] == ["Adam", "RMSprop", "SGD"]


def test_config_equals_keras_and_round_trips():
    ours, theirs = _multi(fk), _multi(keras)
    assert ours.get_config()["name"] == theirs.get_config()["name"] == "multi_optimizer"
    assert _norm(ours.get_config()) == _norm(theirs.get_config())
    again = O.deserialize(O.serialize(ours))
    assert again.get_config() == ours.get_config()
    assert [type(o).__name__ for o in again.optimizers] == ["Adam", "RMSprop", "SGD"]
    # Keras reads ours and we read Keras's
    assert _norm(keras.optimizers.deserialize(O.serialize(ours)).get_config()) == _norm(theirs.get_config())
    assert _norm(O.deserialize(keras.optimizers.serialize(theirs)).get_config()) == _norm(ours.get_config())


def test_callable_map_build_apply_and_stateless_apply_equal_keras():
    """A callable picks per variable (new optimizers join `optimizers` at build); the stateful `apply` and the
    list form `stateless_apply` give Keras's values and `variables` (iterations, slots in Keras's order)."""
    w0 = [RNG.normal(size=s).astype("float32") for s in [(3, 2), (2,), (2, 2)]]
    grads = [[(RNG.normal(size=a.shape)).astype("float32") for a in w0] for _ in range(3)]
    out = []
    for lib in (fk, keras):
        adam, sgd = lib.optimizers.Adam(1e-2, amsgrad=True), lib.optimizers.SGD(0.1, momentum=0.5)
        vs = [lib.Variable(a.copy(), name=n) for a, n in zip(w0, ["kernel", "bias", "other"])]
        multi = lib.optimizers.MultiOptimizer(lambda v, adam=adam, sgd=sgd: adam if v.name == "kernel" else sgd)
        multi.build(vs)
        assert [type(o).__name__ for o in multi.optimizers] == ["Adam", "SGD"]
        tv, ov = [np.asarray(v.value) for v in vs], [np.asarray(v) for v in multi.variables]
        for g in grads:
            tv, ov = multi.stateless_apply(ov, [jnp.asarray(a) for a in g], tv)
        out.append(([np.asarray(a) for a in tv], [np.asarray(a) for a in ov]))
    chex.assert_trees_all_close(out[0], out[1], **TOL)
    assert len(out[0][1]) == 2 + (2 + 3) + (2 + 2)  # wrapper; Adam: m, v, v_hat of kernel; SGD: momentums


@pytest.mark.parametrize("decay", [False, True])
def test_fit_equals_keras(decay):
    """Three fit steps: Adam (or AdamW with `bias` excluded from weight decay) on d1, SGD with momentum on d2,
    RMSprop on nothing. Weights and every optimizer variable, in Keras's order."""
    w0 = _model(keras).get_weights()
    models = []
    for lib in (fk, keras):
        m = _model(lib, w0)
        m.compile(_multi(lib, decay=decay), loss="mse")
        m.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        models.append(m)
    ours, theirs = models
    chex.assert_trees_all_close(ours.get_weights(), theirs.get_weights(), **TOL)
    ov, kv = [np.asarray(a) for a in ours.optimizer.variables], _keras_vars(theirs.optimizer)
    assert [a.shape for a in ov] == [a.shape for a in kv]
    chex.assert_trees_all_close(ov, kv, **TOL)
    assert [int(o.iterations) for o in ours.optimizer.optimizers] == [3, 0, 3] == \
        [int(o.iterations) for o in theirs.optimizer.optimizers]


def test_fit_with_ema_and_accumulation_inside_equals_keras():
    """Inner optimizers with their own common arguments: EMA (finalized into the weights at the end of fit,
    as Keras's `finalize_variable_values` does through the wrapper) and gradient accumulation."""
    w0 = _model(keras).get_weights()
    models = []
    for lib in (fk, keras):
        o = lib.optimizers
        om = o.OptimizerMap(default_optimizer=o.SGD(0.1, momentum=0.5, use_ema=True, ema_momentum=0.5),
                            optimizer_map={".*d1/.*": o.Adam(1e-2, gradient_accumulation_steps=2)})
        m = _model(lib, w0)
        m.compile(o.MultiOptimizer(om), loss="mse")
        m.fit(X, Y, batch_size=2, epochs=1, shuffle=False, verbose=0)
        models.append(m)
    chex.assert_trees_all_close(models[0].get_weights(), models[1].get_weights(), **TOL)
    chex.assert_trees_all_close([np.asarray(a) for a in models[0].optimizer.variables],
                                _keras_vars(models[1].optimizer), **TOL)


def test_torch_engine_fit_equals_jax():
    pytest.importorskip("torch")
    w0 = _model(fk).get_weights()
    got = []
    for engine in ("jax", "torch"):
        m = _model(fk, w0)
        m.compile(_multi(fk, decay=True), loss="mse", engine=engine)
        m.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        got.append((m.get_weights(), [np.asarray(a) for a in m.optimizer.variables]))
    chex.assert_trees_all_close(got[0], got[1], atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("src,dst", [(fk, fk), (fk, keras), (keras, fk)])
def test_keras_file_both_ways(tmp_path, src, dst):
    """A fitted model saved by one library resumes in the other with the same optimizer variables."""
    w0 = _model(keras).get_weights()
    if True:
        m = _model(src, w0)
        m.compile(_multi(src), loss="mse")
        m.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        path = str(tmp_path / f"{src.__name__}.keras")
        m.save(path)
        loaded = dst.saving.load_model(path)
        assert type(loaded.optimizer).__name__ == "MultiOptimizer"
        assert _norm(loaded.optimizer.get_config()) == _norm(m.optimizer.get_config())
        chex.assert_trees_all_close(loaded.get_weights(), m.get_weights(), rtol=0, atol=0)
        got = _keras_vars(loaded.optimizer) if dst is keras else [np.asarray(a) for a in loaded.optimizer.variables]
        want = _keras_vars(m.optimizer) if src is keras else [np.asarray(a) for a in m.optimizer.variables]
        chex.assert_trees_all_close(got, want, rtol=0, atol=0)
