"""Quantized layers give Keras 3.15's quantized numbers: the same float weights quantized by fkeras and by Keras's
`layer.quantize(mode)` give the same int8 kernels, scales and outputs (nn layers: `quantize_variables` + a
quantized dtype policy)."""

from __future__ import annotations

import os

import chex
import jax
import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402  (the oracle)

from fkeras import nn  # noqa: E402

RNG = np.random.default_rng(0)


def _keras_dense(units, x, w, b, activation=None):
    layer = keras.layers.Dense(units, activation=activation, use_bias=b is not None)
    layer.build(x.shape)
    layer.set_weights([w] + ([b] if b is not None else []))
    return layer


@pytest.mark.parametrize("use_bias,activation,shape", [(True, None, (4, 6)), (False, "relu", (2, 3, 6))])
def test_nn_dense_int8_matches_keras(use_bias, activation, shape):
    x = RNG.normal(size=shape).astype("float32")
    w = RNG.normal(size=(6, 5)).astype("float32")
    b = RNG.normal(size=(5,)).astype("float32") if use_bias else None
    klayer = _keras_dense(5, x, w, b, activation)
    klayer.quantize("int8")
    kweights = {v.path.split("/")[-1]: np.asarray(v.value) for v in klayer.weights}

    flt = nn.Dense(5, activation=activation, use_bias=use_bias)
    variables = flt.init(jax.random.key(0), x)
    variables = nn.Variables({"kernel": w} | ({"bias": b} if use_bias else {}), variables.state)
    qvars = flt.quantize_variables(variables, "int8")
    # trainable leaves are params, Keras's non-trainable quantized weights are state
    assert list(qvars.params) == [v.path.split("/")[-1] for v in klayer.trainable_weights]
    assert list(qvars.state) == [v.path.split("/")[-1] for v in klayer.non_trainable_weights]
    np.testing.assert_array_equal(np.asarray(qvars.state["kernel"]), kweights["kernel"])
    assert str(qvars.state["kernel"].dtype) == "int8"
    chex.assert_trees_all_close(np.asarray(qvars.state["kernel_scale"]), kweights["kernel_scale"], rtol=1e-6)

    qlayer = nn.Dense(5, activation=activation, use_bias=use_bias, dtype="int8_from_float32")
    built = qlayer.init(jax.random.key(0), x)
    assert {k: (tuple(v.shape), str(v.dtype)) for k, v in (built.params | built.state).items()} == {
        k: (v.shape, str(v.dtype)) for k, v in kweights.items()}
    y, _ = qlayer.apply(qvars, x)
    chex.assert_trees_all_close(np.asarray(y), np.asarray(klayer(x)), rtol=1e-5, atol=1e-5)
    yj, _ = jax.jit(qlayer.apply)(qvars, x)
    chex.assert_trees_all_close(np.asarray(yj), np.asarray(y), rtol=1e-6, atol=1e-6)

    # the gradient reaches the inputs through the dequantized kernel, as in Keras
    g = jax.grad(lambda a: qlayer.apply(qvars, a)[0].sum())(x)
    assert g.shape == x.shape and np.isfinite(np.asarray(g)).all()
    if use_bias:  # and the float params train
        gp = jax.grad(lambda p: qlayer.apply(nn.Variables(p, qvars.state), x)[0].sum())(qvars.params)
        chex.assert_trees_all_close(gp["bias"], np.full((5,), np.prod(shape[:-1]), "float32"))


def test_nn_dense_quantize_errors():
    layer = nn.Dense(3)
    v = layer.init(jax.random.key(0), (2, 4))
    with pytest.raises(ValueError, match="cannot quantize to 'int2'"):
        layer.quantize_variables(v, "int2")
    q = nn.Dense(3, dtype="int8_from_float32")
    with pytest.raises(ValueError, match="already quantized"):
        q.quantize_variables(q.init(jax.random.key(0), (2, 4)), "int8")
    with pytest.raises(ValueError, match="not supported for Embedding"):
        nn.Embedding(3, 2, dtype="float8_from_float32").init(jax.random.key(0), (2, 4))


