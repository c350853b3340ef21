"""Subclassed fkeras.Model: training through the Trainer, Keras parity, losses, state, config."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fkeras as keras


class MyDense(keras.layers.Layer):
    def __init__(self, units, activation=None, name=None):
        super().__init__(name=name)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_normal", name="kernel")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs):
        return self.activation(keras.ops.matmul(inputs, self.w) + self.b)


class MLP(keras.Model):
    def __init__(self, hidden=16, classes=2, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden
        self.classes = classes
        self.d1 = keras.layers.Dense(hidden, activation="relu")
        self.d2 = MyDense(classes, activation="softmax")

    def call(self, x):
        return self.d2(self.d1(x))


def _blobs(n=256, seed=0):
    """Two well separated Gaussian blobs (labels 0/1)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 4)).astype("float32") + 3.0 * (2 * y[:, None] - 1)
    return x.astype("float32"), y.astype("int32")


def test_subclassed_model_trains_and_reads_weights_from_train_state():
    x, y = _blobs()
    model = MLP()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["acc"])
    history = model.fit(x, y, batch_size=32, epochs=3, verbose=0)
    assert history.history["acc"][-1] >= 0.95
    ts = model.train_state
    assert ts is not None
    # one copy of the weights: the facade's views read the TrainState
    chex.assert_trees_all_equal(model.variables_tree.params, ts.params)
    np.testing.assert_array_equal(model.d2.w.numpy(), np.asarray(ts.params["my_dense"]["kernel"]))
    np.testing.assert_array_equal(model.get_weights()[0], np.asarray(ts.params["dense"]["kernel"]))
    pred = model.predict(x[:8], verbose=0)
    chex.assert_trees_all_close(np.asarray(model(x[:8])), np.asarray(pred), atol=1e-6)
    y_apply, _ = jax.jit(model.apply)(model.variables_tree, x[:8])
    chex.assert_trees_all_close(np.asarray(y_apply), np.asarray(pred), atol=1e-6)
    # writing through the facade writes the TrainState
    new = [w * 0 for w in model.get_weights()]
    model.set_weights(new)
    assert float(jnp.abs(model.train_state.params["dense"]["kernel"]).sum()) == 0.0


def test_subclassed_model_equals_keras_given_the_same_weights():
    import keras as real_keras

    class KerasDense(real_keras.layers.Layer):
        def __init__(self, units):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.b = self.add_weight(shape=(self.units,), name="bias")

        def call(self, inputs):
            return real_keras.ops.softmax(real_keras.ops.matmul(inputs, self.w) + self.b)

    class KerasMLP(real_keras.Model):
        def __init__(self):
            super().__init__()
            self.d1 = real_keras.layers.Dense(16, activation="relu")
            self.d2 = KerasDense(2)

        def call(self, x):
            return self.d2(self.d1(x))

    x, _ = _blobs(8)
    theirs = KerasMLP()
    expected_shape = theirs(x).shape
    ours = MLP()
    ours(x)
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    ours.set_weights(theirs.get_weights())
    assert tuple(ours(x).shape) == tuple(expected_shape)
    chex.assert_trees_all_close(np.asarray(ours(x)), np.asarray(theirs(x)), atol=1e-6, rtol=1e-6)


