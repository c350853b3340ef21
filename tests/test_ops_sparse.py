"""Sparse tensors through fkeras.ops (issue 14): JAX BCOO, tf.SparseTensor, torch sparse COO.

- every case equals `keras.ops` on the JAX backend with BCOO inputs: values, dtype, and whether the
  result is sparse (Keras keeps sparsity for zero-preserving elementwise ops, unions/intersections,
  matmul of sparse operands, reductions, layout ops; it densifies the rest);
- the same cases with tf.SparseTensor and torch sparse inputs give the same values, dtypes and sparsity;
- the ops Keras's own TF backend makes sparse-aware give its results on tf.SparseTensor;
- the JAX kernels trace under jax.jit, the TF ones under tf.function.
Tolerance: rtol=atol=1e-6 (float32 elementwise math).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax.experimental import sparse as jsparse  # noqa: E402

import fkeras.ops as fops  # noqa: E402

D1 = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -3.0]], np.float32)
D2 = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 4.0]], np.float32)
DZ = np.array([[1.0, 0.0, 2.0], [np.nan, 1.0, 3.0]], np.float32)  # a divisor with 0 and NaN
IDS = np.array([[0, 1], [2, 0]], np.int32)
FRAMEWORKS = ["jax", "tensorflow", "torch"]


def _keras_ops():
    import keras

    assert keras.backend.backend() == "jax"
    return keras.ops


class FW:
    """Make sparse/dense inputs of one framework and read results back."""

    def __init__(self, name):
        self.name = name
        if name == "tensorflow":
            self.tf = pytest.importorskip("tensorflow")
        if name == "torch":
            self.torch = pytest.importorskip("torch")

    def sp(self, d):
        if self.name == "jax":
            return jsparse.BCOO.fromdense(jnp.asarray(d))
        if self.name == "tensorflow":
            return self.tf.sparse.from_dense(d)
        return self.torch.from_numpy(np.asarray(d)).to_sparse()

    def dn(self, d):
        return {"jax": jnp.asarray, "tensorflow": lambda a: self.tf.constant(a),
                "torch": lambda a: self.torch.from_numpy(np.asarray(a))}[self.name](d)

    def is_sparse(self, x):
        if self.name == "jax":
            return isinstance(x, jsparse.JAXSparse)
        if self.name == "tensorflow":
            return isinstance(x, self.tf.SparseTensor)
        return isinstance(x, self.torch.Tensor) and x.layout != self.torch.strided

    def numpy(self, x):
        if self.name == "jax" and isinstance(x, jsparse.BCOO):
            if x.dtype == jnp.bool_:  # BCOO cannot densify bools: count the stored Trues instead
                return np.asarray(jsparse.BCOO((x.data.astype(jnp.int8), x.indices), shape=x.shape).todense()) > 0
            return np.asarray(x.todense())
        if self.name == "tensorflow" and self.is_sparse(x):
            return np.asarray(self.tf.sparse.to_dense(x))
        if self.name == "torch":
            return (x.to_dense() if self.is_sparse(x) else x).numpy()
        return np.asarray(x)


def C(id, fn):
    return pytest.param(fn, id=id)


_ORACLE: dict = {}  # case -> (sparse?, dense values) from keras.ops on BCOO: computed once, shared by the frameworks


def _keras_result(fn):
    if fn not in _ORACLE:
        k = FW("jax")
        want = fn(_keras_ops(), k)
        _ORACLE[fn] = (k.is_sparse(want), k.numpy(want))
    return _ORACLE[fn]


# fn(ops, fw) -> result; the same function runs with keras.ops on BCOO inputs (the oracle)
CASES = [
    *[C(n, lambda o, f, n=n: getattr(o, n)(f.sp(D1))) for n in (
        "abs", "absolute", "sin", "sqrt", "square", "negative", "round", "sign", "log1p", "tanh", "isnan", "ceil",
        "expm1", "arctan", "cos", "exp", "log", "isfinite", "reciprocal", "cosh")],
    C("cast", lambda o, f: o.cast(f.sp(D1), "int32")),
    *[C(f"{n}_{k}", lambda o, f, n=n, k=k: getattr(o, n)(*{
        "ss": lambda: (f.sp(D1), f.sp(D2)), "sd": lambda: (f.sp(D1), f.dn(D2 + 1)),
        "ds": lambda: (f.dn(D2 + 1), f.sp(D1)), "sc": lambda: (f.sp(D1), 2.0)}[k]()))
      for n in ("add", "subtract", "maximum", "minimum", "multiply", "divide") for k in ("ss", "sd", "ds", "sc")],
    C("divide_by_zeros_and_nan", lambda o, f: o.divide(f.sp(D1), f.dn(DZ))),
    C("multiply_same_indices", lambda o, f: (lambda s: o.multiply(s, s))(f.sp(D1))),
    C("matmul_sd", lambda o, f: o.matmul(f.sp(D1), f.dn(np.ones((3, 2), np.float32)))),
    C("matmul_ds", lambda o, f: o.matmul(f.dn(np.ones((2, 2), np.float32)), f.sp(D1))),
    C("matmul_ss", lambda o, f: o.matmul(f.sp(D1), f.sp(D2.T.copy()))),
    C("sum_axis1", lambda o, f: o.sum(f.sp(D1), axis=1)),
    C("sum_all", lambda o, f: o.sum(f.sp(D1))),
    C("sum_keepdims", lambda o, f: o.sum(f.sp(D1), axis=(0, -1), keepdims=True)),
    C("mean_axis0_keepdims", lambda o, f: o.mean(f.sp(D1), axis=0, keepdims=True)),
    C("mean_all", lambda o, f: o.mean(f.sp(D1))),
    C("mean_int", lambda o, f: o.mean(f.sp(IDS), axis=1)),
    C("expand_dims_1", lambda o, f: o.expand_dims(f.sp(D1), 1)),
    C("expand_dims_neg", lambda o, f: o.expand_dims(f.sp(D1), -1)),
    C("reshape", lambda o, f: o.reshape(f.sp(D1), (3, 2))),
    C("reshape_minus1", lambda o, f: o.reshape(f.sp(D1), (-1,))),
    C("transpose", lambda o, f: o.transpose(f.sp(D1))),
    C("transpose_axes", lambda o, f: o.transpose(f.sp(D1[None]), (2, 0, 1))),
    C("squeeze_axis", lambda o, f: o.squeeze(f.sp(D1[None]), 0)),
    C("squeeze_all", lambda o, f: o.squeeze(f.sp(D1[:, None]))),
    C("concatenate_sparse", lambda o, f: o.concatenate([f.sp(D1), f.sp(D2)], axis=1)),
    C("concatenate_mixed", lambda o, f: o.concatenate([f.sp(D1), f.dn(D2)], axis=0)),
    C("take_sparse_indices", lambda o, f: o.take(f.dn(np.arange(10.0, dtype=np.float32).reshape(5, 2)),
                                                 f.sp(IDS), axis=0)),
    C("one_hot_sparse", lambda o, f: o.one_hot(f.dn(np.array([0, 2, 1], np.int32)), 3, sparse=True)),
    C("multi_hot_sparse", lambda o, f: o.multi_hot(f.dn(np.array([[0, 2], [1, 1]], np.int32)), 3, sparse=True)),
    C("convert_to_tensor", lambda o, f: o.convert_to_tensor(f.sp(D1))),
    C("convert_to_tensor_dense", lambda o, f: o.convert_to_tensor(f.sp(D1), sparse=False)),
    C("convert_to_tensor_dtype", lambda o, f: o.convert_to_tensor(f.sp(D1), dtype="float16")),
    C("convert_dense_sparse_true", lambda o, f: o.convert_to_tensor(f.dn(D1), sparse=True)),  # stays dense
]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("fn", CASES)
def test_sparse_op_matches_keras(fn, framework):
    f = FW(framework)
    want_sparse, w = _keras_result(fn)
    got = fn(fops, f)
    assert f.is_sparse(got) == want_sparse, (type(got).__name__, want_sparse)
    g = f.numpy(got)
    assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, w.dtype, g.shape, w.shape)
    np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_bincount_sparse(framework):
    f = FW(framework)
    x = np.array([0, 1, 1, 3], np.int32)
    got = fops.bincount(f.dn(x), sparse=True)
    want = _keras_ops().bincount(jnp.asarray(x), sparse=True)
    assert f.is_sparse(got) and isinstance(want, jsparse.BCOO)
    # values as Keras; dtype int32 as the dense bincount and Keras's TF backend (Keras's JAX gives float32 here)
    np.testing.assert_array_equal(f.numpy(got), np.asarray(want.todense()))
    assert f.numpy(got).dtype == np.int32
    w = np.array([0.5, 1.0, 2.0, 1.0], np.float32)
    got = fops.bincount(f.dn(x), weights=f.dn(w), minlength=6, sparse=True)
    np.testing.assert_allclose(f.numpy(got), np.bincount(x, w, minlength=6))


def test_bincount_of_sparse_x_as_keras_tf():
    tf = pytest.importorskip("tensorflow")
    from keras.src.backend.tensorflow import numpy as ktf

    x = tf.sparse.from_dense(tf.constant([[0, 1, 1], [3, 0, 2]]))
    got, want = fops.bincount(x), ktf.bincount(x)
    assert isinstance(got, tf.SparseTensor) and isinstance(want, tf.SparseTensor)
    np.testing.assert_array_equal(tf.sparse.to_dense(got), tf.sparse.to_dense(want))
    torch = pytest.importorskip("torch")
    t = fops.bincount(torch.tensor([[0, 1, 1], [3, 0, 2]]).to_sparse())
    np.testing.assert_array_equal(t.to_dense().numpy(), tf.sparse.to_dense(want).numpy())


# the ops Keras's TF backend makes sparse-aware: fkeras on tf.SparseTensor equals it
TF_KERAS = [
    ("absolute", lambda m, s, d: m.absolute(s(D1))), ("sin", lambda m, s, d: m.sin(s(D1))),
    ("cos", lambda m, s, d: m.cos(s(D1))), ("add", lambda m, s, d: m.add(s(D1), s(D2))),
    ("subtract", lambda m, s, d: m.subtract(s(D1), s(D2))), ("multiply_ss", lambda m, s, d: m.multiply(s(D1), s(D2))),
    ("multiply_sd", lambda m, s, d: m.multiply(s(D1), d(D2 + 1))), ("maximum", lambda m, s, d: m.maximum(s(D1), s(D2))),
    ("divide_sd", lambda m, s, d: m.divide(s(D1), d(DZ))), ("matmul_ss", lambda m, s, d: m.matmul(s(D1), s(D2.T.copy()))),
    ("sum", lambda m, s, d: m.sum(s(D1), axis=1)), ("expand_dims", lambda m, s, d: m.expand_dims(s(D1), 1)),
    ("reshape", lambda m, s, d: m.reshape(s(D1), (3, 2))), ("transpose", lambda m, s, d: m.transpose(s(D1))),
    ("concatenate", lambda m, s, d: m.concatenate([s(D1), s(D2)], axis=1)),
]


@pytest.mark.parametrize("fn", [pytest.param(f, id=i) for i, f in TF_KERAS])
def test_tf_sparse_matches_keras_tf_backend(fn):
    tf = pytest.importorskip("tensorflow")
    from keras.src.backend.tensorflow import numpy as ktf

    f = FW("tensorflow")
    got, want = fn(fops, f.sp, f.dn), fn(ktf, f.sp, f.dn)
    assert isinstance(got, tf.SparseTensor) == isinstance(want, tf.SparseTensor)
    np.testing.assert_allclose(f.numpy(got), f.numpy(want), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_core_helpers_on_sparse(framework):
    f = FW(framework)
    s = f.sp(D1)
    assert fops.is_tensor(s)
    np.testing.assert_array_equal(fops.convert_to_numpy(s), D1)
    assert fops.shape(s) == (2, 3) and fops.ndim(s) == 2 and fops.size(s) == 6 and fops.dtype(s) == "float32"
    with pytest.raises(ValueError, match="reshape"):
        fops.reshape(s, (4, 2))
    with pytest.raises(ValueError, match="squeeze"):
        fops.squeeze(s, 0)


def test_jax_sparse_ops_trace_under_jit():
    a, b = jsparse.BCOO.fromdense(jnp.asarray(D1)), jsparse.BCOO.fromdense(jnp.asarray(D2))
    k = _keras_ops()

    def f(o):
        return lambda x, y: o.add(o.sum(o.multiply(x, y), axis=1), o.sum(o.maximum(x, y), axis=1))

    got = jax.jit(f(fops))(a, b)
    assert isinstance(got, jsparse.BCOO)
    np.testing.assert_allclose(got.todense(), f(k)(a, b).todense(), rtol=1e-6)
    div = jax.jit(lambda x, d: fops.divide(x, d))(a, jnp.asarray(D2 + 1))
    np.testing.assert_allclose(div.todense(), D1 / (D2 + 1), rtol=1e-6)


def test_tf_sparse_ops_run_in_tf_function():
    tf = pytest.importorskip("tensorflow")
    a, b = tf.sparse.from_dense(D1), tf.sparse.from_dense(D2)
    got = tf.function(lambda x, y: fops.add(fops.sum(fops.multiply(x, y), axis=1),
                                            fops.sum(fops.maximum(x, y), axis=1)))(a, b)
    assert isinstance(got, tf.SparseTensor)
    np.testing.assert_allclose(tf.sparse.to_dense(got), (D1 * D2).sum(1) + np.maximum(D1, D2).sum(1), rtol=1e-6)


def test_every_sparse_rule_names_an_op():
    from fkeras.ops import _sparse

    missing = [n for n in _sparse.SPARSE_OPS if not hasattr(fops, n)]
    assert not missing, missing


# --- sparse inputs through Input(sparse=True), fit and predict ------------------------------------------------
def _sparse_data():
    r = np.random.default_rng(0)
    x = ((r.uniform(size=(40, 12)) < 0.2) * r.standard_normal((40, 12))).astype(np.float32)
    y = r.standard_normal((40, 1)).astype(np.float32)
    return x, y


def _model(lib, weights=None):
    inp = lib.Input(shape=(12,), sparse=True)
    out = lib.layers.Dense(1)(lib.layers.Dense(6, activation="tanh")(inp))
    m = lib.Model(inp, out)
    m.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse")
    if weights is not None:
        m.set_weights(weights)
    return m


def test_input_sparse_matches_keras():
    import keras

    import fkeras

    f, k = fkeras.Input(shape=(12,), sparse=True, name="ids"), keras.Input(shape=(12,), sparse=True, name="ids")
    assert f.sparse is True and k.sparse is True
    fl, kl = f._keras_history[0], k._keras_history[0]
    assert fl.sparse and fl.get_config() == kl.get_config()
    assert fkeras.layers.InputLayer.from_config(fl.get_config()).sparse


@pytest.fixture(scope="module")
def keras_sparse_fit():
    """Keras's model, its initial weights, and its fit on BCOO batches (once for every source below)."""
    import keras

    x, y = _sparse_data()
    km = _model(keras)
    weights = [np.asarray(w) for w in km.get_weights()]
    history = km.fit(jsparse.BCOO.fromdense(jnp.asarray(x)), y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    return weights, history.history["loss"], [np.asarray(w) for w in km.get_weights()]


@pytest.mark.parametrize("source", ["bcoo", "tf", "torch"])
def test_fit_and_predict_on_sparse_batches_as_keras(source, keras_sparse_fit):
    import fkeras

    x, y = _sparse_data()
    make = {"bcoo": lambda a: jsparse.BCOO.fromdense(jnp.asarray(a)),
            "tf": lambda a: pytest.importorskip("tensorflow").sparse.from_dense(a),
            "torch": lambda a: pytest.importorskip("torch").from_numpy(a).to_sparse()}[source]
    weights, want_loss, want_weights = keras_sparse_fit
    fm = _model(fkeras, weights)
    got = fm.fit(make(x), y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(got.history["loss"], want_loss, rtol=1e-5, atol=1e-6)
    for g, w in zip(fm.get_weights(), want_weights):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fm.predict(make(x), batch_size=16, verbose=0), fm.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)


def test_sparse_batches_keep_one_shape_and_shuffle_rows():
    from fkeras.interop.data import get_data_adapter

    x, y = _sparse_data()
    data = get_data_adapter(jsparse.BCOO.fromdense(jnp.asarray(x)), np.arange(40), batch_size=16, shuffle=True,
                            seed=1)
    batches = list(data.get_numpy_iterator())
    assert all(isinstance(b[0], jsparse.BCOO) for b in batches)
    assert len({b[0].nse for b in batches}) == 1  # padded alike: the jitted step compiles once per batch shape
    for bx, by in batches:  # each row travels with its target
        np.testing.assert_array_equal(np.asarray(bx.todense()), x[np.asarray(by)])


def test_tf_dataset_of_sparse_tensors_yields_bcoo():
    tf = pytest.importorskip("tensorflow")
    from fkeras.interop.data import get_data_adapter

    x, y = _sparse_data()
    ds = tf.data.Dataset.from_tensor_slices((tf.sparse.from_dense(x), y)).batch(10)
    batches = list(get_data_adapter(ds).get_numpy_iterator())
    assert isinstance(batches[0][0], jsparse.BCOO)
    np.testing.assert_array_equal(np.concatenate([np.asarray(b[0].todense()) for b in batches]), x)


@pytest.mark.parametrize("op", [
    lambda o, s, d: o.abs(s), lambda o, s, d: o.exp(s), lambda o, s, d: o.add(s, s), lambda o, s, d: o.add(s, d),
    lambda o, s, d: o.multiply(s, d), lambda o, s, d: o.divide(s, d), lambda o, s, d: o.matmul(s, o.transpose(s)),
    lambda o, s, d: o.matmul(s, o.transpose(d)), lambda o, s, d: o.sum(s, axis=1),
    lambda o, s, d: o.reshape(s, (-1, 3, 4)), lambda o, s, d: o.concatenate([s, s], axis=1),
    lambda o, s, d: o.concatenate([s, d], axis=1), lambda o, s, d: o.cast(s, "int32"),
], ids=["abs", "exp", "add_ss", "add_sd", "multiply_sd", "divide_sd", "matmul_ss", "matmul_sd", "sum", "reshape",
        "concat_ss", "concat_sd", "cast"])
def test_symbolic_sparsity_follows_keras(op):
    import keras

    import fkeras

    got = op(fops, fkeras.Input(shape=(12,), sparse=True), fkeras.Input(shape=(12,)))
    want = op(keras.ops, keras.Input(shape=(12,), sparse=True), keras.Input(shape=(12,)))
    assert got.sparse == want.sparse and tuple(got.shape) == tuple(want.shape)
