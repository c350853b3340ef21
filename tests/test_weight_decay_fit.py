"""`exclude_from_weight_decay(var_list=..., var_names=...)` inside `fit`, against keras==3.15.1 (JAX backend):
the Trainer tells the optimizer which variable each params leaf is, so the decay mask is Keras's. A few
steps from the same weights; tolerances (float32) atol 1e-6 / rtol 1e-5."""

import chex
import numpy as np
import pytest

import fkeras as fk

keras = pytest.importorskip("keras")  # KERAS_BACKEND=jax is set by conftest

TOL = dict(atol=1e-6, rtol=1e-5)
RNG = np.random.default_rng(7)
X = RNG.normal(size=(12, 3)).astype("float32")
Y = RNG.normal(size=(12, 2)).astype("float32")


def _model(lib, w=None):
    m = lib.Sequential([lib.Input((3,)), lib.layers.Dense(4, name="d1"), lib.layers.Dense(2, name="d2")])
    if w is not None:
        m.set_weights(w)
    return m


def _exclude(opt, model, how):
    if how == "names":
        opt.exclude_from_weight_decay(var_names=["bias"])
    elif how == "list":
        opt.exclude_from_weight_decay(var_list=[model.layers[0].kernel, model.layers[1].bias])
    elif how == "both":
        opt.exclude_from_weight_decay(var_list=[model.layers[1].kernel], var_names=["bias"])


CASES = [("AdamW", "names"), ("AdamW", "list"), ("SGD", "both"), ("Lion", "names"), ("AdamW", "none")]


@pytest.mark.parametrize("opt_name,how", CASES)
def test_fit_with_exclusions_equals_keras(opt_name, how):
    w0 = _model(keras).get_weights()
    out = []
    for lib in (fk, keras):
        m = _model(lib, w0)
        opt = getattr(lib.optimizers, opt_name)(learning_rate=0.05, weight_decay=0.5)
        _exclude(opt, m, how)
        m.compile(opt, loss="mse")
        m.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        out.append(m.get_weights())
    chex.assert_trees_all_close(out[0], out[1], **TOL)


def test_exclusions_matter():
    """The excluded variables really are left undecayed (the comparison above could not tell otherwise)."""
    w0 = _model(keras).get_weights()
    got = []
    for how in ("names", "none"):
        m = _model(fk, w0)
        opt = fk.optimizers.SGD(learning_rate=0.05, weight_decay=0.5)
        _exclude(opt, m, how)
        m.compile(opt, loss="mse")
        m.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        got.append(m.get_weights())
    assert not np.allclose(got[0][1], got[1][1]) and not np.allclose(got[0][3], got[1][3])  # biases differ


def test_torch_engine_and_custom_train_step_use_the_mask():
    """The same exclusions through the torch engine and through a Keras-JAX custom `train_step`."""
    pytest.importorskip("torch")
    w0 = _model(keras).get_weights()

    class Custom(fk.Sequential):
        def train_step(self, state, data):
            return super().train_step(state, data)

    ref = _model(keras, w0)
    opt = keras.optimizers.AdamW(learning_rate=0.05, weight_decay=0.5)
    _exclude(opt, ref, "both")
    ref.compile(opt, loss="mse")
    ref.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for engine, cls in (("torch", fk.Sequential), ("jax", Custom)):
        m = cls([fk.Input((3,)), fk.layers.Dense(4, name="d1"), fk.layers.Dense(2, name="d2")])
        m.set_weights(w0)
        opt = fk.optimizers.AdamW(learning_rate=0.05, weight_decay=0.5)
        _exclude(opt, m, "both")
        m.compile(opt, loss="mse", engine=engine)
        m.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        chex.assert_trees_all_close(m.get_weights(), ref.get_weights(), **TOL)


def test_exclusions_after_build_refused():
    m = _model(fk)
    opt = fk.optimizers.AdamW(weight_decay=0.1)
    m.compile(opt, loss="mse")
    m.fit(X, Y, batch_size=4, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="before the optimizer is built"):
        opt.exclude_from_weight_decay(var_names=["bias"])
