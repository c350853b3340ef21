"""Quantization beyond int8 Dense/Embedding, checked against Keras 3.15 for the same float weights: EinsumDense
int8/int4/float8, int4 Dense/Embedding (per channel and grouped), custom `QuantizationConfig`s, float8 training
steps, `model.quantize(mode, config, filters)`, `.keras` files both ways and the torch/TF shims."""

from __future__ import annotations

import inspect
import json
import os
import warnings

import chex
import jax
import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402  (the oracle)

import fkeras  # noqa: E402
from fkeras import nn  # noqa: E402
from fkeras.nn import quantized  # noqa: E402
from quantize_common import check_predictions_and_files, keras_quantizes_without_gc, policies  # noqa: E402, F401

RNG = np.random.default_rng(0)
KQ, FQ = keras.quantizers, fkeras.quantizers


def _weights(layer):
    return {v.path.split("/")[-1]: np.asarray(v.value) for v in layer.weights}


def _kconfig(config):
    """The same config as a Keras object (through its serialized form)."""
    return None if config is None else KQ.deserialize(FQ.serialize(config))


def _check_quantized(klayer, flayer, qvars, x, rtol=1e-6):
    """fkeras's quantized variables equal Keras's weights (names, shapes, dtypes, trainable split, values), the
    layer built with Keras's policy and config makes the same layout, and outputs and input gradients agree
    (both sides jitted: one compile each instead of one per op and shape)."""
    kw = _weights(klayer)
    assert list(qvars.params) == [v.path.split("/")[-1] for v in klayer.trainable_weights]
    assert list(qvars.state) == [v.path.split("/")[-1] for v in klayer.non_trainable_weights]
    got = qvars.params | qvars.state
    for name, want in kw.items():
        assert (tuple(got[name].shape), str(got[name].dtype)) == (want.shape, str(want.dtype)), name
        np.testing.assert_allclose(np.asarray(got[name]), want, rtol=rtol, err_msg=name)
    qlayer = type(flayer).from_config(json.loads(json.dumps(klayer.get_config())))
    assert qlayer.dtype_policy.name == klayer.dtype_policy.name
    built = jax.eval_shape(qlayer.init, jax.random.key(0), x)
    assert {k: (tuple(v.shape), str(v.dtype)) for k, v in (built.params | built.state).items()} == {
        k: (v.shape, str(v.dtype)) for k, v in kw.items()}
    y, _ = jax.jit(qlayer.apply)(qvars, x)
    chex.assert_trees_all_close(np.asarray(y), np.asarray(jax.jit(klayer)(x)), rtol=1e-5, atol=1e-6)
    if np.issubdtype(x.dtype, np.floating):
        g = jax.jit(jax.grad(lambda a: qlayer.apply(qvars, a)[0].sum()))(x)
        kg = jax.jit(jax.grad(lambda a: klayer(a).sum()))(x)
        chex.assert_trees_all_close(np.asarray(g), np.asarray(kg), rtol=1e-5, atol=1e-5)
    return qlayer


def test_every_keras_layer_that_quantizes_is_covered():
    """The built-in Keras layers that implement `quantize`, and the modes each takes, are fkeras's."""
    base = keras.layers.Layer.quantize
    theirs = sorted(n for n, c in vars(keras.layers).items()
                    if inspect.isclass(c) and issubclass(c, keras.layers.Layer) and c.quantize is not base)
    assert theirs == ["Dense", "EinsumDense", "Embedding", "ReversibleEmbedding"]
    assert all(hasattr(getattr(nn, name), "quantization_modes") for name in theirs)
    assert nn.Dense.quantization_modes == nn.EinsumDense.quantization_modes == ("int8", "int4", "float8", "gptq", "awq")
    assert nn.Embedding.quantization_modes == nn.ReversibleEmbedding.quantization_modes == ("int8", "int4")
    assert set(fkeras.dtype_policies.QuantizedDTypePolicy("int8").__class__.__mro__) >= {
        fkeras.dtype_policies.DTypePolicy}


EQUATIONS = [("ab,bc->ac", 5, "c", (3, 4)), ("abc,cde->abde", (3, 2, 4), "de", (2, 3, 6)),
             ("abc,cd->abd", (3, 4), "d", (2, 3, 5)), ("btd,ndh->btnh", (3, 2, 4), "nh", (2, 3, 5)),
             ("abc,dc->abd", (3, 4), None, (2, 3, 5))]


