"""Keras 3.15's top-level scopes and symbolic classes in fkeras, against keras on the same inputs:
`name_scope`, `StatelessScope`, `SymbolicScope`, `device`, `RematScope`/`remat`, `Operation`, `Function`."""

import inspect

import chex
import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

import fkeras

NAMES = ["name_scope", "StatelessScope", "SymbolicScope", "device", "RematScope", "remat", "Function", "Operation"]
TOL = dict(atol=1e-5, rtol=1e-5)


def test_every_scope_name_keras_exports_is_here():
    missing = [n for n in dir(keras) if not n.startswith("_") and not inspect.ismodule(getattr(keras, n))
               and not hasattr(fkeras, n)]
    assert missing == []


@pytest.mark.parametrize("name", NAMES)
def test_signatures_match_keras(name):
    ours, theirs = getattr(fkeras, name), getattr(keras, name)
    if name == "Operation":  # Keras's reads `*args, **kwargs` off its `__new__`; the constructor is `(name=None)`
        assert list(inspect.signature(ours.__init__).parameters) == ["self", "name"]
        return
    if name == "name_scope":  # Keras's JAX `name_scope(name, **kwargs)` forwards to the common one
        theirs = keras.src.backend.common.name_scope.name_scope
    assert inspect.signature(ours) == inspect.signature(theirs)


# --- StatelessScope -------------------------------------------------------------------------------
def _bn_model(lib):
    lib.backend.clear_session(free_memory=False)
    return lib.Sequential([lib.Input((3,)), lib.layers.Dense(4), lib.layers.BatchNormalization()])


def _stateless_run(lib, weights, x):
    m = _bn_model(lib)
    m.set_weights(weights)
    mapping = [(v, np.asarray(v.value) * 2) for v in m.weights]
    with lib.StatelessScope(state_mapping=mapping) as scope:
        y = m(x, training=True)
        inside = np.asarray(m.weights[0].value)
    return (np.asarray(y), inside, [np.asarray(scope.get_current_value(v)) for v in m.weights],
            [np.asarray(v.value) for v in m.weights])


def test_stateless_scope_reads_the_mapping_and_collects_assignments_like_keras():
    rng = np.random.default_rng(0)
    ws = [rng.normal(size=w.shape).astype("float32") for w in _bn_model(keras).weights]
    ws[-1] = np.abs(ws[-1]) + 0.1
    x = rng.normal(size=(5, 3)).astype("float32")
    ours, theirs = _stateless_run(fkeras, ws, x), _stateless_run(keras, ws, x)
    chex.assert_trees_all_close(ours[:3], theirs[:3], **TOL)  # outputs, values inside, moving stats collected
    chex.assert_trees_all_close(ours[3], ws)  # nothing was written
    chex.assert_trees_all_close(theirs[3], ws)


def test_stateless_scope_keeps_assignments_and_losses_in_the_scope():
    for lib in (fkeras, keras):
        v = lib.Variable(np.ones(3, "float32"))
        with lib.StatelessScope() as s:
            v.assign(np.zeros(3, "float32"))
            np.testing.assert_array_equal(np.asarray(v.value), 0.0)
        np.testing.assert_array_equal(np.asarray(s.get_current_value(v)), 0.0)
        np.testing.assert_array_equal(np.asarray(v.value), 1.0)
        assert s.get_current_value(lib.Variable(np.ones(2, "float32"))) is None

    class Lossy(fkeras.layers.Layer):
        def call(self, x):
            self.add_loss(fkeras.ops.sum(x))
            return x

    layer = Lossy()
    layer(np.ones((1, 2), "float32"))
    for collect, n in ((True, 1), (False, 0)):
        with fkeras.StatelessScope(collect_losses=collect) as s:
            layer(np.ones((1, 2), "float32"))
        assert len(s.losses) == n


