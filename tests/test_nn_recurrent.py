"""Recurrent layers (fkeras.nn.recurrent, fkeras.nn.wrappers) against Keras 3.15 with the same weights:
outputs for every return_sequences/return_state/go_backwards/mask combination, Bidirectional merge modes,
stacked cells, TimeDistributed, stateful carry-over, gradients, configs, `.keras` files both ways and
`to_torch`. Tolerance: float32, atol=rtol=1e-5 (gradients 1e-4)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import keras  # noqa: E402  (KERAS_BACKEND=jax is set by conftest)

import fkeras
from fkeras import nn

TOL = dict(atol=1e-5, rtol=1e-5)
X = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
MASK = np.array([[1, 1, 0, 1, 1], [1, 0, 0, 1, 0]], bool)
KINDS = [("SimpleRNN", {}), ("LSTM", {}), ("GRU", {}), ("GRU", {"reset_after": False})]


def _flat(out):
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def _cell_params(klayer_or_cell, names=("kernel", "recurrent_kernel", "bias")):
    return dict(zip(names, [np.asarray(w) for w in klayer_or_cell.weights]))


def _randomize(klayer, seed=3):
    rng = np.random.default_rng(seed)
    for w in klayer.weights:
        w.assign(rng.normal(scale=0.5, size=w.shape).astype("float32"))


@pytest.mark.parametrize("kind,extra", KINDS)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_rnn_layers_match_keras(kind, extra, return_sequences):
    """Every return_state/go_backwards/mask combination, in inference and (with a mask) in training. Keras runs
    once per layer construction that changes its numbers: its return_state=False output is the first entry of its
    return_state=True outputs, and without dropout its training flag changes nothing, so each Keras result is
    checked against the fkeras variants (return_state x training). The fkeras variants run in one jitted program
    (an eager scan compiles on every call); the last, most involved one also runs eagerly."""
    runs = []  # (fkeras layer, variables, mask, training, Keras's outputs)
    for go_backwards in (False, True):
        for mask in (None, MASK):
            kl = getattr(keras.layers, kind)(4, return_sequences=return_sequences, return_state=True,
                                             go_backwards=go_backwards, **extra)
            kl.build(X.shape)
            _randomize(kl)
            ky_all = _flat(kl(X, mask=mask, training=False))
            for return_state in (False, True):
                fl = getattr(nn, kind)(4, return_sequences=return_sequences, return_state=return_state,
                                       go_backwards=go_backwards, **extra)
                v = nn.Variables({fl.cell.name: _cell_params(kl)}, {})
                assert jax.tree.map(jnp.shape, fl.init(jax.random.key(0), X.shape).params) == \
                    jax.tree.map(jnp.shape, v.params)
                for training in (False, True) if mask is not None else (False,):
                    runs.append((fl, v, mask, training, ky_all if return_state else ky_all[:1]))

    def apply_all(vs):
        return [fl.apply(v, X, mask=mask, training=training, rng=jax.random.key(1))[0]
                for (fl, _, mask, training, _), v in zip(runs, vs)]

    outs = jax.jit(apply_all)([r[1] for r in runs])
    fl, v, mask, training, _ = runs[-1]
    outs.append(fl.apply(v, X, mask=mask, training=training, rng=jax.random.key(1))[0])
    for (fl, _, _, _, ky), fy in zip(runs + runs[-1:], outs):
        fy = _flat(fy)
        assert len(fy) == len(ky) == (1 + (len(fl.state_size) if fl.return_state else 0))
        for a, b in zip(fy, ky):
            np.testing.assert_allclose(a, b, **TOL)


def test_initial_state_unroll_and_jit():
    kl = keras.layers.LSTM(3, return_sequences=True, return_state=True, unroll=True)
    h0 = np.full((2, 3), 0.3, "float32")
    c0 = np.full((2, 3), -0.2, "float32")
    ky = _flat(kl(X, initial_state=[h0, c0]))
    fl = nn.LSTM(3, return_sequences=True, return_state=True, unroll=True)
    v = nn.Variables({"lstm_cell": _cell_params(kl)}, {})
    run = jax.jit(lambda v, x, s: fl.apply(v, x, initial_state=s)[0])
    for a, b in zip(_flat(run(v, X, [h0, c0])), ky):
        np.testing.assert_allclose(a, b, **TOL)
    with pytest.raises(ValueError, match="initial state"):
        fl.apply(v, X, initial_state=[h0])


def test_dropout_in_training_same_mask_every_step_and_needs_key():
    fl = nn.SimpleRNN(4, dropout=0.5, recurrent_dropout=0.5, return_sequences=True)
    v = fl.init(jax.random.key(0), X.shape)
    y1, _ = fl.apply(v, X, training=True, rng=jax.random.key(1))
    y2, _ = fl.apply(v, X, training=True, rng=jax.random.key(1))
    y3, _ = fl.apply(v, X, training=True, rng=jax.random.key(2))
    np.testing.assert_array_equal(np.asarray(y1), np.asarray(y2))
    assert not np.allclose(np.asarray(y1), np.asarray(y3))
    y_inf, _ = fl.apply(v, X, training=False)
    assert not np.allclose(np.asarray(y1), np.asarray(y_inf))
    with pytest.raises(ValueError, match="rng"):
        fl.apply(v, X, training=True)
    # the input mask is drawn once: a constant input step contributes the same masked input at each step
    cell = nn.SimpleRNNCell(4, dropout=0.5, activation=None, recurrent_initializer="zeros")
    cv = cell.init(jax.random.key(0), (2, 3))
    h = jnp.zeros((2, 4))
    (o1, _), _ = cell.apply(cv, X[:, 0], [h], training=True, rng=jax.random.key(5))
    (o2, _), _ = cell.apply(cv, X[:, 0], [h], training=True, rng=jax.random.key(5))
    np.testing.assert_array_equal(np.asarray(o1), np.asarray(o2))


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_matches_keras(merge_mode):
    """Keras runs once with return_state=True: its return_state=False output is the first (or, unmerged, the
    first two) of those outputs; fkeras is checked both ways."""
    kl = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True, return_state=True),
                                    merge_mode=merge_mode)
    kl.build(X.shape)
    _randomize(kl)
    ky_all = _flat(kl(X))
    for return_state in (False, True):
        ky = ky_all if return_state else ky_all[:1 if merge_mode else 2]
        fl = nn.Bidirectional(nn.LSTM(3, return_sequences=True, return_state=return_state), merge_mode=merge_mode)
        v = fl.init(jax.random.key(0), X.shape)
        params = {fl.forward_layer.name: {"lstm_cell": _cell_params(kl.forward_layer)},
                  fl.backward_layer.name: {"lstm_cell": _cell_params(kl.backward_layer)}}
        assert jax.tree.map(jnp.shape, v.params) == jax.tree.map(jnp.shape, params)
        fy = _flat(fl.apply(nn.Variables(params, {}), X)[0])
        assert len(fy) == len(ky)
        for a, b in zip(fy, ky):
            np.testing.assert_allclose(a, b, **TOL)


def test_stacked_cells_and_user_cell_match_keras():
    kl = keras.layers.RNN([keras.layers.LSTMCell(3), keras.layers.GRUCell(2)], return_state=True)
    kl.build(X.shape)
    _randomize(kl)
    kout = kl(X, mask=MASK)
    fl = nn.RNN([nn.LSTMCell(3, name="a"), nn.GRUCell(2, name="b")], return_state=True)
    kc = kl.cell.cells
    params = {fl.cell.name: {"a": _cell_params(kc[0]), "b": _cell_params(kc[1])}}
    fout = fl.apply(nn.Variables(params, {}), X, mask=MASK)[0]
    # output, then one state entry per cell: [h, c] of the LSTM, [h] of the GRU (Keras's nesting)
    assert jax.tree.structure(fout) == jax.tree.structure(tuple(kout))
    for a, b in zip(jax.tree.leaves(fout), jax.tree.leaves(tuple(kout))):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), **TOL)

    class MinimalCell(nn.Layer):
        """A user cell: h = tanh(x W + h U)."""

        state_size = 2

        def build(self, rng, spec):
            k1, k2 = jax.random.split(rng)
            return nn.Variables({"w": jax.random.normal(k1, (spec.shape[-1], 2)),
                                 "u": jax.random.normal(k2, (2, 2))}, {})

        def call(self, variables, x, states, training=False, rng=None):
            h = jnp.tanh(x @ variables.params["w"] + states[0] @ variables.params["u"])
            return h, [h]

    rnn = nn.RNN(MinimalCell(name="mine"), return_sequences=True)
    v = rnn.init(jax.random.key(0), X.shape)
    y, _ = rnn.apply(v, X)
    w, u = v.params["mine"]["w"], v.params["mine"]["u"]
    h = jnp.zeros((2, 2))
    for t in range(5):
        h = jnp.tanh(X[:, t] @ w + h @ u)
        np.testing.assert_allclose(np.asarray(y[:, t]), np.asarray(h), **TOL)


def test_time_distributed_matches_keras():
    kl = keras.layers.TimeDistributed(keras.layers.Dense(4))
    ky = np.asarray(kl(X))
    fl = nn.TimeDistributed(nn.Dense(4, name="d"))
    v = fl.init(jax.random.key(0), X.shape)
    assert jax.tree.map(jnp.shape, v.params) == {"d": {"kernel": (3, 4), "bias": (4,)}}
    params = {"d": {"kernel": np.asarray(kl.layer.kernel), "bias": np.asarray(kl.layer.bias)}}
    np.testing.assert_allclose(np.asarray(fl.apply(nn.Variables(params, {}), X)[0]), ky, **TOL)
    # a layer with state runs step by step, its state carried (Keras calls it once per step)
    kb = keras.layers.TimeDistributed(keras.layers.BatchNormalization(momentum=0.5))
    kb(X, training=True)
    fb = nn.TimeDistributed(nn.BatchNormalization(momentum=0.5, name="bn"))
    vb = fb.init(jax.random.key(0), X.shape)
    yb, sb = fb.apply(vb, X, training=True)
    np.testing.assert_allclose(np.asarray(sb["bn"]["moving_mean"]), np.asarray(kb.layer.moving_mean), **TOL)
    np.testing.assert_allclose(np.asarray(sb["bn"]["moving_variance"]), np.asarray(kb.layer.moving_variance),
                               **TOL)
    with pytest.raises(ValueError, match="rank"):
        fl.apply(v, X[:, 0])


def test_stateful_carry_over_and_reset_match_keras():
    kl = keras.layers.GRU(3, stateful=True, return_sequences=True)
    kl.build(X.shape)
    _randomize(kl)
    fl = nn.GRU(3, stateful=True, return_sequences=True)
    v = fl.init(jax.random.key(0), X.shape)
    assert set(v.state) == {"rnn_state"}
    v = nn.Variables({"gru_cell": _cell_params(kl)}, v.state)
    for batch in (X, X[:, ::-1] * 0.5):
        ky = np.asarray(kl(batch))
        fy, state = fl.apply(v, batch)
        np.testing.assert_allclose(np.asarray(fy), ky, **TOL)
        v = nn.Variables(v.params, state)
    kl.reset_states()
    v = fl.reset_states(v)
    np.testing.assert_allclose(np.asarray(fl.apply(v, X)[0]), np.asarray(kl(X)), **TOL)
    with pytest.raises(ValueError, match="batch"):
        fl.apply(v, np.concatenate([X, X]))


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_gradients_match_keras(kind):
    kl = getattr(keras.layers, kind)(3, return_sequences=True)
    kl.build(X.shape)
    _randomize(kl)
    fl = getattr(nn, kind)(3, return_sequences=True)
    cell = fl.cell.name
    params = {cell: _cell_params(kl)}

    def f_loss(p, x):
        return jnp.sum(jnp.sin(fl.apply(nn.Variables(p, {}), x, mask=MASK)[0]))

    def k_loss(tv, x):
        y, _ = kl.stateless_call(tv, ntv, x, mask=MASK)
        return jnp.sum(jnp.sin(y))

    tv = [jnp.asarray(w) for w in kl.trainable_weights]
    ntv = [jnp.asarray(w) for w in kl.non_trainable_variables]  # Keras's seed-generator state
    kg, kgx = jax.grad(k_loss, argnums=(0, 1))(tv, X)
    fg, fgx = jax.grad(f_loss, argnums=(0, 1))(params, X)
    for name, g in zip(("kernel", "recurrent_kernel", "bias"), kg):
        np.testing.assert_allclose(np.asarray(fg[cell][name]), np.asarray(g), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(fgx), np.asarray(kgx), atol=1e-4, rtol=1e-4)
    assert all(np.isfinite(np.asarray(g)).all() for g in jax.tree.leaves(fg))


def _keras_config(klayer):
    return json.loads(json.dumps(klayer.get_config()))


@pytest.mark.parametrize("make", [
    lambda m: m.SimpleRNNCell(3, dropout=0.1, seed=2, name="c"),
    lambda m: m.LSTMCell(3, unit_forget_bias=False, name="c"),
    lambda m: m.GRUCell(3, reset_after=False, recurrent_activation="hard_sigmoid", name="c"),
    lambda m: m.SimpleRNN(3, return_sequences=True, go_backwards=True, name="r"),
    lambda m: m.LSTM(3, return_state=True, stateful=True, unroll=True, kernel_regularizer="l2", name="r"),
    lambda m: m.GRU(3, reset_after=False, dropout=0.2, recurrent_dropout=0.1, seed=4, name="r"),
    lambda m: m.RNN(m.LSTMCell(2, name="c"), return_sequences=True, name="r"),
    lambda m: m.RNN([m.LSTMCell(2, name="c1"), m.GRUCell(2, name="c2")], name="r"),
    lambda m: m.Bidirectional(m.GRU(2, return_sequences=True, name="g"), merge_mode="sum", name="b"),
    lambda m: m.TimeDistributed(m.Dense(2, name="d"), name="t"),
])
def test_configs_equal_keras_and_round_trip(make):
    def plain(config):  # JSON-normal; a StackedRNNCells' auto name depends on the session's counters
        config = json.loads(json.dumps(config))
        if config.get("cell", {}).get("class_name") == "StackedRNNCells":
            config["cell"]["config"].pop("name")
        return config

    kcfg = plain(make(keras.layers).get_config())
    fl = make(nn)
    fcfg = plain(fl.get_config())
    assert fcfg == kcfg
    assert plain(type(fl).from_config(fl.get_config()).get_config()) == fcfg
    raw_keras = json.loads(json.dumps(make(keras.layers).get_config()))
    assert plain(type(fl).from_config(raw_keras).get_config()) == kcfg  # Keras's own config builds it


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="units"):
        nn.LSTM(0)
    with pytest.raises(ValueError, match="merge_mode"):
        nn.Bidirectional(nn.LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="use_cudnn"):
        nn.GRU(2, use_cudnn="yes")
    with pytest.raises(ValueError, match="rank"):
        nn.LSTM(2).init(jax.random.key(0), (2, 3))
    with pytest.raises(ValueError, match="state_size"):
        nn.RNN(nn.Dense(2))
    with pytest.raises(ValueError, match="mask"):
        layer = nn.LSTM(2)
        layer.apply(layer.init(jax.random.key(0), X.shape), X, mask=MASK[:, :3])
    nn.LSTM(2, use_cudnn=False)  # accepted


def _weights_paths(path):
    import io
    import zipfile

    import h5py

    out = {}
    with zipfile.ZipFile(path) as z:
        h = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
        h.visititems(lambda n, o: out.__setitem__(n, o.shape) if hasattr(o, "shape") else None)
    return out


def test_keras_files_both_ways(tmp_path):
    x = X
    model = fkeras.Sequential([
        fkeras.Input((5, 3)),
        fkeras.layers.Bidirectional(fkeras.layers.LSTM(2, return_sequences=True)),
        fkeras.layers.TimeDistributed(fkeras.layers.Dense(3)),
        fkeras.layers.RNN([fkeras.layers.SimpleRNNCell(2), fkeras.layers.GRUCell(3)]),
        fkeras.layers.Dense(2),
    ])
    model.compile("adam", "mse")
    # weights other than the initial ones (every bias non-zero), as a fit would leave them
    rng = np.random.default_rng(2)
    model.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in model.get_weights()])
    ours = model.predict(x, verbose=0)
    model.save(tmp_path / "f.keras")
    kmodel = keras.saving.load_model(tmp_path / "f.keras")
    np.testing.assert_allclose(kmodel.predict(x, verbose=0), ours, **TOL)
    kmodel.save(tmp_path / "k.keras")
    assert _weights_paths(tmp_path / "f.keras").keys() == _weights_paths(tmp_path / "k.keras").keys()
    back = fkeras.saving.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(back.predict(x, verbose=0), ours, **TOL)


def test_stateful_states_are_not_saved_like_keras(tmp_path):
    model = fkeras.Sequential([fkeras.Input((5, 3), batch_size=2), fkeras.layers.LSTM(2, stateful=True),
                               fkeras.layers.Dense(1)])
    model.predict(X, verbose=0)
    model.save(tmp_path / "s.keras")
    paths = _weights_paths(tmp_path / "s.keras")
    assert sorted(p for p in paths if p.startswith("layers/lstm")) == [
        "layers/lstm/cell/vars/0", "layers/lstm/cell/vars/1", "layers/lstm/cell/vars/2"]
    kmodel = keras.saving.load_model(tmp_path / "s.keras")
    assert kmodel.layers[0].stateful


def test_lstm_model_to_torch_equal_outputs():
    torch = pytest.importorskip("torch")
    from fkeras.interop.torch import to_torch

    model = nn.Sequential([nn.LSTM(4, return_sequences=True), nn.GRU(3), nn.Dense(2)])
    v = model.init(jax.random.key(0), X.shape)
    ours = np.asarray(model.apply(v, X)[0])
    module = to_torch(model, v).eval()
    theirs = module(torch.from_numpy(X)).detach().numpy()
    np.testing.assert_allclose(theirs, ours, atol=1e-5, rtol=1e-5)
