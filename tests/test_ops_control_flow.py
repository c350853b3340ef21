"""fkeras.ops core ops and control flow (issue 14 part B) against keras.ops (Keras 3.15, jax backend),
on JAX, torch and TF tensors (each framework's result equals Keras-on-JAX's); JAX versions under
jit / grad / vmap. Tolerance rtol=atol=1e-5.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fkeras.ops as fops

FRAMEWORKS = ("jax", "torch", "tensorflow")
TOL = 1e-5


def _keras_ops():
    import keras

    assert keras.backend.backend() == "jax"
    return keras.ops


def conv(fw, x):
    if fw == "jax":
        return jnp.asarray(x)
    if fw == "torch":
        import torch

        return torch.from_numpy(np.asarray(x))
    import tensorflow as tf

    return tf.convert_to_tensor(np.asarray(x))


def close(got, want, tol=TOL, dtype=True):
    got = jax.tree_util.tree_map(lambda v: np.asarray(fops.convert_to_numpy(v)), got)
    want = jax.tree_util.tree_map(lambda v: np.asarray(v), want)
    assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(want), (got, want)
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        assert g.shape == w.shape, (g.shape, w.shape)
        if dtype:
            assert g.dtype == w.dtype, (g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


R = np.random.default_rng(0)
X = R.standard_normal((4, 3)).astype(np.float32)
Y = R.standard_normal((4, 3)).astype(np.float32)


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_cond_and_switch(fw):
    k = _keras_ops()
    x = conv(fw, X)
    for pred in (True, False):
        got = fops.cond(conv(fw, np.array(pred)), lambda: fops.multiply(x, 2.0), lambda: fops.add(x, 1.0))
        want = k.cond(jnp.asarray(pred), lambda: jnp.asarray(X) * 2.0, lambda: jnp.asarray(X) + 1.0)
        close(got, want)
    branches = [lambda a, b: fops.add(a, b), lambda a, b: fops.subtract(a, b), lambda a, b: fops.multiply(a, b)]
    kbranches = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b]
    for i in (0, 1, 2, 5, -1):  # out of range indices clamp, as lax.switch
        got = fops.switch(conv(fw, np.array(i, np.int32)), branches, x, conv(fw, Y))
        want = k.switch(jnp.asarray(i, "int32"), kbranches, jnp.asarray(X), jnp.asarray(Y))
        close(got, want)


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_while_loop(fw):
    k = _keras_ops()
    got = fops.while_loop(lambda i, s: fops.less(i, 5), lambda i, s: (fops.add(i, 1), fops.multiply(s, 1.5)),
                          (conv(fw, np.array(0, np.int32)), conv(fw, X)))
    want = k.while_loop(lambda i, s: i < 5, lambda i, s: (i + 1, s * 1.5), (jnp.asarray(0, "int32"), jnp.asarray(X)))
    close(got, want)
    got = fops.while_loop(lambda s: fops.less(fops.sum(s), 1e6), lambda s: fops.multiply(s, 2.0), conv(fw, np.abs(X)),
                          maximum_iterations=3)
    want = k.while_loop(lambda s: jnp.sum(s) < 1e6, lambda s: s * 2.0, jnp.abs(jnp.asarray(X)), maximum_iterations=3)
    close(got, want)


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_fori_loop(fw):
    k = _keras_ops()
    got = fops.fori_loop(0, 4, lambda i, v: fops.add(v, fops.cast(i, "float32")), conv(fw, X))
    want = k.fori_loop(0, 4, lambda i, v: v + i, jnp.asarray(X))
    close(got, want)


@pytest.mark.parametrize("fw", FRAMEWORKS)
@pytest.mark.parametrize("reverse,unroll", [(False, 1), (True, 2), (False, True)])
def test_scan(fw, reverse, unroll):
    k = _keras_ops()

    def f(carry, x):
        c = fops.add(carry, x)
        return c, (c, fops.multiply(x, 2.0))

    got = fops.scan(f, conv(fw, np.zeros(3, np.float32)), conv(fw, X), reverse=reverse, unroll=unroll)
    want = k.scan(lambda c, x: (c + x, (c + x, x * 2.0)), jnp.zeros(3), jnp.asarray(X), reverse=reverse, unroll=unroll)
    close(got, want)


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_scan_length_without_xs(fw):
    k = _keras_ops()
    got = fops.scan(lambda c, _: (fops.multiply(c, 2.0), c), conv(fw, np.ones(2, np.float32)), None, length=4)
    want = k.scan(lambda c, _: (c * 2.0, c), jnp.ones(2), None, length=4)
    close(got, want)


def test_scan_bad_unroll_is_a_value_error():
    with pytest.raises(ValueError, match="unroll"):
        fops.scan(lambda c, x: (c, x), jnp.zeros(()), jnp.ones(3), unroll=0)


@pytest.mark.parametrize("fw", FRAMEWORKS)
@pytest.mark.parametrize("reverse,axis", [(False, 0), (True, 0), (False, 1)])
def test_associative_scan(fw, reverse, axis):
    k = _keras_ops()
    got = fops.associative_scan(lambda a, b: fops.add(a, b), conv(fw, X), reverse=reverse, axis=axis)
    want = k.associative_scan(lambda a, b: a + b, jnp.asarray(X), reverse=reverse, axis=axis)
    close(got, want)
    # a non-commutative pytree operator: (a1, b1) o (a2, b2) = (a1 * a2, b1 * a2 + b2) (linear recurrences)
    elems = (conv(fw, np.abs(X)), conv(fw, Y))
    got = fops.associative_scan(lambda p, q: (fops.multiply(p[0], q[0]), fops.add(fops.multiply(p[1], q[0]), q[1])),
                                elems, reverse=reverse, axis=axis)
    want = k.associative_scan(lambda p, q: (p[0] * q[0], p[1] * q[0] + q[1]), (jnp.abs(jnp.asarray(X)), jnp.asarray(Y)),
                              reverse=reverse, axis=axis)
    close(got, want, tol=1e-4)


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_map_and_vectorized_map(fw):
    k = _keras_ops()
    got = fops.map(lambda r: {"s": fops.sum(r), "d": fops.multiply(r, 2.0)}, conv(fw, X))
    want = k.map(lambda r: {"s": jnp.sum(r), "d": r * 2.0}, jnp.asarray(X))
    close(got, want)
    got = fops.vectorized_map(lambda r: fops.matmul(r, conv(fw, Y.T)), conv(fw, X))
    want = k.vectorized_map(lambda r: r @ jnp.asarray(Y.T), jnp.asarray(X))
    close(got, want, tol=1e-4)


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_custom_gradient(fw):
    @fops.custom_gradient
    def clipped_square(x):
        def grad(upstream):
            return fops.multiply(upstream, 7.0)

        return fops.square(x), grad

    out = clipped_square(conv(fw, X))
    close(out, X**2, tol=1e-5)
    if fw == "jax":
        g = jax.grad(lambda v: jnp.sum(clipped_square(v)))(jnp.asarray(X))
    elif fw == "torch":
        import torch

        v = torch.from_numpy(X).requires_grad_(True)
        clipped_square(v).sum().backward()
        g = v.grad
    else:
        import tensorflow as tf

        v = tf.Variable(X)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(clipped_square(v))
        g = tape.gradient(loss, v)
    close(g, np.full_like(X, 7.0))


SLICING = [
    ("slice", lambda: (X, (1, 0), (2, 2)), {}),
    ("slice_to_end", lambda: (X, (1, 1), (-1, 2)), {}),
    ("slice_update", lambda: (X, (1, 1), np.ones((2, 2), np.float32)), {}),
    ("scatter", lambda: (np.array([[0, 1], [2, 2], [0, 1]], np.int32), np.array([1.0, 2.0, 3.0], np.float32), (3, 3)),
     {}),
    ("scatter_update", lambda: (X, np.array([[0, 1], [3, 2]], np.int32), np.array([9.0, 8.0], np.float32)), {}),
    ("scatter_update_rows", lambda: (X, np.array([[1], [3]], np.int32), np.ones((2, 3), np.float32)), {}),
    ("scatter_update_add", lambda: (X, np.array([[0, 1], [0, 1]], np.int32), np.array([1.0, 2.0], np.float32)),
     {"reduction": "add"}),
    ("scatter_update_max", lambda: (X, np.array([[0, 1], [1, 1]], np.int32), np.array([5.0, -5.0], np.float32)),
     {"reduction": "max"}),
    ("scatter_update_min", lambda: (X, np.array([[0, 1], [1, 1]], np.int32), np.array([5.0, -5.0], np.float32)),
     {"reduction": "min"}),
    ("scatter_update_mul", lambda: (X, np.array([[0, 1], [0, 1]], np.int32), np.array([2.0, 3.0], np.float32)),
     {"reduction": "mul"}),
    ("unstack", lambda: (X,), {"axis": 1}),
    ("saturate_cast", lambda: (np.array([-3.0, 0.5, 300.0, np.inf], np.float32), "uint8"), {}),
    ("saturate_cast_int", lambda: (np.array([-200, 5, 300], np.int32), "int8"), {}),
    ("is_tensor", lambda: (X,), {}),
]


@pytest.mark.parametrize("fw", FRAMEWORKS)
@pytest.mark.parametrize("name,args,kwargs", SLICING, ids=[s[0] for s in SLICING])
def test_slicing_and_scatter(fw, name, args, kwargs):
    k = _keras_ops()
    op = name.split("_rows")[0].split("_to_end")[0]
    for suffix in ("_add", "_max", "_min", "_mul", "_int"):
        op = op.removesuffix(suffix)
    a = args()
    got = getattr(fops, op)(*[conv(fw, v) if isinstance(v, np.ndarray) else v for v in a], **kwargs)
    if op == "is_tensor":
        assert got is True or bool(got) is True
        assert fops.is_tensor(X) is False  # NumPy arrays are not tensors (as Keras on JAX)
        return
    want = getattr(k, op)(*[jnp.asarray(v) if isinstance(v, np.ndarray) else v for v in a], **kwargs)
    close(list(got) if op == "unstack" else got, list(want) if op == "unstack" else want)


def test_scatter_update_rejects_unknown_reduction():
    with pytest.raises(ValueError, match="reduction"):
        fops.scatter_update(jnp.zeros(3), jnp.array([[0]]), jnp.ones(1), reduction="median")


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_jvp(fw):
    k = _keras_ops()
    got = fops.jvp(lambda a: fops.multiply(fops.tanh(a), 2.0), (conv(fw, X),), (conv(fw, Y),))
    want = k.jvp(lambda a: jnp.tanh(a) * 2.0, (jnp.asarray(X),), (jnp.asarray(Y),))
    close(got, want, tol=1e-5)
    got = fops.jvp(lambda a: (fops.square(a), fops.sum(a)), (conv(fw, X),), (conv(fw, Y),), has_aux=True)
    want = k.jvp(lambda a: (a**2, jnp.sum(a)), (jnp.asarray(X),), (jnp.asarray(Y),), has_aux=True)
    close(got, want, tol=1e-5)


@pytest.mark.parametrize("fw", FRAMEWORKS)
@pytest.mark.parametrize("pattern,shape,lengths", [
    ("b (h w) c -> b h w c", (2, 6, 3), {"h": 2}),
    ("b h w c -> b c (h w)", (2, 2, 3, 4), {}),
    ("a b c -> c a b", (2, 3, 4), {}),
    ("(a b) c -> a (c b)", (6, 4), {"b": 3}),
])
def test_rearrange(fw, pattern, shape, lengths):
    k = _keras_ops()
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    close(fops.rearrange(conv(fw, x), pattern, **lengths), k.rearrange(jnp.asarray(x), pattern, **lengths))


def test_rearrange_errors():
    with pytest.raises(ValueError, match="->"):
        fops.rearrange(jnp.ones((2, 3)), "a b")
    with pytest.raises(ValueError, match="input axes"):
        fops.rearrange(jnp.ones((2, 3)), "a b c -> a b c")


# --- JAX transformations --------------------------------------------------------------------
def test_control_flow_under_jit_grad_vmap():
    def loss(w, xs):
        def body(c, x):
            c = fops.tanh(fops.add(fops.multiply(c, w), x))
            return c, fops.sum(c)

        c, ys = fops.scan(body, jnp.zeros(3), xs)
        c = fops.cond(fops.sum(c) > 0, lambda: c * 2.0, lambda: c - 1.0)
        c = fops.fori_loop(0, 3, lambda i, v: v * 0.9, c)
        c = fops.switch(1, [lambda v: v, lambda v: v * 3.0], c)
        return fops.sum(c) + fops.sum(ys)

    w, xs = jnp.asarray(0.5), jnp.asarray(X)
    val, grad = jax.jit(jax.value_and_grad(loss))(w, xs)
    eps = 1e-3
    fd = (loss(w + eps, xs) - loss(w - eps, xs)) / (2 * eps)
    chex.assert_trees_all_close(val, loss(w, xs), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad, fd, rtol=1e-2, atol=1e-2)
    batched = jax.vmap(lambda xs1: loss(w, xs1))(jnp.stack([xs, xs * 2]))
    chex.assert_trees_all_close(batched, jnp.stack([loss(w, xs), loss(w, xs * 2)]), rtol=1e-5, atol=1e-5)
    wl = jax.jit(lambda v: fops.while_loop(lambda i, s: i < 3, lambda i, s: (i + 1, s * 2.0), (0, v))[1])(xs)
    chex.assert_trees_all_close(wl, xs * 8.0, rtol=1e-6, atol=1e-6)  # (reverse-mode AD of while loops: JAX cannot)
    am = jax.jit(lambda v: fops.associative_scan(jnp.add, v))(xs)
    chex.assert_trees_all_close(am, jnp.cumsum(xs, 0), rtol=1e-5, atol=1e-5)
    sl = jax.jit(lambda v, i: fops.slice_update(v, (i, 0), jnp.ones((1, 3))))(xs, 2)
    chex.assert_trees_all_close(sl[2], jnp.ones(3))


def test_tf_control_flow_traces_in_tf_function():
    tf = pytest.importorskip("tensorflow")

    @tf.function
    def f(x, n):
        y = fops.while_loop(lambda i, s: i < n, lambda i, s: (i + 1, s * 2.0), (tf.constant(0), x))[1]
        return fops.cond(tf.reduce_sum(y) > 0, lambda: y, lambda: -y)

    out = f(tf.constant(X), tf.constant(3))
    want = X * 8.0 if (X * 8.0).sum() > 0 else -X * 8.0
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-6)
