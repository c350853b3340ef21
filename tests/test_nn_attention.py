"""EinsumDense and MultiHeadAttention (fkeras.nn.attention) against Keras 3.15 with the same weights: outputs
(masks, causal mask, attention scores, key/value of other lengths, attention_axes, gate, output_shape), configs
and from_config, gradients, and a `.keras` file both ways. Tolerance: float32, atol=rtol=1e-5."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import keras  # noqa: E402  (KERAS_BACKEND=jax is set by conftest)

import fkeras
from fkeras import nn

TOL = dict(atol=1e-5, rtol=1e-5)
RNG = np.random.default_rng(0)
Q = RNG.normal(size=(2, 4, 6)).astype("float32")
V = RNG.normal(size=(2, 3, 5)).astype("float32")
K = RNG.normal(size=(2, 3, 7)).astype("float32")
AM = RNG.random((2, 4, 3)) > 0.3


def _plain(config):
    config = json.loads(json.dumps(config))
    config.pop("name")
    return config


def _mha_params(klayer, variables):
    """Keras's MultiHeadAttention weights as fkeras params ({"query": {"kernel", "bias"}, ...})."""
    by = {f"{w.path.split('/')[-2]}/{w.name}": np.asarray(w) for w in klayer.weights}
    params = {s: {leaf: by[f"{s}/{leaf}"] for leaf in variables.params[s]} for s in variables.params}
    assert jax.tree.map(np.shape, params) == jax.tree.map(np.shape, variables.params)
    assert len(by) == len(jax.tree.leaves(params))
    return params


@pytest.mark.parametrize("kwargs,call", [
    ({}, {}),
    ({"output_shape": 8}, {"attention_mask": AM}),
    ({"value_dim": 2, "use_bias": False}, {"return_attention_scores": True}),
    ({"dropout": 0.5}, {"attention_mask": AM}),
    ({}, {"use_causal_mask": True}),
    ({}, {"use_causal_mask": True, "attention_mask": AM, "return_attention_scores": True}),
    ({"use_gate": True}, {}),
    ({"sliding_window": 2}, {"return_attention_scores": True}),
])
def test_multi_head_attention_matches_keras(kwargs, call):
    kl = keras.layers.MultiHeadAttention(2, 3, **kwargs)
    ko = kl(Q, V, K, **call)
    fl = nn.MultiHeadAttention(2, 3, **kwargs)
    variables = fl.init(jax.random.key(0), Q, V, K)
    params = _mha_params(kl, variables)
    fo, _ = fl.apply(nn.Variables(params, {}), Q, V, K, **call)
    assert jax.tree.structure(fo) == jax.tree.structure(ko)
    for a, b in zip(jax.tree.leaves(fo), jax.tree.leaves(ko)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), **TOL)
    assert _plain(fl.get_config()) == _plain(keras.layers.MultiHeadAttention(2, 3, **kwargs).get_config())
    again = nn.MultiHeadAttention.from_config(fl.get_config())
    assert _plain(again.get_config()) == _plain(fl.get_config())


def test_attention_axes_and_self_attention_match_keras():
    x = RNG.normal(size=(2, 3, 4, 5)).astype("float32")
    kl = keras.layers.MultiHeadAttention(2, 3, attention_axes=(1, 2))
    ko = kl(x, x, return_attention_scores=True)
    fl = nn.MultiHeadAttention(2, 3, attention_axes=(1, 2))
    params = _mha_params(kl, fl.init(jax.random.key(0), x, x))
    fo, _ = fl.apply(nn.Variables(params, {}), x, x, return_attention_scores=True)
    for a, b in zip(fo, ko):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), **TOL)


def test_dropout_in_training_needs_a_key_and_changes_the_output():
    fl = nn.MultiHeadAttention(2, 3, dropout=0.5)
    v = fl.init(jax.random.key(0), Q, V)
    y0, _ = fl.apply(v, Q, V)
    y1, _ = fl.apply(v, Q, V, training=True, rng=jax.random.key(1))
    y2, _ = fl.apply(v, Q, V, training=True, rng=jax.random.key(1))
    np.testing.assert_array_equal(np.asarray(y1), np.asarray(y2))
    assert not np.allclose(np.asarray(y0), np.asarray(y1))
    with pytest.raises(ValueError, match="rng"):
        fl.apply(v, Q, V, training=True)


