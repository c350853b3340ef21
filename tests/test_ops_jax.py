"""fkeras.ops on JAX equals keras.ops (Keras 3.15, jax backend) for every op.

The case table `CASES` is shared with tests/test_ops_torch.py (torch vs JAX).
Each case builds NumPy arguments from a seeded generator; array arguments are
converted to the framework under test, Python scalars and tuples are passed as is.
Tolerance: rtol=atol=1e-5 (1e-4 for conv/pooling).
"""

from __future__ import annotations

import os
import zlib

import chex
import jax.numpy as jnp
import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import fkeras.ops as fops  # noqa: E402


def _f(r, *shape):
    return r.standard_normal(shape).astype(np.float32)


def _pos(r, *shape):
    return r.uniform(0.5, 2.0, shape).astype(np.float32)


def _i(r, hi, *shape):
    return r.integers(0, hi, shape).astype(np.int32)


def _b(r, *shape):
    return r.random(shape) > 0.5


def _probs(r, *shape):
    e = np.exp(_f(r, *shape))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


class Case:
    """One op call: `op(*args(rng), **kwargs)`. `grad` lists the argument positions to differentiate."""

    def __init__(self, id, op, args, kwargs=None, grad=(), tol=1e-5, creation=False):
        self.id, self.op, self.args, self.kwargs = id, op, args, kwargs or {}
        self.grad, self.tol, self.creation = tuple(grad), tol, creation

    def build(self):
        return list(self.args(np.random.default_rng(zlib.crc32(self.id.encode())))), dict(self.kwargs)


