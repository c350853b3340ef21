"""`stateful=True` recurrent layers through the facade: states carry from batch to batch in `fit` and
`predict` (as Keras's eager calls carry them: Keras 3.15's JAX trainer itself does not), `reset_states()`
on the model and `reset_state()`/`reset_states()` on the layer zero them wherever they live (the layer,
or a compiled model's TrainState). Oracle: Keras 3.15 calling the same model batch by batch. Tolerance:
float32 atol=rtol=1e-5."""

import jax
import numpy as np

import keras  # noqa: E402  (KERAS_BACKEND=jax is set by conftest)

import fkeras

TOL = dict(atol=1e-5, rtol=1e-5)
RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 5, 3)).astype("float32")
Y = RNG.normal(size=(8, 2)).astype("float32")


def _pair(rnn="LSTM"):
    def build(K):
        layer = getattr(K.layers, rnn)(4, stateful=True)
        return K.Sequential([K.Input((5, 3), batch_size=4), layer, K.layers.Dense(2)])

    km, fm = build(keras), build(fkeras)
    # as in Keras, the carried states are not weights (they live in the model's state pytree)
    assert [(w.path.rsplit("/", 1)[1], tuple(w.shape)) for w in km.weights] == \
        [(w.path.rsplit("/", 1)[1], tuple(w.shape)) for w in fm.weights]
    assert fm.count_params() == km.count_params()
    fm.set_weights(km.get_weights())
    return km, fm


def _keras_eager(km, x=X):
    """Keras's reference: the model called batch by batch (its states carry between calls)."""
    return np.concatenate([np.asarray(km(x[i:i + 4])) for i in range(0, len(x), 4)])


def _states(fm):
    state = fm.variables_tree.state
    return [np.asarray(x) for path, x in jax.tree_util.tree_leaves_with_path(state)
            if "rnn_state" in jax.tree_util.keystr(path)]


def test_predict_carries_states_and_reset_zeroes_them():
    km, fm = _pair("LSTM")
    want = _keras_eager(km)
    np.testing.assert_allclose(fm.predict(X, batch_size=4, verbose=0), want, **TOL)
    assert any(np.abs(s).max() > 0 for s in _states(fm))
    # without a reset, predict goes on from the carried states: different numbers
    assert not np.allclose(fm.predict(X, batch_size=4, verbose=0), want, atol=1e-4)
    fm.reset_states()
    assert all(np.abs(s).max() == 0 for s in _states(fm))
    np.testing.assert_allclose(fm.predict(X, batch_size=4, verbose=0), want, **TOL)
    fm.layers[0].reset_state()  # Keras 3's layer-level name
    np.testing.assert_allclose(fm.predict(X[:4], batch_size=4, verbose=0), want[:4], **TOL)


def test_fit_carries_states_across_batches_and_reset_after_compile():
    km, fm = _pair("GRU")
    want = _keras_eager(km)
    fm.compile(optimizer=fkeras.optimizers.SGD(0.0), loss="mse")
    hist = fm.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    # the epoch's loss is the mean over the two batches, the second one run from the first one's states
    per_batch = [np.mean((want[i:i + 4] - Y[i:i + 4]) ** 2) for i in (0, 4)]
    np.testing.assert_allclose(hist.history["loss"][0], np.mean(per_batch), **TOL)
    km_states = [np.asarray(v) for v in km.layers[0].states]
    for a, b in zip(_states(fm), km_states):
        np.testing.assert_allclose(a, b, **TOL)
    fm.layers[0].reset_states()  # the values live in the compiled model's TrainState
    assert all(np.abs(s).max() == 0 for s in _states(fm))
    carried = [x for path, x in jax.tree_util.tree_leaves_with_path(fm.train_state.state)
               if "rnn_state" in jax.tree_util.keystr(path)]
    assert carried and all(np.abs(np.asarray(v)).max() == 0 for v in carried)


def test_models_without_stateful_layers_do_not_carry():
    model = fkeras.Sequential([fkeras.Input((5, 3)), fkeras.layers.LSTM(4), fkeras.layers.Dense(2)])
    assert not model._fk_carries_state()
    a = model.predict(X, batch_size=4, verbose=0)
    model.reset_states()  # nothing to reset: a no-op, as calling it on a Keras 2 model
    np.testing.assert_array_equal(model.predict(X, batch_size=4, verbose=0), a)
    bi = fkeras.Sequential([fkeras.Input((5, 3), batch_size=4),
                            fkeras.layers.Bidirectional(fkeras.layers.SimpleRNN(2, stateful=True))])
    assert bi._fk_carries_state()
    first = bi.predict(X, batch_size=4, verbose=0)
    bi.reset_states()
    np.testing.assert_allclose(bi.predict(X, batch_size=4, verbose=0), first, **TOL)
