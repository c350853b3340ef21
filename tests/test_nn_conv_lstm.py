"""ConvLSTM1D/2D/3D (fkeras.nn.conv_recurrent) against Keras 3.15 with the same weights: outputs for
return_sequences/return_state/go_backwards, strides/dilation/padding/channels_first, initial_state,
stateful carry-over and reset, gradients, configs and signatures, `.keras` files both ways, `to_torch`,
masks (Keras 3.15 cannot mask a ConvLSTM on JAX, so they are checked against dropping the masked steps)
and clear errors. Tolerance: float32, atol=rtol=1e-5 (gradients 1e-4)."""

import inspect
import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import keras  # noqa: E402  (KERAS_BACKEND=jax is set by conftest)

import fkeras
from fkeras import nn

TOL = dict(atol=1e-5, rtol=1e-5)
RNG = np.random.default_rng(0)
X1 = RNG.normal(size=(2, 4, 7, 3)).astype("float32")
X2 = RNG.normal(size=(2, 3, 6, 5, 2)).astype("float32")
X3 = RNG.normal(size=(1, 2, 4, 4, 3, 2)).astype("float32")
NAMES = ("kernel", "recurrent_kernel", "bias")


def _flat(out):
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def _keras_layer(kind, x, seed=3, **kw):
    kl = getattr(keras.layers, kind)(**kw)
    kl.build(x.shape)
    rng = np.random.default_rng(seed)
    for w in kl.weights:
        w.assign(rng.normal(scale=0.3, size=w.shape).astype("float32"))
    return kl


def _params(kl):
    return {"conv_lstm_cell": dict(zip(NAMES[:len(kl.weights)], [np.asarray(w) for w in kl.weights]))}


SEQ_STATE = dict(return_sequences=True, return_state=True)
BACK_STATE = dict(return_state=True, go_backwards=True)
CASES = [
    ("ConvLSTM1D", X1, dict(filters=3, kernel_size=3, dilation_rate=2, **SEQ_STATE)),
    ("ConvLSTM1D", X1, dict(filters=2, kernel_size=2, strides=2, padding="same", use_bias=False, **BACK_STATE)),
    ("ConvLSTM2D", X2, dict(filters=3, kernel_size=3, padding="same", **BACK_STATE)),
    ("ConvLSTM2D", X2, dict(filters=2, kernel_size=(3, 2), strides=2, unit_forget_bias=False, **SEQ_STATE)),
    ("ConvLSTM2D", X2, dict(filters=2, kernel_size=2, data_format="channels_first", activation="relu",
                            recurrent_activation="hard_sigmoid", return_sequences=True, go_backwards=True)),
    ("ConvLSTM3D", X3, dict(filters=2, kernel_size=2, padding="same", **SEQ_STATE)),
]


@pytest.mark.parametrize("kind,x,kw", CASES)
def test_outputs_match_keras(kind, x, kw):
    kl = _keras_layer(kind, x, **kw)
    ky = _flat(kl(x))
    fl = getattr(nn, kind)(**kw)
    init = fl.init(jax.random.key(0), x.shape)
    assert jax.tree.map(jnp.shape, init.params) == jax.tree.map(jnp.shape, _params(kl))
    fy = _flat(fl.apply(nn.Variables(_params(kl), {}), x)[0])
    assert len(fy) == len(ky) == (3 if kw.get("return_state") else 1)
    for a, b in zip(fy, ky):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, **TOL)


def test_initial_state_unroll_and_jit_match_keras():
    kl = _keras_layer("ConvLSTM2D", X2, filters=2, kernel_size=3, padding="same", return_sequences=True,
                      return_state=True, unroll=True)
    h0 = np.full((2, 6, 5, 2), 0.3, "float32")
    c0 = np.full((2, 6, 5, 2), -0.2, "float32")
    ky = _flat(kl(X2, initial_state=[h0, c0]))
    fl = nn.ConvLSTM2D(2, 3, padding="same", return_sequences=True, return_state=True, unroll=True)
    run = jax.jit(lambda v, x, s: fl.apply(v, x, initial_state=s)[0])
    for a, b in zip(_flat(run(nn.Variables(_params(kl), {}), X2, [h0, c0])), ky):
        np.testing.assert_allclose(a, b, **TOL)
    with pytest.raises(ValueError, match="initial state"):
        fl.apply(nn.Variables(_params(kl), {}), X2, initial_state=[h0])


