"""fkeras.utils.FeatureSpace vs Keras 3.15's on the same data: encoded outputs, adapt, crosses, configs."""

import inspect
import re

import numpy as np
import pytest

import fkeras

RNG = np.random.default_rng(0)
DATA = {"age": RNG.uniform(18, 80, 40).astype("float32"), "income": RNG.normal(50, 10, 40).astype("float32"),
        "city": RNG.choice(["paris", "rome", "oslo"], 40), "kids": RNG.integers(0, 4, 40).astype("int32"),
        "score": RNG.uniform(0, 1, 40).astype("float32"), "tag": RNG.choice(["a", "b", "c", "d"], 40),
        "zip": RNG.integers(0, 100, 40).astype("int32"), "raw": RNG.normal(size=40).astype("float32")}
FEATURES = {"age": "float_normalized", "income": "float_rescaled", "city": "string_categorical",
            "kids": "integer_categorical", "score": "float_discretized", "tag": "string_hashed",
            "zip": "integer_hashed", "raw": "float"}
KW = dict(crosses=[("city", "kids")], crossing_dim=8, hashing_dim=5, num_discretization_bins=4)


def _keras_space(features, **kwargs):
    import keras
    import tensorflow as tf

    space = keras.utils.FeatureSpace(features, **kwargs)
    space.adapt(tf.data.Dataset.from_tensor_slices(DATA))
    return space


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64"), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("output_mode", ["concat", "dict"])
def test_outputs_match_keras(output_mode):
    theirs = _keras_space(FEATURES, output_mode=output_mode, **KW)
    ours = fkeras.utils.FeatureSpace(FEATURES, output_mode=output_mode, **KW)
    ours.adapt(DATA)
    for sample in ({k: v[:6] for k, v in DATA.items()}, {k: v[3] for k, v in DATA.items()},
                   {k: v[:5, None] for k, v in DATA.items()}):
        a, b = ours(sample), theirs(sample)
        if output_mode == "concat":
            assert tuple(a.shape) == tuple(b.shape)
            _close(a, b)
        else:
            assert list(a) == list(b)
            for k in a:
                assert tuple(a[k].shape) == tuple(b[k].shape)
                _close(a[k], b[k])


def test_custom_features_and_int_outputs_match_keras():
    import keras

    def features(k):
        fs = k.utils.FeatureSpace
        return {"city": fs.string_categorical(max_tokens=3, num_oov_indices=1, output_mode="int"),
                "kids": fs.integer_categorical(output_mode="one_hot"),
                "score": fs.float_discretized(num_bins=3, output_mode="int"),
                "income": fs.float_rescaled(scale=0.1, offset=-5.0)}

    theirs = _keras_space(features(keras), output_mode="dict",
                          crosses=[keras.utils.FeatureSpace.cross(("city", "kids"), 6, output_mode="int")])
    ours = fkeras.utils.FeatureSpace(features(fkeras), output_mode="dict",
                                     crosses=[fkeras.utils.FeatureSpace.cross(("city", "kids"), 6, output_mode="int")])
    import tensorflow as tf

    ours.adapt(tf.data.Dataset.from_tensor_slices(DATA).batch(7))  # a tf.data source works too
    sample = {k: DATA[k][:8] for k in ("city", "kids", "score", "income")}  # Keras wants exactly its features
    a, b = ours(sample), theirs(sample)
    for k in b:
        _close(a[k], b[k])
    with pytest.raises(ValueError, match="Cannot concatenate"):
        fkeras.utils.FeatureSpace({"city": fkeras.utils.FeatureSpace.string_categorical(output_mode="int")}).adapt(
            DATA)


def test_in_a_tf_data_map_like_keras():
    """Keras's guide pattern: encode inside `tf.data`'s map, then fit on the encoded batches."""
    import tensorflow as tf

    theirs = _keras_space(FEATURES, **KW)
    ours = fkeras.utils.FeatureSpace(FEATURES, **KW)
    ours.adapt(DATA)
    ds = tf.data.Dataset.from_tensor_slices((DATA, np.arange(40, dtype="float32"))).batch(8)
    mine = ds.map(lambda x, y: (ours(x), y))
    for (a, ya), (b, yb) in zip(mine, ds.map(lambda x, y: (theirs(x), y))):
        _close(a.numpy(), b.numpy())
    model = fkeras.Sequential([fkeras.Input((a.shape[-1],)), fkeras.layers.Dense(1)])
    model.compile("sgd", "mse")
    assert len(model.fit(mine, epochs=1, verbose=0).history["loss"]) == 1


def test_a_layer_like_keras():
    """Keras 3.15's FeatureSpace is a Layer: auto name, built by adapt, its preprocessors' weights as its own;
    mapping the FeatureSpace itself over unlabeled `tf.data` batches (Keras's pattern) gives Keras's values."""
    import keras
    import tensorflow as tf

    theirs = _keras_space(FEATURES, **KW)
    ours = fkeras.utils.FeatureSpace(FEATURES, **KW)
    assert isinstance(ours, fkeras.layers.Layer) and isinstance(theirs, keras.layers.Layer)
    assert re.fullmatch(r"feature_space(_\d+)?", ours.name), ours.name
    assert not ours.built
    ours.adapt(DATA)
    assert ours.built and theirs.built
    assert sorted(w.path for w in ours.weights) == sorted(w.path for w in theirs.weights)
    children = {layer.name for layer in ours._fk_children()}
    assert {f"{n}_preprocessor" for n in FEATURES} | {"city_X_kids"} <= children
    ds = tf.data.Dataset.from_tensor_slices(DATA).batch(16)
    for a, b in zip(ds.map(ours), ds.map(theirs)):
        _close(a.numpy(), b.numpy())


