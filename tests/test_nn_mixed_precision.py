"""Mixed precision: Keras's policy names, float32 variables, bf16/fp16 compute, values within
half-precision tolerance of float32 and of Keras 3.15 under the same policy."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fkeras import mixed_precision, nn

BF16_TOL = dict(atol=5e-2, rtol=5e-2)  # bfloat16 keeps 8 bits of mantissa (~0.4% per rounding)


@pytest.fixture(autouse=True)
def _reset_policy():
    yield
    mixed_precision.set_global_policy("float32")


def test_policy_names_and_dtypes():
    for name, compute, variable in [("float32", "float32", "float32"), ("mixed_float16", "float16", "float32"),
                                    ("mixed_bfloat16", "bfloat16", "float32"), ("bfloat16", "bfloat16", "bfloat16")]:
        p = mixed_precision.Policy(name)
        assert (p.name, p.compute_dtype, p.variable_dtype) == (name, compute, variable)
    assert mixed_precision.DTypePolicy is mixed_precision.Policy
    with pytest.raises(ValueError, match="Cannot convert 'mixed_float64'"):
        mixed_precision.DTypePolicy("mixed_float64")
    assert mixed_precision.global_policy().name == "float32"
    mixed_precision.set_global_policy("mixed_bfloat16")
    assert mixed_precision.global_policy() == mixed_precision.Policy("mixed_bfloat16")
    layer, pinned = nn.Dense(2), nn.Dense(2, dtype="float32")
    assert (layer.compute_dtype, layer.variable_dtype, layer.dtype) == ("bfloat16", "float32", "float32")
    assert pinned.compute_dtype == "float32"
    assert layer.get_config()["dtype"] == {"module": "keras", "class_name": "DTypePolicy",
                                           "config": {"name": "mixed_bfloat16"}, "registered_name": None}
    assert nn.Dense.from_config(layer.get_config()).compute_dtype == "bfloat16"


def _model():
    return nn.Sequential([
        nn.Input((8, 8, 2)),
        nn.Conv2D(8, 3, activation="relu"), nn.BatchNormalization(), nn.MaxPooling2D(),
        nn.Flatten(), nn.Dense(16, activation="relu"), nn.LayerNormalization(),
        nn.Dense(10), nn.Activation("softmax", dtype="float32"),
    ])


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_model_matches_float32_within_half_precision(policy):
    x = jax.random.normal(jax.random.key(0), (4, 8, 8, 2))
    ref_model = _model()
    v = ref_model.init(jax.random.key(1))
    mixed_precision.set_global_policy(policy)
    nn.clear_session()
    model = _model()
    v_mixed = model.init(jax.random.key(1))
    # Variables stay float32 and equal (same seed), only compute changes.
    assert all(t.dtype == jnp.float32 for t in jax.tree.leaves(v_mixed))
    chex.assert_trees_all_close(v_mixed, v)
    for training in (False, True):
        y32, s32 = ref_model.apply(v, x, training=training)
        y, s = jax.jit(model.apply, static_argnames="training")(v, x, training=training)
        assert y.dtype == jnp.float32  # the final Activation is pinned to float32
        chex.assert_trees_all_close(y, y32, **BF16_TOL)
        np.testing.assert_allclose(np.asarray(y.sum(-1)), 1.0, rtol=1e-6)
        assert all(t.dtype == jnp.float32 for t in jax.tree.leaves(s))  # BN moving stats stay float32
        chex.assert_trees_all_close(s, s32, **BF16_TOL)
    # Intermediate activations are in the compute dtype.
    hidden = nn.Sequential(model.layers[:-2])
    h, _ = hidden.apply(v, x)
    assert h.dtype == jnp.dtype(mixed_precision.Policy(policy).compute_dtype)
    # Gradients come back in float32 for the float32 master weights.
    g = jax.grad(lambda p: -jnp.log(model.apply(nn.Variables(p, v.state), x)[0][:, 3]).mean())(v.params)
    assert all(t.dtype == jnp.float32 for t in jax.tree.leaves(g))
    g32 = jax.grad(lambda p: -jnp.log(ref_model.apply(nn.Variables(p, v.state), x)[0][:, 3]).mean())(v.params)
    cos = sum(float(jnp.vdot(a, b)) for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(g32))) / np.sqrt(
        sum(float(jnp.vdot(a, a)) for a in jax.tree.leaves(g)) * sum(float(jnp.vdot(b, b)) for b in jax.tree.leaves(g32)))
    assert cos > 0.99


def test_integer_inputs_are_not_cast_and_bfloat16_policy_stores_bfloat16():
    mixed_precision.set_global_policy("mixed_bfloat16")
    emb = nn.Embedding(10, 4)
    v = emb.init(jax.random.key(0), jax.ShapeDtypeStruct((2, 3), jnp.int32))
    assert v.params["embeddings"].dtype == jnp.float32
    y, _ = emb.apply(v, jnp.array([[1, 2, 3], [4, 5, 9]]))
    assert y.dtype == jnp.bfloat16
    chex.assert_trees_all_close(y.astype(jnp.float32), v.params["embeddings"][jnp.array([[1, 2, 3], [4, 5, 9]])],
                                **BF16_TOL)
    d = nn.Dense(3, dtype="bfloat16")
    v = d.init(jax.random.key(0), (2, 4))
    assert v.params["kernel"].dtype == jnp.bfloat16


def test_same_as_keras_under_mixed_bfloat16():
    import keras

    keras.backend.clear_session(free_memory=False)  # (resets Keras's global policy too, so it comes first)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        kd = keras.layers.Dense(5, activation="softmax", name="d")
        kbn = keras.layers.BatchNormalization(name="bn")
        x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
        kd(x)
        kbn(x)
        mixed_precision.set_global_policy("mixed_bfloat16")
        d, bn = nn.Dense(5, activation="softmax", name="d"), nn.BatchNormalization(name="bn")
        assert d.get_config() == kd.get_config() and bn.get_config() == kbn.get_config()
        vd = nn.Variables({w.name: jnp.asarray(w.value) for w in kd.weights}, {})
        y, _ = d.apply(vd, x)
        want = kd(x)
        assert y.dtype == want.dtype == jnp.bfloat16
        chex.assert_trees_all_close(y.astype(jnp.float32), jnp.asarray(want, jnp.float32), atol=1e-2)
        vbn = bn.init(None, x)
        y, s = bn.apply(vbn, x, training=True)
        want = kbn(x, training=True)
        assert y.dtype == want.dtype
        chex.assert_trees_all_close(y.astype(jnp.float32), jnp.asarray(want, jnp.float32), atol=1e-2)
        chex.assert_trees_all_close(s["moving_mean"], jnp.asarray(kbn.moving_mean.value), atol=1e-6)
        chex.assert_trees_all_close(s["moving_variance"], jnp.asarray(kbn.moving_variance.value), atol=1e-6)
    finally:
        keras.config.set_dtype_policy("float32")