def test_stateless_scope_runs_under_jit():
    m = _bn_model(fkeras)
    x = np.ones((4, 3), "float32")

    @jax.jit
    def step(values):
        with fkeras.StatelessScope(list(zip(m.weights, values))) as s:
            y = m(x, training=True)
        return y, [s.get_current_value(v) for v in m.weights]

    y, new = step([np.asarray(v.value) for v in m.weights])
    assert y.shape == (4, 4) and not np.allclose(new[-2], np.asarray(m.weights[-2].value))


def test_stateless_scope_rejects_bad_mappings_before_entering():
    v = fkeras.Variable(np.ones(3, "float32"))
    with pytest.raises(ValueError, match="must be Variable instances"):
        fkeras.StatelessScope([(1, 2)])
    with pytest.raises(ValueError, match=r"shape that matches.*\(2,\)"):
        fkeras.StatelessScope([(v, np.ones(2))])
    assert fkeras.layers.variables.current_scope() is None


# --- SymbolicScope --------------------------------------------------------------------------------
def test_symbolic_scope_marks_shape_inference():
    from fkeras.layers.scopes import in_symbolic_scope

    seen = []

    class Probe(fkeras.Operation):
        def call(self, x):
            seen.append(in_symbolic_scope())
            return x * 2

    assert not in_symbolic_scope()
    with fkeras.SymbolicScope() as s:
        assert in_symbolic_scope() and isinstance(s, fkeras.SymbolicScope)
    assert not in_symbolic_scope()
    Probe()(fkeras.KerasTensor((None, 3)))
    Probe()(np.ones(3, "float32"))
    assert seen == [True, False]


# --- device ---------------------------------------------------------------------------------------
def test_device_places_new_arrays():
    cpu = jax.devices("cpu")[0]
    for lib in (fkeras, keras):
        with lib.device("CPU:0"):
            x = lib.ops.ones((2,))
        assert x.devices() == {cpu}
    with fkeras.device(cpu):
        assert fkeras.ops.zeros((1,)).devices() == {cpu}
    with pytest.raises(ValueError, match="Device not found: tpu:7"):
        fkeras.device("tpu:7")
    with pytest.raises(ValueError, match="Expected a string like 'gpu:0'"):
        fkeras.device(3)


# --- RematScope / remat ---------------------------------------------------------------------------
def _remat_model(mode):
    fkeras.backend.clear_session(free_memory=False)
    with fkeras.RematScope(**mode) if mode else _Null():
        return fkeras.Sequential([fkeras.Input((4,)), fkeras.layers.Dense(8, activation="relu"),
                                  fkeras.layers.Dense(2)])


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


REMAT_CASES = [(dict(mode="full"), 2), (dict(mode="activations"), 2),
               (dict(mode="larger_than", output_size_threshold=10), 1),  # 3x8 > 10, 3x2 is not
               (dict(mode="list_of_layers", layer_names=["dense_1"]), 1), (dict(mode=None), 0)]


@pytest.mark.parametrize("mode,count", REMAT_CASES, ids=[str(m["mode"]) for m, _ in REMAT_CASES])
def test_remat_scope_selects_layers_and_keeps_gradients(mode, count):
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    ref = _remat_model(None)
    model = _remat_model(mode)
    model.set_weights(ref.get_weights())

    def loss(params, m):
        return jnp.sum(m.nn_layer.apply((params, {}), x)[0] ** 2)

    params = model.variables_tree.params
    chex.assert_trees_all_close(jax.grad(loss)(params, model), jax.grad(loss)(ref.variables_tree.params, ref), **TOL)
    program = str(jax.make_jaxpr(lambda p: jax.grad(loss)(p, model))(params))
    assert program.count("remat") == count  # one jax.checkpoint per selected layer in the traced program


