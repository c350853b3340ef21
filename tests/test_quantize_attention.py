"""Quantizing inside MultiHeadAttention / GroupQueryAttention, and ReversibleEmbedding, against Keras 3.15 with the
same float weights: Keras's `model.quantize` reaches the attention layers' EinsumDense projections (each gets its own
quantized dtype policy, the attention layer stays float), the layouts, numbers, weight order and `.keras` files
cross both ways; ReversibleEmbedding quantizes its table and its untied reverse projection."""

from __future__ import annotations

import inspect
import json
import os
import re
import warnings

import chex
import jax
import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402  (the oracle)

import fkeras  # noqa: E402
from fkeras import nn  # noqa: E402
from quantize_common import check_predictions_and_files, keras_quantizes_without_gc  # noqa: E402, F401

RNG = np.random.default_rng(0)
KQ, FQ = keras.quantizers, fkeras.quantizers
Q = RNG.normal(size=(2, 4, 8)).astype("float32")
V = RNG.normal(size=(2, 5, 8)).astype("float32")
MODES = {"int8": (None, None), "int4": (None, None),
         "int4_per_channel": (None, {"block_size": -1}), "float8": (None, None)}


def _config(case, module):
    mode, cfg = case.split("_")[0], MODES[case][1]
    return (mode, None) if cfg is None else (None, module.quantizers.Int4QuantizationConfig(**cfg))


def _attention(module, kind, dtype=None):
    """The attention layer from `module.layers` (keras, fkeras) or `fkeras.nn`."""
    layers = getattr(module, "layers", module)
    if kind == "mha":
        return layers.MultiHeadAttention(2, 3, name="mha", dtype=dtype)
    return layers.GroupQueryAttention(head_dim=4, num_query_heads=3, num_key_value_heads=1, name="gqa", dtype=dtype)


def _keras_projections(layer):
    return {sub.name: sub for sub in layer._flatten_layers() if isinstance(sub, keras.layers.EinsumDense)}


def test_keras_layers_with_quantizable_sublayers_are_covered():
    """Every built-in Keras layer that makes Dense/EinsumDense/Embedding sublayers has fkeras projections to
    quantize; every Keras layer with its own `quantize` quantizes in fkeras with Keras's modes."""
    made, own, sources = set(), set(), {}
    base = keras.layers.Layer.quantize
    makes = re.compile(r"self\.\w+\s*=\s*(EinsumDense|Dense|Embedding|ReversibleEmbedding)\(")
    for name, cls in vars(keras.layers).items():
        if not (inspect.isclass(cls) and issubclass(cls, keras.layers.Layer)):
            continue
        if cls.quantize is not base:
            own.add(name)
        for klass in cls.__mro__:  # the source files of the class and its Keras bases (one class per file)
            path = inspect.getsourcefile(klass) if klass.__module__.startswith("keras.src") else None
            if path and path not in sources:
                with open(path, encoding="utf-8") as f:
                    sources[path] = bool(makes.search(f.read()))
            if path and sources[path] and klass is not keras.layers.Layer:
                made.add(name)
                break
    assert made == {"MultiHeadAttention", "GroupQueryAttention"}
    for name in made:
        assert callable(getattr(getattr(nn, name), "projections"))
    assert own == {"Dense", "EinsumDense", "Embedding", "ReversibleEmbedding"}
    assert nn.ReversibleEmbedding.quantization_modes == ("int8", "int4")


@pytest.mark.parametrize("kind,case,dtype", [("mha", "int8", None), ("mha", "int4_per_channel", None),
                                             ("mha", "float8", None), ("gqa", "float8", None),
                                             ("mha", "int4", "mixed_bfloat16")])  # (gqa int4: the model test)
