"""The TensorFlow backend of `fkeras.ops` gives JAX's numbers, dtypes and gradients.

Every case runs `fn(backend, *inputs)` once with `fkeras.ops._jax` on JAX arrays and once
with `fkeras.ops._tf` on TF tensors. Tolerances (fp32): rtol = atol = 1e-5 for elementwise
and reduction ops, 1e-4 for conv/pool/crossentropy-sized sums (stated per case).
"""

import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")

import fkeras.ops as fops  # noqa: E402
from fkeras.ops._dispatch import backend  # noqa: E402

_jax, _tf = backend("jax"), backend("tensorflow")  # every implementation of each framework

R = np.random.default_rng(0)


def f32(*shape, lo=-2.0, hi=2.0):
    return R.uniform(lo, hi, shape).astype("float32")


def i32(*shape, hi=4):
    return R.integers(0, hi, shape).astype("int32")


def pos(*shape):
    return f32(*shape, lo=0.1, hi=2.0)


def probs(*shape):
    p = pos(*shape)
    return p / p.sum(-1, keepdims=True)


class Case:
    def __init__(self, id, fn, *inputs, grad=False, tol=1e-5):
        self.id, self.fn, self.inputs, self.grad, self.tol = id, fn, inputs, grad, tol


X = f32(2, 3, 4)
IMG = f32(2, 6, 6, 3)
IMG_CF = f32(2, 3, 6, 6)
SEQ = f32(2, 7, 3)
VOL = f32(1, 5, 5, 5, 2)
LOGITS = f32(4, 5)
LABELS = i32(4, hi=5)
BOOL = (X > 0)