def test_remat_scope_reaches_layers_inside_a_subclassed_call():
    class Net(fkeras.Model):
        def __init__(self):
            super().__init__()
            with fkeras.RematScope(mode="list_of_layers", layer_names=["inner"]):
                self.inner = fkeras.layers.Dense(3, activation="tanh", name="inner")
            self.out = fkeras.layers.Dense(1)

        def call(self, x):
            return self.out(self.inner(x))

    x = np.ones((2, 4), "float32")
    model = Net()
    model(x)
    loss = lambda p: jnp.sum(model.nn_layer.apply((p, {}), x)[0])  # noqa: E731
    params = model.variables_tree.params
    assert str(jax.make_jaxpr(jax.grad(loss))(params)).count("remat") == 1
    out = model.out.name
    plain = jax.grad(lambda p: jnp.sum(jnp.tanh(x @ p["inner"]["kernel"] + p["inner"]["bias"]) @ p[out]["kernel"]
                                        + p[out]["bias"]))(params)
    chex.assert_trees_all_close(jax.grad(loss)(params), plain, **TOL)


def test_remat_scope_reaches_fit_and_matches_keras_values():
    keras.backend.clear_session(free_memory=False)
    with keras.RematScope(mode="full"):
        km = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])
    fm = _remat_model(dict(mode="full"))
    fm.set_weights(km.get_weights())
    x = np.random.default_rng(1).normal(size=(8, 4)).astype("float32")
    y = np.random.default_rng(2).normal(size=(8, 2)).astype("float32")
    for m, lib in ((km, keras), (fm, fkeras)):
        m.compile(lib.optimizers.SGD(0.1), "mse")
        m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    chex.assert_trees_all_close(fm.get_weights(), km.get_weights(), **TOL)


def test_remat_scope_rejects_unknown_modes_like_keras():
    for lib in (fkeras, keras):
        with pytest.raises(ValueError, match="Invalid mode 'bad'"):
            lib.RematScope(mode="bad")


def test_remat_function_keeps_values_and_gradients():
    def f(x):
        return jnp.sin(x) * jnp.exp(x)

    x = jnp.linspace(0.0, 1.0, 5)
    chex.assert_trees_all_close(fkeras.remat(f)(x), np.asarray(keras.remat(f)(x)), **TOL)
    g = jax.grad(lambda v: jnp.sum(fkeras.remat(f)(v)))
    chex.assert_trees_all_close(g(x), jax.grad(lambda v: jnp.sum(f(v)))(x), **TOL)
    assert "remat" in str(jax.make_jaxpr(g)(x))
    with pytest.raises(TypeError, match="callable"):
        fkeras.remat(3)


# --- Operation / Function -------------------------------------------------------------------------
def _graph(lib):
    ops = lib.ops

    class Scale(lib.Operation):
        def __init__(self, factor=2.0, name=None):
            super().__init__(name=name)
            self.factor = factor

        def call(self, x):
            return ops.multiply(x, self.factor)

        def compute_output_spec(self, x):
            return lib.KerasTensor(x.shape, x.dtype)

    class Split(lib.Operation):  # no compute_output_spec: inferred from `call`
        def call(self, x):
            return x[:, :2], ops.sum(x, axis=-1)

    scale = Scale(3.0)
    a = lib.KerasTensor((None, 3))
    b = lib.Input((3,), name="b")
    y = scale(a)
    p, q = Split()(y)
    fn = lib.Function([a, b], [ops.add(p, 1.0), q, ops.add(a, b)], name="fn")
    i = lib.Input((3,))
    dense = lib.layers.Dense(2, kernel_initializer="ones")
    g = lib.Function(i, dense(scale(i)))
    return scale, a, y, p, q, fn, g


