"""The Functional API (fkeras.Input, symbolic layer calls, Functional models) against Keras 3.

Numbers are compared with `chex.assert_trees_all_close(..., atol=1e-5, rtol=1e-5)` (float32, tiny shapes).
"""

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fkeras
from fkeras import layers as fl
from fkeras import nn
from fkeras.layers.input_layer import Input, InputLayer, KerasTensor, inbound_nodes
from fkeras.models.functional import Functional, symbolic_call

keras = pytest.importorskip("keras")

TOL = dict(atol=1e-5, rtol=1e-5)


@pytest.fixture(autouse=True)
def _fresh_keras_names():
    """Keras's auto names (`multiply`, `multiply_1`, ...) restart with fkeras's in every test."""
    keras.backend.clear_session(free_memory=False)  # names only: a gc pass per call costs ~0.3 s


def keras_variables(kmodel) -> tuple[dict, dict]:
    """Keras weights as fkeras (params, state) keyed by layer name and Keras leaf name."""
    params, state = {}, {}
    for layer in kmodel.layers:
        if isinstance(layer, keras.Model):
            sub = keras_variables(layer)
            if sub[0]:
                params[layer.name] = sub[0]
            if sub[1]:
                state[layer.name] = sub[1]
            continue
        for tree, ws in ((params, layer.trainable_weights), (state, layer.non_trainable_weights)):
            for w in ws:
                tree.setdefault(layer.name, {})[w.name] = jnp.asarray(w.numpy())
    return params, state


def structure(config):
    """The graph part of a functional config (JSON-normalised): names, classes, calls, inputs, outputs."""
    config = json.loads(json.dumps(config))
    graph_module = lambda l: l["module"] if l["class_name"] in ("InputLayer", "Functional") \
        or l["module"].startswith("keras.src.ops") else None  # noqa: E731 - layer modules belong to saving
    return {
        "layers": [{"name": l["name"], "class_name": l["class_name"], "module": graph_module(l),
                    "inbound_nodes": l["inbound_nodes"],
                    "nested": structure(l["config"]) if l["class_name"] == "Functional" else None}
                   for l in config["layers"]],
        "input_layers": config["input_layers"],
        "output_layers": config["output_layers"],
    }


# --- the two-tower model used by several tests --------------------------------------------------
def build_fk():
    a = Input(shape=(4,), name="a")
    b = Input(shape=(3,), name="b")
    shared = fl.Dense(5, name="shared")
    xa = shared(a)
    xb = shared(fl.Dense(4, name="proj")(b))
    s = fl.Add(name="sum")([xa, xb])
    h = fl.Dense(6, activation="relu", name="hidden")(fl.Concatenate(name="concat")([xa, s]))
    out1 = fl.Dense(2, name="head1")(h)
    out2 = fl.Dense(1, activation="sigmoid", name="head2")(s * 0.5 + xb)
    return fkeras.Model({"a": a, "b": b}, {"out1": out1, "out2": out2}, name="two_tower")


def build_keras():
    L = keras.layers
    a = keras.Input(shape=(4,), name="a")
    b = keras.Input(shape=(3,), name="b")
    shared = L.Dense(5, name="shared")
    xa = shared(a)
    xb = shared(L.Dense(4, name="proj")(b))
    s = L.Add(name="sum")([xa, xb])
    h = L.Dense(6, activation="relu", name="hidden")(L.Concatenate(name="concat")([xa, s]))
    out1 = L.Dense(2, name="head1")(h)
    out2 = L.Dense(1, activation="sigmoid", name="head2")(s * 0.5 + xb)
    return keras.Model({"a": a, "b": b}, {"out1": out1, "out2": out2}, name="two_tower")


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return {"a": rng.normal(size=(3, 4)).astype("float32"), "b": rng.normal(size=(3, 3)).astype("float32")}