@pytest.mark.parametrize("mode", ["int8", "int4"])
@pytest.mark.parametrize("equation,output_shape,bias_axes,shape", EQUATIONS)
def test_nn_einsum_dense_matches_keras(equation, output_shape, bias_axes, shape, mode):
    x = RNG.normal(size=shape).astype("float32")
    klayer = keras.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes, activation="relu", name="ed")
    klayer.build(shape)
    flt = nn.EinsumDense(equation, output_shape, bias_axes=bias_axes, activation="relu", name="ed")
    assert flt.get_config() == klayer.get_config()
    v = flt.init(jax.random.key(0), x)
    weights = [RNG.normal(size=w.shape).astype("float32") for w in klayer.weights]
    klayer.set_weights(weights)
    v = nn.Variables(dict(zip(v.params, weights)), {})
    klayer.quantize(mode)
    qvars = flt.quantize_variables(v, mode)
    qlayer = _check_quantized(klayer, flt, qvars, x)
    assert json.loads(json.dumps(qlayer.get_config())) == json.loads(json.dumps(klayer.get_config()))


def test_einsum_dense_with_ellipsis_quantizes():
    """(Keras 3.15 cannot quantize an equation with "...": it raises a TypeError.) fkeras quantizes it when it
    knows the input's rank, matching the explicit equation's numbers."""
    x = RNG.normal(size=(2, 3, 4)).astype("float32")
    ell = nn.EinsumDense("...b,bc->...c", 5)
    v = ell.init(jax.random.key(1), x)
    with pytest.raises(ValueError, match="needs the input's shape"):
        ell.quantize_variables(v, "int8")
    q = ell.quantize_variables(v, "int8", input_spec=x.shape)
    q2 = nn.EinsumDense("xyb,bc->xyc", (3, 5)).quantize_variables(v, "int8")
    np.testing.assert_array_equal(np.asarray(q.state["kernel"]), np.asarray(q2.state["kernel"]))
    y = nn.EinsumDense("...b,bc->...c", 5, dtype="int8_from_float32").apply(q, x)[0]
    y2 = nn.EinsumDense("xyb,bc->xyc", (3, 5), dtype="int8_from_float32").apply(q2, x)[0]
    chex.assert_trees_all_close(np.asarray(y), np.asarray(y2), rtol=1e-6)


INT4_CONFIGS = [None, FQ.Int4QuantizationConfig(block_size=-1), FQ.Int4QuantizationConfig(block_size=2),
                FQ.Int4QuantizationConfig(block_size=None, activation_quantizer=FQ.AbsMaxQuantizer()),
                FQ.Int4QuantizationConfig(block_size=-1, weight_quantizer=FQ.AbsMaxQuantizer(
                    axis=0, value_range=(-8, 7), epsilon=1e-3))]


@pytest.mark.parametrize("config", INT4_CONFIGS, ids=["default", "per_channel", "block2", "act_quant", "custom_w"])
@pytest.mark.parametrize("units", [5, 6])
def test_nn_dense_int4_matches_keras(config, units):
    x = RNG.normal(size=(3, 7)).astype("float32")
    w, b = RNG.normal(size=(7, units)).astype("float32"), RNG.normal(size=(units,)).astype("float32")
    klayer = keras.layers.Dense(units)
    klayer.build(x.shape)
    klayer.set_weights([w, b])
    klayer.quantize("int4", config=_kconfig(config))
    flt = nn.Dense(units)
    qvars = flt.quantize_variables(nn.Variables({"kernel": w, "bias": b}, {}), "int4", config)
    qlayer = _check_quantized(klayer, flt, qvars, x)
    assert json.loads(json.dumps(qlayer.get_config())) == json.loads(json.dumps(klayer.get_config()))


@pytest.mark.parametrize("config", [None, FQ.Int4QuantizationConfig(block_size=-1),
                                    FQ.Int4QuantizationConfig(block_size=3)], ids=["default", "per_row", "block3"])
def test_nn_embedding_int4_matches_keras(config):
    table = RNG.normal(size=(9, 7)).astype("float32")
    ids = np.array([[0, 3, 8], [5, 5, 1]], "int32")
    klayer = keras.layers.Embedding(9, 7)
    klayer.build(ids.shape)
    klayer.set_weights([table])
    klayer.quantize("int4", config=_kconfig(config))
    flt = nn.Embedding(9, 7)
    _check_quantized(klayer, flt, flt.quantize_variables(nn.Variables({"embeddings": table}, {}), "int4", config),
                     ids)


