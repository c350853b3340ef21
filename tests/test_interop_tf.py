"""The TF shim runs the same pytree as JAX: same outputs, gradients, state updates, SGD steps;
its SavedModel serves in a process that never imports fkeras.

Tolerances (fp32): rtol = atol = 1e-5 for outputs of small nets, 1e-4 where conv stacks sum
hundreds of products (forward and gradients).
"""

import os
import subprocess
import sys
import textwrap

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")

from fkeras import nn, ops  # noqa: E402
from fkeras.nn import Variables  # noqa: E402
from fkeras.interop.tf import TFModule, to_tf, to_variables  # noqa: E402

R = np.random.default_rng(0)


def seed_convnet(width=1.0):
    """The guide's MNIST convnet (`width` scales the filters; 1.0 is the real 260,298-param model)."""
    a, b = int(64 * width), int(128 * width)
    return nn.Sequential([
        nn.Input((28, 28, 1)),
        nn.Conv2D(a, (3, 3), activation="relu"),
        nn.Conv2D(a, (3, 3), activation="relu"),
        nn.MaxPooling2D((2, 2)),
        nn.Conv2D(b, (3, 3), activation="relu"),
        nn.Conv2D(b, (3, 3), activation="relu"),
        nn.GlobalAveragePooling2D(),
        nn.Dropout(0.5),
        nn.Dense(10, activation="softmax"),
    ])


def bn_net():
    return nn.Sequential([
        nn.Input((8, 8, 3)),
        nn.Conv2D(4, 3, padding="same", use_bias=False),
        nn.BatchNormalization(momentum=0.9),
        nn.Activation("relu"),
        nn.AveragePooling2D(2, padding="same"),
        nn.Flatten(),
        nn.Dense(5),
    ])


def seq_net():
    return nn.Sequential([
        nn.Input((9, 3)),
        nn.Conv1D(4, 3, padding="same", activation="gelu"),
        nn.LayerNormalization(),
        nn.MaxPooling1D(2),
        nn.GlobalAveragePooling1D(),
        nn.Dense(3, activation="tanh"),
    ])


def embed_net():
    return nn.Sequential([
        nn.Input((6,), dtype="int32"),
        nn.Embedding(11, 4),
        nn.Reshape((3, 8)),
        nn.GlobalMaxPooling1D(),
        nn.Dense(2, activation="sigmoid"),
    ])


MODELS = {
    # name: (builder, input maker, tolerance)
    "seed_convnet": (lambda: seed_convnet(0.125), lambda n: R.random((n, 28, 28, 1), dtype=np.float32), 1e-4),
    "bn_net": (bn_net, lambda n: R.standard_normal((n, 8, 8, 3)).astype("float32"), 1e-4),
    "seq_net": (seq_net, lambda n: R.standard_normal((n, 9, 3)).astype("float32"), 1e-5),
    "embed_net": (embed_net, lambda n: R.integers(0, 11, (n, 6)).astype("int32"), 1e-5),
}


def _build(name, seed=0):
    builder, make_x, tol = MODELS[name]
    model = builder()
    variables = model.init(jax.random.key(seed))
    # Perturb BN statistics and gammas so inference mode is not the identity.
    params = jax.tree.map(lambda a: jnp.asarray(np.asarray(a) + 0.1 * R.standard_normal(a.shape), a.dtype),
                          variables.params)
    state = jax.tree.map(lambda a: jnp.asarray(np.asarray(a) + 0.1 * np.abs(R.standard_normal(a.shape)), a.dtype),
                         variables.state)
    variables = variables._replace(params=params, state=state)
    return model, variables, make_x, tol


@pytest.fixture(scope="module")
def built():
    """One module per model (tracing costs time); tests that change variables build their own."""
    out = {}
    for name in MODELS:
        nn.clear_session()
        model, variables, make_x, tol = _build(name)
        out[name] = (model, variables, to_tf(model, variables), make_x, tol)
    return out