# --- Input / KerasTensor ---------------------------------------------------------------------
def test_input_keras_tensor_bookkeeping():
    x = Input(shape=(28, 28, 1), name="img")
    assert isinstance(x, KerasTensor)
    assert x.shape == (None, 28, 28, 1) and x.ndim == 4 and x.dtype == "float32" and x.name == "img"
    layer, node_index, tensor_index = x._keras_history
    assert isinstance(layer, InputLayer) and (node_index, tensor_index) == (0, 0)
    assert inbound_nodes(layer)[0].is_input
    assert Input(shape=(3,), batch_size=8, dtype="int32").shape == (8, 3)
    assert Input(batch_shape=(None, None, 3)).shape == (None, None, 3)
    assert Input(shape=(3,), dtype=np.int32).dtype == "int32"
    # Keras's InputLayer config
    assert layer.get_config() == {"batch_shape": (None, 28, 28, 1), "dtype": "float32", "sparse": False,
                                  "ragged": False, "name": "img", "optional": False}
    auto = Input(shape=(2,))
    assert auto.name.startswith("input_layer")
    assert isinstance(layer, fl.Layer) and layer.built and layer.weights == [] and layer.output is x
    layer.trainable = False  # transfer-learning loops set it on every layer, InputLayers included


def test_input_bad_arguments():
    with pytest.raises(ValueError, match="shape"):
        Input()
    with pytest.raises(ValueError, match="not both"):
        Input(shape=(3,), batch_shape=(None, 3))
    with pytest.raises(ValueError, match="non-negative ints"):
        Input(shape=(3, -1))
    with pytest.raises(TypeError, match="dtype"):
        Input(shape=(3,), dtype="not_a_dtype")
    x = Input(shape=(3,))
    with pytest.raises(TypeError, match="symbolic"):
        np.asarray(x)
    with pytest.raises(TypeError, match="symbolic"):
        bool(x)


def test_symbolic_call_shapes_and_unknown_dims():
    x = Input(shape=(None, 3))  # unknown batch and length
    y = fl.Conv1D(4, 3, name="c1")(x)
    assert y.shape == (None, None, 4)
    z = fl.Flatten()(Input(shape=(2, 3)))
    assert z.shape == (None, 6)
    assert (x + 1.0).shape == (None, None, 3)
    assert x[:, 0].shape == (None, 3)
    # unknown spatial dims through strides and pooling: the same shapes as Keras's
    for make in (lambda L: L.MaxPooling2D(), lambda L: L.Conv2D(2, 3, strides=2), lambda L: L.AveragePooling2D(3),
                 lambda L: L.GlobalMaxPooling2D(), lambda L: L.Flatten(), lambda L: L.Dense(2)):
        for shape in ((None, None, 3), (9, None, 3)):
            assert make(fl)(Input(shape)).shape == make(keras.layers)(keras.Input(shape)).shape, (make(fl), shape)


def test_symbolic_call_wrong_shape_names_layer():
    d = fl.Dense(5, name="my_dense")
    d(Input(shape=(4,)))
    with pytest.raises(ValueError, match="my_dense"):  # built for 4 features; 7 arrive
        d(Input(shape=(7,)))
    with pytest.raises(ValueError, match="my_conv"):
        fl.Conv2D(3, 3, name="my_conv")(Input(shape=(5, 5)))
    with pytest.raises(ValueError, match="sum"):
        fl.Add(name="sum")([Input(shape=(4,)), Input(shape=(3,))])
    assert len(inbound_nodes(d)) == 1  # failed calls record nothing


# --- the model against Keras --------------------------------------------------------------
def test_multi_io_shared_layer_matches_keras(data):
    fk, km = build_fk(), build_keras()
    assert [l.name for l in fk.layers] == [l.name for l in km.layers]
    assert fk.output_names == km.output_names
    variables = fk.init(jax.random.key(0))
    assert set(variables.params) == {"shared", "proj", "hidden", "head1", "head2"}  # shared keyed once
    params, state = keras_variables(km)
    chex.assert_trees_all_equal_shapes(variables.params, params)
    out, _ = fk.apply((params, state), data)
    expected = km.predict(data, verbose=0)
    chex.assert_trees_all_close(out, expected, **TOL)
    # a list in input order and a dict give the same result
    out_list, _ = fk.apply((params, state), [data["a"], data["b"]])
    chex.assert_trees_all_close(out_list, out, **TOL)