CASES = [
    # --- numpy-like: elementwise ---
    Case("matmul", lambda o, a, b: o.matmul(a, b), f32(2, 3, 4), f32(4, 5), grad=True),
    Case("matmul_vec", lambda o, a, b: o.matmul(a, b), f32(4), f32(3, 4, 2), grad=True),
    Case("matmul_vec2", lambda o, a, b: o.matmul(a, b), f32(3, 4), f32(4), grad=True),
    Case("einsum", lambda o, a, b: o.einsum("bij,jk->bik", a, b), f32(2, 3, 4), f32(4, 5), grad=True),
    Case("dot", lambda o, a, b: o.dot(a, b), f32(2, 3, 4), f32(5, 4, 2), grad=True),
    Case("dot_vec", lambda o, a, b: o.dot(a, b), f32(3, 4), f32(4)),
    Case("add", lambda o, a, b: o.add(a, b), X, f32(4), grad=True),
    Case("add_scalar_left", lambda o, a: o.add(2, a), X),
    Case("add_int_float_scalar", lambda o, a: o.add(a, 1.5), i32(3, 4)),
    Case("add_int_float", lambda o, a, b: o.add(a, b), i32(3, 4), f32(3, 4)),
    Case("subtract", lambda o, a, b: o.subtract(a, b), X, f32(3, 4), grad=True),
    Case("multiply", lambda o, a, b: o.multiply(a, b), X, f32(1, 4), grad=True),
    Case("multiply_scalar", lambda o, a: o.multiply(a, 0.5), X, grad=True),
    Case("divide", lambda o, a, b: o.divide(a, b), X, pos(4), grad=True),
    Case("divide_int", lambda o, a, b: o.divide(a, b), i32(5), i32(5) + 1),
    Case("power", lambda o, a, b: o.power(a, b), pos(3, 4), f32(3, 4), grad=True),
    Case("power_scalar", lambda o, a: o.power(a, 2), X, grad=True),
    Case("negative", lambda o, a: o.negative(a), X, grad=True),
    Case("exp", lambda o, a: o.exp(a), X, grad=True),
    Case("exp_int", lambda o, a: o.exp(a), i32(5)),
    Case("log", lambda o, a: o.log(a), pos(3, 4), grad=True),
    Case("log1p", lambda o, a: o.log1p(a), pos(3, 4), grad=True),
    Case("sqrt", lambda o, a: o.sqrt(a), pos(3, 4), grad=True),
    Case("rsqrt", lambda o, a: o.rsqrt(a), pos(3, 4), grad=True),
    Case("square", lambda o, a: o.square(a), X, grad=True),
    Case("abs", lambda o, a: o.abs(a), X, grad=True),
    Case("sign", lambda o, a: o.sign(a), X),
    Case("tanh", lambda o, a: o.tanh(a), X, grad=True),
    Case("erf", lambda o, a: o.erf(a), X, grad=True),
    Case("floor", lambda o, a: o.floor(a), X),
    Case("round", lambda o, a: o.round(a), np.array([0.5, 1.5, 2.5, -0.5, 1.26], "float32")),
    Case("round_decimals", lambda o, a: o.round(a, 1), np.array([0.25, 1.26, -3.14], "float32")),
    Case("maximum", lambda o, a, b: o.maximum(a, b), X, f32(3, 4), grad=True),
    Case("minimum_scalar", lambda o, a: o.minimum(a, 0.3), X, grad=True),
    Case("clip", lambda o, a: o.clip(a, -0.5, 0.7), X, grad=True),
    Case("equal", lambda o, a, b: o.equal(a, b), i32(3, 4), i32(3, 4)),
    Case("not_equal", lambda o, a, b: o.not_equal(a, b), i32(3, 4), i32(3, 4)),
    Case("greater", lambda o, a: o.greater(a, 0.0), X),
    Case("greater_equal", lambda o, a, b: o.greater_equal(a, b), i32(6), i32(6)),
    Case("less", lambda o, a, b: o.less(a, b), X, f32(4)),
    Case("less_equal", lambda o, a: o.less_equal(a, 1), i32(6)),
    Case("logical_and", lambda o, a, b: o.logical_and(a, b), BOOL, ~BOOL),
    Case("logical_or", lambda o, a, b: o.logical_or(a, b), BOOL, f32(2, 3, 4) > 0),
    Case("logical_not", lambda o, a: o.logical_not(a), BOOL),
    Case("stop_gradient", lambda o, a: o.multiply(o.stop_gradient(a), a), X, grad=True),
    # --- reductions ---
    Case("sum", lambda o, a: o.sum(a, axis=(0, 2)), X, grad=True),
    Case("sum_all_keepdims", lambda o, a: o.sum(a, keepdims=True), X, grad=True),
    Case("sum_bool", lambda o, a: o.sum(a, axis=1), BOOL),
    Case("prod", lambda o, a: o.prod(a, axis=-1), X, grad=True),
    Case("mean", lambda o, a: o.mean(a, axis=1, keepdims=True), X, grad=True),
    Case("mean_int", lambda o, a: o.mean(a), i32(3, 4)),
    Case("max", lambda o, a: o.max(a, axis=-1), X, grad=True),
    Case("max_initial", lambda o, a: o.max(a, axis=0, initial=0.5), X),
    Case("min", lambda o, a: o.min(a), X),
    Case("any", lambda o, a: o.any(a, axis=0), BOOL),
    Case("all", lambda o, a: o.all(a, axis=(1, 2), keepdims=True), BOOL),
    Case("argmax", lambda o, a: o.argmax(a, axis=1), X),
    Case("argmax_flat_keepdims", lambda o, a: o.argmax(a, keepdims=True), X),
    Case("argmin", lambda o, a: o.argmin(a, axis=-1, keepdims=True), X),
    Case("var", lambda o, a: o.var(a, axis=0), X, grad=True),
    Case("std", lambda o, a: o.std(a, axis=(0, 1)), X, grad=True),
    Case("logsumexp", lambda o, a: o.logsumexp(a, axis=-1), X, grad=True),
    # --- shape manipulation ---
    Case("reshape", lambda o, a: o.reshape(a, (6, -1)), X, grad=True),
    Case("transpose", lambda o, a: o.transpose(a, (2, 0, 1)), X, grad=True),
    Case("transpose_default", lambda o, a: o.transpose(a), X),
    Case("expand_dims", lambda o, a: o.expand_dims(a, -1), X),
    Case("expand_dims_tuple", lambda o, a: o.expand_dims(a, (0, 2)), X),
    Case("squeeze", lambda o, a: o.squeeze(a, 1), f32(3, 1, 2)),
    Case("squeeze_all", lambda o, a: o.squeeze(a), f32(1, 3, 1)),
    Case("broadcast_to", lambda o, a: o.broadcast_to(a, (2, 3, 4)), f32(3, 1), grad=True),
    Case("tile", lambda o, a: o.tile(a, (2, 1)), f32(2, 3), grad=True),
    Case("tile_more_reps", lambda o, a: o.tile(a, (2, 1, 3)), f32(2, 3)),
    Case("repeat", lambda o, a: o.repeat(a, 2, axis=1), f32(2, 3), grad=True),
    Case("repeat_flat", lambda o, a: o.repeat(a, 3), f32(2, 3)),
    Case("flip", lambda o, a: o.flip(a, axis=1), X, grad=True),
    Case("flip_all", lambda o, a: o.flip(a), X),
    Case("concatenate", lambda o, a, b: o.concatenate([a, b], axis=1), f32(2, 3), f32(2, 2), grad=True),
    Case("stack", lambda o, a, b: o.stack([a, b], axis=-1), f32(2, 3), f32(2, 3), grad=True),
    Case("split", lambda o, a: o.split(a, 2, axis=-1), X),
    Case("split_indices", lambda o, a: o.split(a, [1, 3], axis=2), X),
    Case("pad", lambda o, a: o.pad(a, ((0, 0), (1, 2), (2, 1))), X, grad=True),
    Case("pad_value", lambda o, a: o.pad(a, 1, constant_values=3.0), f32(2, 3)),
    Case("pad_reflect", lambda o, a: o.pad(a, ((1, 1), (2, 2)), mode="reflect"), f32(3, 4)),
    Case("pad_symmetric", lambda o, a: o.pad(a, ((1, 1), (2, 2)), mode="symmetric"), f32(3, 4)),
    Case("take", lambda o, a, i: o.take(a, i, axis=1), X, np.array([2, 0, -1], "int32"), grad=True),
    Case("take_flat", lambda o, a, i: o.take(a, i), X, np.array([[5, 23], [0, 7]], "int32")),
    Case("take_along_axis", lambda o, a, i: o.take_along_axis(a, i, axis=1), f32(3, 4), i32(3, 2), grad=True),
    Case("take_along_axis_bcast", lambda o, a, i: o.take_along_axis(a, i, axis=-1), X, i32(1, 3, 2)),
    Case("where", lambda o, c, a, b: o.where(c, a, b), BOOL, X, f32(4), grad=True),
    Case("where_scalar", lambda o, c, a: o.where(c, a, 0.0), BOOL, X),
    Case("where_nonzero", lambda o, c: o.where(c), BOOL),
    Case("one_hot", lambda o, i: o.one_hot(i, 5), LABELS),
    Case("one_hot_axis0", lambda o, i: o.one_hot(i, 4, axis=0, dtype="int32"), i32(2, 3)),
    Case("cast", lambda o, a: o.cast(a, "int32"), X),
    Case("cast_bool", lambda o, a: o.cast(a, "float32"), BOOL),
    Case("convert_to_tensor", lambda o, a: o.convert_to_tensor(a, dtype="float32"), i32(3)),
    Case("zeros_like", lambda o, a: o.zeros_like(a), X),
    Case("ones_like", lambda o, a: o.ones_like(a, dtype="int32"), X),
    Case("full_tensor", lambda o, v: o.full((2, 3), v), np.array(1.5, "float32")),
    Case("cumsum", lambda o, a: o.cumsum(a, axis=1), X, grad=True),
    Case("cumsum_flat", lambda o, a: o.cumsum(a), i32(2, 3)),
    Case("sort", lambda o, a: o.sort(a, axis=1), X, grad=True),
    Case("top_k", lambda o, a: o.top_k(a, 2), f32(3, 5)),
    # --- nn ---
    Case("relu", lambda o, a: o.relu(a), X, grad=True),
    Case("relu6", lambda o, a: o.relu6(a * 4), X, grad=True),
    Case("leaky_relu", lambda o, a: o.leaky_relu(a, negative_slope=0.1), X, grad=True),
    Case("elu", lambda o, a: o.elu(a), X, grad=True),
    Case("elu_alpha", lambda o, a: o.elu(a, alpha=0.5), X, grad=True),
    Case("selu", lambda o, a: o.selu(a), X, grad=True),
    Case("gelu", lambda o, a: o.gelu(a), X, grad=True),
    Case("gelu_exact", lambda o, a: o.gelu(a, approximate=False), X, grad=True),
    Case("silu", lambda o, a: o.silu(a), X, grad=True),
    Case("sigmoid", lambda o, a: o.sigmoid(a), X, grad=True),
    Case("hard_sigmoid", lambda o, a: o.hard_sigmoid(a), X, grad=True),
    Case("softplus", lambda o, a: o.softplus(a), X, grad=True),
    Case("softsign", lambda o, a: o.softsign(a), X, grad=True),
    Case("softmax", lambda o, a: o.softmax(a), X, grad=True),
    Case("softmax_axis", lambda o, a: o.softmax(a, axis=1), X, grad=True),
    Case("softmax_axes", lambda o, a: o.softmax(a, axis=(1, 2)), X, grad=True),
    Case("log_softmax_axes", lambda o, a: o.log_softmax(a, axis=(0, 2)), X, grad=True),
    Case("logical_and_scalar", lambda o, a: o.logical_and(a, 1), BOOL),
    Case("log_softmax", lambda o, a: o.log_softmax(a, axis=0), X, grad=True),
    Case("conv1d", lambda o, x, k: o.conv(x, k, padding="same"), SEQ, f32(3, 3, 4), grad=True, tol=1e-4),
    Case("conv1d_dilated", lambda o, x, k: o.conv(x, k, dilation_rate=2), SEQ, f32(2, 3, 4), grad=True, tol=1e-4),
    Case("conv2d", lambda o, x, k: o.conv(x, k), IMG, f32(3, 3, 3, 4), grad=True, tol=1e-4),
    Case("conv2d_same_strided", lambda o, x, k: o.conv(x, k, strides=2, padding="same"), IMG, f32(3, 3, 3, 4),
         grad=True, tol=1e-4),
    Case("conv2d_stride_dilation", lambda o, x, k: o.conv(x, k, strides=(2, 1), padding="same", dilation_rate=2),
         IMG, f32(2, 2, 3, 2), grad=True, tol=1e-4),
    Case("conv2d_channels_first", lambda o, x, k: o.conv(x, k, padding="same", data_format="channels_first"),
         IMG_CF, f32(3, 3, 3, 2), grad=True, tol=1e-4),
    Case("conv2d_groups", lambda o, x, k: o.conv(x, k, padding="same"), f32(2, 5, 5, 4), f32(3, 3, 2, 6),
         grad=True, tol=1e-4),
    Case("conv3d_dilated", lambda o, x, k: o.conv(x, k, dilation_rate=2), VOL, f32(2, 2, 2, 2, 3), tol=1e-4),
    Case("depthwise_conv2d", lambda o, x, k: o.depthwise_conv(x, k, padding="same"), IMG, f32(3, 3, 3, 2),
         grad=True, tol=1e-4),
    Case("depthwise_conv2d_stride_dilation",
         lambda o, x, k: o.depthwise_conv(x, k, strides=2, dilation_rate=2, padding="same"), IMG, f32(2, 2, 3, 1),
         grad=True, tol=1e-4),
    Case("depthwise_conv1d", lambda o, x, k: o.depthwise_conv(x, k, strides=2), SEQ, f32(3, 3, 2), grad=True,
         tol=1e-4),
    Case("depthwise_conv3d", lambda o, x, k: o.depthwise_conv(x, k), VOL, f32(2, 2, 2, 2, 2), tol=1e-4),
    Case("max_pool2d", lambda o, x: o.max_pool(x, 2), IMG, grad=True),
    Case("max_pool2d_same", lambda o, x: o.max_pool(x, 3, strides=2, padding="same"), IMG, grad=True),
    Case("max_pool1d_cf", lambda o, x: o.max_pool(x, 2, data_format="channels_first"), f32(2, 3, 6), grad=True),
    Case("average_pool2d", lambda o, x: o.average_pool(x, (2, 3)), IMG, grad=True),
    Case("average_pool2d_same", lambda o, x: o.average_pool(x, 3, strides=2, padding="same"), IMG, grad=True),
    Case("average_pool2d_cf", lambda o, x: o.average_pool(x, 2, padding="same", data_format="channels_first"),
         f32(2, 3, 5, 5), grad=True),
    Case("average_pool3d", lambda o, x: o.average_pool(x, 2, padding="same"), VOL, tol=1e-5),
    Case("scce_logits", lambda o, t, y: o.sparse_categorical_crossentropy(t, y, from_logits=True), LABELS, LOGITS,
         grad=True, tol=1e-4),
    Case("scce_probs", lambda o, t, y: o.sparse_categorical_crossentropy(t, y), LABELS[:, None], probs(4, 5),
         grad=True, tol=1e-4),
    Case("cce_logits", lambda o, t, y: o.categorical_crossentropy(t, y, from_logits=True), probs(4, 5), LOGITS,
         grad=True, tol=1e-4),
    Case("cce_probs", lambda o, t, y: o.categorical_crossentropy(t, y), probs(4, 5), pos(4, 5), grad=True,
         tol=1e-4),
    Case("bce_logits", lambda o, t, y: o.binary_crossentropy(t, y, from_logits=True), i32(4, 3, hi=2), f32(4, 3),
         grad=True, tol=1e-4),
    Case("bce_probs", lambda o, t, y: o.binary_crossentropy(t, y), i32(4, 3, hi=2).astype("float32"),
         f32(4, 3, lo=0.01, hi=0.99), grad=True, tol=1e-4),
    Case("normalize", lambda o, a: o.normalize(a, axis=-1), X, grad=True),
    Case("normalize_l1", lambda o, a: o.normalize(a, axis=0, order=1), X),
    Case("moments", lambda o, a: o.moments(a, axes=(0, 1)), X, grad=True),
    Case("moments_keepdims", lambda o, a: o.moments(a, axes=[0], keepdims=True), X, grad=True),
    Case("batch_normalization",
         lambda o, x, m, v, b, g: o.batch_normalization(x, m, v, axis=-1, offset=b, scale=g, epsilon=1e-3),
         X, f32(4), pos(4), f32(4), f32(4), grad=True),
    Case("batch_normalization_axis1", lambda o, x, m, v: o.batch_normalization(x, m, v, axis=1), IMG_CF,
         f32(3), pos(3), grad=True),
]


