"""fkeras.ops nn / math / linalg ops (issue 14 part B) equal keras.ops (Keras 3.15, jax backend):
values and output dtypes; torch and TF results equal JAX's; gradients of the differentiable ones.

Tolerance: rtol=atol=1e-5 unless a case states more (1e-4 for convolutions, FFTs and decompositions).
Decompositions whose sign/phase is not unique (qr, svd, eigh, eig) are compared through
reconstructions in `test_decompositions_reconstruct`, not element by element.
"""

from __future__ import annotations

import zlib

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fkeras.ops as fops


def _f(r, *shape):
    return r.standard_normal(shape).astype(np.float32)


def _pos(r, *shape):
    return r.uniform(0.5, 2.0, shape).astype(np.float32)


def _i(r, hi, *shape):
    return r.integers(0, hi, shape).astype(np.int32)


def _spd(r, n, batch=()):
    a = r.standard_normal((*batch, n, n)).astype(np.float32)
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n, dtype=np.float32)).astype(np.float32)


def _tri(r, n, lower):
    a = r.standard_normal((n, n)).astype(np.float32) + 3 * np.eye(n, dtype=np.float32)
    return (np.tril(a) if lower else np.triu(a)).astype(np.float32)


class Case:
    """`op(*args(rng), **kwargs)`; `grad`: argument positions to differentiate; `fw`: frameworks compared
    with JAX (the others are expected to raise NotImplementedError naming the op and framework)."""

    def __init__(self, id, op, args, kwargs=None, grad=(), tol=1e-5, fw=("torch", "tensorflow")):
        self.id, self.op, self.args, self.kwargs = id, op, args, kwargs or {}
        self.grad, self.tol, self.fw = tuple(grad), tol, tuple(fw)

    def build(self):
        return list(self.args(np.random.default_rng(zlib.crc32(self.id.encode())))), dict(self.kwargs)