def test_nested_model_matches_keras(data):
    L = keras.layers
    ki = keras.Input((4,), name="ii")
    kinner = keras.Model(ki, L.Dense(3, activation="tanh", name="d_in")(ki), name="inner")
    kx = keras.Input((4,), name="x")
    kout = L.Dense(2, name="d_out")(L.Concatenate(name="cat")([kinner(kx), kinner(kx * 2.0)]))
    km = keras.Model(kx, kout, name="outer")

    fi = Input((4,), name="ii")
    inner = Functional(fi, fl.Dense(3, activation="tanh", name="d_in")(fi), name="inner")
    fx = Input((4,), name="x")
    fout = fl.Dense(2, name="d_out")(fl.Concatenate(name="cat")([inner(fx), inner(fx * 2.0)]))
    fk = Functional(fx, fout, name="outer")

    assert [l.name for l in fk.layers] == [l.name for l in km.layers]
    variables = fk.init(jax.random.key(1))
    assert set(variables.params) == {"inner", "d_out"} and set(variables.params["inner"]) == {"d_in"}
    params, state = keras_variables(km)
    out, _ = fk.apply((params, state), data["a"])
    chex.assert_trees_all_close(out, km.predict(data["a"], verbose=0), **TOL)
    assert structure(fk.get_config()) == structure(km.get_config())


def test_config_structure_equals_keras():
    assert structure(build_fk().get_config()) == structure(build_keras().get_config())


def test_config_round_trip_rebuilds_equal_model(data):
    fk = build_fk()
    variables = fk.init(jax.random.key(0))
    config = json.loads(json.dumps(fk.get_config()))
    nn.clear_session()
    rebuilt = Functional.from_config(config)
    assert [l.name for l in rebuilt.layers] == [l.name for l in fk.layers]
    assert structure(rebuilt.get_config()) == structure(config)
    chex.assert_trees_all_close(rebuilt.apply(variables, data)[0], fk.apply(variables, data)[0], **TOL)
    v2 = rebuilt.init(jax.random.key(0))
    chex.assert_trees_all_close(v2, variables, **TOL)  # same names -> same folded keys -> same init


def test_keras_written_config_loads(data):
    km = build_keras()
    config = json.loads(json.dumps(km.get_config()))
    fk = Functional.from_config(config)
    out, _ = fk.apply(keras_variables(km), data)
    chex.assert_trees_all_close(out, km.predict(data, verbose=0), **TOL)


# --- the pure face ----------------------------------------------------------------------------
def test_init_apply_jit_grad_vmap(data):
    fk = build_fk()
    init = jax.jit(fk.init)
    v = init(jax.random.key(3))
    chex.assert_trees_all_close(v, fk.init(jax.random.key(3)), **TOL)
    out_eager, _ = fk.apply(v, data)
    out_jit, _ = jax.jit(lambda v, x: fk.apply(v, x))(v, data)
    chex.assert_trees_all_close(out_jit, out_eager, **TOL)

    def loss(params):
        out, _ = fk.apply((params, v.state), data)
        return jnp.sum(out["out1"] ** 2) + jnp.sum(out["out2"])

    grads = jax.jit(jax.grad(loss))(v.params)
    chex.assert_trees_all_equal_shapes(grads, v.params)
    assert float(jnp.abs(grads["shared"]["kernel"]).sum()) > 0  # both towers reach the shared kernel
    # vmap over examples == batch apply
    per_example = jax.jit(jax.vmap(lambda a, b: fk.apply(v, {"a": a[None], "b": b[None]})[0]))(data["a"], data["b"])
    chex.assert_trees_all_close(jax.tree.map(lambda x: x[:, 0], per_example), out_eager, **TOL)


def test_init_with_example_inputs_and_unknown_dims():
    x = Input((None, 3), name="seq")
    y = fl.Dense(2, name="d")(fl.Conv1D(4, 3, padding="same", name="c")(x))
    fk = Functional(x, y)
    v = fk.init(jax.random.key(0), np.zeros((2, 7, 3), "float32"))
    assert v.params["c"]["kernel"].shape == (3, 3, 4)
    out, _ = fk.apply(v, np.ones((2, 5, 3), "float32"))
    assert out.shape == (2, 5, 2)


def test_batchnorm_state_threads_through_new_state():
    x = Input((3,), name="x")
    fk = Functional(x, fl.BatchNormalization(name="bn")(x))
    v = fk.init(jax.random.key(0))
    xs = np.arange(12, dtype="float32").reshape(4, 3)
    _, s_inf = fk.apply(v, xs, training=False)
    chex.assert_trees_all_close(s_inf, v.state, **TOL)
    _, s_train = fk.apply(v, xs, training=True)
    expected_mean = 0.99 * 0.0 + 0.01 * xs.mean(0)
    chex.assert_trees_all_close(s_train["bn"]["moving_mean"], expected_mean, **TOL)


