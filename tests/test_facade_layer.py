"""fkeras.layers.Layer: Keras's subclassing API and its pure init/apply face."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fkeras as keras
from fkeras import nn

TOL = dict(atol=1e-6, rtol=1e-6)


class MyDense(keras.layers.Layer):  # the seed guide's layer, as written
    def __init__(self, units, activation=None, name=None):
        super().__init__(name=name)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.w = self.add_weight(shape=(input_dim, self.units), initializer=keras.initializers.GlorotNormal(),
                                 name="kernel", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer=keras.initializers.Zeros(), name="bias",
                                 trainable=True)

    def call(self, inputs):
        x = keras.ops.matmul(inputs, self.w) + self.b
        return self.activation(x)


class MyDropout(keras.layers.Layer):  # the seed guide's layer, as written
    def __init__(self, rate, name=None):
        super().__init__(name=name)
        self.rate = rate
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        return keras.random.dropout(inputs, self.rate, seed=self.seed_generator)


class Block(keras.layers.Layer):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.hidden = MyDense(8, activation="relu")
        self.out = keras.layers.Dense(3)

    def call(self, x):
        return self.out(self.hidden(x))


def _x(n=4, d=5, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype("float32")


def _block_closed_form(params, x):
    h = np.maximum(x @ np.asarray(params["my_dense"]["kernel"]) + np.asarray(params["my_dense"]["bias"]), 0)
    return h @ np.asarray(params["dense"]["kernel"]) + np.asarray(params["dense"]["bias"])


def test_mydense_eager_call_builds_and_matches_closed_form():
    layer = MyDense(4, name="d")
    x = _x(3, 5)
    y = layer(x)
    assert layer.built and [w.path for w in layer.weights] == ["d/kernel", "d/bias"]
    assert layer.w.shape == (5, 4) and layer.b.dtype == "float32"
    chex.assert_trees_all_close(np.asarray(y), x @ layer.w.numpy() + layer.b.numpy(), **TOL)


def test_init_apply_pytree_keys_and_closed_form():
    block = Block()
    x = _x()
    v = block.init(jax.random.key(0), x)
    assert set(v.params) == {"my_dense", "dense"} and v.state == {}
    assert set(v.params["my_dense"]) == {"kernel", "bias"}
    y, new_state = block.apply(v, x)
    assert new_state == {}
    chex.assert_trees_all_close(np.asarray(y), _block_closed_form(v.params, x), atol=1e-5, rtol=1e-5)


def test_init_is_deterministic_and_matches_nn_for_builtins():
    x = _x()
    a = Block().init(jax.random.key(3), x)
    keras.backend.clear_session(free_memory=False)  # same names again, as in a fresh process
    b = Block().init(jax.random.key(3), x)
    chex.assert_trees_all_equal(a.params["dense"], b.params["dense"])
    chex.assert_trees_all_equal(a.params["my_dense"], b.params["my_dense"])
    # a facade Dense draws exactly what fkeras.nn.Dense draws for the same key
    fd = keras.layers.Dense(3).init(jax.random.key(7), (None, 5))
    nd = nn.Dense(3).init(jax.random.key(7), (None, 5))
    chex.assert_trees_all_equal(fd.params, nd.params)


def test_apply_under_jit_grad_vmap_equals_eager():
    block = Block()
    x = _x(6, 5)
    eager = np.asarray(block(x))
    v = block.variables_tree
    y_jit, _ = jax.jit(block.apply)(v, x)
    chex.assert_trees_all_close(np.asarray(y_jit), eager, atol=1e-6, rtol=1e-6)
    y_vmap = jax.vmap(lambda xi: block.apply(v, xi[None])[0][0])(x)
    chex.assert_trees_all_close(np.asarray(y_vmap), eager, atol=1e-6, rtol=1e-6)

    # grad of sum(outputs) w.r.t. the last bias is the batch size, w.r.t. its kernel sum_b h_b
    g = jax.jit(jax.grad(lambda p: jnp.sum(block.apply((p, v.state), x)[0])))(v.params)
    chex.assert_trees_all_close(np.asarray(g["dense"]["bias"]), np.full((3,), 6.0), atol=1e-5)
    p = v.params
    h = np.maximum(x @ np.asarray(p["my_dense"]["kernel"]) + np.asarray(p["my_dense"]["bias"]), 0)
    chex.assert_trees_all_close(np.asarray(g["dense"]["kernel"]), np.repeat(h.sum(0)[:, None], 3, 1),
                                atol=1e-4, rtol=1e-5)


def test_seed_generator_state_comes_back_in_new_state_only():
    layer = MyDropout(0.5, name="drop")
    x = np.ones((4, 16), "float32")
    v = layer.init(jax.random.key(0), x)
    assert set(v.state) == {"seed_generator"}
    np.testing.assert_array_equal(np.asarray(v.state["seed_generator"]), [1337, 0])
    y1, s1 = jax.jit(layer.apply)(v, x)
    y1b, _ = layer.apply(v, x)
    np.testing.assert_array_equal(np.asarray(y1), np.asarray(y1b))  # same state -> same mask
    np.testing.assert_array_equal(np.asarray(s1["seed_generator"]), [1337, 1])
    np.testing.assert_array_equal(np.asarray(layer.seed_generator.state), [1337, 0])  # nothing mutated
    y2, _ = layer.apply((v.params, s1), x)
    assert not np.array_equal(np.asarray(y1), np.asarray(y2))  # advanced state -> new mask
    kept = np.asarray(y1) != 0
    np.testing.assert_allclose(np.asarray(y1)[kept], 2.0)  # survivors scaled by 1/(1-rate)
    # eager calls advance the layer's own generator, as in Keras
    layer(x)
    np.testing.assert_array_equal(np.asarray(layer.seed_generator.state), [1337, 1])


class BNModel(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(4)
        self.bn = keras.layers.BatchNormalization()

    def call(self, x, training=None):
        return self.bn(self.dense(x), training=training)


def test_batchnorm_in_subclassed_model_updates_only_through_new_state():
    model = BNModel()
    x = _x(8, 3)
    v = model.init(jax.random.key(0), x)
    before = jax.tree_util.tree_map(np.asarray, model.variables_tree)
    y, new_state = jax.jit(lambda v, x: model.apply(v, x, training=True))(v, x)
    h = x @ np.asarray(v.params["dense"]["kernel"]) + np.asarray(v.params["dense"]["bias"])
    # Keras: moving = moving * momentum + batch_stat * (1 - momentum), momentum 0.99
    chex.assert_trees_all_close(np.asarray(new_state["batch_normalization"]["moving_mean"]),
                                0.01 * h.mean(0), atol=1e-6)
    chex.assert_trees_all_close(np.asarray(new_state["batch_normalization"]["moving_variance"]),
                                0.99 + 0.01 * h.var(0), atol=1e-5)
    chex.assert_trees_all_close(np.asarray(y), (h - h.mean(0)) / np.sqrt(h.var(0) + 1e-3), atol=1e-4)
    # the facade's weights did not move
    chex.assert_trees_all_equal(jax.tree_util.tree_map(np.asarray, model.variables_tree), before)
    # inference leaves the state as it was
    _, s_inf = model.apply(v, x, training=False)
    chex.assert_trees_all_equal(s_inf, v.state)
    # an eager training call is stateful (Keras semantics): the new stats are written back
    model(x, training=True)
    chex.assert_trees_all_close(model.bn.weights[2].numpy(), np.asarray(new_state["batch_normalization"]["moving_mean"]),
                                atol=1e-6)
    # a frozen BatchNormalization runs in inference mode (Keras semantics)
    model.bn.trainable = False
    _, s_frozen = model.apply(v, x, training=True)
    chex.assert_trees_all_equal(s_frozen, v.state)


def test_variables_tree_round_trip_is_exact():
    block = Block()
    x = _x()
    block(x)
    vt = block.variables_tree
    rng = np.random.default_rng(1)
    new = jax.tree_util.tree_map(lambda a: jnp.asarray(rng.normal(size=a.shape), a.dtype), vt)
    block.variables_tree = new
    got = block.variables_tree
    chex.assert_trees_all_equal(got, new)
    chex.assert_trees_all_close(np.asarray(block(x)), _block_closed_form(new.params, x), atol=1e-5, rtol=1e-5)


def test_get_set_weights_keras_order_and_checks():
    block = Block()
    block(_x())
    ws = block.get_weights()
    assert [w.shape for w in ws] == [(5, 8), (8,), (8, 3), (3,)]
    new = [w + 1 for w in ws]
    block.set_weights(new)
    chex.assert_trees_all_equal(block.get_weights(), new)
    bad = list(new)
    bad[2] = np.zeros((8, 4), "float32")
    with pytest.raises(ValueError, match=r"dense/kernel.*\(8, 3\)"):
        block.set_weights(bad)
    chex.assert_trees_all_equal(block.get_weights(), new)  # nothing written
    with pytest.raises(ValueError, match="4 arrays"):
        block.set_weights(new[:3])


def test_trainable_false_freezes_weights():
    block = Block()
    block(_x())
    block.hidden.trainable = False
    assert [w.path for w in block.trainable_weights] == ["block/dense/kernel", "block/dense/bias"]  # Keras's paths
    assert [w.path for w in block.non_trainable_weights] == ["block/my_dense/kernel", "block/my_dense/bias"]
    assert block._trainable_mask() == {"my_dense": {"kernel": False, "bias": False},
                                       "dense": {"kernel": True, "bias": True}}
    assert block._weight_paths(True) == [("dense", "kernel"), ("dense", "bias")]
    block.trainable = False  # freezing a parent freezes its children
    assert block.trainable_weights == [] and not block.out.trainable


def test_sublayers_in_lists_and_dicts_are_tracked():
    class Stack(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.blocks = [keras.layers.Dense(4), keras.layers.Dense(4)]
            self.heads = {"a": keras.layers.Dense(2)}

        def call(self, x):
            for b in self.blocks:
                x = b(x)
            return self.heads["a"](x)

    s = Stack()
    v = s.init(jax.random.key(0), (2, 3))
    assert set(v.params) == {"dense", "dense_1", "dense_2"}
    assert [l.name for l in s.layers] == ["dense", "dense_1", "dense_2"]
    assert s(np.ones((2, 3), "float32")).shape == (2, 2)


def test_apply_on_torch_tensors_equals_jax():
    torch = pytest.importorskip("torch")
    block = Block()
    x = _x()
    v = block.init(jax.random.key(0), x)
    tv = jax.tree_util.tree_map(lambda a: torch.from_numpy(np.array(a)), v)
    y_t, _ = block.apply(tv, torch.from_numpy(x))
    assert isinstance(y_t, torch.Tensor)
    chex.assert_trees_all_close(y_t.numpy(), np.asarray(block.apply(v, x)[0]), atol=1e-5, rtol=1e-5)


def test_compute_output_shape_and_config():
    layer = MyDense(7, activation="relu", name="md")
    assert layer.compute_output_shape((None, 3)) == (None, 7)
    cfg = layer.get_config()
    assert cfg["units"] == 7 and cfg["name"] == "md" and cfg["trainable"] is True
    clone = MyDense.from_config(cfg)
    assert clone.units == 7 and clone.name == "md"
    d = keras.layers.Dense(5, activation="relu", name="dd")
    assert d.get_config() == nn.Dense(5, activation="relu", name="dd").get_config()
    assert keras.layers.Dense.from_config(d.get_config()).units == 5


# --- bad input -----------------------------------------------------------------------
def test_add_weight_with_clashing_name_is_an_error():
    layer = MyDense(2)
    layer(np.ones((1, 3), "float32"))
    with pytest.raises(ValueError, match="already has a weight named 'kernel'.*already built"):
        layer.add_weight(shape=(2,), name="kernel")
    assert len(layer.weights) == 2


def test_call_returning_non_array_is_an_error():
    class Bad(keras.layers.Layer):
        def call(self, x):
            return "not an array"

    layer = Bad(name="bad")
    with pytest.raises(TypeError, match="Layer 'bad'.*must return arrays.*str"):
        layer(np.ones((2, 2), "float32"))
    assert not layer.built


def test_failed_build_leaves_layer_unbuilt():
    class Breaks(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 2), name="w")

        def call(self, x):
            raise RuntimeError("boom")

    layer = Breaks()
    with pytest.raises(RuntimeError, match="boom"):
        layer(np.ones((1, 3), "float32"))
    assert not layer.built and layer.weights == []


def test_apply_with_missing_or_misshaped_variables_is_an_error():
    block = Block(name="blk")
    v = block.init(jax.random.key(0), _x())
    params = dict(v.params)
    del params["dense"]
    with pytest.raises(ValueError, match="Layer 'blk'.*no entry 'dense/kernel'"):
        block.apply((params, v.state), _x())
    params = jax.tree_util.tree_map(lambda a: a, v.params)
    params["dense"]["bias"] = jnp.zeros((4,))
    with pytest.raises(ValueError, match=r"'dense/bias' has shape \(4,\); expected \(3,\)"):
        block.apply((params, v.state), _x())
    with pytest.raises(TypeError, match="Variables\\(params, state\\)"):
        block.apply(v.params, _x())


def test_wrong_input_shape_errors_name_the_layer():
    layer = keras.layers.Dense(3, name="fc")
    layer(np.ones((2, 4), "float32"))
    with pytest.raises(ValueError, match="fc"):
        layer(np.ones((2, 5), "float32"))


def test_keras_variable_assigned_in_build_is_a_weight():
    class Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.s = keras.Variable(np.full((input_shape[-1],), 2.0, "float32"), name="s")
            self.c = keras.Variable("ones", shape=(), trainable=False, name="c")

        def call(self, x):
            return x * self.s + self.c

    layer = Scale(name="scale")
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(np.asarray(layer(x)), np.full((2, 3), 3.0))
    assert [w.path for w in layer.weights] == ["scale/s", "scale/c"]
    v = layer.init(jax.random.key(0), x)
    chex.assert_trees_all_equal(tuple(v), ({"s": jnp.full((3,), 2.0)}, {"c": jnp.ones(())}))
    np.testing.assert_array_equal(keras.Variable(np.arange(3.0)).numpy(), [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="needs `shape`"):
        keras.Variable("zeros")


def test_mixed_precision_policy_for_user_layers():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        layer = MyDense(3)
        y = layer(np.ones((2, 4), "float32"))
        builtin = keras.layers.Dense(3)
        y2 = builtin(np.ones((2, 4), "float32"))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert y.dtype == jnp.bfloat16 and y2.dtype == jnp.bfloat16
    assert layer.w.dtype == "float32" and layer.compute_dtype == "bfloat16"
    assert layer.get_config()["dtype"]["config"]["name"] == "mixed_bfloat16"


def test_lambda_layer_in_sequential_and_pure_apply():
    model = keras.Sequential([keras.layers.Input((3,)), keras.layers.Lambda(lambda x: keras.ops.square(x) + 1.0),
                              keras.layers.Dense(2)])
    x = np.arange(6, dtype="float32").reshape(2, 3)
    v = model.variables_tree
    y, _ = jax.jit(model.apply)(v, x)
    p = v.params["dense"]
    chex.assert_trees_all_close(np.asarray(y), (x ** 2 + 1) @ np.asarray(p["kernel"]) + np.asarray(p["bias"]),
                                atol=1e-5)
    assert model.layers[0].compute_output_shape((None, 3)) == (None, 3)
    with pytest.raises(TypeError, match="callable"):
        keras.layers.Lambda("x * 2")


def test_same_global_seed_same_weights():
    from fkeras.layers.layer import set_seed

    keras.utils.set_random_seed(11)
    a = Block()
    a(_x())
    keras.backend.clear_session(free_memory=False)
    set_seed(11)  # what set_random_seed does for the facade's key stream
    b = Block()
    b(_x())
    chex.assert_trees_all_equal(a.get_weights(), b.get_weights())


def test_keras_guide_weights_in_init_and_state_returned_as_variable():
    class Linear(keras.layers.Layer):  # "Making new layers and models via subclassing", first example
        def __init__(self, units=32, input_dim=32):
            super().__init__()
            self.w = self.add_weight(shape=(input_dim, units), initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

        def call(self, inputs):
            return keras.ops.matmul(inputs, self.w) + self.b

    class ComputeSum(keras.layers.Layer):
        def __init__(self, input_dim):
            super().__init__()
            self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

        def call(self, inputs):
            self.total.assign_add(keras.ops.sum(inputs, axis=0))
            return self.total

    x = keras.ops.ones((2, 2))
    linear = Linear(4, 2)
    chex.assert_trees_all_close(np.asarray(linear(x)), np.ones((2, 2)) @ linear.w.numpy() + linear.b.numpy(),
                                atol=1e-6)
    my_sum = ComputeSum(2)
    np.testing.assert_array_equal(np.asarray(my_sum(x)), [2.0, 2.0])
    np.testing.assert_array_equal(np.asarray(my_sum(x)), [4.0, 4.0])
    assert len(my_sum.weights) == 1 and len(my_sum.non_trainable_weights) == 1 and my_sum.trainable_weights == []
    assert keras.layers.Dense(2)(x, mask=None).shape == (2, 2)  # a mask is dropped for calls without one


def test_errors_inside_user_call_say_which_layer():
    model = keras.Sequential([MyDense(3, name="first"), MyDense(2, name="second")], name="stack")
    model(np.ones((2, 4), "float32"))
    with pytest.raises(TypeError) as info:
        model(np.ones((2, 5), "float32"))  # built for 4 features
    notes = " ".join(getattr(info.value, "__notes__", []))
    assert "layer 'first' (MyDense) on inputs of shape ((2, 5),)" in notes


def test_compute_output_shape_does_not_build():
    layer = MyDense(7)
    assert layer.compute_output_shape((None, 3)) == (None, 7)
    assert not layer.built and layer.weights == []
    dense = keras.layers.Dense(4)
    assert dense.compute_output_shape((None, 2, 3)) == (None, 2, 4)
    assert not dense.built
    assert dense(np.ones((1, 5), "float32")).shape == (1, 4)  # later built for other inputs
