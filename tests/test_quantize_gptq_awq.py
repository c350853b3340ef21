"""GPTQ and AWQ (`model.quantize("gptq"|"awq", config=...)`) against Keras 3.15 for the same float weights and
the same calibration data: the integer codes, zero points and group indices exactly, scales and outputs to
float32 rounding; `.keras` files both ways; the torch/TF shims; config errors.

The oracle is Keras's own algorithm with one line fixed: Keras 3.15 collects the calibration inputs by patching
each target layer's `call`, but a quantized layer runs `quantized_call`, so in Keras the Hessians (GPTQ) and
activation magnitudes (AWQ) stay zero and the weights are merely rounded. `_keras_streams_inputs` patches
`quantized_call` instead (what Keras means to do); fkeras calibrates on the data."""

from __future__ import annotations

import json
import os
import warnings
from contextlib import contextmanager

import chex
import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402  (the oracle)
from keras.src.quantizers import awq as k_awq  # noqa: E402
from keras.src.quantizers import awq_core as k_awq_core  # noqa: E402
from keras.src.quantizers import gptq as k_gptq  # noqa: E402
from keras.src.quantizers import gptq_core as k_gptq_core  # noqa: E402

import fkeras  # noqa: E402
from fkeras.nn import awq, gptq  # noqa: E402
from quantize_common import keras_quantizes_without_gc  # noqa: E402, F401

VOCAB, SEQ, DIM = 40, 6, 8
RNG = np.random.default_rng(0)


def _stream(method):
    @contextmanager
    def stream(layers_map, objects):
        saved = {name: layer.quantized_call for name, layer in layers_map.items()}

        def hook(name, call):
            def wrapped(*args, **kwargs):
                x = args[0] if args else kwargs["inputs"]
                getattr(objects[name], method)(keras.ops.reshape(x, (-1, objects[name].rows)))
                return call(*args, **kwargs)
            return wrapped

        try:
            for name, layer in layers_map.items():
                layer.quantized_call = hook(name, saved[name])
            yield
        finally:
            for name, layer in layers_map.items():
                layer.quantized_call = saved[name]
    return stream


@pytest.fixture
def _keras_streams_inputs(monkeypatch):
    monkeypatch.setattr(k_gptq_core, "stream_hessians", _stream("update_hessian_with_batch"))
    monkeypatch.setattr(k_awq_core, "stream_activations", _stream("update_activation_magnitudes"))


def _model(K):
    """tokens -> Embedding -> block 1 (Dense, 3-D EinsumDense projections both ways) -> block 2 (Dense) -> mean."""
    block1 = K.Sequential([K.layers.Dense(DIM, activation="relu", name="up"),
                           K.layers.EinsumDense("abc,cde->abde", (SEQ, 2, 4), bias_axes="de", name="qkv"),
                           K.layers.EinsumDense("abcd,cde->abe", (SEQ, DIM), name="out")], name="block1")
    block2 = K.Sequential([K.layers.Dense(12, activation="tanh", name="ff")], name="block2")
    inp = K.Input((SEQ,), dtype="int32")
    x = K.layers.Embedding(VOCAB, DIM, name="emb")(inp)
    out = K.layers.GlobalAveragePooling1D(name="pool")(block2(block1(x)))
    return K.Model(inp, out, name="lm")


def _tokens(n):
    return [RNG.integers(0, VOCAB, size=(1, SEQ)) for _ in range(n)]


class _CharTokenizer:
    def tokenize(self, text):
        return np.array([ord(c) % VOCAB for c in text], "int32")


def _config(K, mode, model, dataset, tokenizer, **kw):
    cls = K.quantizers.GPTQConfig if mode == "gptq" else K.quantizers.AWQConfig
    structure = {"pre_block_layers": [model.get_layer("emb")],
                 "sequential_blocks": [model.get_layer("block1"), model.get_layer("block2")]}
    return cls(dataset=dataset, tokenizer=tokenizer, num_samples=5, sequence_length=SEQ,
               quantization_layer_structure=structure, **kw)


def _key(w):
    return "/".join(w.path.split("/")[-2:])


