"""String inputs inside models: `Input(dtype="string")` -> TextVectorization/StringLookup/Hashing -> numeric
layers, built, called, predicted, fitted and saved as Keras 3.15 does.

Keras 3.15 on JAX builds and saves such models but cannot run them (`model(x)`, `predict` and `fit` raise on
string arrays), so the oracle for numbers is Keras's own layers called one after the other on the same strings
with the same weights; for `fit`, Keras's numeric model trained on the token ids its TextVectorization gives."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
import chex  # noqa: E402

import fkeras  # noqa: E402

CORPUS = np.array(["the cat sat", "a dog ran far", "the dog sat", "Cats and DOGS!", "a b c d e"])
X = np.array([["the cat"], ["dog ran far away"], ["c"], ["Élan vital"]])
Y = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [1.0, 1.0]], "float32")
TOL = dict(atol=1e-5, rtol=1e-5)


def _model(lib, *, rank=2):
    """Input(string) -> TextVectorization(adapted) -> Embedding -> GlobalAveragePooling1D -> Dense."""
    L = lib.layers
    tv = L.TextVectorization(max_tokens=16, output_sequence_length=5, name="tv")
    tv.adapt(CORPUS)
    inp = lib.Input(shape=(1,) if rank == 2 else (), dtype="string", name="text")
    x = L.Embedding(16, 3, name="emb")(tv(inp))
    out = L.Dense(2, name="head")(L.GlobalAveragePooling1D(name="gap")(x))
    return lib.Model(inp, out)


def _copy_weights(src, dst):
    for name in ("emb", "head"):
        dst.get_layer(name).set_weights([np.asarray(w) for w in src.get_layer(name).get_weights()])


def _keras_layerwise(model, x):
    """Keras's outputs: its layers called eagerly in the model's order."""
    ids = model.get_layer("tv")(x)
    return np.asarray(model.get_layer("head")(model.get_layer("gap")(model.get_layer("emb")(ids))))


# --- symbolic specs ---------------------------------------------------------------------------
LAYERS = {
    "tv_int_len": lambda L: L.TextVectorization(vocabulary=["a", "b"], output_sequence_length=4),
    "tv_int_ragged": lambda L: L.TextVectorization(vocabulary=["a", "b"]),
    "tv_multi_hot": lambda L: L.TextVectorization(vocabulary=["a", "b"], output_mode="multi_hot"),
    "tv_tf_idf": lambda L: L.TextVectorization(vocabulary=["a", "b"], idf_weights=[1.0, 2.0], output_mode="tf_idf"),
    "lookup_int": lambda L: L.StringLookup(vocabulary=["a", "b"]),
    "lookup_one_hot": lambda L: L.StringLookup(vocabulary=["a", "b"], output_mode="one_hot"),
    "hashing": lambda L: L.Hashing(5),
    "hashing_multi_hot": lambda L: L.Hashing(5, output_mode="multi_hot"),
}


@pytest.mark.parametrize("shape", [(1,), ()])
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_symbolic_specs_equal_keras(kind, shape):
    k_in, f_in = keras.Input(shape, dtype="string"), fkeras.Input(shape, dtype="string")
    assert f_in.dtype == "string"
    k_layer = LAYERS[kind](keras.layers)
    k_out = k_layer(k_in)
    f_out = LAYERS[kind](fkeras.layers)(f_in)
    want = tuple(k_out.shape)
    if kind in ("tv_multi_hot", "tv_tf_idf") and shape == (1,):
        # Keras's symbolic shape keeps the (1,) axis, (None, 1, 3), but its outputs are (batch, 3): fkeras
        # gives the outputs' shape, so the layers after it are built for what they will receive
        assert want == (None, 1, 3)
        want = (None,) + np.asarray(k_layer(np.array([["a"], ["b"]]))).shape[1:]
    assert (f_out.shape, f_out.dtype) == (want, k_out.dtype)


@pytest.mark.parametrize("shape", [(1,), ()])
@pytest.mark.parametrize("mode", ["int", "one_hot"])
def test_hashed_crossing_of_strings_in_a_model(mode, shape):
    specs = {}
    for lib in (keras, fkeras):
        a, b = lib.Input(shape, dtype="string"), lib.Input(shape, dtype="string")
        specs[lib] = ([a, b], lib.layers.HashedCrossing(7, output_mode=mode)([a, b]))
    k_out, f_out = specs[keras][1], specs[fkeras][1]
    assert (f_out.shape, f_out.dtype) == (tuple(k_out.shape), k_out.dtype)
    model = fkeras.Model(*specs[fkeras])
    x = [np.array([["x"], ["yy"], ["z"]]), np.array([["p"], ["q"], ["rr"]])]
    x = x if shape == (1,) else [v[:, 0] for v in x]
    chex.assert_trees_all_equal(np.asarray(model.predict(x, verbose=0)).astype(k_out.dtype),
                                np.asarray(keras.layers.HashedCrossing(7, output_mode=mode)(x)))


def test_numeric_layer_on_strings_is_a_clear_error():
    with pytest.raises(ValueError, match=r"Dense.*string inputs.*TextVectorization"):
        fkeras.layers.Dense(2)(fkeras.Input((1,), dtype="string"))


# --- running -------------------------------------------------------------------------------
@pytest.mark.parametrize("rank", [2, 1])
def test_call_and_predict_equal_keras(rank):
    k_model, f_model = _model(keras, rank=rank), _model(fkeras, rank=rank)
    _copy_weights(k_model, f_model)
    x = X if rank == 2 else X[:, 0]
    expected = _keras_layerwise(k_model, x)
    chex.assert_trees_all_close(np.asarray(f_model(x)), expected, **TOL)
    chex.assert_trees_all_close(f_model.predict(x, batch_size=3, verbose=0), expected, **TOL)
    chex.assert_trees_all_close(f_model.predict_on_batch(x), expected, **TOL)
    assert f_model.get_layer("text").output.dtype == "string"


def test_fit_equals_keras_on_token_ids():
    f_model = _model(fkeras)
    ids = np.asarray(keras.layers.TextVectorization(max_tokens=16, output_sequence_length=5,
                                                    vocabulary=f_model.get_layer("tv").get_vocabulary())(X))
    k_in = keras.Input((5,), dtype="int64")
    k_out = keras.layers.Dense(2, name="head")(keras.layers.GlobalAveragePooling1D(name="gap")(
        keras.layers.Embedding(16, 3, name="emb")(k_in)))
    k_model = keras.Model(k_in, k_out)
    _copy_weights(f_model, k_model)
    for m in (f_model, k_model):
        m.compile(keras.optimizers.SGD(0.5) if m is k_model else fkeras.optimizers.SGD(0.5), "mse")
    f_hist = f_model.fit(X, Y, batch_size=2, epochs=2, shuffle=False, verbose=0).history["loss"]
    k_hist = k_model.fit(ids, Y, batch_size=2, epochs=2, shuffle=False, verbose=0).history["loss"]
    chex.assert_trees_all_close(f_hist, k_hist, **TOL)
    for name in ("emb", "head"):
        chex.assert_trees_all_close([np.asarray(w) for w in f_model.get_layer(name).get_weights()],
                                    [np.asarray(w) for w in k_model.get_layer(name).get_weights()], **TOL)
    assert f_hist[1] < f_hist[0]
    chex.assert_trees_all_close(f_model.evaluate(X, Y, verbose=0), k_model.evaluate(ids, Y, verbose=0), **TOL)


def test_wrong_input_dtype_is_a_clear_error():
    model = _model(fkeras)
    with pytest.raises(ValueError, match=r"input 'text' expects strings"):
        model(np.zeros((2, 1), "float32"))


# --- .keras files both ways ----------------------------------------------------------------------
def test_fkeras_file_loads_in_keras(tmp_path):
    model = _model(fkeras)
    path = str(tmp_path / "f.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_layer("text").output.dtype == "string"
    assert loaded.get_layer("tv").get_vocabulary() == model.get_layer("tv").get_vocabulary()
    chex.assert_trees_all_close(_keras_layerwise(loaded, X), model.predict(X, verbose=0), **TOL)


def test_keras_file_loads_in_fkeras(tmp_path):
    model = _model(keras)
    path = str(tmp_path / "k.keras")
    model.save(path)
    loaded = fkeras.saving.load_model(path)
    assert loaded.get_layer("text").output.dtype == "string"
    assert loaded.get_layer("tv").get_vocabulary() == model.get_layer("tv").get_vocabulary()
    expected = _keras_layerwise(model, X)
    chex.assert_trees_all_close(loaded.predict(X, verbose=0), expected, **TOL)
    chex.assert_trees_all_close(np.asarray(loaded(X)), expected, **TOL)


# --- several inputs, strings and numbers -----------------------------------------------------------
NUM = np.random.RandomState(0).rand(4, 3).astype("float32")
CAT = np.array([["x"], ["y"], ["zz"], ["x"]])


def _multi_model(lib):
    """Text (multi_hot) + numbers + a category (StringLookup one_hot and Hashing one_hot) -> Dense."""
    L = lib.layers
    txt = lib.Input((), dtype="string", name="txt")  # Keras's symbolic multi_hot of a (None, 1) text is 3-D
    num = lib.Input((3,), name="num")
    cat = lib.Input((1,), dtype="string", name="cat")
    parts = [L.TextVectorization(vocabulary=["the", "cat", "dog"], output_mode="multi_hot", name="tv")(txt), num,
             L.StringLookup(vocabulary=["x", "y"], output_mode="one_hot", name="lookup")(cat),
             L.Hashing(4, output_mode="one_hot", name="hash")(cat)]
    return lib.Model([txt, num, cat], L.Dense(2, name="head")(L.Concatenate(name="concat")(parts)))


def test_several_inputs_predict_and_fit():
    k_model, f_model = _multi_model(keras), _multi_model(fkeras)
    f_model.get_layer("head").set_weights([np.asarray(w) for w in k_model.get_layer("head").get_weights()])
    k = k_model.get_layer
    feats = [np.asarray(k("tv")(X[:, 0]), "float32"), NUM, np.asarray(k("lookup")(CAT), "float32"),
             np.asarray(k("hash")(CAT), "float32")]
    expected = np.asarray(k("head")(np.concatenate(feats, axis=1)))
    chex.assert_trees_all_close(f_model.predict([X[:, 0], NUM, CAT], batch_size=3, verbose=0), expected, **TOL)
    chex.assert_trees_all_close(np.asarray(f_model({"txt": X[:, 0], "num": NUM, "cat": CAT})), expected, **TOL)
    tf = pytest.importorskip("tensorflow")
    data = tf.data.Dataset.from_tensor_slices(((X[:, 0], NUM, CAT), Y)).batch(2)  # strings arrive as bytes
    f_model.compile(fkeras.optimizers.SGD(0.1), "mse")
    hist = f_model.fit(data, validation_data=data, epochs=3, verbose=0).history
    assert hist["loss"][-1] < hist["loss"][0] and len(hist["val_loss"]) == 3
    chex.assert_trees_all_close(f_model.evaluate(data, verbose=0), hist["val_loss"][-1], **TOL)


def test_pure_face_and_host_values():
    """`init(rng)` without examples, `apply` on strings, `stateless_call`, a TF string tensor, and the jitted
    rest of the graph on `host_values(x)` all give the eager model's outputs."""
    import jax

    tf = pytest.importorskip("tensorflow")
    model = _model(fkeras)
    expected = np.asarray(model(X))
    variables = model.init(jax.random.key(0))
    assert jax.tree.map(np.shape, variables.params) == {"emb": {"embeddings": (16, 3)},
                                                        "head": {"bias": (2,), "kernel": (3, 2)}}
    variables = model.variables_tree
    chex.assert_trees_all_close(np.asarray(model.apply(variables, X)[0]), expected, **TOL)
    chex.assert_trees_all_close(np.asarray(model(tf.constant(X))), expected, **TOL)
    tv, ntv = [v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables]
    chex.assert_trees_all_close(np.asarray(model.stateless_call(tv, ntv, X)[0]), expected, **TOL)
    graph = model.nn_layer
    host = graph.host_values(X)
    assert [np.asarray(v).dtype.kind for v in host.values] == ["i"]  # only the token ids cross into jit
    jitted = jax.jit(lambda v, h: graph.apply(v, h)[0])(variables, host)
    chex.assert_trees_all_close(np.asarray(jitted), expected, **TOL)