@pytest.mark.parametrize("layer", ["dense", "einsum", "embedding"])
def test_custom_int8_config_matches_keras(layer):
    """A custom weight quantizer (its range and epsilon) and weight-only int8 (no activation quantizer)."""
    axis = -1 if layer == "embedding" else 0
    config = FQ.Int8QuantizationConfig(
        weight_quantizer=FQ.AbsMaxQuantizer(axis=axis, value_range=(-100, 100), epsilon=1e-4),
        activation_quantizer=None)
    if layer == "embedding":
        x = np.array([[1, 2], [0, 4]], "int32")
        klayer, flt, names = keras.layers.Embedding(5, 3), nn.Embedding(5, 3), ["embeddings"]
    elif layer == "einsum":
        x = RNG.normal(size=(2, 3, 4)).astype("float32")
        klayer = keras.layers.EinsumDense("abc,cd->abd", (3, 5), bias_axes="d")
        flt, names = nn.EinsumDense("abc,cd->abd", (3, 5), bias_axes="d"), ["kernel", "bias"]
    else:
        x = RNG.normal(size=(2, 4)).astype("float32")
        klayer, flt, names = keras.layers.Dense(5), nn.Dense(5), ["kernel", "bias"]
    klayer.build(x.shape)
    weights = [RNG.normal(size=w.shape).astype("float32") for w in klayer.weights]
    klayer.set_weights(weights)
    klayer.quantize(config=_kconfig(config))
    qvars = flt.quantize_variables(nn.Variables(dict(zip(names, weights)), {}), "int8", config)
    qlayer = _check_quantized(klayer, flt, qvars, x)
    assert qlayer.quantization_config.activation_quantizer is None
    assert json.loads(json.dumps(qlayer.get_config())) == json.loads(json.dumps(klayer.get_config()))


# --- float8 -------------------------------------------------------------------------------------------------


def _float8_pair(module, kind):
    layer = (module.layers.Dense(3, name="q") if kind == "dense"
             else module.layers.EinsumDense("ab,bc->ac", 3, bias_axes="c", name="q"))
    return module.Sequential([module.Input((4,)), layer], name="m")


