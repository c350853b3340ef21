"""String inputs in a Sequential model: `Sequential([Input(dtype="string"), StringLookup | TextVectorization,
Embedding, ...])` (and the same without the Input, built from strings as Keras builds it) is called, fitted,
predicted, evaluated and saved; Keras 3.15 reads the `.keras` file and the other way round.

Keras 3.15's JAX backend cannot fit such a model, so the oracle for numbers is Keras's layers called one after the
other with the same weights (its string layers run eagerly); `fit` is compared with Keras's numeric rest trained on
the token ids."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
import chex  # noqa: E402
import jax  # noqa: E402

import fkeras  # noqa: E402
from fkeras import nn  # noqa: E402

CORPUS = np.array(["the cat sat", "a dog ran far", "the dog sat", "Cats and DOGS!", "Élan vital"])
X = np.array([["the cat"], ["dog ran far away"], ["zz"], ["Élan"]])
Y = np.array([[1.0], [0.0], [0.5], [1.0]], "float32")
TOL = dict(atol=1e-5, rtol=1e-5)


def _first(lib, kind):
    L = lib.layers
    if kind == "lookup":
        return L.StringLookup(vocabulary=["the cat", "zz", "Élan"], name="first")
    tv = L.TextVectorization(max_tokens=12, output_sequence_length=4, name="first")
    tv.adapt(CORPUS)
    return tv


def _model(lib, kind, with_input=True):
    """[Input(string)] -> StringLookup/TextVectorization -> Embedding -> Flatten -> Dense."""
    L = lib.layers
    length = 1 if kind == "lookup" else 4
    layers = [_first(lib, kind), L.Embedding(12, 3, name="emb"), L.Flatten(name="flat"), L.Dense(1, name="head")]
    if with_input:
        layers.insert(0, lib.Input(shape=(1,), dtype="string", name="text"))
    model = lib.Sequential(layers, name=f"seq_{kind}")
    if not with_input:
        model.build((None, 1))
    assert tuple(model.output_shape) == (None, 1) and length
    return model


def _copy(src, dst):
    for name in ("emb", "head"):
        dst.get_layer(name).set_weights([np.asarray(w) for w in src.get_layer(name).get_weights()])


def _keras_layerwise(model, x):
    y = np.asarray(model.get_layer("first")(x))
    for name in ("emb", "flat", "head"):
        y = np.asarray(model.get_layer(name)(y))
    return y


@pytest.mark.parametrize("with_input", [True, False], ids=["input", "built"])
@pytest.mark.parametrize("kind", ["lookup", "tv"])
def test_call_predict_evaluate_equal_keras(kind, with_input):
    k_model, f_model = _model(keras, kind), _model(fkeras, kind, with_input)
    _copy(k_model, f_model)
    expected = _keras_layerwise(k_model, X)
    chex.assert_trees_all_close(np.asarray(f_model(X)), expected, **TOL)
    chex.assert_trees_all_close(f_model.predict(X, batch_size=3, verbose=0), expected, **TOL)
    chex.assert_trees_all_close(f_model.predict_on_batch(X), expected, **TOL)
    f_model.compile(fkeras.optimizers.SGD(0.1), "mse")
    chex.assert_trees_all_close(f_model.evaluate(X, Y, verbose=0), float(np.mean((expected - Y) ** 2)), **TOL)
    assert f_model.inputs[0].dtype == "string"
    assert f_model.get_config()["layers"][0]["config"]["dtype"] == "string"


def test_fit_equals_keras_on_token_ids():
    fkeras.utils.set_random_seed(0)  # (SGD(0.5) could overshoot from an unlucky draw)
    f_model = _model(fkeras, "tv")
    ids = np.asarray(keras.layers.TextVectorization(max_tokens=12, output_sequence_length=4,
                                                    vocabulary=f_model.get_layer("first").get_vocabulary())(X))
    k_model = keras.Sequential([keras.Input((4,), dtype="int64"), keras.layers.Embedding(12, 3, name="emb"),
                                keras.layers.Flatten(name="flat"), keras.layers.Dense(1, name="head")])
    _copy(f_model, k_model)
    f_model.compile(fkeras.optimizers.SGD(0.1), "mse")
    k_model.compile(keras.optimizers.SGD(0.1), "mse")
    f_hist = f_model.fit(X, Y, batch_size=2, epochs=2, shuffle=False, verbose=0).history["loss"]
    k_hist = k_model.fit(ids, Y, batch_size=2, epochs=2, shuffle=False, verbose=0).history["loss"]
    chex.assert_trees_all_close(f_hist, k_hist, **TOL)
    for name in ("emb", "head"):
        chex.assert_trees_all_close([np.asarray(w) for w in f_model.get_layer(name).get_weights()],
                                    [np.asarray(w) for w in k_model.get_layer(name).get_weights()], **TOL)
    assert f_hist[1] < f_hist[0]


def test_fit_on_a_tf_dataset_of_strings():
    tf = pytest.importorskip("tensorflow")
    fkeras.utils.set_random_seed(0)  # (SGD(0.5) could overshoot from an unlucky draw: 1 seed in 12)
    model = _model(fkeras, "lookup")
    model.compile(fkeras.optimizers.SGD(0.1), "mse")
    data = tf.data.Dataset.from_tensor_slices((X, Y)).batch(2)  # strings arrive as bytes
    hist = model.fit(data, epochs=3, verbose=0).history["loss"]
    assert hist[-1] < hist[0]
    chex.assert_trees_all_close(model.predict(data, verbose=0), model.predict(X, verbose=0), **TOL)


@pytest.mark.parametrize("kind", ["lookup", "tv"])
def test_fkeras_file_loads_in_keras_and_back(kind, tmp_path):
    model = _model(fkeras, kind)
    model.compile(fkeras.optimizers.SGD(0.5), "mse")
    model.fit(X, Y, epochs=1, verbose=0)
    expected = model.predict(X, verbose=0)
    path = str(tmp_path / "f.keras")
    model.save(path)
    k_loaded = keras.saving.load_model(path)
    assert type(k_loaded).__name__ == "Sequential" and k_loaded.inputs[0].dtype == "string"
    assert k_loaded.get_layer("first").get_vocabulary() == model.get_layer("first").get_vocabulary()
    chex.assert_trees_all_close(_keras_layerwise(k_loaded, X), expected, **TOL)
    f_loaded = fkeras.saving.load_model(path)
    chex.assert_trees_all_close(f_loaded.predict(X, verbose=0), expected, **TOL)


def test_keras_file_loads_in_fkeras(tmp_path):
    model = _model(keras, "tv")
    path = str(tmp_path / "k.keras")
    model.save(path)
    loaded = fkeras.saving.load_model(path)
    assert isinstance(loaded, fkeras.Sequential) and loaded.inputs[0].dtype == "string"
    expected = _keras_layerwise(model, X)
    chex.assert_trees_all_close(loaded.predict(X, verbose=0), expected, **TOL)
    chex.assert_trees_all_close(np.asarray(loaded(X)), expected, **TOL)


def test_nn_sequential_runs_string_layers_on_the_host():
    """`nn.Sequential` with a string Input: `init(rng)` with no spec, `apply` on strings, and the jitted rest on
    `host_values(x)` give the same numbers; the variables are keyed by layer name as for numbers."""
    seq = nn.Sequential([nn.Input((1,), dtype="string"), nn.StringLookup(vocabulary=["a", "b"], name="lookup"),
                         nn.Embedding(4, 2, name="emb"), nn.Flatten(name="flat"), nn.Dense(1, name="head")])
    assert seq.has_host
    variables = seq.init(jax.random.key(0))
    assert jax.tree.map(np.shape, variables.params) == {"emb": {"embeddings": (4, 2)},
                                                        "head": {"bias": (1,), "kernel": (2, 1)}}
    x = np.array([["a"], ["b"], ["c"]])
    out = np.asarray(seq.apply(variables, x)[0])
    ids = np.array([[1], [2], [0]])  # OOV index 0, then the vocabulary
    emb = np.asarray(variables.params["emb"]["embeddings"])[ids].reshape(3, 2)
    expected = emb @ np.asarray(variables.params["head"]["kernel"]) + np.asarray(variables.params["head"]["bias"])
    chex.assert_trees_all_close(out, expected, **TOL)
    host = seq.host_values(x)
    assert [np.asarray(v).dtype.kind for v in host.values] == ["i"]  # only ids cross into the jitted part
    jitted = jax.jit(lambda v, h: seq.apply(v, h)[0])(variables, host)
    chex.assert_trees_all_close(np.asarray(jitted), expected, **TOL)
    with pytest.raises(ValueError, match="expects strings"):
        seq.apply(variables, np.zeros((3, 1), "float32"))


def test_numbers_into_a_string_sequential_is_a_clear_error():
    model = _model(fkeras, "lookup")
    with pytest.raises(ValueError, match=r"input 'text' expects strings"):
        model(np.zeros((2, 1), "float32"))