def test_nn_embedding_int8_matches_keras():
    table = RNG.normal(size=(9, 4)).astype("float32")
    ids = np.array([[0, 3, 8], [5, 5, 1]], "int32")
    klayer = keras.layers.Embedding(9, 4)
    klayer.build(ids.shape)
    klayer.set_weights([table])
    klayer.quantize("int8")
    kweights = {v.path.split("/")[-1]: np.asarray(v.value) for v in klayer.weights}

    flt = nn.Embedding(9, 4)
    qvars = flt.quantize_variables(nn.Variables({"embeddings": table}, {}), "int8")
    assert not qvars.params and list(qvars.state) == list(kweights)
    np.testing.assert_array_equal(np.asarray(qvars.state["embeddings"]), kweights["embeddings"])
    chex.assert_trees_all_close(np.asarray(qvars.state["embeddings_scale"]), kweights["embeddings_scale"], rtol=1e-6)
    qlayer = nn.Embedding(9, 4, dtype="int8_from_float32")
    built = qlayer.init(jax.random.key(0), ids)
    assert {k: (tuple(v.shape), str(v.dtype)) for k, v in built.state.items()} == {
        k: (v.shape, str(v.dtype)) for k, v in kweights.items()}
    y, _ = qlayer.apply(qvars, ids)
    chex.assert_trees_all_close(np.asarray(y), np.asarray(klayer(ids)), rtol=1e-6, atol=1e-6)


def _pair(module):
    return module.Sequential([module.Input((5,), dtype="int32"), module.layers.Embedding(11, 6, name="emb"),
                              module.layers.Flatten(name="flat"), module.layers.Dense(7, activation="relu", name="d1"),
                              module.layers.Dense(3, name="d2")], name="seq")


def test_model_quantize_int8_matches_keras_and_trains(tmp_path):
    import fkeras

    ids = RNG.integers(0, 11, size=(4, 5)).astype("int32")
    km, fm = _pair(keras), _pair(fkeras)
    fm.set_weights(km.get_weights())
    chex.assert_trees_all_close(np.asarray(fm.predict(ids, verbose=0)), np.asarray(km.predict(ids, verbose=0)),
                                rtol=1e-5, atol=1e-5)
    with pytest.warns(UserWarning):
        km.quantize("int8")
    fm.quantize("int8")
    assert [l.dtype_policy.name for l in fm.layers] == [l.dtype_policy.name for l in km.layers]
    def key(w):  # "<layer>/<weight>" (Keras prefixes the model's name)
        return "/".join(w.path.split("/")[-2:])

    assert sorted((key(w), tuple(w.shape), str(np.dtype(w.dtype)), w.trainable) for w in fm.weights) == sorted(
        (key(w), tuple(w.shape), w.dtype, w.trainable) for w in km.weights)
    for lk, lf in zip(km.layers, fm.layers):
        kw = {key(w): np.asarray(w.value) for w in lk.weights}
        for w in lf.weights:
            np.testing.assert_allclose(np.asarray(w.value), kw[key(w)], rtol=1e-6, err_msg=w.path)
    chex.assert_trees_all_close(np.asarray(fm.predict(ids, verbose=0)), np.asarray(km.predict(ids, verbose=0)),
                                rtol=1e-5, atol=1e-5)
    assert len(fm.trainable_weights) == len(km.trainable_weights) == 2  # the biases

    fm.compile("sgd", "mse")
    fm.fit(ids, np.ones((4, 3), "float32"), epochs=1, verbose=0)  # int8 weights stay frozen, biases train
    assert str(fm.layers[-1].kernel.dtype) == "int8"


