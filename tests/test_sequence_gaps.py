"""Issue 15's last masking and stateful-RNN gaps, each against Keras 3.15 (KERAS_BACKEND=jax):

- a loss object called directly on a `y_pred` that carries `_keras_mask` weighs by it as Keras's
  `Loss.__call__` (with a mean reduction the mean runs over the kept entries), combined with the mask a loss
  function puts on its values (`ignore_class`);
- `Lambda(fn, mask=...)`: a callable `mask(inputs, previous_mask)`, an array, a function taking `mask=`,
  `compute_mask`, `supports_masking`, config;
- `layer.states` of a stateful RNN: Keras's list of state Variables (nested per cell when stacked),
  readable after predict/fit, assignable, zeroed by `reset_states`.

Tolerance: float32 atol=rtol=1e-5 (the same math in the same order; masks exact)."""

import numpy as np
import pytest

import keras  # noqa: E402  (KERAS_BACKEND=jax is set by conftest)

import fkeras
from fkeras.nn import masking

TOL = dict(atol=1e-5, rtol=1e-5)
RNG = np.random.default_rng(0)
Y_TRUE = RNG.integers(0, 3, (2, 5))
Y_PRED = RNG.random((2, 5, 3)).astype("float32")
Y_PRED /= Y_PRED.sum(-1, keepdims=True)
MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], bool)
SW = RNG.random((2, 5)).astype("float32")


def _masked(framework, x, mask):
    if framework == "keras":
        x = keras.ops.convert_to_tensor(x)
        x._keras_mask = keras.ops.convert_to_tensor(mask)
        return x
    x = fkeras.ops.convert_to_tensor(x)
    masking.set_keras_mask(x, fkeras.ops.convert_to_tensor(mask))
    return x


# --- losses called directly on masked predictions ---------------------------------------------------
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight", None])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name,kwargs,y_true", [
    ("SparseCategoricalCrossentropy", {}, Y_TRUE),
    ("SparseCategoricalCrossentropy", {"ignore_class": 1}, Y_TRUE),  # its own value mask, and'ed with y_pred's
    ("MeanSquaredError", {}, RNG.random((2, 5, 3)).astype("float32")),
    ("CategoricalCrossentropy", {}, np.eye(3, dtype="float32")[Y_TRUE]),
])
def test_direct_loss_call_applies_the_prediction_mask(name, kwargs, y_true, reduction, weighted):
    sw = SW if weighted else None
    want = getattr(keras.losses, name)(reduction=reduction, **kwargs)(y_true, _masked("keras", Y_PRED, MASK), sw)
    got = getattr(fkeras.losses, name)(reduction=reduction, **kwargs)(y_true, _masked("fkeras", Y_PRED, MASK), sw)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), **TOL)
    unmasked = getattr(fkeras.losses, name)(reduction=reduction, **kwargs)(y_true, Y_PRED, sw)
    if reduction is not None:  # the mask changes the number (the test would notice it being ignored)
        assert not np.allclose(np.asarray(unmasked), np.asarray(got))


def test_ignore_class_mean_runs_over_valid_entries_like_keras():
    y_true = np.array([[0, 1, 2, 1, 1]])
    y_pred = Y_PRED[:1]
    want = keras.losses.SparseCategoricalCrossentropy(ignore_class=1)(y_true, y_pred)
    got = fkeras.losses.SparseCategoricalCrossentropy(ignore_class=1)(y_true, y_pred)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), **TOL)


def test_loss_mask_inside_jit_matches_eager():
    import jax

    loss = fkeras.losses.SparseCategoricalCrossentropy()

    @jax.jit
    def f(y_pred, mask):
        masking.set_keras_mask(y_pred, mask)  # a tracer: remembered in the mask registry
        return loss(Y_TRUE, y_pred)

    want = keras.losses.SparseCategoricalCrossentropy()(Y_TRUE, _masked("keras", Y_PRED, MASK))
    np.testing.assert_allclose(np.asarray(f(Y_PRED, MASK)), np.asarray(want), **TOL)


