"""`fkeras.quantizers` has every `keras.quantizers` name, with Keras 3.15's signatures, configs and numbers
(same quantized integers, scales, packed bytes and fake-quant gradients)."""

from __future__ import annotations

import inspect
import os

import chex
import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import keras  # noqa: E402  (the oracle)

import fkeras  # noqa: E402
from fkeras import quantizers as fq  # noqa: E402

kq = keras.quantizers
KERAS_NAMES = sorted(n for n in dir(kq) if not n.startswith("_"))
RNG = np.random.default_rng(0)
W = RNG.normal(size=(7, 6)).astype("float32")


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x)) if not isinstance(x, np.ndarray) else x


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_every_keras_name_exists_with_keras_signature(name):
    ours, theirs = getattr(fq, name), getattr(kq, name)
    assert name in fq.__all__
    if callable(theirs):
        target = (lambda o: o.__init__) if inspect.isclass(theirs) else (lambda o: o)
        ps = inspect.signature(target(theirs)).parameters
        po = inspect.signature(target(ours)).parameters
        assert list(po) == list(ps), name
        for p in ps:
            assert po[p].default == ps[p].default, (name, p)


@pytest.mark.parametrize("axis", [-1, 0, (0, 1)])
@pytest.mark.parametrize("to_numpy", [False, True])
def test_abs_max_quantize_matches_keras(axis, to_numpy):
    q, s = fq.abs_max_quantize(W, axis, to_numpy=to_numpy)
    kq_, ks = kq.abs_max_quantize(W, axis, to_numpy=to_numpy)
    assert str(q.dtype) == "int8" and s.shape == _np(ks).shape
    np.testing.assert_array_equal(np.asarray(q), _np(kq_))
    chex.assert_trees_all_close(np.asarray(s), _np(ks), rtol=1e-6)


def test_abs_max_quantizer_object_and_config():
    quant = fq.AbsMaxQuantizer(axis=0, value_range=(-8, 7))
    kquant = kq.AbsMaxQuantizer(axis=0, value_range=(-8, 7))
    assert quant.get_config() == kquant.get_config()
    np.testing.assert_array_equal(np.asarray(quant(W)[0]), _np(kquant(W)[0]))
    assert fq.serialize(fq.AbsMaxQuantizer()) == kq.serialize(kq.AbsMaxQuantizer())
    with pytest.raises(ValueError, match="value_range"):
        fq.AbsMaxQuantizer(value_range=(-300, 127))


@pytest.mark.parametrize("block_size", [4, 3, 16])
@pytest.mark.parametrize("to_numpy", [False, True])
def test_grouped_with_zero_point_matches_keras(block_size, to_numpy):
    ours = fq.abs_max_quantize_grouped_with_zero_point(W, block_size, to_numpy=to_numpy)
    theirs = kq.abs_max_quantize_grouped_with_zero_point(W, block_size, to_numpy=to_numpy)
    for o, t in zip(ours, theirs):
        assert o.shape == _np(t).shape and str(o.dtype) == str(_np(t).dtype)
    np.testing.assert_array_equal(np.asarray(ours[0]), _np(theirs[0]))
    chex.assert_trees_all_close(np.asarray(ours[1]), _np(theirs[1]), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(ours[2]), _np(theirs[2]))


@pytest.mark.parametrize("shape,axis", [((5, 4), 0), ((4, 5), 1), ((3, 5, 2), 1), ((6, 3), -1)])
@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_pack_unpack_int4_matches_keras(shape, axis, dtype):
    lo, hi = (-8, 8) if dtype == "int8" else (0, 16)
    arr = RNG.integers(lo, hi, size=shape).astype(dtype)
    packed, pshape, n = fq.pack_int4(arr, axis=axis, dtype=dtype)
    kpacked, kpshape, kn = kq.pack_int4(arr, axis=axis, dtype=dtype)
    np.testing.assert_array_equal(np.asarray(packed), _np(kpacked))
    assert (pshape, n) == (kpshape, kn)
    unpacked = fq.unpack_int4(packed, n, axis=axis, dtype=dtype)
    np.testing.assert_array_equal(np.asarray(unpacked), arr)
    np.testing.assert_array_equal(np.asarray(unpacked), _np(kq.unpack_int4(kpacked, kn, axis=axis, dtype=dtype)))


def test_pack_int4_rejects_wrong_dtype():
    with pytest.raises(TypeError, match="Expected int8 tensor for packing, got int32"):
        fq.pack_int4(np.zeros((2, 2), "int32"))
    with pytest.raises(ValueError, match="'int8' or 'uint8'"):
        fq.unpack_int4(np.zeros((2, 2), "int8"), 2, dtype="int16")


@pytest.mark.parametrize("dtype", ["float8_e4m3fn", "float8_e5m2"])
def test_quantize_and_dequantize_matches_keras(dtype):
    x = (W * 300).astype("float32")
    ours = fq.quantize_and_dequantize(x, np.float32(0.5), dtype, "float32")
    chex.assert_trees_all_close(np.asarray(ours), _np(kq.quantize_and_dequantize(x, np.float32(0.5), dtype, "float32")),
                                rtol=0, atol=0)


