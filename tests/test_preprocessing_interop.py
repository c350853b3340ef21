"""Preprocessing layers outside plain NumPy: inside a `tf.data` map (tf.numpy_function / TF ops), on torch
tensors (and through `to_torch`), under `jax.jit` (pure_callback), and a text pipeline feeding `fit`."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
tf = pytest.importorskip("tensorflow")
torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
import jax  # noqa: E402

import fkeras  # noqa: E402

TEXT = ["the cat sat", "the dog ran far", "a cat ran", "dogs and cats"]


def test_in_tf_data_map_like_keras():
    f_tv, k_tv = (lib.layers.TextVectorization(output_sequence_length=5) for lib in (fkeras, keras))
    f_sl, k_sl = (lib.layers.StringLookup(vocabulary=["the", "cat"]) for lib in (fkeras, keras))
    f_no, k_no = (lib.layers.Normalization() for lib in (fkeras, keras))
    for layer in (f_tv, k_tv):
        layer.adapt(TEXT)
    x = np.random.RandomState(0).rand(6, 2).astype("float32")
    for layer in (f_no, k_no):
        layer.adapt(x)

    def pipeline(tv, sl, no):
        ds = tf.data.Dataset.from_tensor_slices((TEXT, x[:4])).batch(2)
        ds = ds.map(lambda t, v: (tv(t), sl(tf.strings.split(t).to_tensor()), no(v)))
        return [[np.asarray(a) for a in batch] for batch in ds]

    got, want = pipeline(f_tv, f_sl, f_no), pipeline(k_tv, k_sl, k_no)
    ds = tf.data.Dataset.from_tensor_slices(TEXT).batch(2).map(f_tv)
    assert ds.element_spec.shape.as_list() == [None, 5] and ds.element_spec.dtype == tf.int64
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g[0], w[0])
        np.testing.assert_array_equal(g[1], w[1])
        np.testing.assert_allclose(g[2], w[2], rtol=1e-5, atol=1e-6)


def test_on_torch_tensors():
    x = torch.tensor([[0.1, 2.0, 5.0], [1.0, -1.0, 0.5]])
    norm = fkeras.layers.Normalization()
    norm.adapt(x.numpy())
    k_norm = keras.layers.Normalization()
    k_norm.adapt(x.numpy())
    out = norm(x)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), np.asarray(k_norm(x.numpy())), rtol=1e-5, atol=1e-6)
    ids = torch.tensor([[5, 9, 6, 5]])
    lookup = fkeras.layers.IntegerLookup(vocabulary=[5, 6], output_mode="count")
    out = lookup(ids)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_array_equal(out.numpy(), np.asarray(keras.layers.IntegerLookup(
        vocabulary=[5, 6], output_mode="count")(ids.numpy())))
    cases = [(fkeras.layers.Discretization([0.5, 1.5]), keras.layers.Discretization([0.5, 1.5]), x),
             (fkeras.layers.CategoryEncoding(4, "multi_hot"), keras.layers.CategoryEncoding(4, "multi_hot"),
              torch.tensor([[0, 3, 3]])),
             (fkeras.layers.Hashing(6, salt=3), keras.layers.Hashing(6, salt=3), torch.tensor([[1, 2, 70000]]))]
    for f_layer, k_layer, inp in cases:
        out = f_layer(inp)
        assert isinstance(out, torch.Tensor), type(f_layer)
        np.testing.assert_array_equal(out.numpy(), np.asarray(k_layer(inp.numpy())))
    words = fkeras.layers.StringLookup(vocabulary=["a", "b"], invert=True)(torch.tensor([2, 0, 1]))
    assert list(words) == ["b", "[UNK]", "a"]


def test_to_torch_module_runs_the_same_layers():
    from fkeras.interop.torch import to_torch

    x = np.random.RandomState(2).rand(8, 3).astype("float32")
    norm = fkeras.layers.Normalization()
    norm.adapt(x)
    model = fkeras.Sequential([fkeras.Input((3,)), norm, fkeras.layers.Discretization([-0.5, 0.5], output_mode="count")])
    module = to_torch(model)
    got = module(torch.from_numpy(x))
    np.testing.assert_allclose(got.detach().numpy(), np.asarray(model.predict(x, verbose=0)))


def test_under_jit_and_errors():
    layer = fkeras.nn.IntegerLookup(vocabulary=[5, 6], num_oov_indices=2)
    fn = jax.jit(lambda v: layer.apply({}, v)[0])
    np.testing.assert_array_equal(np.asarray(fn(jax.numpy.array([5, 7, 6, 8]))), [2, 1, 3, 0])
    hashing = fkeras.nn.Hashing(5, output_mode="one_hot")
    assert jax.jit(lambda v: hashing.apply({}, v)[0])(jax.numpy.array([[1], [2]])).shape == (2, 5)
    with pytest.raises(ValueError, match="expected string inputs"):
        fkeras.layers.TextVectorization()(np.array([1, 2]))


def test_text_pipeline_feeds_fit():
    """TextVectorization adapted, mapped over a tf.data dataset, feeding an Embedding model's fit."""
    tv = fkeras.layers.TextVectorization(max_tokens=20, output_sequence_length=6)
    tv.adapt(tf.data.Dataset.from_tensor_slices(TEXT).batch(2))
    ds = tf.data.Dataset.from_tensor_slices((TEXT, [0, 1, 0, 1])).batch(2).map(lambda t, y: (tv(t), y))
    model = fkeras.Sequential([fkeras.Input((6,), dtype="int32"), fkeras.layers.Embedding(20, 4),
                               fkeras.layers.GlobalAveragePooling1D(), fkeras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    history = model.fit(ds, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.predict(ds, verbose=0).shape == (4, 1)


def test_numeric_layers_in_tf_data_map_like_keras():
    ids = np.array([[1, 2, 2], [3, 0, 1], [7, 7, 7], [2, 3, 9]])
    vals = np.linspace(-1, 1, 12, dtype="float32").reshape(4, 3)

    def layers(lib):
        lookup = lib.layers.IntegerLookup(output_mode="tf_idf")
        lookup.adapt(ids)
        return [lookup, lib.layers.Hashing(5, output_mode="count"), lib.layers.CategoryEncoding(10, "multi_hot"),
                lib.layers.HashedCrossing(7)], lib.layers.Discretization([-0.5, 0.0, 0.5])

    def run(lib):
        (lookup, hashing, encoding, crossing), disc = layers(lib)
        ds = tf.data.Dataset.from_tensor_slices((ids, vals)).batch(2).map(
            lambda i, v: (lookup(i), hashing(i), encoding(i), crossing((i[:, :1], i[:, 1:2])), disc(v)))
        return [[np.asarray(a) for a in batch] for batch in ds]

    for got, want in zip(run(fkeras), run(keras)):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.astype("float64"), w.astype("float64"), rtol=1e-6)