# --- Lambda(mask=...) -----------------------------------------------------------------------------
TOKENS = np.array([[3, 1, 0, 0], [2, 5, 7, 0]], "int32")
FIXED = np.array([[True, False, True, True], [True, True, True, False]])


def _lambda(k, kind):
    if kind == "callable":
        return k.layers.Lambda(lambda t: t * 2.0, mask=lambda t, m: k.ops.logical_and(m, k.ops.sum(t, -1) > 0.1))
    if kind == "array":
        return k.layers.Lambda(lambda t: t * 2.0, mask=FIXED)
    if kind == "takes_mask":
        return k.layers.Lambda(lambda t, mask=None: t * k.ops.expand_dims(k.ops.cast(mask, t.dtype), -1))
    return k.layers.Lambda(lambda t: t * 2.0)


TABLE = RNG.normal(size=(10, 3)).astype("float32")


def _embedded(k):
    emb = k.layers.Embedding(10, 3, mask_zero=True)
    emb.build((None, 4))
    emb.set_weights([TABLE])
    return emb(TOKENS)


@pytest.mark.parametrize("kind", ["callable", "array", "takes_mask", "none"])
def test_lambda_mask_eager(kind):
    ke, fe = _embedded(keras), _embedded(fkeras)
    kl, fl = _lambda(keras, kind), _lambda(fkeras, kind)
    assert fl.supports_masking == kl.supports_masking == (kind in ("callable", "array"))
    ko, fo = kl(ke), fl(fe)
    np.testing.assert_allclose(np.asarray(fo), np.asarray(ko), **TOL)
    km, fm = getattr(ko, "_keras_mask", None), masking.get_keras_mask(fo)
    assert (km is None) == (fm is None)
    if km is not None:
        np.testing.assert_array_equal(np.asarray(fm), np.asarray(km))
    want_cm = kl.compute_mask(ke, ke._keras_mask)
    got_cm = fl.compute_mask(fe, masking.get_keras_mask(fe))
    assert (want_cm is None) == (got_cm is None)
    if want_cm is not None:
        np.testing.assert_array_equal(np.asarray(got_cm), np.asarray(want_cm))


@pytest.mark.parametrize("kind", ["callable", "array", "none"])
def test_lambda_mask_reaches_the_next_layer_in_a_functional_model(kind):
    def build(k):
        inp = k.Input((4,), dtype="int32", batch_size=2 if kind == "array" else None)
        emb = k.layers.Embedding(10, 3, mask_zero=True)
        out = k.layers.GlobalAveragePooling1D()(_lambda(k, kind)(emb(inp)))
        return k.Model(inp, out)

    km, fm = build(keras), build(fkeras)
    fm.set_weights(km.get_weights())
    np.testing.assert_allclose(np.asarray(fm(TOKENS)), np.asarray(km(TOKENS)), **TOL)


def test_lambda_mask_config_and_bad_mask():
    kl, fl = _lambda(keras, "array"), _lambda(fkeras, "array")
    kc, fc = kl.get_config(), fl.get_config()
    assert "mask" in kc and "mask" in fc
    np.testing.assert_array_equal(np.asarray(fc["mask"]), FIXED)
    assert "mask" not in _lambda(fkeras, "none").get_config() and "mask" not in _lambda(keras, "none").get_config()
    from fkeras.saving.serialization_lib import SafeModeScope

    with SafeModeScope(False):  # the function is a Python lambda
        again = fkeras.layers.Lambda.from_config(fkeras.saving.serialize_keras_object(fl)["config"])
    np.testing.assert_array_equal(np.asarray(again.compute_mask(None, None)), FIXED)
    with pytest.raises(TypeError, match="expected `mask` to be None, a callable .* got str"):
        fkeras.layers.Lambda(lambda t: t, mask="zeros")