def test_gradients_match_keras():
    kl = keras.layers.MultiHeadAttention(2, 3)
    kl(Q, V)
    fl = nn.MultiHeadAttention(2, 3)
    params = _mha_params(kl, fl.init(jax.random.key(0), Q, V))

    def k_loss(tv, q):
        y, _ = kl.stateless_call(tv, [jnp.asarray(w) for w in kl.non_trainable_variables], q, V,
                                 attention_mask=AM)
        return jnp.sum(jnp.sin(y))

    def f_loss(p, q):
        return jnp.sum(jnp.sin(fl.apply(nn.Variables(p, {}), q, V, attention_mask=AM)[0]))

    kg, kq = jax.grad(k_loss, argnums=(0, 1))([jnp.asarray(w) for w in kl.trainable_weights], Q)
    fg, fq = jax.grad(f_loss, argnums=(0, 1))(params, Q)
    names = [(w.path.split("/")[-2], w.name) for w in kl.trainable_weights]
    for (sub, leaf), g in zip(names, kg):
        np.testing.assert_allclose(np.asarray(fg[sub][leaf]), np.asarray(g), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(fq), np.asarray(kq), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("eq,out,bias,shape", [
    ("ab,bc->ac", 4, "c", (2, 3)),
    ("abc,cde->abde", (3, 4, 5), "de", (2, 3, 6)),
    ("...b,bc->...c", 4, None, (2, 3, 5, 2)),
    ("abc,cd->abd", (None, 4), "d", (2, 3, 6)),
])
def test_einsum_dense_matches_keras(eq, out, bias, shape):
    x = RNG.normal(size=shape).astype("float32")
    kl = keras.layers.EinsumDense(eq, out, bias_axes=bias, activation="relu")
    ko = kl(x)
    fl = nn.EinsumDense(eq, out, bias_axes=bias, activation="relu")
    v = fl.init(jax.random.key(0), x)
    params = {w.name: np.asarray(w) for w in kl.weights}
    assert jax.tree.map(np.shape, params) == jax.tree.map(np.shape, v.params)
    np.testing.assert_allclose(np.asarray(fl.apply(nn.Variables(params, {}), x)[0]), np.asarray(ko), **TOL)
    assert _plain(fl.get_config()) == _plain(kl.get_config())
    assert _plain(nn.EinsumDense.from_config(fl.get_config()).get_config()) == _plain(fl.get_config())


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="num_heads"):
        nn.MultiHeadAttention(0, 3)
    with pytest.raises(ValueError, match="key_dim"):
        nn.MultiHeadAttention(2, -1)
    with pytest.raises(ValueError, match="key"):
        nn.MultiHeadAttention(2, 3).init(jax.random.key(0), Q, V, RNG.normal(size=(2, 4, 7)))
    with pytest.raises(ValueError, match="equation"):
        nn.EinsumDense("ab->b", 3).init(jax.random.key(0), (2, 3))
    with pytest.raises(ValueError, match="Bias dimension"):
        nn.EinsumDense("ab,bc->ac", 3, bias_axes="x").init(jax.random.key(0), (2, 3))


def test_keras_files_both_ways(tmp_path):
    q_in, v_in = fkeras.Input((4, 6)), fkeras.Input((3, 5))
    out = fkeras.layers.MultiHeadAttention(2, 3)(q_in, v_in)
    out = fkeras.layers.Dense(2)(out)
    model = fkeras.Model([q_in, v_in], out)
    model.compile("adam", "mse")
    model.fit([Q, V], RNG.normal(size=(2, 4, 2)).astype("float32"), epochs=1, verbose=0)
    ours = model.predict([Q, V], verbose=0)
    model.save(tmp_path / "f.keras")
    kmodel = keras.saving.load_model(tmp_path / "f.keras")
    np.testing.assert_allclose(kmodel.predict([Q, V], verbose=0), ours, **TOL)
    kmodel.save(tmp_path / "k.keras")
    back = fkeras.saving.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(back.predict([Q, V], verbose=0), ours, **TOL)