def test_layer_quantize_errors():
    import fkeras

    layer = fkeras.layers.Dense(3)
    with pytest.raises(ValueError, match="isn't yet built"):
        layer.quantize("int8")
    layer.build((None, 4))
    with pytest.raises(ValueError, match="Invalid quantization mode"):
        layer.quantize("int3")
    with pytest.raises(ValueError, match="Contradictory arguments"):
        layer.quantize("int8", config=fkeras.quantizers.Int4QuantizationConfig())
    assert layer.dtype_policy.name == "float32" and str(layer.kernel.dtype) == "float32"
    emb = fkeras.layers.Embedding(5, 3)
    emb.build((None, 2))
    with pytest.raises(NotImplementedError, match="Invalid quantization mode"):  # Keras: Embedding has no float8
        emb.quantize("float8")
    assert emb.dtype_policy.name == "float32" and str(emb.embeddings.dtype) == "float32"
    with pytest.raises(NotImplementedError):
        fkeras.layers.Flatten().quantize("int8")


def test_quantize_after_fit_uses_trained_weights():
    import fkeras

    ids = RNG.integers(0, 11, size=(4, 5)).astype("int32")
    fm = _pair(fkeras)
    fm.compile("sgd", "mse")
    fm.fit(ids, np.ones((4, 3), "float32"), epochs=1, verbose=0)
    km = _pair(keras)
    km.set_weights(fm.get_weights())  # the trained weights, as the Variables show them
    fm.quantize("int8")
    with pytest.warns(UserWarning):
        km.quantize("int8")
    chex.assert_trees_all_close(np.asarray(fm.predict(ids, verbose=0)), np.asarray(km.predict(ids, verbose=0)),
                                rtol=1e-5, atol=1e-5)


def test_quantized_keras_files_cross_both_ways(tmp_path):
    import fkeras

    ids = RNG.integers(0, 11, size=(4, 5)).astype("int32")
    fm = _pair(fkeras)
    fm.quantize("int8")
    fm.save(tmp_path / "f.keras")
    km = keras.saving.load_model(tmp_path / "f.keras")
    assert [l.dtype_policy.name for l in km.layers] == ["int8_from_float32", "float32", "int8_from_float32",
                                                        "int8_from_float32"]
    chex.assert_trees_all_close(np.asarray(km.predict(ids, verbose=0)), np.asarray(fm.predict(ids, verbose=0)),
                                rtol=1e-6, atol=1e-6)
    import json

    def as_json(c):  # (value_range is a tuple in memory, a list once read back from JSON)
        return json.loads(json.dumps(c))

    assert as_json(fm.layers[-1].get_config()) == as_json(km.layers[-1].get_config())

    with pytest.warns(UserWarning):
        km2 = _pair(keras)
        km2.quantize("int8")
    km2.save(tmp_path / "k.keras")
    fm2 = fkeras.saving.load_model(tmp_path / "k.keras")
    assert isinstance(fm2.layers[0].dtype_policy, fkeras.dtype_policies.QuantizedDTypePolicy)
    chex.assert_trees_all_close(np.asarray(fm2.predict(ids, verbose=0)), np.asarray(km2.predict(ids, verbose=0)),
                                rtol=1e-6, atol=1e-6)
    fm2.save(tmp_path / "f2.keras")  # and back through fkeras
    chex.assert_trees_all_close(np.asarray(fkeras.saving.load_model(tmp_path / "f2.keras").predict(ids, verbose=0)),
                                np.asarray(km2.predict(ids, verbose=0)), rtol=1e-6, atol=1e-6)


def test_quantization_config_argument():
    import fkeras

    with pytest.raises(ValueError, match="expected `quantization_config` to be a QuantizationConfig"):
        fkeras.layers.Dense(3, quantization_config="int8")
    layer = fkeras.layers.Dense(3, quantization_config=fkeras.quantizers.Int8QuantizationConfig(),
                                dtype="int8_from_float32")
    assert layer.get_config()["quantization_config"] == keras.quantizers.serialize(
        keras.quantizers.Int8QuantizationConfig())


def test_quantized_model_runs_through_torch_shim():
    import torch

    import fkeras
    from fkeras.interop.torch import to_torch

    ids = RNG.integers(0, 11, size=(4, 5)).astype("int32")
    fm = _pair(fkeras)
    fm.quantize("int8")
    out = to_torch(fm)(torch.as_tensor(ids))
    chex.assert_trees_all_close(out.detach().numpy(), np.asarray(fm.predict(ids, verbose=0)), rtol=1e-6, atol=1e-6)