# --- layer.states of stateful RNNs ------------------------------------------------------------------
X = RNG.normal(size=(8, 5, 3)).astype("float32")


def _stateful_pair(rnn):
    def build(k):
        return k.Sequential([k.Input((5, 3), batch_size=4), getattr(k.layers, rnn)(4, stateful=True),
                             k.layers.Dense(2)])

    km, fm = build(keras), build(fkeras)
    fm.set_weights(km.get_weights())
    return km, fm


def _values(states):
    return [np.asarray(v) for v in states]


@pytest.mark.parametrize("rnn", ["LSTM", "GRU", "SimpleRNN"])
def test_states_read_assign_reset_like_keras(rnn):
    km, fm = _stateful_pair(rnn)
    kl, fl = km.layers[0], fm.layers[0]
    assert [tuple(v.shape) for v in fl.states] == [tuple(v.shape) for v in kl.states]
    assert all(not v.trainable for v in fl.states)
    km(X[:4])
    fm.predict(X[:4], verbose=0)
    for a, b in zip(_values(fl.states), _values(kl.states)):
        np.testing.assert_allclose(a, b, **TOL)
    new = [np.full(tuple(v.shape), 0.5, "float32") for v in kl.states]
    for v, value in zip(kl.states, new):
        v.assign(value)
    fl.states = new
    np.testing.assert_allclose(fm.predict(X[4:], verbose=0), np.asarray(km(X[4:])), **TOL)
    fl.reset_states()
    assert all(np.abs(a).max() == 0 for a in _values(fl.states))


def test_states_after_fit_live_in_the_train_state_and_bad_assignments_fail_first():
    km, fm = _stateful_pair("LSTM")
    fm.compile(optimizer=fkeras.optimizers.SGD(0.0), loss="mse")
    fm.fit(X, np.zeros((8, 2), "float32"), batch_size=4, epochs=1, shuffle=False, verbose=0)
    km(X[:4])
    km(X[4:])
    fl = fm.layers[0]
    for a, b in zip(_values(fl.states), _values(km.layers[0].states)):
        np.testing.assert_allclose(a, b, **TOL)
    before = _values(fl.states)
    with pytest.raises(ValueError, match=r"carries 2 state\(s\) of shapes \[\(4, 4\), \(4, 4\)\]; got 1 value"):
        fl.states = [np.zeros((4, 4), "float32")]
    with pytest.raises(ValueError, match=r"has shape \(4, 4\); got a value of shape \(3, 4\)"):
        fl.states = [np.zeros((4, 4), "float32"), np.zeros((3, 4), "float32")]
    for a, b in zip(_values(fl.states), before):
        np.testing.assert_array_equal(a, b)
    fl.states = [np.ones((4, 4), "float32"), np.ones((4, 4), "float32")]
    carried = [np.asarray(v) for v in fm.train_state.state[fl.name]["rnn_state"].values()]
    assert all(np.all(c == 1) for c in carried)


def test_states_nesting_for_stacked_cells_and_none_when_not_stateful():
    def build(k, stateful=True):
        cells = [k.layers.SimpleRNNCell(2), k.layers.LSTMCell(3)]
        return k.Sequential([k.Input((5, 3), batch_size=4), k.layers.RNN(cells, stateful=stateful)])

    shapes = lambda s: [[tuple(v.shape) for v in cell] for cell in s]  # noqa: E731
    assert shapes(build(fkeras).layers[0].states) == shapes(build(keras).layers[0].states) == [[(4, 2)],
                                                                                                [(4, 3), (4, 3)]]
    assert build(fkeras, stateful=False).layers[0].states is None
    assert fkeras.layers.LSTM(3, stateful=True).states is None  # not built yet
    with pytest.raises(ValueError, match="only a built recurrent layer with `stateful=True`"):
        fkeras.layers.LSTM(3).states = []
