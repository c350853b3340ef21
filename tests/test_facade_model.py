"""fkeras.Sequential / fkeras.Model: structure, Keras parity, summary, config, errors."""

import chex
import jax
import numpy as np
import pytest

import fkeras as keras
from fkeras import nn


def seed_convnet(lib, num_classes=10, input_shape=(28, 28, 1)):
    """The seed guide's convnet, written once for `lib` = fkeras or keras."""
    return lib.Sequential([
        lib.layers.Input(shape=input_shape),
        lib.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        lib.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        lib.layers.MaxPooling2D(pool_size=(2, 2)),
        lib.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
        lib.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
        lib.layers.GlobalAveragePooling2D(),
        lib.layers.Dropout(0.5),
        lib.layers.Dense(num_classes, activation="softmax"),
    ])


def test_seed_convnet_summary_matches_keras_numbers():
    model = seed_convnet(keras)
    lines = []
    model.summary(print_fn=lines.append)
    text = "".join(lines)
    assert 'Model: "sequential"' in text
    for needle in ("conv2d (Conv2D)", "(None, 26, 26, 64)", "640", "36,928", "(None, 12, 12, 64)", "73,856",
                   "147,584", "(None, 128)", "dropout (Dropout)", "(None, 10)", "1,290",
                   "Total params: 260,298 (1016.79 KB)", "Trainable params: 260,298 (1016.79 KB)",
                   "Non-trainable params: 0 (0.00 B)"):
        assert needle in text, needle
    assert model.count_params() == 260_298


def test_sequential_equals_keras_given_the_same_weights():
    import keras as real_keras

    x = np.random.default_rng(0).random((3, 16, 16, 1), dtype=np.float32)
    theirs = seed_convnet(real_keras, input_shape=(16, 16, 1))
    ours = seed_convnet(keras, input_shape=(16, 16, 1))
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    ours.set_weights(theirs.get_weights())
    expected = np.asarray(theirs.predict(x, verbose=0))
    chex.assert_trees_all_close(np.asarray(ours(x)), expected, atol=1e-5, rtol=1e-5)
    y, _ = jax.jit(ours.apply)(ours.variables_tree, x)
    chex.assert_trees_all_close(np.asarray(y), expected, atol=1e-5, rtol=1e-5)
    assert [v.path for v in ours.weights][:2] == [f"{ours.name}/conv2d/kernel", f"{ours.name}/conv2d/bias"]


def test_sequential_params_are_nn_sequential_params():
    ours = keras.Sequential([keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)])
    keras.backend.clear_session(free_memory=False)
    pure = nn.Sequential([nn.Dense(4, activation="relu"), nn.Dense(2)])
    a = ours.init(jax.random.key(5), (None, 3))
    b = pure.init(jax.random.key(5), (None, 3))
    chex.assert_trees_all_equal(a.params, b.params)
    x = np.ones((2, 3), "float32")
    chex.assert_trees_all_close(np.asarray(ours.apply(a, x)[0]), np.asarray(pure.apply(b, x)[0]), atol=1e-6)


def test_sequential_builds_on_first_data_and_add_pop():
    model = keras.Sequential(name="stack")
    model.add(keras.layers.Dense(4))
    assert not model.built
    y = model(np.ones((2, 3), "float32"))
    assert model.built and y.shape == (2, 4)
    model.add(keras.layers.Dense(2, name="head"))
    assert model(np.ones((2, 3), "float32")).shape == (2, 2)
    assert model.get_layer("head") is model.layers[-1] and model.get_layer(index=0).name == "dense"
    popped = model.pop()
    assert popped.name == "head" and [l.name for l in model.layers] == ["dense"]
    with pytest.raises(ValueError, match="No such layer: 'nope'"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="out of range"):
        model.get_layer(index=5)


def test_sequential_input_shape_kwarg_and_nn_layers():
    model = keras.Sequential([keras.layers.Dense(4, input_shape=(3,)), nn.Dense(2, name="pure")])
    assert model.built and model.layers[1].name == "pure"
    assert isinstance(model.layers[1], keras.layers.Dense)
    assert model.input_shape == (None, 3)