def test_nn_projections_match_keras(kind, case, dtype):
    klayer = _attention(keras, kind, dtype)
    klayer(Q, V)
    flayer = _attention(nn, kind, dtype)
    params = {}
    for w in klayer.weights:
        sub, leaf = w.path.split("/")[-2:]
        params.setdefault(sub, {})[leaf] = np.asarray(w.value)
    template = jax.eval_shape(flayer.init, jax.random.key(0), Q, V)
    assert jax.tree.map(np.shape, template.params) == jax.tree.map(np.shape, params)
    mode, kcfg = _config(case, keras)
    _, fcfg = _config(case, fkeras)
    for sub in _keras_projections(klayer).values():
        sub.quantize(mode, config=kcfg)
    variables = nn.Variables(params, {})
    for name in flayer.projections(Q, V):
        variables, policy = flayer.quantize_projection(variables, name, mode, fcfg, Q, V)
        flayer.set_projection_quantization(name, policy)
    for name, ksub in _keras_projections(klayer).items():
        assert flayer.sublayer_quantization[name][0].name == ksub.dtype_policy.name
        got = variables.params.get(name, {}) | variables.state.get(name, {})
        want = {w.name: w for w in ksub.weights}
        assert list(variables.params.get(name, {})) == [w.name for w in ksub.trainable_weights]
        assert list(variables.state.get(name, {})) == [w.name for w in ksub.non_trainable_weights]
        for leaf, w in want.items():
            assert (tuple(got[leaf].shape), str(got[leaf].dtype)) == (tuple(w.shape), w.dtype), (name, leaf)
            np.testing.assert_allclose(np.asarray(got[leaf]), np.asarray(w.value), rtol=1e-6, err_msg=leaf)
    assert klayer.dtype_policy.name == flayer.dtype_policy.name == (dtype or "float32")
    # the recorded policies build Keras's quantized layout
    built = jax.eval_shape(flayer.init, jax.random.key(1), Q, V)
    assert jax.tree.map(lambda a: (a.shape, str(a.dtype)), built) == jax.tree.map(
        lambda a: (a.shape, str(a.dtype)), variables)
    tol = 1e-5 if dtype is None else 1e-2  # bfloat16 compute: a few ulps of order in the gradients
    want = np.asarray(jax.jit(klayer)(Q, V)).astype("float32")
    y, _ = jax.jit(flayer.apply)(variables, Q, V)
    assert str(y.dtype) == klayer.compute_dtype
    chex.assert_trees_all_close(np.asarray(y).astype("float32"), want, rtol=tol, atol=tol)
    if dtype is None:
        kg = jax.jit(jax.grad(lambda q: klayer(q, V).sum()))(Q)
        g = jax.jit(jax.grad(lambda q: flayer.apply(variables, q, V)[0].sum()))(Q)
        chex.assert_trees_all_close(np.asarray(g), np.asarray(kg), rtol=1e-4, atol=1e-4)


def _model(module, kind):
    q, v = module.Input((4, 8), name="q"), module.Input((5, 8), name="v")
    out = module.layers.Dense(3, name="head")(_attention(module, kind)(q, v))
    return module.Model([q, v], out)


def _entries(model, numpy_dtype=False):
    return [(w.path, tuple(w.shape), str(np.dtype(w.dtype)) if numpy_dtype else w.dtype, w.trainable)
            for w in model.weights]