@pytest.fixture(scope="module")
def cotangent_seed():
    return np.random.default_rng(1)


def _leaves(out):
    return [np.asarray(leaf) for leaf in jax.tree.leaves(jax.tree.map(np.asarray, out))]


def _run_jax(case):
    return case.fn(_jax, *[jnp.asarray(a) for a in case.inputs])


def _run_tf(case):
    return case.fn(_tf, *[tf.constant(a) for a in case.inputs])


def _tf_leaves(out):
    if isinstance(out, (list, tuple)):
        return [leaf for o in out for leaf in _tf_leaves(o)]
    return [out.numpy()]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_forward_matches_jax(case):
    want = _leaves(_run_jax(case))
    got = _tf_leaves(_run_tf(case))
    assert len(got) == len(want), case.id
    for g, w in zip(got, want):
        assert g.dtype == w.dtype, f"{case.id}: dtype {g.dtype} on TF, {w.dtype} on JAX"
        chex.assert_trees_all_close(g, w, rtol=case.tol, atol=case.tol)


# Gradients are checked for the ops the layers differentiate through (elementwise arithmetic is
# covered by TF's own gradient registry and by the layer-level checks in test_interop_tf.py).
_GRAD_OPS = ("matmul", "einsum", "conv", "depthwise", "pool", "softmax", "cce", "bce", "relu", "elu", "gelu",
             "silu", "sigmoid", "softplus", "softsign", "tanh", "moments", "batch_norm", "normalize", "take", "where",
             "mean", "logsumexp", "stop_gradient", "divide", "sqrt")
