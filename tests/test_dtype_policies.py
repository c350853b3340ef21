"""`fkeras.dtype_policies` has every `keras.dtype_policies` name; quantized policies parse, compare, serialize and
deserialize as Keras 3.15's do (names, dtypes, configs, errors)."""

from __future__ import annotations

import inspect
import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402  (the oracle)

import fkeras  # noqa: E402
from fkeras import dtype_policies as fd  # noqa: E402

kd = keras.dtype_policies
KERAS_NAMES = sorted(n for n in dir(kd) if not n.startswith("_"))
NAMES = ["float32", "mixed_bfloat16", "int8_from_float32", "int8_from_mixed_bfloat16", "int4_from_float32",
         "int4/128_from_float32", "int4/-1_from_bfloat16", "float8_from_mixed_bfloat16", "gptq/4/128_from_float32",
         "gptq/8/-1_from_float32", "awq/4/64_from_float32"]


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_every_keras_name_exists_with_keras_signature(name):
    ours, theirs = getattr(fd, name), getattr(kd, name)
    assert name in fd.__all__
    target = (lambda o: o.__init__) if inspect.isclass(theirs) else (lambda o: o)
    ps, po = inspect.signature(target(theirs)).parameters, inspect.signature(target(ours)).parameters
    assert list(po) == list(ps), name
    assert [po[p].default for p in po] == [ps[p].default for p in ps], name


def test_top_level_names():
    assert fkeras.FloatDTypePolicy is fd.FloatDTypePolicy and fkeras.Quantizer is fkeras.quantizers.Quantizer
    assert fkeras.dtype_policies.DTypePolicy is fkeras.DTypePolicy


@pytest.mark.parametrize("name", NAMES)
def test_get_by_name_matches_keras(name):
    ours, theirs = fd.get(name), kd.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    assert (ours.name, ours.compute_dtype, ours.variable_dtype, ours.quantization_mode) == (
        theirs.name, theirs.compute_dtype, theirs.variable_dtype, theirs.quantization_mode)
    assert repr(ours) == repr(theirs)
    assert fd.serialize(ours) == kd.serialize(theirs)
    back = fd.deserialize(kd.serialize(theirs))
    assert back == ours and type(back) is type(ours) and hash(back) == hash(ours)
    assert kd.deserialize(fd.serialize(ours)) == theirs


def test_equality_follows_keras():
    assert fd.DTypePolicy("float32") == fd.FloatDTypePolicy("float32")
    assert fd.get("int8_from_float32") != fd.DTypePolicy("float32")
    assert fd.get("int8_from_float32") != fd.get("int8_from_bfloat16")
    assert fd.QuantizedFloat8DTypePolicy("float8", "float32", 16) != fd.QuantizedFloat8DTypePolicy("float8", "float32")
    assert fd.get("int4/64_from_float32") != fd.get("int4/128_from_float32")


@pytest.mark.parametrize("build,err", [
    (lambda m: m.QuantizedDTypePolicy("int2", "float32"), ValueError),
    (lambda m: m.QuantizedDTypePolicy("int8", "float16"), ValueError),
    (lambda m: m.QuantizedFloat8DTypePolicy("float8", "float32", 1.5), TypeError),
    (lambda m: m.Int4DTypePolicy("int4", "float32"), ValueError),
    (lambda m: m.Int4DTypePolicy("int4/x", "float32"), ValueError),
    (lambda m: m.Int4DTypePolicy("int4/0", "float32"), ValueError),
    (lambda m: m.GPTQDTypePolicy("gptq/5/128", "float32"), ValueError),
    (lambda m: m.GPTQDTypePolicy("gptq/4/-2", "float32"), ValueError),
    (lambda m: m.AWQDTypePolicy("awq/8/128", "float32"), ValueError),
    (lambda m: m.get("int8_float32"), ValueError),
    (lambda m: m.DTypePolicyMap(policy_map=[("a", "float32")]), TypeError),
])
def test_bad_policies_raise_like_keras(build, err):
    for m in (kd, fd):
        with pytest.raises(err):
            build(m)


@pytest.mark.parametrize("default", [None, "float32", "mixed_bfloat16"])
def test_dtype_policy_map_matches_keras(default):
    ours, theirs = fd.DTypePolicyMap(default), kd.DTypePolicyMap(default)
    for m in (ours, theirs):
        m["dense/kernel"] = "int8_from_float32"
        m["block_.*/dense"] = "int4/64_from_float32"
        m["head"] = "bfloat16"
    for key in ("dense/kernel", "block_3/dense", "head", "other"):
        assert ours[key].name == theirs[key].name, key
    assert (ours.name, ours.compute_dtype, ours.variable_dtype, len(ours), list(ours)) == (
        theirs.name, theirs.compute_dtype, theirs.variable_dtype, len(theirs), list(theirs))
    assert "head" in ours and "nope" not in ours
    config = kd.serialize(theirs)
    assert fd.serialize(ours) == config
    back = fd.deserialize(config)
    kback = kd.deserialize(config)  # default None: entries take the global policy's dtypes, as in Keras
    # (Keras names an Int4 entry "int4/64_from_None" here; its dtypes are the global ones, as ours)
    assert [(type(back[k]), back[k].compute_dtype, back[k].quantization_mode) for k in back] == [
        (getattr(fd, type(kback[k]).__name__), kback[k].compute_dtype, kback[k].quantization_mode) for k in kback]
    with pytest.raises(ValueError, match="already exist"):
        ours["head"] = "float32"
    ours["dense.*"] = "float32"
    ours["dens.*"] = "float32"
    with pytest.raises(ValueError, match="matches multiple"):
        ours["dense/x"]
    del ours["head"]
    assert ours["head"].name == ours.default_policy.name
    with pytest.raises(ValueError, match="cannot be a `DTypePolicyMap`"):
        fd.DTypePolicyMap(ours)