@pytest.mark.parametrize("kind,case", [("mha", "int8"), ("gqa", "int4"), ("mha", "float8")])
def test_model_quantize_matches_keras_files_and_torch(kind, case, tmp_path):
    import torch

    from fkeras.interop.torch import to_torch

    mode, kcfg = _config(case, keras)
    _, fcfg = _config(case, fkeras)
    km, fm = _model(keras, kind), _model(fkeras, kind)
    fm.set_weights(km.get_weights())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km.quantize(mode, config=kcfg)
    fm.quantize(mode, config=fcfg)
    katt, fatt = km.get_layer(kind), fm.get_layer(kind)
    assert fatt.dtype_policy.name == katt.dtype_policy.name == "float32"
    # (a built Keras MultiHeadAttention reports its default attention_axes, fkeras's config keeps None)
    fconfig, kconfig = (json.loads(json.dumps(layer.get_config())) for layer in (fatt, katt))
    assert {k: v for k, v in fconfig.items() if k != "attention_axes"} == {
        k: v for k, v in kconfig.items() if k != "attention_axes"}
    assert {n: p[0].name for n, p in fatt.nn_layer.sublayer_quantization.items()} == {
        n: s.dtype_policy.name for n, s in _keras_projections(katt).items()}
    assert _entries(fm, numpy_dtype=True) == _entries(km)
    assert [w.path for w in fm.trainable_weights] == [w.path for w in km.trainable_weights]
    for fw, kw in zip(fm.weights, km.weights):
        np.testing.assert_allclose(np.asarray(fw.value), np.asarray(kw.value), rtol=1e-6, err_msg=fw.path)
    x = [Q, V]
    want = np.asarray(km.predict(x, verbose=0))
    ours = np.asarray(fm.predict(x, verbose=0))
    chex.assert_trees_all_close(ours, want, rtol=1e-5, atol=1e-5)

    # Keras's config keeps no trace of the projections' policies, so Keras's own `load_model` cannot rebuild a
    # quantized attention layer; the file loads into the same model quantized the same way, both ways
    fm.save(tmp_path / "f.keras")
    km.save(tmp_path / "k.keras")
    if kind == "mha":
        with pytest.raises(ValueError, match="could not be loaded"):
            keras.saving.load_model(tmp_path / "f.keras")
        with pytest.raises(ValueError, match="expected 2 variables, the file has"):
            fkeras.saving.load_model(tmp_path / "k.keras")
    k2 = _model(keras, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k2.quantize(mode, config=kcfg)
    k2.load_weights(tmp_path / "f.keras")
    chex.assert_trees_all_close(np.asarray(k2.predict(x, verbose=0)), ours, rtol=1e-6, atol=1e-6)
    f2 = _model(fkeras, kind)
    f2.quantize(mode, config=fcfg)
    f2.load_weights(tmp_path / "k.keras")
    chex.assert_trees_all_close(np.asarray(f2.predict(x, verbose=0)), want, rtol=1e-6, atol=1e-6)

    if kind == "mha":
        got = to_torch(fm)(torch.as_tensor(Q), torch.as_tensor(V))
        chex.assert_trees_all_close(got.detach().numpy(), ours, rtol=1e-5, atol=1e-5)


def test_quantize_filters_and_errors():
    km, fm = _model(keras, "mha"), _model(fkeras, "mha")
    fm.set_weights(km.get_weights())
    with pytest.raises(NotImplementedError, match="MultiHeadAttention does not have a `quantize"):
        fm.get_layer("mha").quantize("int8")
    with pytest.raises(NotImplementedError, match="MultiHeadAttention does not have a `quantize"):
        km.get_layer("mha").quantize("int8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km.quantize("int8", filters=["query", "^value"])
        km.quantize("int4", filters=lambda layer: isinstance(layer, keras.layers.EinsumDense)
                    and layer.dtype_policy.quantization_mode is None and layer.name != "key")
    fm.quantize("int8", filters=["query", "^value"])
    fm.quantize("int4", filters=lambda layer: isinstance(layer, fkeras.layers.EinsumDense)
                and layer.dtype_policy.quantization_mode is None and layer.name != "key")
    assert {n: p[0].name for n, p in fm.get_layer("mha").nn_layer.sublayer_quantization.items()} == {
        "query": "int8_from_float32", "value": "int8_from_float32", "attention_output": "int4/128_from_float32"}
    assert {n: s.dtype_policy.name for n, s in _keras_projections(km.get_layer("mha")).items()} == {
        "query": "int8_from_float32", "value": "int8_from_float32", "attention_output": "int4/128_from_float32",
        "key": "float32"}
    assert fm.get_layer("head").dtype_policy.name == km.get_layer("head").dtype_policy.name == "float32"
    assert _entries(fm, numpy_dtype=True) == _entries(km)
    chex.assert_trees_all_close(np.asarray(fm.predict([Q, V], verbose=0)),
                                np.asarray(km.predict([Q, V], verbose=0)), rtol=1e-5, atol=1e-5)
    before = [np.asarray(w.value) for w in fm.weights]
    with pytest.raises(ValueError, match="Layer 'query' is already quantized with dtype_policy='int8_from_float32'"):
        fm.quantize("int8", filters="query")
    for a, w in zip(before, fm.weights):
        np.testing.assert_array_equal(a, np.asarray(w.value))

    layer = fkeras.layers.MultiHeadAttention(2, 3)  # an unbuilt attention layer cannot be quantized
    with pytest.raises(ValueError, match="isn't yet built"):
        layer._fk_quantize_projections("int8", None)


def test_float8_attention_trains_like_keras():
    """One SGD step on a model whose projections are float8: the delayed-scaling scales/histories are
    overwritten with their new values, the float weights step as in Keras."""
    km, fm = _model(keras, "mha"), _model(fkeras, "mha")
    fm.set_weights(km.get_weights())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km.quantize("float8")
    fm.quantize("float8")
    y = RNG.normal(size=(2, 4, 3)).astype("float32")
    km.compile(keras.optimizers.SGD(0.1), "mse")
    fm.compile(fkeras.optimizers.SGD(0.1), "mse")
    for m in (km, fm):
        m.fit([Q, V], y, batch_size=2, epochs=1, verbose=0, shuffle=False)
    history = [w for w in fm.weights if w.path.endswith("query/inputs_amax_history")][0]
    assert float(np.asarray(history.value)[0]) > 0
    for fw, kw in zip(fm.weights, km.weights):
        assert fw.path == kw.path
        np.testing.assert_allclose(np.asarray(fw.value), np.asarray(kw.value), rtol=1e-4, atol=1e-5,
                                   err_msg=fw.path)


# --- ReversibleEmbedding --------------------------------------------------------------------------------------

RE_CASES = [("int8", None), ("int8", "weight_only"), ("int4", None), ("int4", -1), ("int4", 4)]


def _re_config(module, cfg):
    if cfg == "weight_only":
        return module.quantizers.Int8QuantizationConfig(activation_quantizer=None)
    return None if cfg is None else module.quantizers.Int4QuantizationConfig(block_size=cfg)


@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
@pytest.mark.parametrize("mode,cfg", RE_CASES, ids=["int8", "int8_weight_only", "int4", "int4_per_channel",
                                                    "int4_block4"])
def test_nn_reversible_embedding_matches_keras(tie, mode, cfg):
    klayer = keras.layers.ReversibleEmbedding(10, 6, tie_weights=tie, logit_soft_cap=5.0)
    klayer.build((2, 3))
    weights = [RNG.normal(size=w.shape).astype("float32") for w in klayer.weights]
    klayer.set_weights(weights)
    flayer = nn.ReversibleEmbedding(10, 6, tie_weights=tie, logit_soft_cap=5.0)
    spec = jax.ShapeDtypeStruct((2, 3), "int32")
    template = flayer.init(jax.random.key(0), spec)
    assert list(template.params) == [w.name for w in klayer.weights]
    qvars = flayer.quantize_variables(nn.Variables(dict(zip(template.params, weights)), {}), mode,
                                      _re_config(fkeras, cfg))
    klayer.quantize(mode, config=_re_config(keras, cfg))
    assert list(qvars.params) == [w.name for w in klayer.trainable_weights] == []
    assert list(qvars.state) == [w.name for w in klayer.non_trainable_weights]
    for w in klayer.weights:
        got = qvars.state[w.name]
        assert (tuple(got.shape), str(got.dtype)) == (tuple(w.shape), w.dtype), w.name
        np.testing.assert_allclose(np.asarray(got), np.asarray(w.value), rtol=1e-6, err_msg=w.name)
    qlayer = nn.ReversibleEmbedding.from_config(json.loads(json.dumps(klayer.get_config())))
    assert qlayer.dtype_policy.name == klayer.dtype_policy.name
    built = jax.eval_shape(qlayer.init, jax.random.key(0), spec)
    assert jax.tree.map(lambda a: (a.shape, str(a.dtype)), built) == jax.tree.map(
        lambda a: (a.shape, str(a.dtype)), qvars)
    ids = RNG.integers(0, 10, size=(2, 3)).astype("int32")
    x = RNG.normal(size=(2, 3, 6)).astype("float32")
    chex.assert_trees_all_close(np.asarray(jax.jit(qlayer.apply)(qvars, ids)[0]), np.asarray(jax.jit(klayer)(ids)),
                                rtol=1e-6)
    y, _ = jax.jit(lambda v, a: qlayer.apply(v, a, reverse=True))(qvars, x)
    want = jax.jit(lambda a: klayer(a, reverse=True))(x)
    chex.assert_trees_all_close(np.asarray(y), np.asarray(want), rtol=1e-5, atol=1e-5)


def _re_model(module):
    ids = module.Input((3,), dtype="int32")
    emb = module.layers.ReversibleEmbedding(10, 6, tie_weights=False, name="emb")
    return module.Model(ids, emb(emb(ids), reverse=True))


@pytest.mark.parametrize("mode", ["int8", "int4"])
def test_reversible_embedding_layer_quantize_and_files(mode, tmp_path):
    km, fm = _re_model(keras), _re_model(fkeras)
    fm.set_weights(km.get_weights())
    km.get_layer("emb").quantize(mode)
    fm.get_layer("emb").quantize(mode)
    assert fm.get_layer("emb").dtype_policy.name == km.get_layer("emb").dtype_policy.name
    assert json.loads(json.dumps(fm.get_layer("emb").get_config())) == json.loads(
        json.dumps(km.get_layer("emb").get_config()))
    assert _entries(fm, numpy_dtype=True) == _entries(km)
    for fw, kw in zip(fm.weights, km.weights):
        np.testing.assert_allclose(np.asarray(fw.value), np.asarray(kw.value), rtol=1e-6, err_msg=fw.path)
    check_predictions_and_files(km, fm, RNG.integers(0, 10, size=(2, 3)).astype("int32"), tmp_path, atol=1e-5)


def test_reversible_embedding_quantize_errors():
    layer = fkeras.layers.ReversibleEmbedding(10, 6, tie_weights=False)
    layer.build((2, 3))
    before = [np.asarray(w.value) for w in layer.weights]
    with pytest.raises(NotImplementedError, match=r"Expected one of \('int8', 'int4'\)"):
        layer.quantize("float8")
    assert layer.dtype_policy.name == "float32"
    assert [np.asarray(w.value) for w in layer.weights][1].shape == before[1].shape
    flayer = nn.ReversibleEmbedding(10, 6, tie_weights=False)
    with pytest.raises(ValueError, match="reverse_embeddings"):
        flayer.quantize_variables(nn.Variables({"embeddings": before[0]}, {}), "int8")
