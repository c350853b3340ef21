"""The CPU lowerings in fkeras/ops/_jax_cpu.py give the plain XLA lowering's values and gradients."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fkeras import ops
from fkeras.ops import _jax_cpu

DN = ("NHWC", "HWIO", "NHWC")


def plain_conv(x, w, padding):
    return jax.lax.conv_general_dilated(x, w, (1, 1), padding, dimension_numbers=DN)


def plain_max_pool(x, p):
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, p, p, 1), (1, p, p, 1), "VALID")


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
@pytest.mark.parametrize("kernel", [(3, 3), (2, 4), (1, 1), (5, 3)])
def test_conv2d_values_and_grads_match_xla(padding, kernel):
    kx, kw, kd = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (2, 9, 8, 16))
    w = jax.random.normal(kw, (*kernel, 16, 4))

    def loss(f):
        return lambda x, w: jnp.sum(jnp.sin(f(x, w)))

    fast = lambda x, w: _jax_cpu.conv2d(x, w, padding)  # noqa: E731
    plain = lambda x, w: plain_conv(x, w, padding)  # noqa: E731
    chex.assert_trees_all_close(jax.jit(fast)(x, w), plain(x, w), rtol=1e-5, atol=1e-5)
    chex.assert_trees_all_close(
        jax.grad(loss(fast), argnums=(0, 1))(x, w), jax.grad(loss(plain), argnums=(0, 1))(x, w), rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize("shape,p", [((2, 8, 8, 3), 2), ((2, 9, 7, 3), 2), ((1, 9, 9, 2), 3)])
def test_max_pool_values_and_first_max_grads_match_xla(shape, p):
    x = jax.random.normal(jax.random.key(1), shape)
    x = jnp.maximum(x, 0.0)  # relu: many ties at zero, where the tie-breaking rule shows
    dy = jax.random.normal(jax.random.key(2), (shape[0], shape[1] // p, shape[2] // p, shape[3]))
    fast = lambda x: _jax_cpu.max_pool2d(x, p, p)  # noqa: E731
    chex.assert_trees_all_close(fast(x), plain_max_pool(x, p))
    g_fast = jax.vjp(fast, x)[1](dy)
    g_plain = jax.vjp(lambda x: plain_max_pool(x, p), x)[1](dy)
    chex.assert_trees_all_close(g_fast, g_plain, rtol=1e-6, atol=1e-6)


def test_public_ops_take_the_cpu_path_and_agree_with_plain(monkeypatch):
    x = jax.random.normal(jax.random.key(3), (2, 10, 10, 16))
    w = jax.random.normal(jax.random.key(4), (3, 3, 16, 5))

    def f(x, w):
        return jnp.sum(ops.max_pool(ops.relu(ops.conv(x, w)), 2) ** 2)

    # Fresh closures each time: JAX caches traces per function object.
    fast = jax.grad(lambda x, w: f(x, w), argnums=(0, 1))(x, w)
    assert "custom_vjp_call" in str(jax.make_jaxpr(lambda x, w: f(x, w))(x, w))
    monkeypatch.setenv("FKERAS_CPU_KERNELS", "0")
    assert "custom_vjp_call" not in str(jax.make_jaxpr(lambda x, w: f(x, w))(x, w))
    plain = jax.grad(lambda x, w: f(x, w), argnums=(0, 1))(x, w)
    chex.assert_trees_all_close(fast, plain, rtol=1e-4, atol=1e-4)


def test_cpu_path_works_under_vmap_and_jit():
    x = jax.random.normal(jax.random.key(5), (3, 2, 6, 6, 16))
    w = jax.random.normal(jax.random.key(6), (3, 3, 16, 2))
    out = jax.jit(jax.vmap(lambda x: ops.max_pool(ops.conv(x, w), 2)))(x)
    ref = np.stack([np.asarray(plain_max_pool(plain_conv(xi, w, "VALID"), 2)) for xi in x])
    chex.assert_trees_all_close(out, ref, rtol=1e-5, atol=1e-5)