def test_stateful_carry_over_and_reset_match_keras():
    kl = _keras_layer("ConvLSTM1D", X1, filters=2, kernel_size=3, stateful=True, return_sequences=True)
    fl = nn.ConvLSTM1D(2, 3, stateful=True, return_sequences=True)
    v = fl.init(jax.random.key(0), X1.shape)
    assert jax.tree.map(jnp.shape, v.state) == {"rnn_state": {"0": (2, 5, 2), "1": (2, 5, 2)}}
    v = nn.Variables(_params(kl), v.state)
    for batch in (X1, X1[:, ::-1] * 0.5):
        fy, state = fl.apply(v, batch)
        np.testing.assert_allclose(np.asarray(fy), np.asarray(kl(batch)), **TOL)
        v = nn.Variables(v.params, state)
    kl.reset_states()
    v = fl.reset_states(v)
    np.testing.assert_allclose(np.asarray(fl.apply(v, X1)[0]), np.asarray(kl(X1)), **TOL)


def test_mask_keeps_the_state_over_masked_steps():
    """A masked step leaves h and c as they were: the result equals running on the unmasked steps only."""
    fl = nn.ConvLSTM2D(2, 3, padding="same", return_state=True)
    v = fl.init(jax.random.key(0), X2.shape)
    mask = np.array([[1, 0, 1], [0, 1, 1]], bool)
    out = _flat(fl.apply(v, X2, mask=mask)[0])
    for i in range(2):
        kept = X2[i:i + 1, mask[i]]
        ref = _flat(fl.apply(v, kept)[0])
        for a, b in zip(out, ref):
            np.testing.assert_allclose(a[i:i + 1], b, **TOL)


def test_dropout_masks_once_per_batch_and_need_a_key():
    fl = nn.ConvLSTM2D(2, 3, dropout=0.5, recurrent_dropout=0.5, return_sequences=True)
    v = fl.init(jax.random.key(0), X2.shape)
    run = jax.jit(lambda v, k: fl.apply(v, X2, training=True, rng=k)[0])
    y1, y2, y3 = run(v, jax.random.key(1)), run(v, jax.random.key(1)), run(v, jax.random.key(2))
    np.testing.assert_array_equal(np.asarray(y1), np.asarray(y2))
    assert not np.allclose(np.asarray(y1), np.asarray(y3))
    assert not np.allclose(np.asarray(y1), np.asarray(fl.apply(v, X2)[0]))
    with pytest.raises(ValueError, match="rng"):
        jax.eval_shape(lambda v: fl.apply(v, X2, training=True), v)
    # Keras in inference mode ignores the dropout arguments: same numbers as without them
    kl = _keras_layer("ConvLSTM2D", X2, filters=2, kernel_size=3, dropout=0.5, recurrent_dropout=0.5)
    fl = nn.ConvLSTM2D(2, 3, dropout=0.5, recurrent_dropout=0.5)
    np.testing.assert_allclose(np.asarray(fl.apply(nn.Variables(_params(kl), {}), X2)[0]), np.asarray(kl(X2)),
                               **TOL)