@pytest.mark.parametrize("name", list(MODELS))
def test_forward_matches_jax(built, name):
    model, variables, module, make_x, tol = built[name]
    x = make_x(3)
    want, _ = model.apply(variables, jnp.asarray(x))
    got = module(tf.constant(x))
    chex.assert_trees_all_close(got.numpy(), np.asarray(want), rtol=tol, atol=tol)
    # Another batch size reuses the trace with the free batch dimension.
    traces = module.graph_call.experimental_get_tracing_count()
    x5 = make_x(5)
    chex.assert_trees_all_close(module(tf.constant(x5)).numpy(), np.asarray(model.apply(variables, x5)[0]),
                                rtol=tol, atol=tol)
    assert module.graph_call.experimental_get_tracing_count() == traces


def test_variables_named_by_pytree_path(built):
    _, variables, module, _, _ = built["bn_net"]
    names = {v.name for v in module.trainable_variables}
    assert names == {"conv2d/kernel:0", "batch_normalization/gamma:0", "batch_normalization/beta:0",
                     "dense/kernel:0", "dense/bias:0"}
    assert {v.name for v in module.non_trainable_variables} == {
        "batch_normalization/moving_mean:0", "batch_normalization/moving_variance:0"}
    assert set(module.params) == {"conv2d/kernel", "batch_normalization/gamma", "batch_normalization/beta",
                                  "dense/kernel", "dense/bias"}
    back = to_variables(module)
    chex.assert_trees_all_close(back, variables, rtol=0, atol=0)
    assert all(isinstance(a, jax.Array) for a in jax.tree.leaves(back))


def test_training_call_assigns_state_like_jax():
    model, variables, make_x, tol = _build("bn_net")
    module = to_tf(model, variables)
    x = make_x(4)
    want, want_state = model.apply(variables, jnp.asarray(x), training=True)
    got = module(tf.constant(x), training=True)
    chex.assert_trees_all_close(got.numpy(), np.asarray(want), rtol=tol, atol=tol)
    back = to_variables(module)
    chex.assert_trees_all_close(back.state, want_state, rtol=1e-5, atol=1e-5)
    chex.assert_trees_all_close(back.params, variables.params, rtol=0, atol=0)
    module(tf.constant(x))  # inference leaves state alone
    chex.assert_trees_all_close(to_variables(module).state, want_state, rtol=1e-5, atol=1e-5)


def _loss(ops_y, y_true, from_logits=False):
    return ops.mean(ops.sparse_categorical_crossentropy(y_true, ops_y, from_logits=from_logits))


@pytest.mark.parametrize("name, training", [("seed_convnet", False), ("bn_net", True), ("seq_net", True)])
def test_gradients_match_jax(built, name, training):
    """d loss / d (params, inputs) through the TF shim equals jax.grad of the same apply."""
    model, variables, module, make_x, tol = built[name]
    if training:  # the training call writes state back; use a fresh module
        module = to_tf(model, variables)
    x = make_x(3)
    n_cls = model.layers[-1].units
    y = R.integers(0, n_cls, (3,)).astype("int32")
    logits = name != "seed_convnet"

    def jax_loss(params, xj):
        out, _ = model.apply(variables._replace(params=params), xj, training=training)
        return _loss(out, jnp.asarray(y), logits)

    want_p, want_x = jax.jit(jax.grad(jax_loss, argnums=(0, 1)))(variables.params, jnp.asarray(x))
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = _loss(module(xt, training=training), tf.constant(y), logits)
    got_p, got_x = tape.gradient(loss, (module.params, xt))
    got_p = jax.tree.unflatten(jax.tree.structure(variables.params),
                               [got_p[k] for k in _paths(variables.params)])
    chex.assert_trees_all_close(jax.tree.map(np.asarray, got_p), want_p, rtol=tol, atol=tol)
    chex.assert_trees_all_close(got_x.numpy(), np.asarray(want_x), rtol=tol, atol=tol)