GRAD_CASES = [c for c in CASES if c.grad and any(c.id.startswith(p) or p in c.id for p in _GRAD_OPS)]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.id for c in GRAD_CASES])
def test_gradients_match_jax(case, cotangent_seed):
    """d/d(float inputs) of sum(out * w) for a fixed random cotangent w (all outputs)."""
    floating = [i for i, a in enumerate(case.inputs) if a.dtype == np.float32]
    outs = _leaves(_run_jax(case))
    ws = [cotangent_seed.standard_normal(o.shape).astype("float32") for o in outs]

    def jax_loss(*fl):
        args = [jnp.asarray(a) for a in case.inputs]
        for i, v in zip(floating, fl):
            args[i] = v
        leaves = jax.tree.leaves(case.fn(_jax, *args))
        return sum(jnp.sum(o * w) for o, w in zip(leaves, ws))

    grad_fn = jax.jit(jax.grad(jax_loss, argnums=tuple(range(len(floating)))))
    want = grad_fn(*[jnp.asarray(case.inputs[i]) for i in floating])

    args = [tf.constant(a) for a in case.inputs]
    with tf.GradientTape() as tape:
        for i in floating:
            tape.watch(args[i])
        leaves = tf.nest.flatten(case.fn(_tf, *args))
        loss = tf.add_n([tf.reduce_sum(o * w) for o, w in zip(leaves, ws)])
    got = tape.gradient(loss, [args[i] for i in floating])
    chex.assert_trees_all_close([g.numpy() for g in got], [np.asarray(w) for w in want], rtol=case.tol,
                                atol=case.tol)