def test_float8_scale_and_amax_history_match_keras():
    amax = np.array([0.0, 3.0, np.inf, 0.25], "float32")
    scale = np.array([2.0, 2.0, 2.0, 4.0], "float32")
    for margin in (0, 1):
        chex.assert_trees_all_close(np.asarray(fq.compute_float8_scale(amax, scale, 448.0, margin)),
                                    _np(kq.compute_float8_scale(amax, scale, 448.0, margin)), rtol=1e-6)
    hist = np.arange(5, dtype="float32")
    chex.assert_trees_all_close(np.asarray(fq.compute_float8_amax_history(W, hist)),
                                _np(kq.compute_float8_amax_history(W, hist)), rtol=1e-6)


@pytest.mark.parametrize("axis,narrow", [(None, False), (None, True), (1, False), (-1, True)])
def test_fake_quant_values_and_gradients_match_keras(axis, narrow):
    x = W * 2
    if axis is None:
        lo, hi = np.float32(-1.5), np.float32(2.0)
    else:
        n = W.shape[axis]
        lo, hi = np.linspace(-2, -0.5, n).astype("float32"), np.linspace(0.5, 2.5, n).astype("float32")
    out = fq.fake_quant_with_min_max_vars(x, lo, hi, num_bits=4, narrow_range=narrow, axis=axis)
    kout = kq.fake_quant_with_min_max_vars(x, lo, hi, num_bits=4, narrow_range=narrow, axis=axis)
    chex.assert_trees_all_close(np.asarray(out), _np(kout), rtol=1e-6, atol=1e-6)

    up = RNG.normal(size=x.shape).astype("float32")

    def loss(f):
        return lambda a, b, c: (f(a, b, c, num_bits=4, narrow_range=narrow, axis=axis) * up).sum()

    ours = jax.grad(loss(fq.fake_quant_with_min_max_vars), argnums=(0, 1, 2))(x, lo, hi)
    theirs = jax.grad(loss(kq.fake_quant_with_min_max_vars), argnums=(0, 1, 2))(x, lo, hi)
    chex.assert_trees_all_close(ours, theirs, rtol=1e-5, atol=1e-5)


def _kconfigs():
    return [kq.Int8QuantizationConfig(), kq.Int8QuantizationConfig(activation_quantizer=None),
            kq.Int4QuantizationConfig(), kq.Int4QuantizationConfig(block_size=None),
            kq.Int4QuantizationConfig(weight_quantizer=kq.AbsMaxQuantizer(value_range=(-8, 7)), block_size=-1),
            kq.Float8QuantizationConfig(), kq.GPTQConfig(None, None, weight_bits=8, group_size=-1),
            kq.AWQConfig(None, None, group_size=64)]


@pytest.mark.parametrize("i", range(8))
def test_quantization_configs_match_keras_and_round_trip(i):
    kcfg = _kconfigs()[i]
    cls = getattr(fq, type(kcfg).__name__)
    ours = cls.from_config(kcfg.get_config())
    assert ours.mode == kcfg.mode
    assert ours.get_config() == kcfg.get_config()
    if hasattr(kcfg, "dtype_policy_string"):
        assert ours.dtype_policy_string() == kcfg.dtype_policy_string()
    if type(kcfg).__name__ != "GPTQConfig":  # Keras's own deserialize table lacks GPTQConfig
        assert fq.serialize(ours) == kq.serialize(kcfg)
        assert fq.deserialize(kq.serialize(kcfg)).get_config() == kcfg.get_config()


@pytest.mark.parametrize("build,match", [
    (lambda m: m.Int4QuantizationConfig(block_size=0), "block_size"),
    (lambda m: m.Int4QuantizationConfig(weight_quantizer=m.AbsMaxQuantizer(value_range=(-8, 7))), "sub-channel"),
    (lambda m: m.Int4QuantizationConfig(weight_quantizer=m.AbsMaxQuantizer(), block_size=None), "value_range"),
    (lambda m: m.Int8QuantizationConfig(weight_quantizer=m.AbsMaxQuantizer(output_dtype="int16")), "output_dtype"),
    (lambda m: m.GPTQConfig(None, None, weight_bits=5), "weight_bits"),
    (lambda m: m.GPTQConfig(None, None, hessian_damping=2.0), "hessian_damping"),
    (lambda m: m.AWQConfig(None, None, weight_bits=8), "4-bit"),
    (lambda m: m.AWQConfig(None, None, group_size=0), "group_size"),
])
def test_bad_configs_raise_like_keras(build, match):
    for m in (kq, fq):
        with pytest.raises(ValueError, match=match):
            build(m)


def test_get():
    assert fq.get(None) is None
    assert isinstance(fq.get("abs_max_quantizer", axis=0), fq.AbsMaxQuantizer)
    assert fq.get("AbsMaxQuantizer", axis=0).axis == (0,)
    assert fq.get(fq.serialize(fq.AbsMaxQuantizer(axis=1))).axis == (1,)
    q = fq.AbsMaxQuantizer()
    assert fq.get(q) is q
    with pytest.raises(ValueError, match="Could not interpret quantizer identifier"):
        fq.get("nope")
    assert fkeras.quantizers.Quantizer()(W) is W
