"""The facade is a view over fkeras.nn: fit/evaluate/predict run the pure counterparts only,
`ops` knows the facade only through registered hooks, and the layer floor imports no model code."""

import ast
import pathlib

import chex
import jax
import numpy as np
import pytest

import fkeras
from fkeras import layers, nn
from fkeras.layers.adapter import InferenceMode, SubclassAdapter, pure_of
from fkeras.nn.functional import Graph
from fkeras.ops import _dispatch

ROOT = pathlib.Path(fkeras.__file__).parent


def _data(n=16, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype("float32"), rng.integers(0, classes, size=(n,)).astype("int32")


def _sequential():
    return fkeras.Sequential([fkeras.Input((6,)), layers.Dense(8, activation="relu"), layers.Dropout(0.25),
                              layers.BatchNormalization(), layers.Dense(3)])


def _functional():
    x = fkeras.Input((6,), name="x")
    h = layers.Dense(8, activation="relu", kernel_regularizer="l2")(x)
    h = layers.Dropout(0.25)(h)
    shared = layers.Dense(8, name="shared")
    h = shared(h) + shared(h * 2.0)
    y = layers.Dense(3)(layers.BatchNormalization()(h))
    return fkeras.Model(x, y)


@pytest.mark.parametrize("make", [_sequential, _functional], ids=["sequential", "functional"])
def test_fit_evaluate_predict_never_call_a_facade_layer(make, monkeypatch):
    x, y = _data()
    model = make()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    before = model.get_weights()

    def forbidden(self, *args, **kwargs):
        raise AssertionError(f"facade __call__ of {self.name!r} ran inside the pure step")

    monkeypatch.setattr(fkeras.layers.Layer, "__call__", forbidden)
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    logs = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    pred = model.predict(x, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all() and np.isfinite(logs["loss"])
    assert pred.shape == (16, 3)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize("make", [_sequential, _functional], ids=["sequential", "functional"])
def test_pure_counterpart_gives_the_facade_numbers(make):
    """The container's apply (with dropout and batch statistics) equals the facade's scoped replay."""
    x, _ = _data()
    model = make()
    v = model.variables_tree
    rng = jax.random.key(3)
    pure = model.nn_layer
    assert isinstance(pure, nn.Sequential if make is _sequential else Graph)
    y_pure, s_pure, aux_pure = pure.apply_with_losses(v, x, training=True, rng=rng)
    # the facade's own scope (Layer's stateless_call path), the way every model ran before
    y_fac, s_fac, losses = fkeras.layers.Layer._fk_apply(model, v, (x,), {}, True, rng)
    chex.assert_trees_all_close(y_pure, y_fac, atol=1e-6, rtol=1e-6)
    chex.assert_trees_all_close(s_pure, s_fac, atol=1e-6, rtol=1e-6)
    aux_fac = sum(float(np.sum(t)) for t in losses)
    np.testing.assert_allclose(float(aux_pure), aux_fac, rtol=1e-6, atol=1e-7)


def test_a_frozen_batchnorm_runs_in_inference_mode_in_the_container():
    model = _sequential()
    model.layers[2].trainable = False
    pure = model.nn_layer
    assert isinstance(pure.layers[2], InferenceMode)
    x, _ = _data()
    v = model.variables_tree
    _, new_state = model.apply(v, x, training=True, rng=jax.random.key(0))
    chex.assert_trees_all_close(new_state, v.state)  # moving statistics untouched


def test_a_subclassed_layer_inside_a_sequential_is_its_adapter():
    class Scale(fkeras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            self.add_loss(fkeras.ops.sum(x) * 0.0 + 1.5)
            return x * self.w

    model = fkeras.Sequential([fkeras.Input((6,)), layers.Dense(4), Scale(name="scale")])
    pure = model.nn_layer
    assert isinstance(pure.layers[1], SubclassAdapter) and pure.layers[1].layer is model.layers[1]
    x, _ = _data()
    y, _, aux = model._forward(*model.variables_tree, x, False, None)
    assert float(aux) == pytest.approx(1.5)
    chex.assert_trees_all_close(y, model(x), atol=1e-6)


def test_pure_of_a_built_in_layer_is_its_nn_layer():
    dense = layers.Dense(3)
    assert pure_of(dense) is dense.nn_layer
    assert pure_of(dense.nn_layer) is dense.nn_layer


def test_ops_dispatch_hooks_are_registered_per_type():
    class Symbol:
        pass

    seen = []
    _dispatch.register_symbolic_type(Symbol, lambda name, *a, **k: seen.append(name) or "recorded")
    assert fkeras.ops.add(Symbol(), 1.0) == "recorded" and seen == ["add"]

    class Box:
        def __init__(self, v):
            self.value = v

    _dispatch.register_variable_type(Box)
    np.testing.assert_allclose(fkeras.ops.add(Box(np.float32(2.0)), 1.0), 3.0)
    with pytest.raises(TypeError, match="expects a class"):
        _dispatch.register_variable_type("Box")


def _imports(path):
    """(module names imported at module level, names imported inside functions) of a source file."""
    tree = ast.parse(path.read_text())
    top, inner = set(), set()

    def names(node):
        if isinstance(node, ast.Import):
            return {a.name for a in node.names}
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            return {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        return set()

    for node in tree.body:
        top |= names(node)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                inner |= names(sub)
    return top, inner


def test_ops_and_the_layer_floor_import_nothing_above_them():
    for path in (ROOT / "ops").glob("*.py"):
        top, inner = _imports(path)
        above = [m for m in top | inner if m.startswith(("fkeras.layers", "fkeras.models", "fkeras.train"))]
        assert not above, f"{path.name} imports {above}"
    for path in (ROOT / "layers").glob("*.py"):
        top, inner = _imports(path)
        up = [m for m in top | inner if m.startswith("fkeras.models")]
        assert not up, f"layers/{path.name} imports {up}"
    for name in ("layer.py", "symbolic.py", "input_layer.py", "adapter.py", "seeding.py"):
        _, inner = _imports(ROOT / "layers" / name)
        assert not [m for m in inner if m.startswith("fkeras")], f"layers/{name} imports inside functions: {inner}"


def test_op_layer_modules_follow_keras_from_the_ops_namespaces():
    """The `keras.src.ops.<group>` an OpLayer is saved under comes from fkeras.ops's own namespaces
    (ops/nn.py, core.py, ...): every op Keras also has lands in Keras's module."""
    keras = pytest.importorskip("keras")
    from fkeras.layers.symbolic import _op_module

    checked, wrong = 0, []
    for name in dir(fkeras.ops):
        fn = getattr(fkeras.ops, name)
        theirs = getattr(keras.ops, name, None)
        if name.startswith("_") or not hasattr(fn, "__fkeras_op__") or theirs is None:
            continue
        checked += 1
        if _op_module(name) != theirs.__module__:
            wrong.append((name, _op_module(name), theirs.__module__))
    assert checked > 100 and not wrong, wrong


def test_containers_inside_a_user_model_run_their_pure_counterparts(monkeypatch):
    """A Sequential/Functional called in a user's `call` runs its nn container on the bound values:
    the same outputs, state and losses as replaying it through the facade scope."""

    class Net(fkeras.Model):
        def __init__(self):
            super().__init__()
            self.seq = fkeras.Sequential([layers.Dense(8, activation="relu", activity_regularizer="l2"),
                                          layers.Dropout(0.3), layers.BatchNormalization()])
            x = fkeras.Input((8,))
            self.fn = fkeras.Model(x, layers.Dense(3, kernel_regularizer="l1")(layers.Dropout(0.2)(x)))

        def call(self, x, training=False):
            return self.fn(self.seq(x, training=training), training=training)

    model = Net()
    x, _ = _data(n=4, d=5)
    v = model.init(jax.random.key(0), x)
    calls = []
    original = fkeras.layers.Layer._fk_call_via_container
    monkeypatch.setattr(fkeras.layers.Layer, "_fk_call_via_container",
                        lambda self, *a, **k: calls.append(self.name) or original(self, *a, **k))
    y, state, losses = model._fk_apply(v, (x,), {}, True, jax.random.key(1))
    assert calls == [model.seq.name, model.fn.name]
    monkeypatch.setattr(fkeras.models.Sequential, "_fk_container", lambda self: None)
    monkeypatch.setattr(fkeras.models.Functional, "_fk_container", lambda self: None)
    y_ref, state_ref, losses_ref = model._fk_apply(v, (x,), {}, True, jax.random.key(1))
    chex.assert_trees_all_close(y, y_ref, atol=1e-6)
    chex.assert_trees_all_close(state, state_ref, atol=1e-6)
    np.testing.assert_allclose(sum(float(np.sum(t)) for t in losses),
                               sum(float(np.sum(t)) for t in losses_ref), rtol=1e-6)


def test_the_input_layer_is_a_view_of_the_nn_input_layer():
    x = fkeras.Input(batch_shape=(4, 3), dtype="int32", name="ids", optional=True)
    layer = x._keras_history.operation
    assert isinstance(layer.nn_layer, nn.InputLayer) and pure_of(layer) is layer.nn_layer
    assert (layer.batch_shape, layer.dtype, layer.optional) == ((4, 3), "int32", True)
    assert layer.get_config() == layer.nn_layer.get_config() == {
        "batch_shape": (4, 3), "dtype": "int32", "sparse": False, "ragged": False, "name": "ids", "optional": True}


def _module_graph(packages):
    """Module-level import edges among the modules of `packages` (AST; `from pkg import sub` -> pkg.sub)."""
    mods = {}
    for path in ROOT.rglob("*.py"):
        parts = ["fkeras", *path.relative_to(ROOT).with_suffix("").parts]
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = path
    graph = {}
    for name, path in mods.items():
        if not name.startswith(packages):
            continue
        out = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                out |= {a.name for a in node.names if a.name in mods}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    out.add(sub if sub in mods else node.module)
        graph[name] = {m for m in out if m.startswith(packages) and m in mods}
    return graph


def test_no_import_cycles_among_the_facade_and_nn_packages():
    graph = _module_graph(("fkeras.layers", "fkeras.models", "fkeras.nn"))
    state, cycles = {}, []

    def visit(m, trail):
        state[m] = "open"
        for n in sorted(graph.get(m, ())):
            if state.get(n) == "open":
                cycles.append(trail[trail.index(n):] + [n])
            elif n not in state:
                visit(n, trail + [n])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, cycles
