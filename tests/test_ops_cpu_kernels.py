"""The CPU lowerings in fkeras/ops/_jax_cpu.py give the plain XLA lowering's values and gradients."""

import re

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


@pytest.mark.parametrize("lowering", ["rewrite", "xla"])
@pytest.mark.parametrize("padding", ["VALID", "SAME"])
@pytest.mark.parametrize("kernel", [(3, 3), (2, 4), (1, 1), (5, 3)])
def test_conv2d_values_and_grads_match_xla(padding, kernel, lowering):
    kx, kw, kd = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (2, 9, 8, 16))
    w = jax.random.normal(kw, (*kernel, 16, 4))

    def loss(f):
        return lambda x, w: jnp.sum(jnp.sin(f(x, w)))

    fast = lambda x, w: _jax_cpu.conv2d(x, w, padding, lowering)  # noqa: E731
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


def _conv_pool_loss(x, w):
    return jnp.sum(ops.max_pool(ops.relu(ops.conv(x, w)), 2) ** 2)


def _ynn_fused_opcodes(hlo: str) -> set:
    """The opcodes inside the YNNPACK fusions of a compiled HLO text."""
    called = set(re.findall(r"ynn_fusion[.\w]* = .*?calls=%([\w.]+)", hlo))
    found, current = set(), None
    for line in hlo.splitlines():
        head = re.match(r"\s*%?([\w.]+) \(.*\{\s*$", line)
        if head:
            current = head.group(1)
        elif current in called:
            found.update(re.findall(r"= \S+ ([\w-]+)\(", line))
    return found


def test_train_jit_compiles_without_ynn_conv_fusion_and_uses_xla_conv():
    """fkeras's own programs turn XLA:CPU's YNNPACK convolution fusion off (its dot/reduce fusions stay on) and
    trace XLA's plain conv (fast without it); values and gradients equal plain `jax.jit`'s, which keeps the
    conv rewrite."""
    from fkeras import train

    x = jax.random.normal(jax.random.key(7), (2, 10, 10, 16))
    w = jax.random.normal(jax.random.key(8), (3, 3, 16, 5))
    grad = jax.value_and_grad(_conv_pool_loss, argnums=(0, 1))
    fk, plain = train.jit(grad), jax.jit(grad)
    chex.assert_trees_all_close(fk(x, w), plain(x, w), rtol=1e-4, atol=1e-4)

    fusions = _jax_cpu.compiler_options()["xla_cpu_experimental_ynn_fusion_type"].split(",")
    assert "LIBRARY_FUSION_TYPE_DOT" in fusions and not any("CONV" in f for f in fusions)
    fk_hlo = fk.lower(x, w).compile().as_text()
    plain_hlo = plain.lower(x, w).compile().as_text()
    assert "convolution" not in _ynn_fused_opcodes(fk_hlo) and "convolution" in fk_hlo
    assert "__ynn_fusion" in plain_hlo  # the default this works around is still the default
    # Inside train.jit the conv takes the "xla" lowering; under plain jax.jit, the rewrite.
    seen = {}

    def record(x):
        seen["fk"] = _jax_cpu.conv2d_lowering(64)
        return x

    train.jit(record)(x)
    jax.jit(lambda x: seen.setdefault("plain", _jax_cpu.conv2d_lowering(64)) and x)(x)
    assert seen == {"fk": "xla", "plain": "rewrite"}
    assert not _jax_cpu.plain_conv_is_fast()  # the tracing context does not leak


def test_train_jit_scan_keeps_convs_in_canonical_layout():
    """Inside lax.scan (steps_per_execution) XLA's own conv transpose picks a layout XLA:CPU runs
    ~50x slower; the "xla" lowering's explicit gradients keep every conv canonical, and equal XLA's."""
    from fkeras import train

    xs = jax.random.normal(jax.random.key(9), (2, 4, 10, 10, 16))
    w = jax.random.normal(jax.random.key(10), (3, 3, 16, 5))

    def steps(w, xs, loss):
        return jax.lax.scan(lambda w, x: (w - 1e-3 * jax.grad(loss)(w, x), None), w, xs)[0]

    fk = train.jit(lambda w, xs: steps(w, xs, lambda w, x: _conv_pool_loss(x, w)))
    ref = jax.jit(lambda w, xs: steps(w, xs, lambda w, x: jnp.sum(
        plain_max_pool(jax.nn.relu(plain_conv(x, w, "VALID")), 2) ** 2)))
    chex.assert_trees_all_close(fk(w, xs), ref(w, xs), rtol=1e-4, atol=1e-4)
    hlo = fk.lower(w, xs).compile().as_text()
    labels = [line.split("dim_labels=")[1].split(",")[0] for line in hlo.splitlines() if " convolution(" in line]
    assert labels and set(labels) == {"b01f_01io->b01f"}, labels


def test_train_jit_passes_jit_arguments_through(monkeypatch):
    from fkeras import train

    f = train.jit(lambda x, n: x * n, static_argnames="n", donate_argnums=0,
                  compiler_options={"xla_cpu_enable_fast_math": False})
    np.testing.assert_allclose(f(jnp.ones(3), n=2), 2 * np.ones(3))
    monkeypatch.setenv("FKERAS_CPU_KERNELS", "0")
    assert _jax_cpu.compiler_options() is None
    x, w = jnp.ones((2, 10, 10, 16)), jnp.ones((3, 3, 16, 5))
    grad = jax.grad(_conv_pool_loss, argnums=(0, 1))
    as_plain = train.jit(grad).lower(x, w).compile().as_text()
    assert as_plain == jax.jit(grad).lower(x, w).compile().as_text()


def test_xla_flags_turning_ynn_off_select_the_plain_conv(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_experimental_ynn_fusion_type=")
    assert _jax_cpu.plain_conv_is_fast() and _jax_cpu.conv2d_lowering(64) == "xla"
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_experimental_ynn_fusion_type=individual_convolution")
    assert _jax_cpu.conv2d_lowering(64) == "rewrite" and _jax_cpu.conv2d_lowering(3) is None


def test_fit_compiles_its_steps_with_fkeras_options():
    import fkeras as keras

    model = keras.Sequential([keras.layers.Input((8, 8, 16)), keras.layers.Conv2D(4, 3),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    model.compile(loss="mse", optimizer="sgd")
    x, y = np.ones((4, 8, 8, 16), "float32"), np.zeros((4, 2), "float32")
    model.fit(x, y, epochs=1, verbose=0)
    hlo = model._engine.jit_train.lower(model.train_state, (x, y, None)).compile().as_text()
    fused = _ynn_fused_opcodes(hlo)
    assert "dot" in fused  # the Dense's matmuls run in YNNPACK
    assert "convolution" not in fused and "convolution" in hlo  # the Conv2D's in XLA's own conv


def test_off_cpu_train_jit_is_plain_jax_jit(monkeypatch):
    """GPU/TPU keep XLA's defaults: no compile options, no tracing context."""
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert _jax_cpu.compiler_options() is None
    seen = {}

    def record(x):
        seen["lowering"] = _jax_cpu.conv2d_lowering(64)
        return x

    _jax_cpu.jit(record)(jnp.ones(2))
    assert seen["lowering"] == "rewrite"  # chosen per platform inside the op by lax.platform_dependent