def test_dropout_keys_per_layer_and_deterministic():
    x = Input((64,), name="x")
    fk = Functional(x, [fl.Dropout(0.5, name="drop_a")(x), fl.Dropout(0.5, name="drop_b")(x)])
    v = fk.init(jax.random.key(0))
    ones = np.ones((2, 64), "float32")
    (a, b), _ = fk.apply(v, ones, training=True, rng=jax.random.key(7))
    (a2, _), _ = fk.apply(v, ones, training=True, rng=jax.random.key(7))
    chex.assert_trees_all_equal(a, a2)  # same key -> same mask
    assert not np.array_equal(np.asarray(a), np.asarray(b))  # two Dropouts never share a mask
    (c, d), _ = fk.apply(v, ones, training=False, rng=jax.random.key(7))
    chex.assert_trees_all_equal((c, d), (ones, ones))


# --- structure and errors ---------------------------------------------------------------------
def test_structure_accessors():
    fk = build_fk()
    assert [t.name for t in fk.inputs] == ["a", "b"]
    assert len(fk.outputs) == 2 and fk.output_names == ["head1", "head2"]
    assert fk.get_layer("shared") is fk.get_layer(index=3) is fk.layers[3]
    with pytest.raises(ValueError, match="No such layer"):
        fk.get_layer("nope")
    assert fk.input_shape == {"a": (None, 4), "b": (None, 3)}


def test_outputs_must_depend_on_inputs():
    a, b = Input((3,), name="a"), Input((3,), name="b")
    y = fl.Dense(2)(b)
    with pytest.raises(ValueError, match="do not depend on the model's inputs"):
        Functional(a, y)
    with pytest.raises(ValueError, match="Graph disconnected"):
        Functional(a, fl.Add()([fl.Dense(3)(a), b]))
    with pytest.raises(TypeError, match="KerasTensors"):
        Functional(a, np.zeros((1, 3)))


def test_apply_rejects_wrong_inputs():
    fk = build_fk()
    v = fk.init(jax.random.key(0))
    with pytest.raises(ValueError, match="'a' expects shape"):
        fk.apply(v, {"a": np.zeros((2, 5), "float32"), "b": np.zeros((2, 3), "float32")})
    with pytest.raises(ValueError, match="missing"):
        fk.apply(v, {"a": np.zeros((2, 4), "float32")})


# --- the Keras-facing model -------------------------------------------------------------------
def build_keras_rich():
    """Nested model called twice, implicit ops (x * 2, x[:, :4] + 1), BatchNormalization, Dropout."""
    L = keras.layers
    i = keras.Input((4,), name="ii")
    inner = keras.Model(i, L.Dense(3, activation="tanh", name="d_in")(i), name="inner")
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    h = L.Concatenate(name="cat")([inner(a), inner(a * 2.0), L.Dense(2, name="d_b")(b)])
    h = L.Dropout(0.3, name="drop")(L.BatchNormalization(name="bn")(h))
    return keras.Model([a, b], [L.Dense(2, name="out")(h[:, :4] + 1.0), h], name="rich")


def test_keras_model_rebuilt_from_its_config_predicts_the_same(data):
    km = build_keras_rich()
    km.get_layer("bn").moving_mean.assign(np.linspace(-1, 1, 8).astype("float32"))
    fk = Functional.from_config(json.loads(json.dumps(km.get_config())))
    assert [l.name for l in fk.layers] == [l.name for l in km.layers]
    assert [w.path for w in fk.weights] == [w.path for w in km.weights]  # Keras order and paths
    fk.set_weights(km.get_weights())
    xs = [data["a"], data["b"]]
    chex.assert_trees_all_close(fk.predict(xs, verbose=0), km.predict(xs, verbose=0), **TOL)
    chex.assert_trees_all_close(fk(xs), list(km(xs)), **TOL)  # eager call
    assert structure(fk.get_config()) == structure(km.get_config())


def test_full_config_equals_keras_apart_from_build_config():
    def strip(c):
        if isinstance(c, dict):
            return {k: strip(v) for k, v in c.items() if k != "build_config"}
        if isinstance(c, list):
            return [strip(v) for v in c]
        return c

    fk_config = json.loads(json.dumps(build_fk().get_config()))
    keras_config = json.loads(json.dumps(build_keras().get_config()))
    assert strip(fk_config) == strip(keras_config)