def test_every_declared_op_has_a_tf_implementation():
    import types

    missing = [name for name in fops.__all__ if name != "framework_of" and not hasattr(_tf, name)
               and not isinstance(getattr(fops, name), types.ModuleType)]  # fkeras.ops.nn, .linalg, ... are namespaces
    assert not missing, missing


def test_no_array_ops_match_jax():
    """Ops without array arguments dispatch to JAX; their TF versions must still agree."""
    pairs = [
        (lambda o: o.zeros((2, 3)), None),
        (lambda o: o.ones((2,), dtype="int32"), None),
        (lambda o: o.full((2, 2), 7), None),
        (lambda o: o.arange(5), None),
        (lambda o: o.arange(1, 3, 0.5), None),
    ]
    for fn, _ in pairs:
        w, g = np.asarray(fn(_jax)), fn(_tf).numpy()
        assert g.dtype == w.dtype
        chex.assert_trees_all_close(g, w, rtol=0, atol=0)


def test_dispatch_sends_tf_tensors_and_variables_to_tf():
    v = tf.Variable(np.ones((2, 3), "float32"))
    y = fops.add(fops.matmul(tf.constant(np.ones((4, 2), "float32")), v), 1)
    assert isinstance(y, tf.Tensor)
    chex.assert_trees_all_close(y.numpy(), np.full((4, 3), 3.0, "float32"))
    assert fops.shape(v) == (2, 3) and fops.ndim(v) == 2 and fops.size(v) == 6 and fops.dtype(v) == "float32"
    np.testing.assert_array_equal(fops.convert_to_numpy(v), np.ones((2, 3), "float32"))