def test_sequential_config_round_trip():
    model = keras.Sequential([keras.layers.Input((5,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(2)], name="seq")
    config = model.get_config()
    assert config["name"] == "seq"
    assert config["layers"][0]["class_name"] == "InputLayer"
    assert config["layers"][0]["config"]["batch_shape"] == [None, 5]
    assert [l["class_name"] for l in config["layers"][1:]] == ["Dense", "Dense"]
    clone = keras.Sequential.from_config(config)
    assert clone.built and [w.shape for w in clone.weights] == [w.shape for w in model.weights]
    clone.set_weights(model.get_weights())
    x = np.ones((2, 5), "float32")
    chex.assert_trees_all_equal(np.asarray(clone(x)), np.asarray(model(x)))


def test_model_with_inputs_outputs_is_functional():
    inputs = keras.Input(shape=(3,))
    outputs = keras.layers.Dense(2)(inputs)
    model = keras.Model(inputs=inputs, outputs=outputs)
    from fkeras.models.functional import Functional

    assert isinstance(model, Functional) and isinstance(model, keras.Model)
    x = np.ones((4, 3), "float32")
    assert model(x).shape == (4, 2)
    y, _ = jax.jit(model.apply)(model.variables_tree, x)
    chex.assert_trees_all_close(np.asarray(y), np.asarray(model(x)), atol=1e-6)


def test_functional_model_inside_a_subclassed_model():
    inputs = keras.Input(shape=(3,))
    inner = keras.Model(inputs, keras.layers.Dense(4, activation="relu")(inputs), name="inner")

    class Outer(keras.Model):
        def __init__(self):
            super().__init__()
            self.inner = inner
            self.head = keras.layers.Dense(1)

        def call(self, x):
            return self.head(self.inner(x))

    model = Outer()
    x = np.random.default_rng(0).random((5, 3), dtype=np.float32)
    v = model.init(jax.random.key(0), x)
    assert set(v.params) == {"inner", "dense_1"}
    y, _ = jax.jit(model.apply)(v, x)
    p = jax.tree_util.tree_map(np.asarray, v.params)
    h = np.maximum(x @ p["inner"]["dense"]["kernel"] + p["inner"]["dense"]["bias"], 0)
    chex.assert_trees_all_close(np.asarray(y), h @ p["dense_1"]["kernel"] + p["dense_1"]["bias"], atol=1e-5)


def test_sequential_wrong_input_shape_is_a_clear_error():
    model = keras.Sequential([keras.layers.Input((28, 28, 1)), keras.layers.Conv2D(2, 3)], name="net")
    with pytest.raises(ValueError, match=r"model 'net'.*expected shape \(None, 28, 28, 1\).*\(2, 28, 28, 3\)"):
        model(np.ones((2, 28, 28, 3), "float32"))


def test_sequential_duplicate_names_and_bad_elements():
    with pytest.raises(ValueError, match="unique names.*'a'"):
        keras.Sequential([keras.layers.Dense(2, name="a"), keras.layers.Dense(2, name="a")])
    with pytest.raises(TypeError, match="expected a layer, got str"):
        keras.Sequential(["dense"])
    with pytest.raises(ValueError, match="Input must be the first"):
        keras.Sequential([keras.layers.Dense(2), keras.Input((3,))])


def test_model_subclass_called_with_inputs_outputs_is_a_functional_of_that_class():
    from fkeras.models.functional import Functional

    class CustomModel(keras.Model):
        def describe(self):
            return f"custom {self.name}"

    inputs = keras.Input(shape=(3,))
    model = CustomModel(inputs, keras.layers.Dense(2)(inputs), name="cm")
    assert isinstance(model, CustomModel) and isinstance(model, Functional)
    assert type(model).__name__ == "CustomModel" and model.describe() == "custom cm"
    assert model(np.ones((4, 3), "float32")).shape == (4, 2)

    class Plain(keras.Model):  # positional args that are not tensors stay a subclassed model
        def __init__(self, a, b):
            super().__init__()
            self.a, self.b = a, b

    assert not isinstance(Plain(1, 2), Functional)


def test_sequential_with_input_has_a_symbolic_graph_for_feature_extraction():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="relu", name="hidden"),
                              keras.layers.Dense(2, name="head")])
    assert model.inputs[0].shape == (None, 6) and model.outputs[0].shape == (None, 2)
    assert model.get_layer("hidden").output.shape == (None, 4)
    extractor = keras.Model(inputs=model.inputs, outputs=[layer.output for layer in model.layers])
    x = np.random.default_rng(0).random((3, 6), dtype=np.float32)
    hidden, head = extractor(x)
    chex.assert_trees_all_close(np.asarray(head), np.asarray(model(x)), atol=1e-6)
    p = model.variables_tree.params["hidden"]
    chex.assert_trees_all_close(np.asarray(hidden), np.maximum(x @ np.asarray(p["kernel"]) + np.asarray(p["bias"]), 0),
                                atol=1e-6)
    with pytest.raises(AttributeError, match="never been called on symbolic inputs"):
        keras.layers.Dense(2).output


def test_clone_model_same_architecture_fresh_weights():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])
    clone = keras.models.clone_model(model)
    assert type(clone) is keras.Sequential and clone is not model
    assert [l.get_config() for l in clone.layers] == [l.get_config() for l in model.layers]
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]
    assert all(a is not b for a, b in zip(clone.weights, model.weights))


def test_summary_nested_and_frozen_counts():
    inner = keras.Sequential([keras.layers.Dense(3), keras.layers.BatchNormalization()], name="inner")
    model = keras.Sequential([keras.Input((4,)), inner, keras.layers.Dense(1)])
    inner.trainable = False
    lines = []
    model.summary(expand_nested=True, show_trainable=True, print_fn=lines.append, line_length=100)
    text = "".join(lines)
    assert "inner (Sequential)" in text and "└ dense (Dense)" in text and "└ batch_normalization" in text
    # Dense(4->3) 15 + BatchNorm 12 frozen; Dense(3->1) 4 trainable (Keras counts)
    assert "Total params: 31 (124.00 B)" in text
    assert "Trainable params: 4 (16.00 B)" in text
    assert "Non-trainable params: 27 (108.00 B)" in text