@pytest.mark.parametrize("kind", ["dense", "einsum"])
def test_float8_training_steps_match_keras(kind):
    """Three SGD steps of a float8 layer, Keras's fit vs fkeras's fit: gradients of the float weights, and the
    float8 scales/histories overwritten by their delayed-scaling updates (Keras's overwrite_with_gradient)."""
    x = (RNG.normal(size=(8, 4)) * 3).astype("float32")
    y = RNG.normal(size=(8, 3)).astype("float32")
    km, fm = _float8_pair(keras, kind), _float8_pair(fkeras, kind)
    fm.set_weights(km.get_weights())
    km.quantize("float8")
    fm.quantize("float8")
    assert [w.path.split("/")[-1] for w in fm.trainable_weights] == [
        w.path.split("/")[-1] for w in km.trainable_weights]
    for m, opt in ((km, keras.optimizers.SGD(0.1)), (fm, fkeras.optimizers.SGD(0.1))):
        m.compile(opt, "mse")
        m.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    kw = _weights(km.layers[0])
    fw = {w.path.split("/")[-1]: np.asarray(w.value) for w in fm.layers[0].weights}
    assert kw["outputs_grad_amax_history"][0] > 0 and kw["inputs_scale"] != 1.0  # the updates happened
    assert set(fw) == set(kw)
    for name, want in kw.items():
        chex.assert_trees_all_close(fw[name], want, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(np.asarray(fm.predict(x, verbose=0)), np.asarray(km.predict(x, verbose=0)),
                                rtol=1e-5, atol=1e-6)


def test_overwrite_with_gradient_only_touches_float8_layers():
    """A user's weight that happens to be called `inputs_scale` trains normally: only a dict holding all six
    float8 meta leaves is a float8 layer's."""
    params = {"user": {"inputs_scale": np.ones(2)}, "f8": {k: np.zeros(()) for k in quantized.FLOAT8_META}}
    grads = jax.tree.map(lambda a: a + 5.0, params)
    out = quantized.overwrite_with_gradient(params, grads)
    np.testing.assert_array_equal(out["user"]["inputs_scale"], np.ones(2))
    assert all(float(out["f8"][k]) == 5.0 for k in quantized.FLOAT8_META)


# --- models -------------------------------------------------------------------------------------------------


def _model(module):
    return module.Sequential([module.Input((5,), dtype="int32"), module.layers.Embedding(11, 6, name="emb"),
                              module.layers.EinsumDense("abc,cd->abd", (5, 7), bias_axes="d", activation="relu",
                                                        name="ed"),
                              module.layers.Flatten(name="flat"), module.layers.Dense(3, name="d2")], name="seq")


MODEL_CASES = [("int8", None, None), ("int4", None, None), (None, FQ.Int4QuantizationConfig(block_size=-1), None),
               ("float8", None, None), ("int8", None, ["ed", "d2"]),
               (None, FQ.Int8QuantizationConfig(activation_quantizer=None), "emb")]


@pytest.mark.parametrize("mode,config,filters", MODEL_CASES,
                         ids=["int8", "int4", "int4_per_channel", "float8", "int8_filters", "int8_weight_only"])
def test_model_quantize_matches_keras_files_and_shims(mode, config, filters, tmp_path):
    import tensorflow as tf
    import torch

    from fkeras.interop.tf import to_tf
    from fkeras.interop.torch import to_torch

    ids = RNG.integers(0, 11, size=(4, 5)).astype("int32")
    km, fm = _model(keras), _model(fkeras)
    fm.set_weights(km.get_weights())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km.quantize(mode, config=_kconfig(config), filters=filters)
        fm.quantize(mode, config=config, filters=filters)
    assert policies(fm) == policies(km)
    for lf, lk in zip(fm.layers, km.layers):
        assert json.loads(json.dumps(lf.get_config())) == json.loads(json.dumps(lk.get_config())), lf.name

    def key(w):
        return "/".join(w.path.split("/")[-2:])

    assert [(key(w), tuple(w.shape), str(np.dtype(w.dtype)), w.trainable) for w in fm.weights] == [
        (key(w), tuple(w.shape), w.dtype, w.trainable) for w in km.weights]
    kw = {key(w): np.asarray(w.value) for w in km.weights}
    for w in fm.weights:
        np.testing.assert_allclose(np.asarray(w.value), kw[key(w)], rtol=1e-6, err_msg=w.path)
    ours, _ = check_predictions_and_files(km, fm, ids, tmp_path)
    chex.assert_trees_all_close(to_torch(fm)(torch.as_tensor(ids)).detach().numpy(), ours, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(to_tf(fm)(tf.constant(ids)).numpy(), ours, rtol=1e-5, atol=1e-6)


def test_quantize_errors_leave_the_model_unchanged():
    fm = _model(fkeras)
    before = [np.asarray(w.value) for w in fm.weights]
    with pytest.raises(ValueError, match="For GPTQ, you must pass a `GPTQConfig`"):
        fm.quantize("gptq")
    with pytest.raises(ValueError, match="Invalid quantization mode"):
        fm.quantize("int2")
    with pytest.raises(ValueError, match="You must provide either `mode` or `config`"):
        fm.quantize()
    with pytest.raises(ValueError, match="Contradictory arguments"):
        fm.quantize("int8", config=FQ.Float8QuantizationConfig())
    with pytest.raises(ValueError, match="For mode='gptq', a valid quantization structure"):  # Keras's message
        fm.quantize(config=FQ.GPTQConfig(dataset=["a"], tokenizer=None))
    assert all(layer.dtype_policy.name == "float32" for layer in fm.layers)
    for a, b in zip(before, fm.weights):
        np.testing.assert_array_equal(a, np.asarray(b.value))
    fm.quantize("int8")
    with pytest.raises(ValueError, match="is already quantized with dtype_policy='int8_from_float32'"):
        fm.layers[-1].quantize("int4")


@pytest.mark.parametrize("kind,mode", [("dense", "int8"), ("dense", "int4"), ("dense", "float8"), ("einsum", "int8"),
                                       ("einsum", "int4"), ("einsum", "float8"), ("embedding", "int4")])
def test_quantized_layers_under_mixed_bfloat16_match_keras(kind, mode):
    """Keras autocasts a quantized layer's float weights (scales, zero points) to the compute dtype but keeps
    float8's scales and histories in float32: the outputs are bfloat16 and equal."""
    if kind == "embedding":
        inp = np.array([[1, 2], [3, 0]], "int32")
        klayer, flt = keras.layers.Embedding(5, 6, dtype="mixed_bfloat16"), nn.Embedding(5, 6, dtype="mixed_bfloat16")
    elif kind == "einsum":
        inp = RNG.normal(size=(3, 8)).astype("float32")
        klayer = keras.layers.EinsumDense("ab,bc->ac", 6, bias_axes="c", dtype="mixed_bfloat16")
        flt = nn.EinsumDense("ab,bc->ac", 6, bias_axes="c", dtype="mixed_bfloat16")
    else:
        inp = RNG.normal(size=(3, 8)).astype("float32")
        klayer, flt = keras.layers.Dense(6, dtype="mixed_bfloat16"), nn.Dense(6, dtype="mixed_bfloat16")
    klayer.build(inp.shape)
    weights = [RNG.normal(size=w.shape).astype("float32") for w in klayer.weights]
    klayer.set_weights(weights)
    v = flt.init(jax.random.key(0), inp)
    qvars = flt.quantize_variables(nn.Variables(dict(zip(v.params, weights)), {}), mode)
    klayer.quantize(mode)
    qlayer = type(flt).from_config(json.loads(json.dumps(klayer.get_config())))
    assert qlayer.dtype_policy.name == f"{'int4/128' if mode == 'int4' else mode}_from_mixed_bfloat16"
    y, _ = qlayer.apply(qvars, inp)
    want = klayer(inp)
    assert str(y.dtype) == str(want.dtype) == "bfloat16"
    np.testing.assert_array_equal(np.asarray(y, "float32"), np.asarray(want, "float32"))