def test_tf_function_with_free_batch_dimension():
    """Ops trace inside tf.function where the batch dimension is unknown (None)."""
    k = tf.constant(f32(3, 3, 3, 4))

    @tf.function(input_signature=[tf.TensorSpec((None, 6, 6, 3), tf.float32), tf.TensorSpec((None,), tf.int32)])
    def fn(x, t):
        y = fops.max_pool(fops.relu(fops.conv(x, k, padding="same")), 2)
        y = fops.reshape(y, (y.shape[0], 36))
        logits = fops.matmul(y, tf.ones((36, 5)))
        loss = fops.mean(fops.sparse_categorical_crossentropy(t, logits, from_logits=True))
        seen.append(fops.shape(y))
        return loss, fops.take(y, t, axis=1)

    seen = []
    loss, taken = fn(tf.constant(IMG), tf.constant([1, 2], tf.int32))
    x = jnp.asarray(IMG)
    y = _jax.max_pool(_jax.relu(_jax.conv(x, jnp.asarray(k.numpy()), padding="same")), 2).reshape(2, 36)
    want = jnp.mean(_jax.sparse_categorical_crossentropy(jnp.array([1, 2]), y @ jnp.ones((36, 5)), from_logits=True))
    chex.assert_trees_all_close(loss.numpy(), np.asarray(want), rtol=1e-4, atol=1e-4)
    chex.assert_trees_all_close(taken.numpy(), np.asarray(y[:, jnp.array([1, 2])]), rtol=1e-4, atol=1e-4)
    assert seen == [(None, 36)]