C = Case
CASES = [
    # --- numpy-like
    C("matmul", "matmul", lambda r: (_f(r, 3, 4), _f(r, 4, 5)), grad=(0, 1)),
    C("matmul_batched", "matmul", lambda r: (_f(r, 2, 3, 4), _f(r, 4, 5)), grad=(0, 1)),
    C("einsum", "einsum", lambda r: ("ij,jk->ik", _f(r, 3, 4), _f(r, 4, 2))),
    C("dot_vec", "dot", lambda r: (_f(r, 3, 4), _f(r, 4))),
    C("dot_nd", "dot", lambda r: (_f(r, 2, 3, 4), _f(r, 4, 5))),
    C("add_scalar", "add", lambda r: (_f(r, 3, 4), 2.0)),
    C("add_broadcast", "add", lambda r: (_f(r, 3, 4), _f(r, 4)), grad=(0, 1)),
    C("subtract", "subtract", lambda r: (_f(r, 3, 4), _f(r, 3, 4))),
    C("multiply", "multiply", lambda r: (_f(r, 3, 4), _f(r, 1, 4))),
    C("divide", "divide", lambda r: (_f(r, 3, 4), _pos(r, 3, 4))),
    C("divide_int", "divide", lambda r: (_i(r, 9, 5), 2)),
    C("power_scalar", "power", lambda r: (_pos(r, 3, 4), 2.0)),
    C("power", "power", lambda r: (_pos(r, 3, 4), _f(r, 3, 4))),
    C("negative", "negative", lambda r: (_f(r, 3, 4),)),
    C("exp", "exp", lambda r: (_f(r, 3, 4),)),
    C("log", "log", lambda r: (_pos(r, 3, 4),)),
    C("log1p", "log1p", lambda r: (_pos(r, 3, 4),)),
    C("sqrt", "sqrt", lambda r: (_pos(r, 3, 4),)),
    C("rsqrt", "rsqrt", lambda r: (_pos(r, 3, 4),)),
    C("square", "square", lambda r: (_f(r, 3, 4),)),
    C("abs", "abs", lambda r: (_f(r, 3, 4),)),
    C("sign", "sign", lambda r: (_f(r, 3, 4),)),
    C("tanh", "tanh", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("erf", "erf", lambda r: (_f(r, 3, 4),)),
    C("floor", "floor", lambda r: (3 * _f(r, 3, 4),)),
    C("round", "round", lambda r: (np.array([0.5, 1.5, 2.5, -0.5, -1.7, 3.2], np.float32),)),
    C("round_decimals", "round", lambda r: (3 * _f(r, 3, 4),), {"decimals": 1}),
    C("maximum_scalar", "maximum", lambda r: (_f(r, 3, 4), 0.0)),
    C("minimum", "minimum", lambda r: (_f(r, 3, 4), _f(r, 3, 4))),
    C("clip", "clip", lambda r: (_f(r, 3, 4), -0.5, 0.5)),
    C("equal", "equal", lambda r: (_i(r, 3, 4, 5), _i(r, 3, 4, 5))),
    C("not_equal", "not_equal", lambda r: (_i(r, 3, 4, 5), _i(r, 3, 4, 5))),
    C("greater", "greater", lambda r: (_f(r, 3, 4), 0.0)),
    C("greater_equal", "greater_equal", lambda r: (_i(r, 3, 6), 1)),
    C("less", "less", lambda r: (_f(r, 3, 4), _f(r, 3, 4))),
    C("less_equal", "less_equal", lambda r: (_i(r, 3, 6), _i(r, 3, 6))),
    C("logical_and", "logical_and", lambda r: (_b(r, 3, 4), _b(r, 3, 4))),
    C("logical_or", "logical_or", lambda r: (_b(r, 3, 4), _b(r, 3, 4))),
    C("logical_not", "logical_not", lambda r: (_b(r, 3, 4),)),
    C("sum_all", "sum", lambda r: (_f(r, 3, 4),)),
    C("sum_axis_keep", "sum", lambda r: (_f(r, 3, 4),), {"axis": 1, "keepdims": True}),
    C("sum_axes", "sum", lambda r: (_f(r, 2, 3, 4),), {"axis": (0, 2)}),
    C("sum_bool", "sum", lambda r: (_b(r, 3, 4),), {"axis": 0}),
    C("prod", "prod", lambda r: (_pos(r, 3, 4),), {"axis": 0}),
    C("prod_all", "prod", lambda r: (_pos(r, 2, 3),)),
    C("mean", "mean", lambda r: (_f(r, 2, 3, 4),), {"axis": (0, 2)}),
    C("mean_all", "mean", lambda r: (_f(r, 2, 3, 4),), grad=(0,)),
    C("max", "max", lambda r: (_f(r, 3, 4),), {"axis": -1}),
    C("max_initial", "max", lambda r: (_f(r, 3, 4),), {"axis": 0, "initial": 0.5}),
    C("min", "min", lambda r: (_f(r, 3, 4),), {"keepdims": True}),
    C("any", "any", lambda r: (_b(r, 3, 4),), {"axis": 1}),
    C("all", "all", lambda r: (_b(r, 3, 4),)),
    C("argmax", "argmax", lambda r: (_f(r, 3, 4),), {"axis": 1}),
    C("argmax_flat", "argmax", lambda r: (_f(r, 3, 4),)),
    C("argmin_keep", "argmin", lambda r: (_f(r, 3, 4),), {"axis": 0, "keepdims": True}),
    C("var", "var", lambda r: (_f(r, 5, 4),), {"axis": 0}),
    C("std", "std", lambda r: (_f(r, 5, 4),), {"axis": -1, "keepdims": True}),
    C("logsumexp", "logsumexp", lambda r: (_f(r, 3, 4),), {"axis": -1}, grad=(0,)),
    C("reshape", "reshape", lambda r: (_f(r, 2, 6), (3, -1))),
    C("transpose", "transpose", lambda r: (_f(r, 2, 3, 4), (2, 0, 1))),
    C("transpose_none", "transpose", lambda r: (_f(r, 2, 3, 4),)),
    C("expand_dims", "expand_dims", lambda r: (_f(r, 2, 3), 1)),
    C("expand_dims_neg", "expand_dims", lambda r: (_f(r, 2, 3), -1)),
    C("squeeze_axis", "squeeze", lambda r: (_f(r, 1, 3, 1),), {"axis": 0}),
    C("squeeze_all", "squeeze", lambda r: (_f(r, 1, 3, 1),)),
    C("broadcast_to", "broadcast_to", lambda r: (_f(r, 1, 3), (2, 3))),
    C("tile", "tile", lambda r: (_f(r, 2, 3), (2, 1))),
    C("repeat", "repeat", lambda r: (_f(r, 2, 3), 2), {"axis": 1}),
    C("repeat_flat", "repeat", lambda r: (_f(r, 2, 3), 3)),
    C("flip", "flip", lambda r: (_f(r, 2, 3),), {"axis": 1}),
    C("concatenate", "concatenate", lambda r: ([_f(r, 2, 3), _f(r, 2, 2)],), {"axis": 1}),
    C("stack", "stack", lambda r: ([_f(r, 2, 3), _f(r, 2, 3)],), {"axis": 1}),
    C("split_sections", "split", lambda r: (_f(r, 6, 2), 3)),
    C("split_indices", "split", lambda r: (_f(r, 6, 2), [1, 4])),
    C("pad_constant", "pad", lambda r: (_f(r, 2, 3), ((1, 2), (0, 1)))),
    C("pad_value", "pad", lambda r: (_f(r, 2, 3), ((1, 1), (2, 0))), {"constant_values": 1.5}),
    C("pad_reflect", "pad", lambda r: (_f(r, 3, 4), ((1, 2), (2, 1))), {"mode": "reflect"}),
    C("pad_symmetric", "pad", lambda r: (_f(r, 3, 4), ((1, 2), (2, 1))), {"mode": "symmetric"}),
    C("pad_edge", "pad", lambda r: (_f(r, 3, 4), ((1, 0), (0, 2))), {"mode": "edge"}),
    C("pad_wrap", "pad", lambda r: (_f(r, 3, 4), ((2, 1), (1, 3))), {"mode": "wrap"}),
    C("take", "take", lambda r: (_f(r, 5, 3), _i(r, 5, 2, 4)), {"axis": 0}),
    C("take_flat", "take", lambda r: (_f(r, 5, 3), _i(r, 15, 6))),
    C("take_negative", "take", lambda r: (_f(r, 5, 3), np.array([-1, 0, -3], np.int32)), {"axis": 1}),
    C("take_along_axis", "take_along_axis", lambda r: (_f(r, 3, 4), _i(r, 4, 3, 2)), {"axis": 1}),
    C("where", "where", lambda r: (_b(r, 3, 4), _f(r, 3, 4), _f(r, 3, 4))),
    C("where_scalar", "where", lambda r: (_b(r, 3, 4), _f(r, 3, 4), 0.0)),
    C("one_hot", "one_hot", lambda r: (_i(r, 5, 6), 5)),
    C("one_hot_axis0", "one_hot", lambda r: (_i(r, 4, 2, 3), 4), {"axis": 0}),
    C("cast_to_int", "cast", lambda r: (3 * _f(r, 3, 4), "int32")),
    C("cast_to_float", "cast", lambda r: (_i(r, 9, 3, 4), "float32")),
    C("convert_to_tensor", "convert_to_tensor", lambda r: (_f(r, 3, 4),)),
    C("convert_to_numpy", "convert_to_numpy", lambda r: (_f(r, 3, 4),)),
    C("shape", "shape", lambda r: (_f(r, 2, 3, 4),)),
    C("ndim", "ndim", lambda r: (_f(r, 2, 3, 4),)),
    C("size", "size", lambda r: (_f(r, 2, 3, 4),)),
    C("dtype", "dtype", lambda r: (_i(r, 3, 2, 2),)),
    C("zeros", "zeros", lambda r: ((2, 3),), creation=True),
    C("ones", "ones", lambda r: ((2, 3),), {"dtype": "int32"}, creation=True),
    C("full", "full", lambda r: ((2, 3), 1.5), creation=True),
    C("arange", "arange", lambda r: (1, 10, 2), creation=True),
    C("arange_float", "arange", lambda r: (0.5, 3.0, 0.5), creation=True),
    C("zeros_like", "zeros_like", lambda r: (_f(r, 2, 3),)),
    C("ones_like", "ones_like", lambda r: (_f(r, 2, 3),), {"dtype": "int32"}),
    C("cumsum", "cumsum", lambda r: (_f(r, 3, 4),), {"axis": 1}),
    C("cumsum_flat", "cumsum", lambda r: (_i(r, 5, 3, 4),)),
    C("sort", "sort", lambda r: (_f(r, 3, 4),), {"axis": 0}),
    C("top_k", "top_k", lambda r: (_f(r, 3, 6), 2)),
    C("stop_gradient", "stop_gradient", lambda r: (_f(r, 3, 4),)),
    # --- nn: activations
    C("relu", "relu", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("relu6", "relu6", lambda r: (4 * _f(r, 3, 4),), grad=(0,)),
    C("leaky_relu", "leaky_relu", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("leaky_relu_slope", "leaky_relu", lambda r: (_f(r, 3, 4),), {"negative_slope": 0.1}),
    C("elu", "elu", lambda r: (_f(r, 3, 4),), {"alpha": 0.5}, grad=(0,)),
    C("selu", "selu", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("gelu", "gelu", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("gelu_exact", "gelu", lambda r: (_f(r, 3, 4),), {"approximate": False}, grad=(0,)),
    C("silu", "silu", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("sigmoid", "sigmoid", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("hard_sigmoid", "hard_sigmoid", lambda r: (4 * _f(r, 3, 4),), grad=(0,)),
    C("softplus", "softplus", lambda r: (5 * _f(r, 3, 4),), grad=(0,)),
    C("softsign", "softsign", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("softmax", "softmax", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("softmax_axis0", "softmax", lambda r: (_f(r, 3, 4),), {"axis": 0}, grad=(0,)),
    C("log_softmax", "log_softmax", lambda r: (_f(r, 3, 4),), grad=(0,)),
    # --- nn: convolution and pooling (tolerance 1e-4)
    C("conv2d_valid", "conv", lambda r: (_f(r, 2, 7, 7, 3), _f(r, 3, 3, 3, 4)), grad=(0, 1), tol=1e-4),
    C("conv2d_same", "conv", lambda r: (_f(r, 2, 6, 6, 3), _f(r, 3, 3, 3, 4)), {"padding": "same"},
      grad=(0, 1), tol=1e-4),
    C("conv2d_same_strided", "conv", lambda r: (_f(r, 2, 8, 8, 3), _f(r, 3, 3, 3, 4)),
      {"strides": 2, "padding": "same"}, grad=(0, 1), tol=1e-4),
    C("conv2d_same_even_kernel", "conv", lambda r: (_f(r, 1, 7, 6, 2), _f(r, 4, 2, 2, 3)),
      {"padding": "same"}, grad=(0, 1), tol=1e-4),
    C("conv2d_dilated", "conv", lambda r: (_f(r, 2, 9, 9, 2), _f(r, 3, 3, 2, 3)),
      {"dilation_rate": 2, "padding": "same"}, grad=(0, 1), tol=1e-4),
    C("conv2d_channels_first", "conv", lambda r: (_f(r, 2, 3, 7, 7), _f(r, 3, 3, 3, 4)),
      {"strides": (2, 1), "data_format": "channels_first"}, grad=(0, 1), tol=1e-4),
    C("conv2d_groups", "conv", lambda r: (_f(r, 2, 6, 6, 4), _f(r, 3, 3, 2, 6)), grad=(0, 1), tol=1e-4),
    C("conv1d_same_strided", "conv", lambda r: (_f(r, 2, 9, 3), _f(r, 3, 3, 5)),
      {"strides": 2, "padding": "same"}, grad=(0, 1), tol=1e-4),
    C("conv3d", "conv", lambda r: (_f(r, 1, 4, 5, 4, 2), _f(r, 2, 3, 2, 2, 3)), grad=(0, 1), tol=1e-4),
    C("depthwise_conv2d", "depthwise_conv", lambda r: (_f(r, 2, 6, 6, 3), _f(r, 3, 3, 3, 2)),
      grad=(0, 1), tol=1e-4),
    C("depthwise_conv2d_same_strided", "depthwise_conv", lambda r: (_f(r, 2, 7, 7, 3), _f(r, 3, 3, 3, 2)),
      {"strides": 2, "padding": "same"}, grad=(0, 1), tol=1e-4),
    C("max_pool2d", "max_pool", lambda r: (_f(r, 2, 6, 6, 3), 2), grad=(0,), tol=1e-4),
    C("max_pool2d_same", "max_pool", lambda r: (_f(r, 2, 7, 7, 3), 3), {"strides": 2, "padding": "same"},
      grad=(0,), tol=1e-4),
    C("max_pool1d_channels_first", "max_pool", lambda r: (_f(r, 2, 3, 9), 2), {"data_format": "channels_first"},
      grad=(0,), tol=1e-4),
    C("average_pool2d", "average_pool", lambda r: (_f(r, 2, 6, 6, 3), 2), grad=(0,), tol=1e-4),
    C("average_pool2d_same", "average_pool", lambda r: (_f(r, 2, 7, 7, 3), 3), {"strides": 2, "padding": "same"},
      grad=(0,), tol=1e-4),
    C("average_pool1d_same", "average_pool", lambda r: (_f(r, 2, 8, 3), 3), {"strides": 1, "padding": "same"},
      grad=(0,), tol=1e-4),
    # --- nn: losses and normalization
    C("sparse_cce_logits", "sparse_categorical_crossentropy", lambda r: (_i(r, 5, 4), _f(r, 4, 5)),
      {"from_logits": True}, grad=(1,)),
    C("sparse_cce_probs", "sparse_categorical_crossentropy", lambda r: (_i(r, 5, 4, 1), _probs(r, 4, 5)),
      grad=(1,)),
    C("cce_logits", "categorical_crossentropy", lambda r: (_probs(r, 4, 5), _f(r, 4, 5)), {"from_logits": True},
      grad=(1,)),
    C("cce_probs", "categorical_crossentropy", lambda r: (_probs(r, 4, 5), _probs(r, 4, 5)), grad=(1,)),
    C("bce_probs", "binary_crossentropy", lambda r: (_i(r, 2, 4, 3).astype(np.float32), _probs(r, 4, 3)),
      grad=(1,)),
    C("bce_logits", "binary_crossentropy", lambda r: (_i(r, 2, 4, 3).astype(np.float32), _f(r, 4, 3)),
      {"from_logits": True}, grad=(1,)),
    C("normalize", "normalize", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("normalize_l1", "normalize", lambda r: (_f(r, 3, 4),), {"axis": 0, "order": 1}),
    C("moments", "moments", lambda r: (_f(r, 2, 3, 4), [0, 1]), grad=(0,)),
    C("moments_keepdims", "moments", lambda r: (_f(r, 4, 3), [0]), {"keepdims": True}, grad=(0,)),
    C("batch_normalization", "batch_normalization",
      lambda r: (_f(r, 4, 3), _f(r, 3), _pos(r, 3)), {"axis": -1, "offset": None, "scale": None}, grad=(0, 1, 2)),
    C("batch_normalization_affine", "batch_normalization",
      lambda r: (_f(r, 2, 3, 5), _f(r, 3), _pos(r, 3), 1, _f(r, 3), _pos(r, 3)), {"epsilon": 1e-3},
      grad=(0, 1, 2, 4, 5)),
]
BY_ID = {c.id: c for c in CASES}


def to_framework(args, convert):
    """Convert NumPy arrays (also inside lists) with `convert`; keep Python scalars, tuples, strings."""
    out = []
    for a in args:
        if isinstance(a, np.ndarray):
            out.append(convert(a))
        elif isinstance(a, list) and a and isinstance(a[0], np.ndarray):
            out.append([convert(x) for x in a])
        else:
            out.append(a)
    return out


def to_numpy_tree(x):
    """Results (arrays, tuples/lists of arrays, ints, tuples, strings) as NumPy-comparable values."""
    if isinstance(x, (tuple, list)):
        return type(x)(to_numpy_tree(v) for v in x)
    if isinstance(x, (int, float, str, bool)):
        return x
    return np.asarray(fops.convert_to_numpy(x))


def assert_same(got, want, tol):
    got, want = to_numpy_tree(got), to_numpy_tree(want)
    if isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), (got, want)
        for g, w in zip(got, want):
            assert_same(g, w, tol)
        return
    if isinstance(want, (str, int)) and not isinstance(want, np.ndarray):
        assert got == want
        return
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype == bool or np.issubdtype(want.dtype, np.integer):
        np.testing.assert_array_equal(got, want)
    else:
        chex.assert_trees_all_close(got.astype(np.float32), want.astype(np.float32), rtol=tol, atol=tol)


def _keras_ops():
    import keras

    assert keras.backend.backend() == "jax", "tests expect KERAS_BACKEND=jax (set in conftest)"
    return keras.ops


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_op_matches_keras(case):
    kops = _keras_ops()
    args, kwargs = case.build()
    got = getattr(fops, case.op)(*to_framework(args, jnp.asarray), **kwargs)
    if case.op in ("max_pool", "average_pool") and "strides" not in kwargs:
        # keras 3.15's jax pooling mishandles strides=None with an int pool_size; its documented
        # default is strides = pool_size, which is what fkeras does without being told.
        kwargs["strides"] = args[1]
    want = getattr(kops, case.op)(*to_framework(args, jnp.asarray), **kwargs)
    if case.op == "dtype":
        want = str(want)
    assert_same(got, want, case.tol)


def test_every_declared_op_has_a_case():
    declared = {n for n in fops.__all__ if n != "framework_of"}
    from test_ops_numpy import NUMPY_COVERED  # the NumPy family's cases: tests/test_ops_numpy.py

    declared -= NUMPY_COVERED | {"numpy"}
    from test_ops_nn_more import PART_B_COVERED  # nn/math/linalg/core/control flow: tests/test_ops_nn_more.py & co

    declared -= PART_B_COVERED
    missing = declared - {c.op for c in CASES}
    assert not missing, f"ops without a test case: {sorted(missing)}"


def test_jax_ops_are_jittable():
    import jax

    x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 6, 6, 3)), jnp.float32)
    k = jnp.asarray(np.random.default_rng(1).standard_normal((3, 3, 3, 4)), jnp.float32)

    def f(x, k):
        y = fops.conv(x, k, padding="same")
        y = fops.max_pool(fops.relu(y), 2)
        return fops.mean(fops.log_softmax(fops.reshape(y, (2, -1))))

    chex.assert_trees_all_close(jax.jit(f)(x, k), f(x, k), rtol=1e-6, atol=1e-6)


def test_ops_on_keras_tensors_record_into_the_functional_graph():
    import fkeras as keras

    inp = keras.Input((4,))
    h = keras.layers.Dense(3)(inp)
    model = keras.Model(inp, keras.ops.relu(h) * 2.0)
    x = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
    kernel, bias = model.get_layer("dense").get_weights()
    want = np.maximum(x @ kernel + bias, 0) * 2.0
    np.testing.assert_allclose(np.asarray(model(x)), want, rtol=1e-5, atol=1e-6)


def test_ops_unwrap_facade_variables_to_their_current_value():
    import torch

    import fkeras as keras
    from fkeras.ops._dispatch import framework_of

    w = keras.Variable(np.full((2, 2), 2.0, "float32"), name="w")
    x = np.ones((1, 2), "float32")
    np.testing.assert_allclose(np.asarray(keras.ops.matmul(x, w)), [[4.0, 4.0]])
    assert keras.ops.concatenate([w, w], axis=0).shape == (4, 2)
    w.assign(np.zeros((2, 2), "float32"))
    np.testing.assert_allclose(np.asarray(keras.ops.add(w, 1.0)), np.ones((2, 2)))
    assert framework_of(torch.ones(2), 1.0) == "torch"