def test_model_routes_to_functional_and_is_built(data):
    a = fkeras.Input((4,), name="a")
    y = fl.Dense(3, name="d")(a)
    model = fkeras.Model(inputs=a, outputs=y)
    assert isinstance(model, Functional) and model.built
    assert model.count_params() == 15
    assert model.input_shape == (None, 4) and model.output_shape == (None, 3)
    out = model(data["a"])
    ref, _ = model.apply(model.variables_tree, data["a"])
    chex.assert_trees_all_close(out, ref, **TOL)
    assert model.get_layer("d") is model.layers[1]
    single = fkeras.Model(a, [y])  # Keras unpacks a one-element output list
    chex.assert_trees_all_close(single.predict(data["a"], verbose=0), out, **TOL)


def test_fit_multi_output_with_dict_losses(data):
    model = build_fk()
    y = {"out1": np.ones((3, 2), "float32"), "out2": np.ones((3, 1), "float32")}
    model.compile(optimizer="sgd", loss={"out1": "mse", "out2": "binary_crossentropy"},
                  loss_weights={"out1": 1.0, "out2": 0.5})
    before = model.get_weights()
    history = model.fit(data, y, epochs=2, batch_size=3, verbose=0)
    assert {"loss", "out1_loss", "out2_loss"} <= set(history.history)
    assert history.history["loss"][1] < history.history["loss"][0]
    assert any(not np.allclose(w0, w1) for w0, w1 in zip(before, model.get_weights()))


def test_pure_nn_layers_in_a_graph_share_one_facade_view(data):
    dense = nn.Dense(3, name="pure")  # a pure layer: called twice, one set of weights
    a = Input((4,), name="a")
    model = Functional(a, [symbolic_call(dense, (a,), {}), symbolic_call(dense, (a * 2.0,), {})])
    v = model.init(jax.random.key(0))
    assert set(v.params) == {"pure"}
    (y1, y2), _ = model.apply(v, data["a"])
    y_ref, _ = dense.apply(nn.Variables(v.params["pure"], {}), data["a"] * 2.0)
    chex.assert_trees_all_close(y2, y_ref, **TOL)


def test_model_from_intermediate_tensors_shares_weights(data):
    """Keras's feature-extraction pattern: `Model(hidden, out)` and `Model(inp, hidden)` from one graph."""
    inp = Input((4,), name="inp")
    hidden = fl.Dense(3, activation="relu", name="h")(inp)
    out = fl.Dense(2, name="o")(hidden)
    full = fkeras.Model(inp, out)
    backbone = fkeras.Model(inp, hidden)
    head = fkeras.Model(hidden, out)
    assert [l.name for l in head.layers] == [f"{hidden.name}CLONE", "o"]
    chex.assert_trees_all_close(head(backbone(data["a"])), full(data["a"]), **TOL)
    config = json.loads(json.dumps(head.get_config()))
    assert config["input_layers"] == [f"{hidden.name}CLONE", 0, 0]
    rebuilt = Functional.from_config(config)
    rebuilt.set_weights(head.get_weights())
    chex.assert_trees_all_close(rebuilt(backbone(data["a"])), full(data["a"]), **TOL)