CASES = {
    "gptq_grouped": ("gptq", {"group_size": 4}),
    "gptq_8bit_per_tensor_act_order_filtered": ("gptq", {"weight_bits": 8, "group_size": -1, "per_channel": False,
                                                         "activation_order": True, "symmetric": True}),
    "awq_per_channel_mixed_bfloat16": ("awq", {"group_size": -1, "num_grid_points": 6}),
    "awq_grouped": ("awq", {"group_size": 4, "num_grid_points": 6}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_model_quantize_matches_keras(case, _keras_streams_inputs, tmp_path):
    mode, kw = CASES[case]
    filters = ["up", "ff"] if case.endswith("filtered") else None  # Keras matches layer names
    policy = "mixed_bfloat16" if case.endswith("mixed_bfloat16") else "float32"
    try:  # under mixed_bfloat16, calibration, scales and outputs run in bfloat16 as in Keras
        for K in (keras, fkeras):
            K.config.set_dtype_policy(policy)
        km, fm = _model(keras), _model(fkeras)
    finally:
        for K in (keras, fkeras):
            K.config.set_dtype_policy("float32")
    fm.set_weights(km.get_weights())
    if case == "gptq_grouped":  # text through a tokenizer (Keras's `get_dataloader`)
        data = ["the quick brown fox jumps over the lazy dog", "pack my box with five dozen jugs"]
        tok = _CharTokenizer()
    else:
        data, tok = _tokens(4), (lambda x: x)
    kconfig = _config(keras, mode, km, data, tok, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km.quantize(mode, config=kconfig, filters=filters)
    fm.quantize(mode, config=_config(fkeras, mode, fm, data, tok, **kw), filters=filters)
    # Keras serializes the structure's layers inside each quantized layer's config and recurses; fkeras saves
    # the structure as None, as it saves the dataset and tokenizer: the same for the oracle
    kconfig.quantization_layer_structure = None

    for name in ("block1", "block2"):
        for lf, lk in zip(fm.get_layer(name).layers, km.get_layer(name).layers, strict=True):
            assert json.loads(json.dumps(lf.get_config())) == json.loads(json.dumps(lk.get_config())), lf.name
            assert lf.dtype_policy.name == lk.dtype_policy.name == (
                policy if filters and lf.name not in filters else f"{kconfig.dtype_policy_string()}_from_{policy}")
    assert [(_key(w), tuple(w.shape), str(np.dtype(w.dtype)), w.trainable) for w in fm.weights] == [
        (_key(w), tuple(w.shape), w.dtype, w.trainable) for w in km.weights]
    kw_ = {_key(w): np.asarray(w.value) for w in km.weights}
    for w in fm.weights:
        ours, want = np.asarray(w.value), kw_[_key(w)]
        if ours.dtype.kind in "iu" or _key(w).endswith("g_idx"):  # codes, zero points, groups: exactly
            np.testing.assert_array_equal(ours, want, err_msg=w.path)
        else:
            np.testing.assert_allclose(ours, want, rtol=1e-6, atol=1e-7, err_msg=w.path)

    ids = np.asarray(RNG.integers(0, VOCAB, size=(3, SEQ)), "int32")
    want = np.asarray(km.predict(ids, verbose=0), "float32")
    ours = np.asarray(fm.predict(ids, verbose=0), "float32")
    chex.assert_trees_all_close(ours, want, rtol=1e-5, atol=1e-6)
    if case not in ("gptq_grouped", "awq_grouped"):
        return
    fm.save(tmp_path / "f.keras")
    chex.assert_trees_all_close(np.asarray(keras.saving.load_model(tmp_path / "f.keras").predict(ids, verbose=0)),
                                ours, rtol=1e-6, atol=1e-6)
    chex.assert_trees_all_close(np.asarray(fkeras.saving.load_model(tmp_path / "f.keras").predict(ids, verbose=0)),
                                ours, rtol=1e-6, atol=1e-6)
    # Keras 3.15 writes its GPTQ/AWQ layers without their zero points (and cannot read such a file back): fkeras
    # refuses the file with a clear error, and takes Keras's model through its config and weights instead
    km.save(tmp_path / "k.keras")
    with pytest.raises(ValueError, match=r"'up'\): expected (5|6) variables, the file has (4|5)"):
        fkeras.saving.load_model(tmp_path / "k.keras")
    back = fkeras.models.model_from_json(km.to_json())
    back.set_weights(km.get_weights())
    assert back.get_layer("block1").layers[1].dtype_policy.name == f"{mode}/4/4_from_float32"
    chex.assert_trees_all_close(np.asarray(back.predict(ids, verbose=0)), want, rtol=1e-6, atol=1e-6)

    import tensorflow as tf
    import torch

    from fkeras.interop.tf import to_tf
    from fkeras.interop.torch import to_torch

    chex.assert_trees_all_close(to_torch(fm)(torch.as_tensor(ids)).detach().numpy(), ours, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(to_tf(fm)(tf.constant(ids)).numpy(), ours, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kw,blocksize", [({"group_size": 8}, 8), ({"group_size": 4, "activation_order": True}, 8),
                                          ({"group_size": 5, "weight_bits": 2, "symmetric": True}, 128),
                                          ({"group_size": -1, "per_channel": False, "activation_order": True}, 128)],
                         ids=["grouped", "act_order", "2bit_ragged_groups", "per_tensor_act_order"])
def test_gptq_layer_matches_keras_gptq(kw, blocksize):
    """One Dense layer: Keras's `GPTQ` (streamed Hessian, `quantize_and_correct_layer`; blocks of 8 of the 12
    columns, so errors also flow across blocks, where Keras can: its groups must not run across a block) and
    `gptq.HessianStats`/`gptq.quantize_kernel` give the same weights."""
    rows, cols = 12, 6
    kernel = RNG.normal(size=(rows, cols)).astype("float32")
    xs = [RNG.normal(size=(2, 5, rows)).astype("float32") for _ in range(3)]
    config = keras.quantizers.GPTQConfig(dataset=None, tokenizer=None, **kw)
    layer = keras.layers.Dense(cols)
    layer.build((None, rows))
    layer.kernel.assign(kernel)
    layer.quantize("gptq", config=config)
    ref = k_gptq.GPTQ(layer, config)
    stats = gptq.HessianStats(rows)
    for x in xs:
        ref.update_hessian_with_batch(keras.ops.reshape(x, (-1, rows)))
        stats.update(x)
    np.testing.assert_allclose(np.asarray(stats.hessian), np.asarray(ref.hessian), rtol=1e-6, atol=1e-6)
    ref.quantize_and_correct_layer(blocksize=blocksize)
    ours = gptq.quantize_kernel(kernel, stats.hessian, fkeras.quantizers.GPTQConfig(None, None, **kw),
                                blocksize=blocksize)
    np.testing.assert_array_equal(np.asarray(ours["kernel"]), np.asarray(layer.quantized_kernel))
    np.testing.assert_array_equal(np.asarray(ours["kernel_zero"]), np.asarray(layer.kernel_zero))
    np.testing.assert_array_equal(np.asarray(ours["g_idx"]), np.asarray(layer.g_idx))
    np.testing.assert_allclose(np.asarray(ours["kernel_scale"]), np.asarray(layer.kernel_scale), rtol=1e-6)


def test_awq_layer_matches_keras_awq():
    rows, cols = 12, 5
    kernel = RNG.normal(size=(rows, cols)).astype("float32")
    xs = [RNG.normal(size=(4, rows)).astype("float32") * np.linspace(0.1, 5, rows, dtype="float32")
          for _ in range(2)]
    config = keras.quantizers.AWQConfig(dataset=None, tokenizer=None, group_size=4, num_grid_points=10)
    layer = keras.layers.Dense(cols)
    layer.build((None, rows))
    layer.kernel.assign(kernel)
    layer.quantize("awq", config=config)
    ref = k_awq.AWQ(layer, config)
    stats = awq.ActivationStats(rows)
    for x in xs:
        ref.update_activation_magnitudes(x)
        stats.update(x)
    ref.quantize_layer()
    ours = awq.quantize_kernel(kernel, stats.magnitudes,
                               fkeras.quantizers.AWQConfig(None, None, group_size=4, num_grid_points=10))
    assert not np.allclose(np.asarray(ours["awq_scales"]), 1.0)  # the activations mattered
    for name, kname in (("kernel", "quantized_kernel"), ("kernel_zero",) * 2, ("g_idx",) * 2):
        np.testing.assert_array_equal(np.asarray(ours[name]), np.asarray(getattr(layer, kname)), err_msg=name)
    for name in ("kernel_scale", "awq_scales"):
        np.testing.assert_allclose(np.asarray(ours[name]), np.asarray(getattr(layer, name)), rtol=1e-6)


def test_dataloader_matches_keras():
    texts = ["abc def ghi", "jkl mno"]
    for data, n, length in ((texts, 4, 5), ([np.arange(7)], 3, 4), (_tokens(2), 5, SEQ)):
        want = k_gptq_core.get_dataloader(_CharTokenizer(), length, data, num_samples=n)
        np.testing.assert_array_equal(gptq.get_dataloader(_CharTokenizer(), length, data, num_samples=n), want)
    with pytest.raises(TypeError, match="must be an iterable"):
        gptq.get_dataloader(None, 4, "text")
    with pytest.raises(ValueError, match="dataset is empty"):
        gptq.get_dataloader(None, 4, [])


def test_config_errors_leave_the_model_unchanged():
    fm = _model(fkeras)
    before = [np.asarray(w.value) for w in fm.weights]
    GPTQConfig, AWQConfig = fkeras.quantizers.GPTQConfig, fkeras.quantizers.AWQConfig
    with pytest.raises(ValueError, match="For GPTQ, you must pass a `GPTQConfig`"):
        fm.quantize("gptq")
    with pytest.raises(ValueError, match="For mode='awq', a valid quantization structure"):
        fm.quantize("awq", config=AWQConfig(dataset=["a"], tokenizer=lambda x: x))
    structure = {"pre_block_layers": [fm.get_layer("emb")], "sequential_blocks": [fm.get_layer("block1")]}
    with pytest.raises(ValueError, match="GPTQ quantization requires a dataset and a tokenizer"):
        fm.quantize("gptq", config=GPTQConfig(dataset=None, tokenizer=None, quantization_layer_structure=structure))
    with pytest.raises(ValueError, match="No sequential blocks found"):
        fm.quantize("gptq", config=GPTQConfig(dataset=["a"], tokenizer=lambda x: x,
                                               quantization_layer_structure={"sequential_blocks": []}))
    with pytest.raises(ValueError, match="Unsupported weight_bits"):
        GPTQConfig(dataset=None, tokenizer=None, weight_bits=5)
    with pytest.raises(ValueError, match="AWQ only supports 4-bit"):
        AWQConfig(dataset=None, tokenizer=None, weight_bits=8)
    assert all(layer.dtype_policy.name == "float32" for layer in fm.get_layer("block1").layers)
    for a, b in zip(before, fm.weights):
        np.testing.assert_array_equal(a, np.asarray(b.value))
    # a lone layer has no calibration data: Keras's model.quantize skips such a layer with a warning
    with pytest.raises(NotImplementedError, match="needs calibration data"):
        fm.get_layer("block2").layers[0].quantize("gptq", config=GPTQConfig(dataset=None, tokenizer=None))


@pytest.mark.parametrize("group_size", [-1, 6])
def test_gptq_groups_running_across_blocks(group_size):
    """A group that runs on into the next block of columns keeps the parameters found at its first column (Keras
    3.15 fails there), so the stored scales/zero points are the ones the codes were made with."""
    rows, cols = 12, 4
    kernel = RNG.normal(size=(rows, cols)).astype("float32")
    stats = gptq.HessianStats(rows)
    stats.update(RNG.normal(size=(20, rows)).astype("float32"))
    config = fkeras.quantizers.GPTQConfig(None, None, group_size=group_size, weight_bits=8)
    ours = gptq.quantize_kernel(kernel, stats.hessian, config, blocksize=4)
    n_groups = 1 if group_size == -1 else 2
    assert tuple(ours["kernel_scale"].shape) == tuple(ours["kernel_zero"].shape) == (cols, n_groups)
    back = np.asarray(gptq.dequantize(ours, kernel.shape, 8, "float32"))
    step = np.asarray(ours["kernel_scale"]).max()
    assert np.abs(back - kernel).max() < 4 * step  # 8-bit codes with error feedback stay near the kernel


def test_a_layer_the_calibration_never_reaches_is_rounded_with_a_warning():
    """A Dense the block never calls gets no statistics: a warning names it, and GPTQ's damped zero Hessian
    (the identity) leaves plain round-to-nearest codes."""

    class Block(fkeras.layers.Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.used, self.unused = fkeras.layers.Dense(DIM, name="used"), fkeras.layers.Dense(4, name="unused")

        def build(self, shape):
            self.used.build(shape)
            self.unused.build(shape)

        def call(self, x):
            return self.used(x)

    inp = fkeras.Input((SEQ,), dtype="int32")
    emb = fkeras.layers.Embedding(VOCAB, DIM, name="emb")
    block = Block(name="blk")
    model = fkeras.Model(inp, block(emb(inp)))
    kernel = np.asarray(block.unused.kernel.value)
    config = fkeras.quantizers.GPTQConfig(_tokens(2), lambda x: x, num_samples=2, sequence_length=SEQ, group_size=-1,
                                          weight_bits=8, quantization_layer_structure={
                                              "pre_block_layers": [emb], "sequential_blocks": [block]})
    with pytest.warns(UserWarning, match=r"No calibration inputs reached \['blk/unused'\]"):
        model.quantize("gptq", config=config)
    state = {v.name: np.asarray(v.value) for v in block.unused.weights}
    scale, zero, maxq = gptq.scale_zero(kernel.T, bits=8, per_channel=True)
    codes = gptq.quantize_with_zero_point(kernel.T, scale, zero, maxq)  # no error feedback
    np.testing.assert_array_equal(state["kernel"], np.asarray(codes).astype("uint8"))


def _transformer(K):
    """Keras's own GPTQ test model, small: tokens -> Embedding -> block (MultiHeadAttention, a Sequential
    feed-forward, two LayerNormalizations) -> mean -> Dense head (outside the blocks: left float)."""

    class TransformerBlock(K.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.att = K.layers.MultiHeadAttention(num_heads=2, key_dim=4, name="att")
            self.ffn = K.Sequential([K.layers.Dense(12, activation="relu", name="ff1"),
                                     K.layers.Dense(DIM, name="ff2")], name="ffn")
            self.ln1 = K.layers.LayerNormalization(epsilon=1e-6, name="ln1")
            self.ln2 = K.layers.LayerNormalization(epsilon=1e-6, name="ln2")

        def call(self, x):
            y = self.ln1(x + self.att(x, x))
            return self.ln2(y + self.ffn(y))

    inp = K.Input((SEQ,), dtype="int32")
    x = K.layers.Embedding(VOCAB, DIM, name="emb")(inp)
    x = TransformerBlock(name="block")(x)
    return K.Model(inp, K.layers.Dense(3, name="head")(K.layers.GlobalAveragePooling1D(name="pool")(x)))


def test_transformer_block_with_attention_matches_keras(_keras_streams_inputs):
    mode, kw = "gptq", {"group_size": 4}
    km, fm = _transformer(keras), _transformer(fkeras)
    fm.set_weights(km.get_weights())
    data = _tokens(4)
    configs = [(K.quantizers.GPTQConfig if mode == "gptq" else K.quantizers.AWQConfig)(
        dataset=data, tokenizer=lambda x: x, num_samples=4, sequence_length=SEQ, **kw,
        quantization_layer_structure={"pre_block_layers": [m.get_layer("emb")],
                                      "sequential_blocks": [m.get_layer("block")]})
        for K, m in ((keras, km), (fkeras, fm))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km.quantize(mode, config=configs[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every projection and Dense of the block got calibration inputs
        fm.quantize(mode, config=configs[1])
    policy = configs[1].dtype_policy_string() + "_from_float32"
    kblock, fblock = km.get_layer("block"), fm.get_layer("block")
    for attr in ("_query_dense", "_key_dense", "_value_dense", "_output_dense"):
        assert getattr(kblock.att, attr).dtype_policy.name == policy
    assert fm.get_layer("head").dtype_policy.name == "float32"  # (Keras: the policy, and the float kernel)
    kw_ = {"/".join(w.path.split("/")[-3:]): np.asarray(w.value) for w in kblock.weights}
    fw = {"/".join(w.path.split("/")[-3:]): np.asarray(w.value) for w in fblock.weights}
    assert sorted(fw) == sorted(kw_)
    for key, ours in fw.items():
        if ours.dtype.kind in "iu" or key.endswith("g_idx"):
            np.testing.assert_array_equal(ours, kw_[key], err_msg=key)
        else:
            np.testing.assert_allclose(ours, kw_[key], rtol=1e-5, atol=1e-6, err_msg=key)
    ids = np.asarray(RNG.integers(0, VOCAB, size=(2, SEQ)), "int32")
    chex.assert_trees_all_close(np.asarray(fm.predict(ids, verbose=0)), np.asarray(km.predict(ids, verbose=0)),
                                rtol=1e-5, atol=1e-5)