def test_dropout_draws_from_tf_rng():
    from fkeras import random as frandom

    tf.random.set_seed(0)
    x = tf.ones((200, 50))
    y = frandom.dropout(x, 0.4).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.6)}
    assert abs((y == 0).mean() - 0.4) < 0.03
    y = frandom.dropout(x, 0.5, noise_shape=(None, 1)).numpy()
    assert np.all((y == 0).all(1) | (y != 0).all(1))  # one mask value per row
    np.testing.assert_array_equal(frandom.dropout(x, 1.0).numpy(), np.zeros((200, 50), "float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = frandom.dropout(x, 0.5)
        total = tf.reduce_sum(y)
    g = tape.gradient(total, x).numpy()
    np.testing.assert_array_equal(g, y.numpy())  # grad = mask / keep = y for x = 1


@pytest.mark.parametrize(
    "call, err, match",
    [
        (lambda: _tf.conv(tf.ones((1, 4, 4, 3)), tf.ones((3, 3, 2, 4))), ValueError, "input channels"),
        (lambda: _tf.conv(tf.ones((4, 3)), tf.ones((3, 3, 4))), ValueError, "rank"),
        (lambda: _tf.max_pool(tf.ones((1, 4, 4, 3)), 2, padding="full"), ValueError, "padding"),
        (lambda: _tf.average_pool(tf.ones((1, 4, 4, 3)), 2, data_format="NHWC"), ValueError, "data_format"),
        (lambda: _tf.depthwise_conv(tf.ones((1, 4, 4, 3)), tf.ones((3, 3, 2, 1))), ValueError, "kernel"),
        (lambda: _tf.pad(tf.ones((2, 2)), 1, mode="wrap"), NotImplementedError, "tensorflow"),
        (lambda: _tf.categorical_crossentropy(tf.ones((2, 3)), tf.ones((2, 4))), ValueError, "same shape"),
        (lambda: _tf.cast(tf.ones(2), "float33"), ValueError, "dtype"),
    ],
)
def test_bad_input_raises_clear_error(call, err, match):
    with pytest.raises(err, match=match):
        call()
