"""keras.layers.Wrapper (a base for user wrappers) and keras.layers.serialize / deserialize, against Keras 3.15."""

import json

import chex
import keras as K
import numpy as np
import pytest

import fkeras as keras


class Twice(keras.layers.Wrapper):
    def call(self, x):
        return self.layer(x) * 2.0


def test_a_user_wrapper_runs_its_layer_and_round_trips_its_config():
    wrapped = Twice(keras.layers.Dense(3, kernel_initializer="ones", bias_initializer="ones"))
    x = np.ones((2, 4), "float32")
    chex.assert_trees_all_close(np.asarray(wrapped(x)), np.full((2, 3), 10.0))
    assert [w.name for w in wrapped.weights] == ["kernel", "bias"]
    config = keras.layers.serialize(wrapped)
    assert config["config"]["layer"]["class_name"] == "Dense"
    rebuilt = keras.layers.deserialize(config, custom_objects={"Twice": Twice})
    assert type(rebuilt) is Twice and type(rebuilt.layer).__name__ == "Dense"
    assert rebuilt.layer.get_config() == wrapped.layer.get_config()


def test_wrapper_refuses_what_is_not_a_layer():
    with pytest.raises(ValueError, match="supplied to Wrapper isn't a supported layer type"):
        Twice(lambda x: x)


@pytest.mark.parametrize("layer", [lambda L: L.Dense(5, activation="relu", use_bias=False),
                                   lambda L: L.Conv2D(4, 3, strides=2, padding="same"),
                                   lambda L: L.LSTM(3, return_sequences=True)])
def test_serialize_matches_keras_and_deserialize_reads_keras(layer):
    # compared as JSON (as they are written to files: Keras keeps tuples in the dict, fkeras lists)
    ours = json.loads(json.dumps(keras.layers.serialize(layer(keras.layers))))
    theirs = json.loads(json.dumps(K.layers.serialize(layer(K.layers))))
    assert ours["class_name"] == theirs["class_name"] and ours["module"] == theirs["module"]
    drop = {"name"}
    assert {k: v for k, v in ours["config"].items() if k not in drop} == \
        {k: v for k, v in theirs["config"].items() if k not in drop}
    rebuilt = keras.layers.deserialize(theirs)
    assert {k: v for k, v in json.loads(json.dumps(rebuilt.get_config())).items() if k not in drop} == \
        {k: v for k, v in theirs["config"].items() if k not in drop}


def test_deserialize_refuses_configs_of_other_objects():
    with pytest.raises(ValueError, match="not a `keras.layers.Layer`"):
        keras.layers.deserialize(keras.saving.serialize_keras_object(keras.regularizers.L2(0.1)))