QM = np.array([[1, 1, 0, 1], [1, 1, 1, 0]], bool)
VM = np.array([[1, 0, 1], [1, 1, 0]], bool)
VV = RNG.normal(size=(2, 3, 6)).astype("float32")
KK = RNG.normal(size=(2, 3, 6)).astype("float32")


@pytest.mark.parametrize("cls,kwargs", [
    ("Attention", {}),
    ("Attention", {"use_scale": True}),
    ("Attention", {"score_mode": "concat", "use_scale": True}),
    ("AdditiveAttention", {}),
    ("AdditiveAttention", {"use_scale": False, "dropout": 0.3}),
])
@pytest.mark.parametrize("call", [
    {},
    {"mask": [QM, VM], "return_attention_scores": True},
    {"use_causal_mask": True, "mask": [None, VM]},
])
def test_dot_and_additive_attention_match_keras(cls, kwargs, call):
    for inputs in ([Q, VV], [Q, VV, KK]):
        kl = getattr(keras.layers, cls)(**kwargs)
        kl.build([x.shape for x in inputs])
        for w in kl.weights:
            w.assign(RNG.normal(size=w.shape).astype("float32"))
        ko = kl(inputs, **call)
        fl = getattr(nn, cls)(**kwargs)
        v = fl.init(jax.random.key(0), inputs)
        params = {w.name: np.asarray(w) for w in kl.weights}
        assert jax.tree.map(np.shape, v.params) == jax.tree.map(np.shape, params)
        fo, _ = fl.apply(nn.Variables(params, {}), inputs, **call)
        assert jax.tree.structure(fo) == jax.tree.structure(ko)
        for a, b in zip(jax.tree.leaves(fo), jax.tree.leaves(ko)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), **TOL)
        assert _plain(fl.get_config()) == _plain(kl.get_config())
        assert _plain(type(fl).from_config(fl.get_config()).get_config()) == _plain(kl.get_config())
    with pytest.raises(ValueError, match="list of inputs"):
        fl.apply(v, Q)


V6 = RNG.normal(size=(2, 3, 6)).astype("float32")
K6 = RNG.normal(size=(2, 3, 6)).astype("float32")


@pytest.mark.parametrize("kwargs,call", [
    ({}, {}),
    ({"use_bias": False}, {"attention_mask": AM, "return_attention_scores": True}),
    ({"dropout": 0.3}, {"use_causal_mask": True}),
    ({"use_gate": True, "sliding_window": 2}, {}),
])
def test_group_query_attention_matches_keras(kwargs, call):
    kl = keras.layers.GroupQueryAttention(3, 4, 2, **kwargs)
    ko = kl(Q, V6, K6, **call)
    fl = nn.GroupQueryAttention(3, 4, 2, **kwargs)
    params = _mha_params(kl, fl.init(jax.random.key(0), Q, V6, K6))
    fo, _ = fl.apply(nn.Variables(params, {}), Q, V6, K6, **call)
    assert jax.tree.structure(fo) == jax.tree.structure(ko)
    for a, b in zip(jax.tree.leaves(fo), jax.tree.leaves(ko)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), **TOL)
    assert _plain(fl.get_config()) == _plain(kl.get_config())
    assert _plain(nn.GroupQueryAttention.from_config(fl.get_config()).get_config()) == _plain(kl.get_config())
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupQueryAttention(3, 4, 3)


def test_group_query_attention_keras_files_both_ways(tmp_path):
    q_in, v_in = fkeras.Input((4, 6)), fkeras.Input((3, 6))
    model = fkeras.Model([q_in, v_in], fkeras.layers.GroupQueryAttention(3, 4, 2)(q_in, v_in))
    ours = model.predict([Q, V6], verbose=0)
    model.save(tmp_path / "g.keras")
    kmodel = keras.saving.load_model(tmp_path / "g.keras")
    np.testing.assert_allclose(kmodel.predict([Q, V6], verbose=0), ours, **TOL)
    kmodel.save(tmp_path / "gk.keras")
    np.testing.assert_allclose(fkeras.saving.load_model(tmp_path / "gk.keras").predict([Q, V6], verbose=0), ours,
                               **TOL)