def test_gradients_match_keras():
    kl = _keras_layer("ConvLSTM2D", X2, filters=2, kernel_size=3, strides=2, return_sequences=True)
    fl = nn.ConvLSTM2D(2, 3, strides=2, return_sequences=True)

    def f_loss(p, x):
        return jnp.sum(jnp.sin(fl.apply(nn.Variables(p, {}), x)[0]))

    def k_loss(tv, x):
        return jnp.sum(jnp.sin(kl.stateless_call(tv, ntv, x)[0]))

    tv = [jnp.asarray(w) for w in kl.trainable_weights]
    ntv = [jnp.asarray(w) for w in kl.non_trainable_variables]
    kg, kgx = jax.grad(k_loss, argnums=(0, 1))(tv, X2)
    fg, fgx = jax.grad(f_loss, argnums=(0, 1))(_params(kl), X2)
    for name, g in zip(NAMES, kg):
        np.testing.assert_allclose(np.asarray(fg["conv_lstm_cell"][name]), np.asarray(g), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(fgx), np.asarray(kgx), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("make", [
    lambda m: m.ConvLSTM1D(3, 2, name="c"),
    lambda m: m.ConvLSTM2D(4, (3, 2), strides=(2, 1), padding="same", data_format="channels_first",
                           activation="relu", recurrent_activation="hard_sigmoid", use_bias=False,
                           unit_forget_bias=False, kernel_regularizer="l2", activity_regularizer="l2",
                           bias_constraint="non_neg", dropout=0.2, recurrent_dropout=0.1, seed=5,
                           return_sequences=True, return_state=True, go_backwards=True, stateful=True,
                           name="c"),
    lambda m: m.ConvLSTM3D(2, 3, dilation_rate=2, kernel_initializer="he_normal", unroll=True, name="c"),
])
def test_configs_equal_keras_and_round_trip(make):
    def plain(config):
        return json.loads(json.dumps(config))

    kcfg = plain(make(keras.layers).get_config())
    fl = make(nn)
    assert plain(fl.get_config()) == kcfg
    assert plain(type(fl).from_config(fl.get_config()).get_config()) == kcfg
    assert plain(type(fl).from_config(kcfg).get_config()) == kcfg  # Keras's own config builds it
    assert fl.filters == make(keras.layers).filters and fl.kernel_size == make(keras.layers).kernel_size


@pytest.mark.parametrize("kind", ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"])
def test_signatures_equal_keras(kind):
    def params(cls):
        return [(p.name, p.default) for p in inspect.signature(cls.__init__).parameters.values()]

    assert params(getattr(nn, kind)) == params(getattr(keras.layers, kind))
    assert getattr(nn, kind)(2, 3).name == re.sub(r"_\d+$", "", getattr(keras.layers, kind)(2, 3).name)


def test_keras_files_both_ways_and_to_torch(tmp_path):
    import io
    import zipfile

    import h5py

    def paths(path):
        out = {}
        with zipfile.ZipFile(path) as z:
            h = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
            h.visititems(lambda n, o: out.__setitem__(n, o.shape) if hasattr(o, "shape") else None)
        return out

    model = fkeras.Sequential([
        fkeras.Input(X2.shape[1:]),
        fkeras.layers.ConvLSTM2D(2, 2, strides=2),
        fkeras.layers.Flatten(),
        fkeras.layers.Dense(2),
    ])
    model.compile("adam", "mse")
    # weights other than the initial ones (every bias non-zero), as a fit would leave them
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(scale=0.3, size=w.shape).astype("float32") for w in model.get_weights()])
    ours = model.predict(X2, verbose=0)
    model.save(tmp_path / "f.keras")
    kmodel = keras.saving.load_model(tmp_path / "f.keras")
    np.testing.assert_allclose(kmodel.predict(X2, verbose=0), ours, **TOL)
    kmodel.save(tmp_path / "k.keras")
    assert paths(tmp_path / "f.keras") == paths(tmp_path / "k.keras")
    assert "layers/conv_lstm2d/cell/vars/1" in paths(tmp_path / "k.keras")
    back = fkeras.saving.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(back.predict(X2, verbose=0), ours, **TOL)

    torch = pytest.importorskip("torch")
    from fkeras.interop.torch import to_torch

    module = to_torch(model).eval()
    theirs = module(torch.from_numpy(X2)).detach().numpy()
    np.testing.assert_allclose(theirs, ours, atol=1e-5, rtol=1e-5)


def test_bad_arguments_and_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="filters"):
        nn.ConvLSTM2D(0, 3)
    with pytest.raises(ValueError, match="padding"):
        nn.ConvLSTM2D(2, 3, padding="causal")
    with pytest.raises(ValueError, match="dilation_rate"):
        nn.ConvLSTM2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="kernel_size"):
        nn.ConvLSTM1D(2, (3, 3))
    with pytest.raises(ValueError, match="data_format"):
        nn.ConvLSTM2D(2, 3, data_format="nhwc")
    layer = nn.ConvLSTM2D(2, 3)
    with pytest.raises(ValueError, match="rank 5"):
        layer.init(jax.random.key(0), X1.shape)
    with pytest.raises(ValueError, match="zero or negative"):
        layer.init(jax.random.key(0), (2, 3, 2, 2, 1))
    v = layer.init(jax.random.key(0), X2.shape)
    with pytest.raises(ValueError, match="input channels"):
        layer.apply(v, np.concatenate([X2, X2], axis=-1))
    with pytest.raises(ValueError, match="mask"):
        layer.apply(v, X2, mask=np.ones((2, 2), bool))


def test_keras_names_of_this_family_all_exist():
    """Every public Keras layer name of the ConvLSTM and spectral-normalization families is in fkeras.nn and
    fkeras.layers (Keras keeps ConvLSTMCell and the ConvLSTM base private, and so does fkeras)."""
    names = [n for n in dir(keras.layers) if n.startswith("ConvLSTM") or n == "SpectralNormalization"]
    assert sorted(names) == ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "SpectralNormalization"]
    for n in names:
        assert isinstance(getattr(nn, n), type) and getattr(fkeras.layers, n).__name__ == n
    assert not hasattr(keras.layers, "ConvLSTMCell") and not hasattr(fkeras.layers, "ConvLSTMCell")


def test_to_tf_equal_outputs():
    pytest.importorskip("tensorflow")
    from fkeras.interop.tf import to_tf

    layer = nn.ConvLSTM1D(2, 3, padding="same", return_sequences=True, go_backwards=True)
    v = layer.init(jax.random.key(0), X1.shape)
    ours = np.asarray(layer.apply(v, X1)[0])
    np.testing.assert_allclose(np.asarray(to_tf(layer, v)(X1)), ours, **TOL)
