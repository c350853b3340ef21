"""The CPU lowering of depthwise convolutions (`fkeras/ops/_jax_cpu.depthwise_conv`, kernel-tap slices
instead of XLA's grouped conv: what makes MobileNet/EfficientNet/NASNet/ConvNeXt inference fast on
CPU) gives the grouped conv's values and gradients, and the public op takes it on CPU."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fkeras import ops
from fkeras.ops import _jax_cpu


def grouped_conv(x, w, strides, padding, dilation):
    """XLA's lowering: one conv with feature_group_count = channels (w: (*k, C, M) as Keras holds it)."""
    n = x.ndim - 2
    sp = "DHW"[-n:]
    w = w.reshape(w.shape[:-2] + (1, w.shape[-2] * w.shape[-1]))
    return jax.lax.conv_general_dilated(x, w, strides, padding.upper(), rhs_dilation=dilation,
                                        dimension_numbers=("N" + sp + "C", sp + "IO", "N" + sp + "C"),
                                        feature_group_count=x.shape[-1])


CASES = [  # spatial rank, kernel, strides, dilation, padding, depth multiplier
    (2, (3, 3), (1, 1), (1, 1), "same", 1),
    (2, (3, 3), (2, 2), (1, 1), "same", 2),
    (2, (3, 3), (2, 2), (1, 1), "valid", 1),
    (2, (5, 5), (1, 1), (2, 2), "same", 1),
    (2, (7, 7), (1, 1), (1, 1), "same", 1),  # ConvNeXt's; its gradient takes the grouped conv
    (2, (2, 2), (2, 2), (1, 1), "same", 1),
    (2, (3, 1), (2, 1), (1, 1), "same", 1),
    (1, (3,), (2,), (1,), "same", 3),
    (3, (3, 3, 3), (1, 1, 1), (1, 1, 1), "valid", 1),
]


@pytest.mark.parametrize("rank, kernel, strides, dilation, padding, mult", CASES)
def test_values_and_gradients_match_the_grouped_conv(rank, kernel, strides, dilation, padding, mult):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(2,) + (9,) * rank + (4,)), jnp.float32)
    w = jnp.asarray(rng.normal(size=kernel + (4, mult)), jnp.float32)
    ours = lambda x, w: ops.depthwise_conv(x, w, strides=strides, padding=padding, dilation_rate=dilation)  # noqa: E731
    plain = lambda x, w: grouped_conv(x, w, strides, padding, dilation)  # noqa: E731

    def loss(f):
        return lambda x, w: jnp.sum(jnp.sin(f(x, w)))

    chex.assert_trees_all_close(jax.jit(ours)(x, w), plain(x, w), rtol=1e-5, atol=1e-5)
    chex.assert_trees_all_close(jax.jit(jax.grad(loss(ours), argnums=(0, 1)))(x, w),
                                jax.grad(loss(plain), argnums=(0, 1))(x, w), rtol=1e-4, atol=1e-4)


def test_public_op_takes_the_taps_on_cpu_and_the_grouped_conv_when_disabled(monkeypatch):
    x, w = jnp.ones((1, 8, 8, 4)), jnp.ones((3, 3, 4, 1))

    def compiled():  # a new function each time: no cached trace
        return jax.jit(lambda x, w: ops.depthwise_conv(x, w, padding="same")).lower(x, w).compile().as_text()

    assert "convolution(" not in compiled()
    monkeypatch.setenv("FKERAS_CPU_KERNELS", "0")
    assert "feature_group_count=4" in compiled()


def test_low_precision_accumulates_in_float32():
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.normal(size=(2, 6, 6, 3)), jnp.bfloat16)
    w = jnp.asarray(rng.normal(size=(3, 3, 3, 1)), jnp.bfloat16)
    got = ops.depthwise_conv(x, w, padding="same")
    assert got.dtype == jnp.bfloat16
    ref = grouped_conv(x.astype(jnp.float32), w.astype(jnp.float32), (1, 1), "same", (1, 1))
    chex.assert_trees_all_close(got.astype(jnp.float32), ref, rtol=2e-2, atol=2e-2)


def test_under_vmap_and_through_separable_conv():
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.normal(size=(3, 2, 7, 7, 4)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(3, 3, 4, 2)), jnp.float32)
    pw = jnp.asarray(rng.normal(size=(1, 1, 8, 5)), jnp.float32)
    got = jax.jit(jax.vmap(lambda x: ops.separable_conv(x, w, pw, padding="same")))(x)
    ref = jnp.stack([jax.lax.conv_general_dilated(grouped_conv(xi, w, (1, 1), "same", (1, 1)), pw, (1, 1), "SAME",
                                                  dimension_numbers=("NHWC", "HWIO", "NHWC")) for xi in x])
    chex.assert_trees_all_close(got, ref, rtol=1e-4, atol=1e-4)
    assert _jax_cpu.enabled()