def _paths(tree):
    return ["/".join(str(k.key) for k in path) for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


def _jax_sgd_steps(model, variables, xs, ys, lr):
    """The reference: plain SGD steps on (xs[i], ys[i]) in JAX, training mode, from `variables`."""

    @jax.jit
    def step(v, x, y):
        def loss_fn(params):
            out, st = model.apply(v._replace(params=params), x, training=True)
            return _loss(out, y, True), st

        g, st = jax.grad(loss_fn, has_aux=True)(v.params)
        return v._replace(params=jax.tree.map(lambda p, d: p - lr * d, v.params, g), state=st)

    for x, y in zip(xs, ys):
        variables = step(variables, jnp.asarray(x), jnp.asarray(y))
    return variables


def test_three_sgd_steps_in_tf_equal_jax():
    """Fine-tune in TF with GradientTape + SGD, bring the pytree back: equals the same steps in JAX."""
    model, variables, make_x, _ = _build("bn_net")
    module = to_tf(model, variables)
    xs = [make_x(4) for _ in range(3)]
    ys = [R.integers(0, 5, (4,)).astype("int32") for _ in range(3)]
    lr = 0.1

    for x, y in zip(xs, ys):
        with tf.GradientTape() as tape:
            loss = _loss(module(tf.constant(x), training=True), tf.constant(y), True)
        grads = tape.gradient(loss, module.trainable_variables)
        for v, g in zip(module.trainable_variables, grads):
            v.assign_sub(lr * g)

    want = _jax_sgd_steps(model, variables, xs, ys, lr)
    chex.assert_trees_all_close(to_variables(module), want, rtol=1e-4, atol=1e-5)


def gap_net():
    """Mean's gradient needs runtime shapes: what made a nested call recompile under XLA."""
    return nn.Sequential([
        nn.Input((4, 4, 2)),
        nn.Conv2D(3, 3, padding="same"),
        nn.BatchNormalization(momentum=0.9),
        nn.Activation("relu"),
        nn.GlobalAveragePooling2D(),
        nn.Dense(2),
    ])


@pytest.mark.parametrize("jit_compile", [True, False])
def test_users_tf_function_train_step_traces_once_and_equals_jax(jit_compile):
    """A user's `tf.function` SGD step over the module traces once for 4 same-shape calls, XLA keeps
    the batch a runtime parameter (not a constant, which recompiled every step), and the pytree
    ends where the same 4 steps in JAX end (tolerance 1e-5)."""
    model = gap_net()
    variables = model.init(jax.random.key(0))
    module = to_tf(model, variables)
    xs = [R.standard_normal((3, 4, 4, 2)).astype("float32") for _ in range(4)]
    ys = [R.integers(0, 2, (3,)).astype("int32") for _ in range(4)]
    lr = 0.1
    params = module.trainable_variables

    @tf.function(jit_compile=jit_compile)
    def tf_step(x, y):
        with tf.GradientTape() as tape:
            loss = _loss(module(x, training=True), y, True)
        for v, g in zip(params, tape.gradient(loss, params)):
            v.assign_sub(lr * g)
        return loss

    for x, y in zip(xs, ys):
        tf_step(tf.constant(x), tf.constant(y))
    assert tf_step.experimental_get_tracing_count() == 1
    if jit_compile:
        hlo = tf_step.experimental_get_compiler_ir(tf.constant(xs[0]), tf.constant(ys[0]))(stage="hlo")
        entry = hlo[hlo.index("ENTRY"):]
        assert "f32[3,4,4,2]{3,2,1,0} parameter(" in entry, "XLA compiled the input batch in as a constant"

    want = _jax_sgd_steps(model, variables, xs, ys, lr)
    chex.assert_trees_all_close(to_variables(module), want, rtol=1e-5, atol=1e-5)


def test_dropout_in_users_xla_function_draws_a_fresh_mask_per_call():
    module = to_tf(nn.Sequential([nn.Input((400,)), nn.Dropout(0.25)]), Variables({}, {}))
    forward = tf.function(lambda x: module(x, training=True), jit_compile=True)
    x = tf.ones((5, 400))
    a, b = forward(x).numpy(), forward(x).numpy()
    assert forward.experimental_get_tracing_count() == 1
    assert set(np.unique(a)) == {0.0, np.float32(1 / 0.75)} and not np.array_equal(a, b)


def test_dropout_uses_tf_rng_in_training_only(built):
    module = to_tf(nn.Sequential([nn.Input((400,)), nn.Dropout(0.25)]), Variables({}, {}))
    x = tf.ones((5, 400))
    np.testing.assert_array_equal(module(x).numpy(), np.ones((5, 400), "float32"))
    tf.random.set_seed(1)
    t = module(x, training=True).numpy()
    assert set(np.unique(t)) == {0.0, np.float32(1 / 0.75)}
    assert abs((t == 0).mean() - 0.25) < 0.03
    assert not np.array_equal(t, module(x, training=True).numpy())  # a fresh mask per call
    _, _, convnet, make_x, _ = built["seed_convnet"]
    probs = convnet(tf.constant(make_x(2)), training=True).numpy()
    chex.assert_trees_all_close(probs.sum(-1), np.ones(2, "float32"), rtol=1e-5, atol=1e-5)


def test_full_seed_convnet_forward_and_param_count():
    model = seed_convnet(1.0)
    variables = model.init(jax.random.key(0))
    module = to_tf(model, variables)
    assert sum(int(np.prod(v.shape)) for v in module.trainable_variables) == 260_298
    x = R.random((1, 28, 28, 1), dtype=np.float32)
    chex.assert_trees_all_close(module(tf.constant(x)).numpy(), np.asarray(model.apply(variables, x)[0]),
                                rtol=1e-4, atol=1e-5)


def test_saved_model_serves_without_fkeras(tmp_path, built):
    model, variables, module, make_x, tol = built["bn_net"]
    x = make_x(3)
    want = np.asarray(model.apply(variables, jnp.asarray(x))[0])
    tf.saved_model.save(module, str(tmp_path / "sm"))
    np.savez(tmp_path / "io.npz", x=x, want=want)
    script = textwrap.dedent(f"""
        import sys
        sys.modules["fkeras"] = None  # any attempt to import fkeras now fails
        import numpy as np
        import tensorflow as tf
        io = np.load({str(tmp_path / "io.npz")!r})
        m = tf.saved_model.load({str(tmp_path / "sm")!r})
        served = m.signatures["serving_default"](tf.constant(io["x"]))["output_0"].numpy()
        called = m(tf.constant(io["x"][:2])).numpy()
        np.testing.assert_allclose(served, io["want"], rtol={tol}, atol={tol})
        np.testing.assert_allclose(called, io["want"][:2], rtol={tol}, atol={tol})
        assert not [k for k in sys.modules if k.startswith("fkeras.")], "fkeras was imported"
        print("served", served.shape)
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "served (3, 5)" in proc.stdout


def test_assign_round_trip(built):
    model, variables, _, make_x, tol = built["seq_net"]
    module = to_tf(model, variables)
    other = model.init(jax.random.key(7))
    module.assign(other)
    chex.assert_trees_all_close(to_variables(module), other, rtol=0, atol=0)
    x = make_x(2)
    chex.assert_trees_all_close(module(tf.constant(x)).numpy(), np.asarray(model.apply(other, x)[0]),
                                rtol=tol, atol=tol)


def test_init_from_model_when_no_variables():
    model = seq_net()
    module = to_tf(model, seed=3)
    chex.assert_trees_all_close(to_variables(module), model.init(jax.random.key(3)), rtol=0, atol=0)


def test_input_spec_for_model_without_declared_input():
    model = nn.Sequential([nn.Dense(3), nn.Dense(2)])
    variables = model.init(jax.random.key(0), (1, 4))
    module = to_tf(model, variables, input_spec=(None, 4))
    assert module.input_signature[0].shape.as_list() == [None, 4]
    x = R.standard_normal((6, 4)).astype("float32")
    chex.assert_trees_all_close(module.serve(tf.constant(x)).numpy(), np.asarray(model.apply(variables, x)[0]),
                                rtol=1e-5, atol=1e-5)


def test_bad_variables_raise_clear_errors():
    model = nn.Sequential([nn.Input((4,)), nn.Dense(3, name="d1"), nn.BatchNormalization(name="bn")])
    v = model.init(jax.random.key(0))
    missing = v._replace(params={"d1": {"kernel": v.params["d1"]["kernel"]}, "bn": v.params["bn"]})
    with pytest.raises(ValueError, match=r"variables.params.*no entry 'd1/bias'.*\(3,\)"):
        to_tf(model, missing)
    wrong = v._replace(params={**v.params, "d1": {**v.params["d1"], "kernel": jnp.zeros((5, 3))}})
    with pytest.raises(ValueError, match=r"'d1/kernel' has shape \(5, 3\); expected \(4, 3\)"):
        to_tf(model, wrong)
    extra = v._replace(state={"bn": {**v.state["bn"], "junk": jnp.zeros(3)}})
    with pytest.raises(ValueError, match="bn/junk"):
        to_tf(model, extra)
    with pytest.raises(TypeError, match="init`/`apply"):
        to_tf(object())
    with pytest.raises(TypeError, match="input spec"):
        to_tf(model, v, input_spec="28x28")
    module = to_tf(model, v)
    with pytest.raises(ValueError, match="d1/kernel"):
        module.assign(wrong)
    with pytest.raises(ValueError, match="bn/junk"):
        module.assign(v._replace(params=jax.tree.map(lambda a: a + 1, v.params), state=extra.state))
    chex.assert_trees_all_close(module.variables_tree, v, rtol=0, atol=0)  # a failed assign changes nothing
    with pytest.raises(TypeError, match="to_tf"):
        to_variables(tf.Module())
    assert isinstance(module, TFModule) and isinstance(module, tf.Module)


def test_facade_models_functional_and_subclassed():
    """Facade models expose `apply` and `variables_tree`; to_tf uses them (the guide's MyDense/MyDropout)."""
    import fkeras as keras

    inputs = keras.Input(shape=(8, 8, 1))
    h = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    h = keras.layers.GlobalAveragePooling2D()(h)
    h = keras.layers.Dropout(0.5)(h)
    functional = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))

    class MyDense(keras.layers.Layer):
        def __init__(self, units, activation=None, name=None):
            super().__init__(name=name)
            self.units, self.activation = units, keras.activations.get(activation)

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_normal", name="kernel")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

        def call(self, x):
            return self.activation(keras.ops.matmul(x, self.w) + self.b)

    class MyDropout(keras.layers.Layer):
        def __init__(self, rate, name=None):
            super().__init__(name=name)
            self.rate, self.seed_generator = rate, keras.random.SeedGenerator(1337)

        def call(self, x, training=False):
            return keras.random.dropout(x, self.rate, seed=self.seed_generator) if training else x

    class MyModel(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv_base = keras.Sequential([keras.layers.Conv2D(4, 3, activation="relu"),
                                               keras.layers.GlobalAveragePooling2D()])
            self.dp, self.dense = MyDropout(0.5), MyDense(3, activation="softmax")

        def call(self, x, training=False):
            return self.dense(self.dp(self.conv_base(x), training=training))

    x = R.random((2, 8, 8, 1), dtype=np.float32)
    subclassed = MyModel()
    subclassed(x)  # build
    for model in (functional, subclassed):
        module = to_tf(model, input_spec=(None, 8, 8, 1))
        chex.assert_trees_all_close(module(tf.constant(x)).numpy(), np.asarray(model(x)), rtol=1e-5, atol=1e-5)
        chex.assert_trees_all_close(to_variables(module), model.variables_tree, rtol=0, atol=0)
        trained = module(tf.constant(x), training=True).numpy()  # dropout from TF's RNG
        chex.assert_trees_all_close(trained.sum(-1), np.ones(2, "float32"), rtol=1e-5, atol=1e-5)


def test_two_input_functional_model_and_serving_signature():
    import fkeras as keras

    a, b = keras.Input(shape=(4,)), keras.Input(shape=(3,))
    out = keras.layers.Dense(2)(keras.layers.Concatenate()([a, keras.layers.Dense(4)(b)]))
    model = keras.Model([a, b], out)
    module = to_tf(model)
    assert [s.shape.as_list() for s in module.input_signature] == [[None, 4], [None, 3]]
    x1, x2 = R.random((3, 4), dtype=np.float32), R.random((3, 3), dtype=np.float32)
    want = np.asarray(model([x1, x2]))
    chex.assert_trees_all_close(module((tf.constant(x1), tf.constant(x2))).numpy(), want, rtol=1e-5, atol=1e-5)
    chex.assert_trees_all_close(module.serve(tf.constant(x1), tf.constant(x2)).numpy(), want, rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError, match="Python bool"):
        module((tf.constant(x1), tf.constant(x2)), training=tf.constant(True))


def _f(*shape):
    return R.standard_normal(shape).astype("float32")


# (layer factory, inputs). Tiny shapes; each layer runs through its own TF module.
LAYER_CASES = {
    "dense": (lambda: nn.Dense(3), [_f(2, 4)]),
    "dense_rank3_relu": (lambda: nn.Dense(3, activation="relu"), [_f(2, 3, 4)]),
    "conv1d_same_strided": (lambda: nn.Conv1D(3, 2, strides=2, padding="same"), [_f(2, 7, 2)]),
    "conv2d_dilated": (lambda: nn.Conv2D(3, 3, dilation_rate=2), [_f(2, 7, 7, 2)]),
    "conv2d_groups": (lambda: nn.Conv2D(4, 3, groups=2, padding="same"), [_f(2, 5, 5, 4)]),
    "conv2d_channels_first": (lambda: nn.Conv2D(3, 2, data_format="channels_first"), [_f(2, 2, 5, 5)]),
    "conv3d": (lambda: nn.Conv3D(2, 2), [_f(1, 4, 4, 4, 2)]),
    "max_pooling1d": (lambda: nn.MaxPooling1D(2), [_f(2, 6, 3)]),
    "max_pooling2d_same": (lambda: nn.MaxPooling2D(3, strides=2, padding="same"), [_f(2, 7, 7, 2)]),
    "max_pooling3d": (lambda: nn.MaxPooling3D(2), [_f(1, 4, 4, 4, 2)]),
    "average_pooling1d_same": (lambda: nn.AveragePooling1D(3, strides=1, padding="same"), [_f(2, 6, 3)]),
    "average_pooling2d": (lambda: nn.AveragePooling2D(2), [_f(2, 6, 6, 2)]),
    "global_average_pooling1d": (lambda: nn.GlobalAveragePooling1D(), [_f(2, 5, 3)]),
    "global_max_pooling2d_keepdims": (lambda: nn.GlobalMaxPooling2D(keepdims=True), [_f(2, 4, 4, 3)]),
    "global_average_pooling2d_cf": (lambda: nn.GlobalAveragePooling2D(data_format="channels_first"), [_f(2, 3, 4, 4)]),
    "batch_normalization": (lambda: nn.BatchNormalization(momentum=0.8), [_f(4, 5, 3)]),
    "layer_normalization": (lambda: nn.LayerNormalization(axis=[1, 2]), [_f(2, 3, 4)]),
    "layer_normalization_rms": (lambda: nn.LayerNormalization(rms_scaling=True), [_f(2, 3, 4)]),
    "embedding": (lambda: nn.Embedding(10, 3), [R.integers(0, 10, (2, 5)).astype("int32")]),
    "flatten_reshape_permute": (lambda: nn.Sequential([nn.Flatten(), nn.Reshape((4, 3)), nn.Permute((2, 1))]),
                                [_f(2, 3, 4)]),
    "rescaling": (lambda: nn.Rescaling(1 / 255.0, offset=-1.0), [_f(2, 4)]),
    "zero_padding": (lambda: nn.Sequential([nn.ZeroPadding2D(((1, 0), (2, 1)))]), [_f(2, 3, 3, 2)]),
    "upsampling": (lambda: nn.Sequential([nn.UpSampling2D(2), nn.UpSampling2D(2, interpolation="bilinear")]),
                   [_f(2, 3, 3, 2)]),
    "upsampling1d_zero_padding1d": (lambda: nn.Sequential([nn.UpSampling1D(2), nn.ZeroPadding1D(2)]), [_f(2, 3, 2)]),
    "activations": (lambda: nn.Sequential([nn.Activation(a) for a in (
        "relu", "gelu", "elu", "selu", "softplus", "softsign", "silu", "leaky_relu", "relu6", "hard_sigmoid",
        "tanh", "mish", "sigmoid", "exponential", "linear", "log_softmax", "softmax")]), [_f(2, 5)]),
    "add": (lambda: nn.Add(), [_f(2, 3), _f(2, 3)]),
    "concatenate": (lambda: nn.Concatenate(axis=1), [_f(2, 3), _f(2, 2)]),
    "merge_others": (lambda: nn.Multiply(), [_f(2, 3), _f(2, 3), _f(2, 3)]),
    "subtract_average_max_min": (lambda: nn.Subtract(), [_f(2, 3), _f(2, 3)]),
    "dropout_inference": (lambda: nn.Dropout(0.3), [_f(2, 3)]),
}


@pytest.mark.parametrize("name", list(LAYER_CASES))
def test_each_layer_forward_state_and_gradients_match_jax(name):
    """Inference output, training output + new state, and d sum(out * w) / d (params, float inputs)."""
    make, xs = LAYER_CASES[name]
    layer = make()
    variables = layer.init(jax.random.key(0), *xs)
    training = name != "dropout_inference"
    module = to_tf(layer, variables)

    want_inf, _ = layer.apply(variables, *xs)
    w = R.standard_normal(want_inf.shape).astype("float32")
    floating = [i for i, x in enumerate(xs) if x.dtype == np.float32]

    @jax.jit
    def jax_ref(params, fl):
        def loss(params, fl):
            args = list(xs)
            for i, v in zip(floating, fl):
                args[i] = v
            out, st = layer.apply(variables._replace(params=params), *args, training=training)
            return jnp.sum(out * w), (out, st)

        (_, (out, st)), grads = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(params, fl)
        return out, st, grads

    want_out, want_state, (want_gp, want_gx) = jax_ref(variables.params, [jnp.asarray(xs[i]) for i in floating])

    tx = [tf.constant(x) for x in xs]
    arg = tuple(tx) if len(tx) > 1 else tx[0]
    chex.assert_trees_all_close(module(arg).numpy(), np.asarray(want_inf), rtol=1e-5, atol=1e-5)
    with tf.GradientTape() as tape:
        for i in floating:
            tape.watch(tx[i])
        out = module(arg, training=training)
        loss = tf.reduce_sum(out * w)
    got_gp, got_gx = tape.gradient(loss, (module.params, [tx[i] for i in floating]))
    chex.assert_trees_all_close(out.numpy(), np.asarray(want_out), rtol=1e-5, atol=1e-5)
    chex.assert_trees_all_close(to_variables(module).state, want_state if want_state else variables.state,
                                rtol=1e-5, atol=1e-5)
    # Embedding's gradient arrives as tf.IndexedSlices (sparse rows), as TF optimizers expect; densify to compare.
    got_gp = jax.tree.unflatten(jax.tree.structure(variables.params),
                                [tf.convert_to_tensor(got_gp[k]).numpy() for k in _paths(variables.params)])
    chex.assert_trees_all_close(got_gp, want_gp, rtol=1e-4, atol=1e-5)
    chex.assert_trees_all_close([g.numpy() for g in got_gx], list(want_gx), rtol=1e-4, atol=1e-5)


def test_functional_input_dtype_is_kept():
    """A facade model's symbolic inputs give the signature's dtype (int32 token ids, not float32)."""
    import fkeras as keras

    tokens = keras.Input(shape=(5,), dtype="int32")
    h = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(10, 3)(tokens))
    model = keras.Model(tokens, keras.layers.Dense(2)(h))
    module = to_tf(model)
    assert module.input_signature[0].dtype == tf.int32 and module.input_signature[0].shape.as_list() == [None, 5]
    x = R.integers(0, 10, (3, 5)).astype("int32")
    chex.assert_trees_all_close(module.serve(tf.constant(x)).numpy(), np.asarray(model(x)), rtol=1e-5, atol=1e-5)