class ScaledDense(fl.Layer):
    """A user layer (build/add_weight/call/add_loss/get_config) inside a functional graph."""

    def __init__(self, units, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.scale = units, scale

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones", name="kernel")

    def call(self, x):
        y = fkeras.ops.matmul(x, self.w) * self.scale
        self.add_loss(fkeras.ops.sum(y) * 0.0 + 1.5)
        return y

    def get_config(self):
        return super().get_config() | {"units": self.units, "scale": self.scale}


def test_user_layer_in_graph_losses_and_config(data):
    a = Input((4,), name="a")
    y = ScaledDense(2, scale=0.5, name="user")(a)
    model = fkeras.Model(a, fl.Dense(1, name="d")(y))
    variables = model.init(jax.random.key(0))
    chex.assert_trees_all_close(variables.params["user"]["kernel"], np.ones((4, 2), "float32"))
    y_pred, _, aux = model._forward(variables.params, variables.state, data["a"], False, None)
    assert float(aux) == pytest.approx(1.5)  # the user's add_loss reaches the Trainer
    config = json.loads(json.dumps(model.get_config()))
    rebuilt = fkeras.Model.from_config(config, custom_objects={"ScaledDense": ScaledDense})
    assert rebuilt.get_layer("user").scale == 0.5
    out, _ = rebuilt.apply(variables, data["a"])
    chex.assert_trees_all_close(out, y_pred, **TOL)


def test_summary_helpers_follow_keras():
    fk, km = build_fk(), build_keras()
    assert [op.name for op in fk._summary_operations()] == [op.name for op in km._operations]
    assert fk._summary_sequential_like() is False
    for op, kop in zip(fk._summary_operations(), km._operations):  # Keras's "Connected to" cells
        expected = ", ".join(f"{t._keras_history.operation.name}[{t._keras_history.node_index}]"
                             f"[{t._keras_history.tensor_index}]"
                             for n in kop._inbound_nodes for t in n.input_tensors) or "-"
        assert fk._summary_connections(op) == expected
    a = Input((3,))
    assert fkeras.Model(a, fl.Dense(2)(fl.Dense(4)(a)))._summary_sequential_like() is True


def test_ops_on_keras_tensors_match_keras_config_and_numbers():
    """`ops.relu(x)`, `ops.sum(x, axis=1, keepdims=True)`, ... in a graph: Keras's operation config
    (non-tensor arguments in the config), and a Keras-written graph of ops predicts the same."""
    from fkeras.models.functional import symbolic_ops_call as op

    kops, L = keras.ops, keras.layers
    ka, kb = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    kh = kops.relu(L.Dense(4, name="d")(ka))
    ks = kops.sum(kops.concatenate([kh, kb], axis=-1), axis=1, keepdims=True)
    km = keras.Model([ka, kb], kops.sigmoid(ks) * kops.exp(kh))

    fa, fb = Input((4,), name="a"), Input((4,), name="b")
    fh = op("relu", fl.Dense(4, name="d")(fa))
    fs = op("sum", op("concatenate", [fh, fb], axis=-1), axis=1, keepdims=True)
    fm = fkeras.Model([fa, fb], op("sigmoid", fs) * op("exp", fh))
    assert fs.shape == (None, 1)

    def no_build(c):
        return [{k: v for k, v in layer.items() if k != "build_config"} for layer in c["layers"]]

    assert no_build(json.loads(json.dumps(fm.get_config()))) == no_build(json.loads(json.dumps(km.get_config())))
    rebuilt = Functional.from_config(json.loads(json.dumps(km.get_config())))
    rebuilt.set_weights(km.get_weights())
    xs = [np.linspace(-1, 1, 12, dtype="float32").reshape(3, 4), np.ones((3, 4), "float32")]
    chex.assert_trees_all_close(rebuilt.predict(xs, verbose=0), km.predict(xs, verbose=0), **TOL)


def test_nested_multi_input_model_and_sequential_config_and_numbers(data):
    def make(lib):
        L = lib.layers
        i1, i2 = lib.Input((4,), name="i1"), lib.Input((3,), name="i2")
        inner = lib.Model([i1, i2], L.Concatenate(name="c")([L.Dense(2, name="d1")(i1), i2]), name="inner")
        a, b = lib.Input((4,), name="a"), lib.Input((3,), name="b")
        seq = lib.Sequential([L.Dense(3, activation="relu", name="s1"), L.Dense(1, name="s2")], name="seq")
        return lib.Model({"a": a, "b": b}, [L.Dense(1, name="o")(inner([a, b])), seq(b), b], name="outer")

    km, fk = make(keras), make(fkeras)
    assert structure(fk.get_config()) == structure(km.get_config())  # incl. Keras's `mask: [None, None]`
    fk.set_weights(km.get_weights())
    chex.assert_trees_all_close(fk.predict(data, verbose=0), km.predict(data, verbose=0), **TOL)


def test_operators_on_keras_tensors_match_keras():
    def make(lib):
        a = lib.Input((3,), name="a")
        b = lib.Input((3, 3), name="b")
        y = (1.0 - a) / 2.0 + abs(-a) ** 2.0
        return lib.Model([a, b], [y, b @ b, y[:, 1:]])

    km, fk = make(keras), make(fkeras)
    assert structure(fk.get_config()) == structure(km.get_config())
    xs = [np.linspace(-1, 1, 6, dtype="float32").reshape(2, 3), np.arange(18, dtype="float32").reshape(2, 3, 3)]
    chex.assert_trees_all_close(fk.predict(xs, verbose=0), km.predict(xs, verbose=0), **TOL)