def test_save_and_load_like_keras(tmp_path):
    """`save` writes Keras's `.keras` layout (config under keras.utils, build_config, weights and vocabularies);
    fkeras loads its own file and Keras's, Keras loads fkeras's, and all encode as the original does."""
    import json
    import zipfile

    import keras

    theirs = _keras_space(FEATURES, **KW)
    ours = fkeras.utils.FeatureSpace(FEATURES, **KW)
    ours.adapt(DATA)
    ours.save(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")
    configs = [json.loads(zipfile.ZipFile(tmp_path / f"{w}.keras").read("config.json")) for w in ("ours", "theirs")]
    for key in ("module", "class_name", "registered_name"):
        assert configs[0][key] == configs[1][key], key
    # a preprocessor whose facade layer records no build shape (Hashing, Discretization) writes {}: it has no
    # weights to place, so it loads either way
    builds = [c["build_config"] for c in configs]
    assert sorted(builds[0]) == sorted(builds[1])
    assert all(builds[0][n] in ({}, builds[1][n]) for n in builds[1]), builds
    assert configs[0]["config"]["crosses"] == configs[1]["config"]["crosses"]
    assert sorted(zipfile.ZipFile(tmp_path / "ours.keras").namelist()) == \
        sorted(zipfile.ZipFile(tmp_path / "theirs.keras").namelist())
    sample = {k: v[:6] for k, v in DATA.items()}
    expected = np.asarray(theirs(sample))
    for path in ("ours.keras", "theirs.keras"):
        loaded = fkeras.models.load_model(tmp_path / path)
        assert isinstance(loaded, fkeras.utils.FeatureSpace)
        _close(loaded(sample), expected)
    _close(keras.models.load_model(tmp_path / "ours.keras")(sample), expected)


def test_model_on_encoded_features():
    """Keras's inference-model pattern: raw features (strings too) in, the encoded features feed the model."""
    space = fkeras.utils.FeatureSpace(FEATURES, **KW)
    space.adapt(DATA)
    inputs = space.get_inputs()
    assert sorted(inputs) == sorted(FEATURES)
    assert inputs["kids"].dtype == "int32" and inputs["city"].dtype == "string" and inputs["age"].shape == (None, 1)
    model = fkeras.Model(inputs, fkeras.layers.Dense(1)(space.get_encoded_features()))
    sample = {k: DATA[k][:5, None] for k in FEATURES}
    np.testing.assert_allclose(model.predict(sample, verbose=0), model.layers[-1](space(sample)), rtol=1e-5,
                               atol=1e-6)


def test_config_round_trip_and_keras_config():
    ours = fkeras.utils.FeatureSpace(FEATURES, **KW)
    config = ours.get_config()
    theirs = _keras_space(FEATURES, **KW).get_config()
    assert sorted(config) == sorted(theirs)
    assert {k: v["config"]["output_mode"] for k, v in config["features"].items()} == \
        {k: v["config"]["output_mode"] for k, v in theirs["features"].items()}
    for cfg in (config, theirs):
        again = fkeras.utils.FeatureSpace.from_config(cfg)
        assert sorted(again.features) == sorted(FEATURES) and [c.name for c in again.crosses] == ["city_X_kids"]
        assert {n: type(f.preprocessor).__name__ for n, f in again.features.items()} == \
            {n: type(f.preprocessor).__name__ for n, f in ours.features.items()}


def test_errors():
    fs = fkeras.utils.FeatureSpace
    with pytest.raises(ValueError, match="cannot be None or empty"):
        fs({})
    with pytest.raises(ValueError, match="Invalid value provided for feature 'a'"):
        fs({"a": "floaty"})
    with pytest.raises(ValueError, match="unknown features"):
        fs({"a": "float"}, crosses=[("a", "b")])
    with pytest.raises(ValueError, match="output_mode"):
        fs({"a": "float"}, output_mode="list")
    space = fs({"age": "float_normalized"})
    with pytest.raises(ValueError, match="adapt"):
        space({"age": DATA["age"]})
    space.adapt(DATA)
    with pytest.raises(ValueError, match="only be called with a dict"):
        space(DATA["age"])
    with pytest.raises(ValueError, match="no features"):
        space({"income": DATA["income"]})


@pytest.mark.parametrize("name", ["__init__", "cross", "feature", "float", "float_rescaled", "float_normalized",
                                  "float_discretized", "integer_categorical", "string_categorical",
                                  "string_hashed", "integer_hashed"])
def test_signatures_match_keras(name):
    import keras

    assert str(inspect.signature(getattr(fkeras.utils.FeatureSpace, name))) == \
        str(inspect.signature(getattr(keras.utils.FeatureSpace, name)))