def test_operation_and_function_match_keras():
    x = np.arange(6, dtype="float32").reshape(2, 3)
    results = {}
    for lib in (keras, fkeras):
        lib.backend.clear_session(free_memory=False)
        scale, a, y, p, q, fn, g = _graph(lib)
        specs = fn.compute_output_spec([lib.KerasTensor((4, 3)), lib.KerasTensor((4, 3))])
        results[lib.__name__] = dict(
            config=scale.get_config(), eager=np.asarray(scale(x)), sym=(y.shape, y.dtype, p.shape, q.shape),
            ops=[op.name for op in fn.operations], name=fn.name, out=[np.asarray(o) for o in fn([x, x + 1])],
            specs=[(s.shape, s.dtype) for s in specs], layered=np.asarray(g(x)),
            layered_ops=[type(op).__name__ for op in g.operations], io=(scale.input is a, scale.output is y),
            is_op=isinstance(g.operations[-1], lib.Operation))
    ours, theirs = results["fkeras"], results["keras"]
    for key in theirs:
        chex.assert_trees_all_close(ours[key], theirs[key], **TOL) if key in ("eager", "out", "layered") else None
        if key not in ("eager", "out", "layered"):
            assert ours[key] == theirs[key], key


def test_function_checks_its_graph_and_inputs():
    a, b = fkeras.Input((3,)), fkeras.Input((3,))
    with pytest.raises(ValueError, match="not connected to `inputs`|not in `inputs`"):
        fkeras.Function([a], [fkeras.ops.add(a, b)])
    fn = fkeras.Function([a, b], fkeras.ops.add(a, b))
    with pytest.raises(ValueError, match="expected 2 input"):
        fn([np.ones((1, 3))])
    with pytest.raises(ValueError, match=r"expected shape \(None, 3\), received shape \(1, 4\)"):
        fn([np.ones((1, 3)), np.ones((1, 4))])
    np.testing.assert_allclose(np.asarray(fn([np.ones((1, 3)), np.ones((1, 3))])), 2.0)
    out = fn([fkeras.Input((3,)), fkeras.Input((3,))])  # a Function is an Operation: callable on KerasTensors
    assert isinstance(out, fkeras.KerasTensor) and out.shape == (None, 3)


def _scale_op(lib):
    @lib.saving.register_keras_serializable(package="test_scopes")
    class ScaleOp(lib.Operation):
        def __init__(self, factor=2.0, name=None):
            super().__init__(name=name)
            self.factor = factor

        def call(self, x):
            return lib.ops.multiply(x, self.factor)

    return ScaleOp


def test_an_operation_inside_a_functional_model_trains_saves_and_loads_like_keras(tmp_path):
    x, y = np.ones((4, 3), "float32"), np.ones((4, 2), "float32")
    preds = {}
    for lib in (keras, fkeras):
        lib.backend.clear_session(free_memory=False)
        i = lib.Input((3,))
        model = lib.Model(i, lib.layers.Dense(2, kernel_initializer="ones")(_scale_op(lib)(3.0)(i)))
        model.compile(lib.optimizers.SGD(0.01), "mse")
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)
        preds[lib.__name__] = np.asarray(model.predict(x[:1], verbose=0))
        model.save(tmp_path / f"{lib.__name__}.keras")
    np.testing.assert_allclose(preds["fkeras"], preds["keras"], **TOL)
    for lib, other in ((keras, "fkeras"), (fkeras, "keras")):  # each loads the other's file
        loaded = lib.saving.load_model(tmp_path / f"{other}.keras")
        np.testing.assert_allclose(np.asarray(loaded.predict(x[:1], verbose=0)), preds[other], **TOL)


def test_stateless_scope_leaves_seed_generators_as_they_were():
    class Noisy(fkeras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.seed_generator = fkeras.random.SeedGenerator(3)

        def call(self, x):
            return fkeras.random.dropout(x, 0.5, seed=self.seed_generator)

    layer = Noisy()
    x = np.ones((2, 8), "float32")
    layer(x)
    before = np.asarray(layer.seed_generator.state)
    with fkeras.StatelessScope():
        a, b = layer(x), layer(x)
    assert not np.array_equal(np.asarray(a), np.asarray(b))  # the generator advances inside
    np.testing.assert_array_equal(np.asarray(layer.seed_generator.state), before)