def test_add_loss_and_weight_regularizer_reach_the_aux_loss():
    class Penalised(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(3)

        def build(self, input_shape):
            self.scale = self.add_weight(shape=(3,), initializer="ones", name="scale",
                                         regularizer=lambda w: 0.5 * jnp.sum(w ** 2))

        def call(self, x):
            y = self.d(x) * self.scale
            self.add_loss(0.1 * jnp.sum(jnp.abs(y)))
            return y

    model = Penalised()
    x = np.ones((2, 4), "float32")
    v = model.init(jax.random.key(0), x)
    y, new_state, aux = jax.jit(model._forward, static_argnums=3)(v.params, v.state, x, False, None)
    expected = 0.1 * float(jnp.sum(jnp.abs(y))) + 0.5 * 3.0
    chex.assert_trees_all_close(float(aux), expected, atol=1e-5)
    model(x)
    assert len(model.losses) == 2


def test_assign_inside_call_comes_back_as_new_state():
    class Counter(keras.layers.Layer):
        def build(self, input_shape):
            self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")
            self.total = self.add_weight(shape=(input_shape[-1],), initializer="zeros", trainable=False,
                                         name="total")

        def call(self, x):
            self.count.assign(self.count + 1.0)
            self.total.assign_add(keras.ops.sum(x, axis=0))
            return x * keras.ops.sqrt(self.count)  # a non-trainable Variable straight into an op

    layer = Counter(name="counter")
    x = np.arange(6, dtype="float32").reshape(3, 2)
    v = layer.init(jax.random.key(0), x)
    y, s = jax.jit(layer.apply)(v, x)
    assert float(s["count"]) == 1.0
    np.testing.assert_allclose(np.asarray(y), x)  # sqrt(1) after the assign
    np.testing.assert_allclose(np.asarray(s["total"]), [6.0, 9.0])
    assert float(layer.count.numpy()) == 0.0  # apply mutated nothing
    layer(x)
    layer(x)  # eager calls are stateful
    assert float(layer.count.numpy()) == 2.0


def test_stateless_call_with_keras_weight_lists():
    model = MLP()
    x, _ = _blobs(4)
    model(x)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    y, new_nt = model.stateless_call(trainable, non_trainable, x)
    chex.assert_trees_all_close(np.asarray(y), np.asarray(model(x)), atol=1e-6)
    assert new_nt == []


def test_subclassed_get_config_from_constructor_arguments():
    model = MLP(hidden=7, classes=3, name="mlp")
    config = model.get_config()
    assert config["hidden"] == 7 and config["classes"] == 3 and config["name"] == "mlp"
    clone = MLP.from_config(config)
    assert clone.hidden == 7 and clone.name == "mlp"


def test_layers_named_alike_inside_one_model_is_a_clear_error():
    class Twins(keras.Model):
        def __init__(self):
            super().__init__()
            self.a = keras.layers.Dense(2, name="same")
            self.b = keras.layers.Dense(2, name="same")

        def call(self, x):
            return self.b(self.a(x))

    with pytest.raises(ValueError, match="both named 'same'"):
        Twins()(np.ones((1, 2), "float32"))


def test_frozen_sublayer_is_not_trained():
    x, y = _blobs(64)
    model = MLP()
    model(x)
    frozen = model.d1.get_weights()
    model.d1.trainable = False
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    chex.assert_trees_all_equal(model.d1.get_weights(), frozen)
    assert not np.array_equal(model.d2.get_weights()[0], np.zeros_like(model.d2.get_weights()[0]))


def test_sublayer_views_read_and_write_the_models_train_state():
    x, y = _blobs(64)
    model = MLP()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    # a sub-layer's weights are views of the model's TrainState ...
    np.testing.assert_array_equal(model.d1.get_weights()[0], np.asarray(model.train_state.params["dense"]["kernel"]))
    # ... and writing them writes the TrainState (copied: later steps donate its buffers)
    ones = [np.full_like(w, 0.01) for w in model.d1.get_weights()]
    model.d1.set_weights(ones)
    np.testing.assert_array_equal(np.asarray(model.train_state.params["dense"]["kernel"]), ones[0])
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert not np.array_equal(model.d1.get_weights()[0], ones[0])  # training went on from there
    np.testing.assert_array_equal(ones[0], np.full_like(ones[0], 0.01))  # the caller's arrays survive


def test_seed_generator_states_are_non_trainable_variables():
    class Noisy(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(2)
            self.seed_generator = keras.random.SeedGenerator(7)

        def call(self, x):
            return keras.random.dropout(self.d(x), 0.5, seed=self.seed_generator)

    model = Noisy()
    x = np.ones((3, 4), "float32")
    model(x)
    assert [v.path for v in model.weights] == ["noisy/dense/kernel", "noisy/dense/bias"]  # Keras's paths
    assert [v.name for v in model.non_trainable_variables] == ["seed_generator_state"]
    assert model._weight_paths(False) == [("seed_generator",)]
    np.testing.assert_array_equal(model.non_trainable_variables[0].numpy(), [7, 1])
    model.compile(optimizer="sgd", loss="mse")
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    _, new_nt = model.stateless_call(trainable, non_trainable, x, training=True)
    np.testing.assert_array_equal(np.asarray(new_nt[0]), [7, 2])  # advanced, returned, not written
    np.testing.assert_array_equal(model.non_trainable_variables[0].numpy(), [7, 1])


def test_init_under_jit_and_vmap_gives_ensembles():
    model = MLP()
    x, _ = _blobs(3)
    v = jax.jit(model.init)(jax.random.key(0), x)
    chex.assert_trees_all_close(np.asarray(model.apply(v, x)[0].sum(-1)), np.ones(3), atol=1e-5)
    ensemble = jax.vmap(model.init, in_axes=(0, None))(jax.random.split(jax.random.key(1), 4), x)
    assert ensemble.params["dense"]["kernel"].shape == (4, 4, 16)
    ys = jax.vmap(lambda vv: model.apply(vv, x)[0])(ensemble)
    assert ys.shape == (4, 3, 2)
    assert not np.allclose(np.asarray(ys[0]), np.asarray(ys[1]))  # different members
    assert model(x).shape == (3, 2)  # built by the traced init: the first eager call draws values


def test_apply_constraints_projects_constrained_weights_only():
    class Constrained(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(3, kernel_constraint=keras.constraints.NonNeg())
            self.free = keras.layers.Dense(2)

        def build(self, input_shape):
            self.scale = self.add_weight(shape=(2,), initializer="ones", name="scale",
                                         constraint=keras.constraints.NonNeg())

        def call(self, x):
            return self.free(self.d(x)) * self.scale

    model = Constrained()
    v = model.init(jax.random.key(0), (None, 4))
    params = jax.tree_util.tree_map(lambda a: -jnp.abs(a) - 1.0, v.params)
    out = jax.jit(model._apply_constraints)(params)
    np.testing.assert_array_equal(np.asarray(out["dense"]["kernel"]), 0.0)  # NonNeg kernel
    np.testing.assert_array_equal(np.asarray(out["scale"]), 0.0)  # NonNeg user weight
    chex.assert_trees_all_equal(out["dense"]["bias"], params["dense"]["bias"])  # unconstrained
    chex.assert_trees_all_equal(out["dense_1"], params["dense_1"])