C = Case
CASES = [
    # --- activations
    C("celu", "celu", lambda r: (_f(r, 3, 4),), {"alpha": 0.7}, grad=(0,)),
    C("glu", "glu", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("glu_axis0", "glu", lambda r: (_f(r, 4, 3),), {"axis": 0}),
    C("hard_shrink", "hard_shrink", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("hard_silu", "hard_silu", lambda r: (4 * _f(r, 3, 4),), grad=(0,)),
    C("hard_swish", "hard_swish", lambda r: (4 * _f(r, 3, 4),)),
    C("hard_tanh", "hard_tanh", lambda r: (2 * _f(r, 3, 4),), grad=(0,)),
    C("log_sigmoid", "log_sigmoid", lambda r: (5 * _f(r, 3, 4),), grad=(0,)),
    C("soft_shrink", "soft_shrink", lambda r: (_f(r, 3, 4),), {"threshold": 0.3}, grad=(0,)),
    C("sparse_plus", "sparse_plus", lambda r: (2 * _f(r, 3, 4),), grad=(0,)),
    C("sparse_sigmoid", "sparse_sigmoid", lambda r: (2 * _f(r, 3, 4),), grad=(0,)),
    C("sparsemax", "sparsemax", lambda r: (_f(r, 3, 5),), grad=(0,)),
    C("sparsemax_axis0", "sparsemax", lambda r: (_f(r, 4, 3),), {"axis": 0}),
    C("squareplus", "squareplus", lambda r: (_f(r, 3, 4),), {"b": 2}, grad=(0,)),
    C("swish", "swish", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("tanh_shrink", "tanh_shrink", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("threshold", "threshold", lambda r: (_f(r, 3, 4), 0.1, -2.0), grad=(0,)),
    C("celu_int", "celu", lambda r: (_i(r, 5, 3),)),
    # --- normalisation, misc
    C("layer_norm", "layer_normalization", lambda r: (_f(r, 3, 4), _pos(r, 4), _f(r, 4)), grad=(0, 1, 2)),
    C("layer_norm_axes", "layer_normalization", lambda r: (_f(r, 2, 3, 4),), {"axis": (1, 2), "epsilon": 1e-3},
      grad=(0,)),
    C("layer_norm_f16", "layer_normalization", lambda r: (_f(r, 3, 4).astype(np.float16),), tol=1e-2),
    C("rms_norm", "rms_normalization", lambda r: (_f(r, 3, 4), _pos(r, 4)), grad=(0, 1)),
    C("rms_norm_axis0", "rms_normalization", lambda r: (_f(r, 3, 4),), {"axis": 0, "epsilon": 1e-3}),
    C("multi_hot", "multi_hot", lambda r: (_i(r, 5, 3, 2),), {"num_classes": 5}),
    C("multi_hot_1d", "multi_hot", lambda r: (_i(r, 6, 4),), {"num_classes": 6, "dtype": "int32"}),
    C("polar", "polar", lambda r: (_pos(r, 3, 2), _f(r, 3, 2))),
    C("psnr", "psnr", lambda r: (_f(r, 2, 4, 4, 1), _f(r, 2, 4, 4, 1), 1.0), grad=(0,)),
    C("depth_to_space", "depth_to_space", lambda r: (_f(r, 2, 2, 3, 8), 2), grad=(0,)),
    C("depth_to_space_cf", "depth_to_space", lambda r: (_f(r, 2, 8, 2, 3), 2), {"data_format": "channels_first"}),
    C("space_to_depth", "space_to_depth", lambda r: (_f(r, 2, 4, 6, 3), 2), grad=(0,)),
    C("space_to_depth_cf", "space_to_depth", lambda r: (_f(r, 2, 3, 4, 6), 2), {"data_format": "channels_first"}),
    # --- convolutions, pooling, im2col
    C("conv_transpose2d_valid", "conv_transpose", lambda r: (_f(r, 2, 4, 5, 3), _f(r, 3, 3, 4, 3)),
      grad=(0, 1), tol=1e-4),
    C("conv_transpose2d_same_s2", "conv_transpose", lambda r: (_f(r, 2, 4, 4, 3), _f(r, 3, 3, 2, 3)),
      {"strides": 2, "padding": "same"}, grad=(0, 1), tol=1e-4),
    C("conv_transpose2d_outpad", "conv_transpose", lambda r: (_f(r, 1, 4, 4, 2), _f(r, 3, 3, 2, 2)),
      {"strides": 2, "padding": "valid", "output_padding": 1}, tol=1e-4),
    C("conv_transpose1d_cf", "conv_transpose", lambda r: (_f(r, 2, 3, 5), _f(r, 4, 2, 3)),
      {"strides": 3, "data_format": "channels_first"}, grad=(0, 1), tol=1e-4),
    C("conv_transpose2d_dilated", "conv_transpose", lambda r: (_f(r, 1, 5, 5, 2), _f(r, 3, 3, 2, 2)),
      {"dilation_rate": 2, "padding": "same"}, tol=1e-4),
    C("separable_conv2d", "separable_conv", lambda r: (_f(r, 2, 6, 6, 3), _f(r, 3, 3, 3, 2), _f(r, 1, 1, 6, 4)),
      {"padding": "same"}, grad=(0, 1, 2), tol=1e-4),
    C("unfold", "unfold", lambda r: (_f(r, 2, 3, 5, 6), 2), {"stride": 1}, grad=(0,)),
    C("unfold_pad_stride", "unfold", lambda r: (_f(r, 1, 2, 6, 5), (3, 2)), {"padding": 1, "stride": 2,
                                                                              "dilation": (1, 2)}),
    C("fold", "fold", lambda r: (_f(r, 2, 12, 20), (5, 6), 2), grad=(0,)),
    C("fold_pad_stride", "fold", lambda r: (_f(r, 1, 8, 16), (6, 7), 2), {"padding": 1, "stride": 2}),
    C("adaptive_avg_2d", "adaptive_average_pool", lambda r: (_f(r, 2, 7, 5, 3), (3, 2)), grad=(0,)),
    C("adaptive_avg_1d_cf", "adaptive_average_pool", lambda r: (_f(r, 2, 3, 10), 4),
      {"data_format": "channels_first"}),
    C("adaptive_max_2d", "adaptive_max_pool", lambda r: (_f(r, 2, 7, 5, 3), (3, 2)), grad=(0,)),
    C("adaptive_max_3d", "adaptive_max_pool", lambda r: (_f(r, 1, 5, 4, 6, 2), (2, 3, 4))),
    # --- attention
    C("attention", "dot_product_attention", lambda r: (_f(r, 2, 5, 4, 8), _f(r, 2, 6, 4, 8), _f(r, 2, 6, 4, 8)),
      grad=(0, 1, 2), tol=1e-4),
    C("attention_causal_gqa", "dot_product_attention",
      lambda r: (_f(r, 2, 5, 4, 8), _f(r, 2, 5, 2, 8), _f(r, 2, 5, 2, 8)), {"is_causal": True, "scale": 0.3},
      grad=(0, 1, 2), tol=1e-4),
    C("attention_mask_bias", "dot_product_attention",
      lambda r: (_f(r, 2, 4, 2, 8), _f(r, 2, 6, 2, 8), _f(r, 2, 6, 2, 8), _f(r, 2, 2, 4, 6),
                 r.random((2, 1, 4, 6)) > 0.3), grad=(0, 1, 2, 3), tol=1e-4),
    # --- CTC
    C("ctc_loss", "ctc_loss", lambda r: (np.array([[1, 2, 2], [3, 1, 0]], np.int32), _f(r, 2, 7, 5),
                                         np.array([3, 2], np.int32), np.array([7, 5], np.int32)),
      grad=(1,), tol=1e-4),
    C("ctc_decode_greedy", "ctc_decode", lambda r: (_f(r, 2, 7, 5), np.array([7, 4], np.int32))),
    C("ctc_decode_greedy_nomerge", "ctc_decode", lambda r: (_f(r, 2, 7, 5), np.array([6, 7], np.int32)),
      {"merge_repeated": False, "mask_index": 4}),
    # --- math
    C("segment_sum", "segment_sum", lambda r: (_f(r, 6, 3), np.array([0, 0, 2, 1, 2, 2], np.int32), 4),
      grad=(0,)),
    C("segment_max", "segment_max", lambda r: (_f(r, 6, 3), np.array([0, 1, 1, 1, 3, 3], np.int32), 4)),
    C("segment_min_sorted", "segment_min", lambda r: (_f(r, 5), np.array([0, 0, 1, 1, 2], np.int32), 3),
      {"sorted": True}),
    C("segment_prod", "segment_prod", lambda r: (_pos(r, 5, 2), np.array([1, 0, 1, 0, 2], np.int32), 3)),
    C("segment_sum_int", "segment_sum", lambda r: (_i(r, 9, 5), np.array([0, 1, 1, 0, 1], np.int32), 2)),
    C("in_top_k", "in_top_k", lambda r: (np.array([0, 3, 2], np.int32), _f(r, 3, 5), 2)),
    C("cdist", "cdist", lambda r: (_f(r, 4, 3), _f(r, 5, 3)), grad=(0, 1), tol=1e-4),
    C("cdist_batched", "cdist", lambda r: (_f(r, 2, 4, 3), _f(r, 2, 5, 3)), tol=1e-4),
    C("extract_sequences", "extract_sequences", lambda r: (_f(r, 2, 10), 4, 3), grad=(0,)),
    C("fft", "fft", lambda r: ((_f(r, 2, 8), _f(r, 2, 8)),), tol=1e-4),
    C("fft2", "fft2", lambda r: ((_f(r, 2, 4, 6), _f(r, 2, 4, 6)),), tol=1e-4),
    C("ifft2", "ifft2", lambda r: ((_f(r, 2, 4, 6), _f(r, 2, 4, 6)),), tol=1e-4),
    C("rfft", "rfft", lambda r: (_f(r, 3, 8),), tol=1e-4),
    C("rfft_len", "rfft", lambda r: (_f(r, 3, 8),), {"fft_length": 6}, tol=1e-4),
    C("irfft", "irfft", lambda r: ((_f(r, 3, 5), _f(r, 3, 5)),), tol=1e-4),
    C("irfft_len", "irfft", lambda r: ((_f(r, 3, 5), _f(r, 3, 5)),), {"fft_length": 8}, tol=1e-4),
    C("stft", "stft", lambda r: (_f(r, 2, 32), 8, 4, 16), tol=1e-4),
    C("stft_hamming_nocenter", "stft", lambda r: (_f(r, 30), 8, 3, 8), {"window": "hamming", "center": False},
      tol=1e-4),
    C("stft_nowindow", "stft", lambda r: (_f(r, 2, 20), 6, 2, 8), {"window": None}, tol=1e-4),
    C("istft", "istft", lambda r: ((_f(r, 2, 9, 9), _f(r, 2, 9, 9)), 8, 4, 16), tol=1e-4),
    C("istft_length", "istft", lambda r: ((_f(r, 7, 5), _f(r, 7, 5)), 8, 2, 8), {"length": 12, "center": False},
      tol=1e-4),
    C("erfc", "erfc", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("erfinv", "erfinv", lambda r: (0.9 * np.tanh(_f(r, 3, 4)),), grad=(0,), tol=1e-4),
    C("logdet", "logdet", lambda r: (_spd(r, 3, (2,)),), grad=(0,), tol=1e-4),
    C("view_as_complex", "view_as_complex", lambda r: (_f(r, 3, 2),)),
    C("view_as_real", "view_as_real", lambda r: ((_f(r, 3) + 1j * _f(r, 3)).astype(np.complex64),)),
    # --- linalg
    C("cholesky", "cholesky", lambda r: (_spd(r, 4),), grad=(0,), tol=1e-4),
    C("cholesky_upper", "cholesky", lambda r: (_spd(r, 3, (2,)),), {"upper": True}, tol=1e-4),
    C("cholesky_inverse", "cholesky_inverse", lambda r: (np.linalg.cholesky(_spd(r, 3)).astype(np.float32),),
      tol=1e-4),
    C("cholesky_inverse_upper", "cholesky_inverse",
      lambda r: (np.linalg.cholesky(_spd(r, 3)).T.copy().astype(np.float32),), {"upper": True}, tol=1e-4),
    C("det", "det", lambda r: (_f(r, 2, 3, 3),), grad=(0,), tol=1e-4),
    C("inv", "inv", lambda r: (_spd(r, 3),), grad=(0,), tol=1e-4),
    C("solve", "solve", lambda r: (_spd(r, 3), _f(r, 3, 2)), grad=(0, 1), tol=1e-4),
    C("solve_vec", "solve", lambda r: (_spd(r, 3), _f(r, 3)), tol=1e-4),
    C("solve_triangular", "solve_triangular", lambda r: (_tri(r, 3, True), _f(r, 3, 2)), {"lower": True},
      grad=(0, 1), tol=1e-4),
    C("solve_triangular_upper", "solve_triangular", lambda r: (_tri(r, 3, False), _f(r, 3)), tol=1e-4),
    C("lstsq", "lstsq", lambda r: (_f(r, 5, 3), _f(r, 5, 2)), tol=1e-4),
    C("lstsq_vec", "lstsq", lambda r: (_f(r, 5, 3), _f(r, 5)), tol=1e-4),
    C("lu_factor", "lu_factor", lambda r: (_f(r, 4, 4),), tol=1e-4),
    C("lu_factor_batched", "lu_factor", lambda r: (_f(r, 2, 3, 3),), tol=1e-4),
    C("norm", "norm", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("norm_axis_ord1", "norm", lambda r: (_f(r, 3, 4),), {"ord": 1, "axis": 1, "keepdims": True}),
    C("norm_fro", "norm", lambda r: (_f(r, 2, 3, 4),), {"ord": "fro", "axis": (1, 2)}, tol=1e-4),
    C("norm_nuc", "norm", lambda r: (_f(r, 3, 4),), {"ord": "nuc"}, tol=1e-4),
    C("norm_inf_int", "norm", lambda r: (_i(r, 5, 4),), {"ord": np.inf}),
    C("matrix_rank", "matrix_rank", lambda r: ((_f(r, 4, 2) @ _f(r, 2, 4)).astype(np.float32),)),
    C("matrix_rank_tol", "matrix_rank", lambda r: (np.diag([3.0, 1.0, 1e-3]).astype(np.float32),), {"tol": 0.01}),
    C("pinv", "pinv", lambda r: (_f(r, 4, 3),), grad=(0,), tol=1e-4),
    C("svd_values", "svd", lambda r: (_f(r, 4, 3),), {"compute_uv": False}, grad=(0,), tol=1e-4),
    C("eigh_values", "eigh", lambda r: (_spd(r, 3),), tol=1e-4),
]
BY_ID = {c.id: c for c in CASES}


def to_framework(args, convert):
    out = []
    for a in args:
        if isinstance(a, np.ndarray):
            out.append(convert(a))
        elif isinstance(a, (list, tuple)) and a and isinstance(a[0], np.ndarray):
            out.append(type(a)(convert(x) for x in a))
        else:
            out.append(a)
    return out


def _np(x):
    if isinstance(x, (tuple, list)):
        return type(x)(_np(v) for v in x)
    return np.asarray(fops.convert_to_numpy(x))


def assert_same(got, want, tol, check_dtype=True):
    got, want = _np(got), _np(want)
    if isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), (type(got), len(got), len(want))
        for g, w in zip(got, want):
            assert_same(g, w, tol, check_dtype)
        return
    assert got.shape == want.shape, (got.shape, want.shape)
    if check_dtype:
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if want.dtype == bool or np.issubdtype(want.dtype, np.integer):
        np.testing.assert_array_equal(got, want)
    elif np.iscomplexobj(want):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    else:
        chex.assert_trees_all_close(got.astype(np.float32), want.astype(np.float32), rtol=tol, atol=tol)


def _keras_ops():
    import keras

    assert keras.backend.backend() == "jax", "tests expect KERAS_BACKEND=jax (set in conftest)"
    return keras.ops


def _jitted(fn, args, kwargs):
    """`fn(*args, **kwargs)` under one `jax.jit` whose parameters are the array arguments (the rest static)."""
    arrays = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]
    jargs = to_framework(args, jnp.asarray)

    def f(*xs):
        full = list(jargs)
        for i, x in zip(arrays, xs):
            full[i] = x
        return fn(*full, **kwargs)

    return jax.jit(f)(*[jargs[i] for i in arrays])


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_op_matches_keras(case):
    kops = _keras_ops()
    args, kwargs = case.build()
    got = getattr(fops, case.op)(*to_framework(args, jnp.asarray), **kwargs)  # fkeras eagerly
    # Keras's op jitted: one compile instead of one per eager primitive (the same numbers; its eager path is
    # Keras's, not ours, and fkeras's jit is checked against its eager path below)
    want = _jitted(getattr(kops, case.op), args, kwargs)
    if case.op == "eigh":  # eigenvalues only (vectors' signs are not unique)
        got, want = got[0], want[0]
    assert_same(got, want, case.tol)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_jit_matches_eager(case):
    args, kwargs = case.build()
    got = _jitted(getattr(fops, case.op), args, kwargs)
    assert_same(got, getattr(fops, case.op)(*to_framework(args, jnp.asarray), **kwargs), case.tol)


# --- torch and TF against JAX ------------------------------------------------------------------
def _convert(fw):
    if fw == "torch":
        import torch

        return torch.from_numpy
    import tensorflow as tf

    return tf.convert_to_tensor


def _leaf_check(out, fw):
    import tensorflow as tf
    import torch

    kind = torch.Tensor if fw == "torch" else tf.Tensor
    for leaf in jax.tree_util.tree_leaves(out):
        assert isinstance(leaf, kind), f"{fw} op returned {type(leaf).__name__}"


FW_CASES = [(c, fw) for c in CASES for fw in ("torch", "tensorflow")]


@pytest.mark.parametrize("case,fw", FW_CASES, ids=[f"{c.id}-{fw}" for c, fw in FW_CASES])
def test_framework_matches_jax(case, fw):
    args, kwargs = case.build()
    if fw not in case.fw:
        with pytest.raises(NotImplementedError, match=rf"{case.op}.*{fw}|{fw}.*{case.op}"):
            getattr(fops, case.op)(*to_framework(args, _convert(fw)), **kwargs)
        return
    want = getattr(fops, case.op)(*to_framework(args, jnp.asarray), **kwargs)
    got = getattr(fops, case.op)(*to_framework(args, _convert(fw)), **kwargs)
    _leaf_check(got, fw)
    if case.op == "eigh":
        got, want = got[0], want[0]
    assert_same(got, want, case.tol)


GRAD_CASES = [(c, fw) for c in CASES if c.grad for fw in c.fw]


def _cotangents(out, seed=0):
    r = np.random.default_rng(seed)
    return [r.standard_normal(tuple(o.shape)).astype(np.float32) for o in jax.tree_util.tree_leaves(out)]


_JAX_GRADS: dict = {}  # case id -> (cotangents, JAX's gradients): computed once, shared by torch and TF


def _jax_gradients(case):
    """d/d(args[case.grad]) of sum(op(args) * cotangents) on JAX, one jitted program per case."""
    if case.id not in _JAX_GRADS:
        args, kwargs = case.build()
        cts = _cotangents(jax.eval_shape(lambda: getattr(fops, case.op)(*to_framework(args, jnp.asarray),
                                                                          **kwargs)))

        def jax_loss(*diff):
            full = to_framework(args, jnp.asarray)
            for i, d in zip(case.grad, diff):
                full[i] = d
            outs = jax.tree_util.tree_leaves(getattr(fops, case.op)(*full, **kwargs))
            return sum(jnp.sum(o * c) for o, c in zip(outs, cts))

        grad = jax.jit(jax.grad(jax_loss, argnums=tuple(range(len(case.grad)))))
        _JAX_GRADS[case.id] = cts, grad(*[jnp.asarray(args[i]) for i in case.grad])
    return _JAX_GRADS[case.id]


@pytest.mark.parametrize("case,fw", GRAD_CASES, ids=[f"{c.id}-{fw}" for c, fw in GRAD_CASES])
def test_framework_gradients_match_jax(case, fw):
    args, kwargs = case.build()
    cts, want = _jax_gradients(case)
    full = to_framework(args, _convert(fw))
    if fw == "torch":
        import torch

        for i in case.grad:
            full[i] = torch.from_numpy(np.asarray(args[i])).requires_grad_(True)
        outs = jax.tree_util.tree_leaves(getattr(fops, case.op)(*full, **kwargs))
        loss = sum((o * torch.from_numpy(c)).sum() for o, c in zip(outs, cts))
        got = torch.autograd.grad(loss, [full[i] for i in case.grad])
        got = [g.numpy() for g in got]
    else:
        import tensorflow as tf

        for i in case.grad:
            full[i] = tf.Variable(np.asarray(args[i]))
        with tf.GradientTape() as tape:
            outs = jax.tree_util.tree_leaves(getattr(fops, case.op)(*full, **kwargs))
            loss = sum(tf.reduce_sum(o * c) for o, c in zip(outs, cts))
        got = [g.numpy() for g in tape.gradient(loss, [full[i] for i in case.grad])]
    for g, w in zip(got, want):
        chex.assert_trees_all_close(np.asarray(g), np.asarray(w), rtol=10 * case.tol, atol=10 * case.tol)


# --- namespaces, symbolic tensors, errors -------------------------------------------------------
def _keras_names(sub):
    import inspect

    import keras

    if sub in ("math", "core"):  # not public submodules in Keras 3.15: the functions of keras.src.ops.<sub>
        import importlib

        mod = importlib.import_module(f"keras.src.ops.{sub}")
        return {n for n, f in vars(mod).items()
                if not n.startswith("_") and inspect.isfunction(f) and f.__module__ == mod.__name__}
    return {n for n in dir(getattr(keras.ops, sub)) if not n.startswith("_")}


@pytest.mark.parametrize("sub", ["nn", "linalg", "image", "math", "core"])
def test_every_keras_submodule_name_exists(sub):
    import importlib

    import keras

    mod = importlib.import_module(f"fkeras.ops.{sub}")
    names = _keras_names(sub)
    missing = sorted(n for n in names if not callable(getattr(mod, n, None)))
    assert not missing, f"fkeras.ops.{sub} lacks {missing}"
    top = sorted(n for n in names if hasattr(keras.ops, n) and not callable(getattr(fops, n, None)))
    assert not top, f"fkeras.ops lacks top-level {top}"
    assert callable(fops.rearrange)


def test_signatures_match_keras():
    import inspect

    import keras

    for sub in ("nn", "linalg", "image", "math", "core"):
        mod = __import__(f"fkeras.ops.{sub}", fromlist=["x"])
        for n in _keras_names(sub):
            kfn = getattr(keras.ops, n, None) or getattr(getattr(keras.ops, sub), n)
            want = [(p.name, p.default) for p in inspect.signature(kfn).parameters.values()]
            got = [(p.name, p.default) for p in inspect.signature(getattr(mod, n)).parameters.values()]
            if n == "convert_to_tensor":  # fkeras has no ragged tensors
                want = [w for w in want if w[0] != "ragged"]
            assert got == want, f"{sub}.{n}: {got} != {want}"


@pytest.mark.parametrize("name", ["celu", "glu", "log_sigmoid", "sparsemax", "rms_normalization",
                                  "layer_normalization", "erfinv", "hard_silu", "squareplus", "tanh_shrink"])
def test_ops_on_keras_tensors(name):
    import fkeras

    x = fkeras.Input((4,))
    y = getattr(fops, name)(x)
    model = fkeras.Model(x, y)
    data = np.random.default_rng(0).uniform(-0.9, 0.9, (3, 4)).astype(np.float32)
    chex.assert_trees_all_close(np.asarray(model.predict(data, verbose=0)),
                                np.asarray(getattr(fops, name)(jnp.asarray(data))), rtol=1e-5, atol=1e-5)


BEAM_CASES = [(2, 7, 5, 3, 2, 0), (3, 6, 4, 10, 3, None), (1, 5, 6, 4, 1, 2)]
_KERAS_BEAMS: dict = {}  # beam case -> Keras's decode: computed once, shared by the three frameworks


@pytest.mark.parametrize("fw", ["jax", "torch", "tensorflow"])
@pytest.mark.parametrize("b,t,c,beam,top,mask", BEAM_CASES)
def test_ctc_beam_search_decode_matches_keras(fw, b, t, c, beam, top, mask):
    r = np.random.default_rng(b * 100 + t)
    x = r.standard_normal((b, t, c)).astype(np.float32)
    lengths = r.integers(3, t + 1, (b,)).astype(np.int32)
    kw = dict(strategy="beam_search", beam_width=beam, top_paths=top, mask_index=mask)
    if fw == "jax" and (b, t, c, beam, top, mask) != BEAM_CASES[0]:
        # eager JAX is checked by the first case; the others run jitted (one compile, not one per primitive)
        got = jax.jit(lambda a, n: fops.ctc_decode(a, n, **kw))(jnp.asarray(x), jnp.asarray(lengths))
    else:
        convert = jnp.asarray if fw == "jax" else _convert(fw)
        got = fops.ctc_decode(convert(x), convert(lengths), **kw)
    if fw != "jax":
        _leaf_check(got, fw)
    key = (b, t, c, beam, top, mask)
    if key not in _KERAS_BEAMS:
        _KERAS_BEAMS[key] = _keras_ops().ctc_decode(jnp.asarray(x), jnp.asarray(lengths), **kw)
    assert_same(got, _KERAS_BEAMS[key], 1e-5)


def test_ctc_beam_search_inside_tf_function_is_a_clear_not_implemented():
    import tensorflow as tf

    f = tf.function(lambda x, n: fops.ctc_decode(x, n, strategy="beam_search"))
    with pytest.raises(NotImplementedError, match="ctc_decode.*tensorflow"):
        f(tf.zeros((1, 4, 3)), tf.constant([4]))


def test_errors_match_keras_meaning():
    with pytest.raises(ValueError, match="square"):
        fops.det(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="rank >= 2"):
        fops.inv(jnp.ones(3))
    with pytest.raises(ValueError, match="num_segments"):
        fops.segment_sum(jnp.ones(3), jnp.array([0, 1, 1]))
    with pytest.raises(ValueError, match="window"):
        fops.stft(jnp.ones(16), 4, 2, 8, window="blackman")
    with pytest.raises(ValueError, match="fft_length"):
        fops.stft(jnp.ones(16), 8, 2, 4)
    with pytest.raises(ValueError, match="real, imag"):
        fops.fft(jnp.ones(4))
    with pytest.raises(ValueError, match="mode"):
        fops.qr(jnp.eye(2), mode="r")
    with pytest.raises(ValueError, match="cholesky"):
        fops.cholesky(-jnp.eye(2))
    with pytest.raises(ValueError, match="even"):
        fops.glu(jnp.ones((2, 3)))
    q = jnp.ones((1, 3, 2, 4))
    with pytest.raises(ValueError, match="attn_logits_soft_cap"):  # Keras: TPU only
        fops.dot_product_attention(q, q, q, attn_logits_soft_cap=5.0)
    if jax.default_backend() == "cpu":  # Keras on CPU: RuntimeError (no cuDNN)
        with pytest.raises(RuntimeError, match="flash"):
            fops.dot_product_attention(q, q, q, flash_attention=True)
    for fw in ("torch", "tensorflow"):
        with pytest.raises(RuntimeError, match="flash"):
            fops.dot_product_attention(*[_convert(fw)(np.ones((1, 3, 2, 4), np.float32))] * 3, flash_attention=True)


def test_decompositions_reconstruct():
    """qr / svd / eigh / eig / lu_factor on each framework rebuild their input (sign conventions differ)."""
    r = np.random.default_rng(3)
    a = r.standard_normal((4, 3)).astype(np.float32)
    s = _spd(r, 3)
    g = r.standard_normal((3, 3)).astype(np.float32)
    for fw in ("jax", "torch", "tensorflow"):
        cv = jnp.asarray if fw == "jax" else _convert(fw)
        q, rr = (_np(v) for v in fops.qr(cv(a)))
        np.testing.assert_allclose(q @ rr, a, atol=1e-4)
        q, rr = (_np(v) for v in fops.qr(cv(a), mode="complete"))
        assert q.shape == (4, 4) and rr.shape == (4, 3)
        np.testing.assert_allclose(q @ rr, a, atol=1e-4)
        u, sv, vh = (_np(v) for v in fops.svd(cv(a), full_matrices=False))
        np.testing.assert_allclose((u * sv) @ vh, a, atol=1e-4)
        assert [t.shape for t in (_np(v) for v in fops.svd(cv(a)))] == [(4, 4), (3,), (3, 3)]
        w, v = (_np(t) for t in fops.eigh(cv(s)))
        np.testing.assert_allclose((v * w) @ v.T, s, atol=1e-3)
        w, v = (_np(t) for t in fops.eig(cv(g)))
        np.testing.assert_allclose(g.astype(np.complex64) @ v, v * w, atol=1e-3)
        lu, piv = (_np(t) for t in fops.lu_factor(cv(g)))
        assert piv.dtype == np.int32
        low, up = np.tril(lu, -1) + np.eye(3), np.triu(lu)
        perm = np.arange(3)
        for i, p in enumerate(piv):
            perm[[i, p]] = perm[[p, i]]
        np.testing.assert_allclose(g[perm], low @ up, atol=1e-4)


# Ops whose cases live in this file, tests/test_ops_control_flow.py and tests/test_ops_linalg_image.py
# (tests/test_ops_jax.py checks that every declared op is covered somewhere).
PART_B_COVERED = {c.op for c in CASES} | {
    "cond", "switch", "while_loop", "fori_loop", "scan", "associative_scan", "map", "vectorized_map",
    "custom_gradient", "slice", "slice_update", "scatter", "scatter_update", "unstack", "saturate_cast",
    "is_tensor", "jvp", "rearrange", "eig", "qr", "core", "image", "linalg", "math", "nn",
}
