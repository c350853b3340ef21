"""Built-in layers are real Keras objects to their users (issue 13, issue 21):

- their weights are attributes with Keras's names (`kernel`, `bias`, `gamma`, `moving_mean`,
  `embeddings`, `depthwise_kernel`, ...): the layer's own Variables (read, assign, path, trainable);
- a subclass overriding `call`, `build` or Conv's `convolution_op` runs its override eagerly, in
  jitted `fit`/`predict`, through the layer's pure counterpart (`nn_layer`) and in `to_torch`;
- `Embedding(input_dim=..., output_dim=...)` with keywords, and a Functional model with a shared
  Embedding round-trips through `Model.from_config(model.get_config())`.

Keras 3.15 (KERAS_BACKEND=jax) is the oracle: same weights -> same outputs, atol=rtol=1e-5 (float32).
"""

import jax
import numpy as np
import pytest

import keras  # noqa: E402  (KERAS_BACKEND=jax is set by conftest)

import fkeras
from fkeras import layers, nn, ops

TOL = dict(atol=1e-5, rtol=1e-5)


@pytest.fixture(autouse=True)
def _fresh_keras_names():
    """Keras's auto names (`input_layer_3`) are global: leave them as other test files expect."""
    keras.backend.clear_session(free_memory=False)  # names only: a gc pass per call costs ~0.3 s
    yield
    keras.backend.clear_session(free_memory=False)


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# --- weights as attributes ------------------------------------------------------------------------
# (fkeras layer, keras layer, input shape): built on the same shape, both name the same weights.
_LAYERS = [
    (lambda: layers.Dense(3, name="d"), lambda: keras.layers.Dense(3, name="d"), (2, 4)),
    (lambda: layers.Conv2D(2, 3, name="c"), lambda: keras.layers.Conv2D(2, 3, name="c"), (1, 5, 5, 3)),
    (lambda: layers.BatchNormalization(name="bn"), lambda: keras.layers.BatchNormalization(name="bn"), (2, 3)),
    (lambda: layers.LayerNormalization(name="ln"), lambda: keras.layers.LayerNormalization(name="ln"), (2, 3)),
    (lambda: layers.Embedding(7, 2, name="e"), lambda: keras.layers.Embedding(7, 2, name="e"), (2, 3)),
    (lambda: layers.DepthwiseConv2D(3, name="dw"), lambda: keras.layers.DepthwiseConv2D(3, name="dw"),
     (1, 5, 5, 3)),
    (lambda: layers.SeparableConv2D(2, 3, name="sc"), lambda: keras.layers.SeparableConv2D(2, 3, name="sc"),
     (1, 5, 5, 3)),
]


@pytest.mark.parametrize("make_fk, make_k, shape", _LAYERS,
                         ids=["Dense", "Conv2D", "BatchNormalization", "LayerNormalization", "Embedding",
                              "DepthwiseConv2D", "SeparableConv2D"])
def test_weights_are_attributes_with_keras_names_paths_and_trainable(make_fk, make_k, shape):
    fk, k = make_fk(), make_k()
    k.build(shape)
    fk.build(shape)
    assert [w.path for w in fk.weights] == [w.path for w in k.weights]
    for kw in k.weights:
        var = getattr(fk, kw.name)
        assert isinstance(var, fkeras.Variable)
        assert any(var is w for w in fk.weights), kw.name  # the very object listed in `weights`
        assert (var.path, var.trainable, var.shape, var.dtype) == (kw.path, kw.trainable, tuple(kw.shape),
                                                                   kw.dtype)
        assert var.numpy().shape == tuple(kw.shape)


def test_weight_attribute_before_build_raises_a_clear_attribute_error():
    for layer, name in ((layers.Dense(3), "kernel"), (layers.BatchNormalization(), "moving_mean"),
                        (layers.Embedding(5, 2), "embeddings"), (layers.SeparableConv2D(2, 3), "pointwise_kernel")):
        with pytest.raises(AttributeError, match=rf"is not built yet, so it has no weight `{name}`"):
            getattr(layer, name)
        assert not hasattr(layer, name)
    dense = layers.Dense(3, use_bias=False)
    dense.build((None, 4))
    with pytest.raises(AttributeError, match="no attribute 'bias'"):
        dense.bias  # noqa: B018 - as Keras: no bias weight without use_bias


def test_assign_changes_the_output_like_keras_given_the_same_weights():
    x = _x((2, 4))
    fk, k = layers.Dense(3, activation="relu"), keras.layers.Dense(3, activation="relu")
    fk(x), k(x)
    kernel, bias = _x((4, 3), 1), _x((3,), 2)
    fk.kernel.assign(kernel)
    fk.bias.assign(bias)
    k.kernel.assign(kernel)
    k.bias.assign(bias)
    np.testing.assert_allclose(fk.kernel.numpy(), kernel)
    np.testing.assert_allclose(np.asarray(fk.bias.value), bias)
    np.testing.assert_allclose(fk.get_weights()[0], kernel)  # same Variable as `weights[0]`
    np.testing.assert_allclose(np.asarray(fk(x)), np.asarray(k(x)), **TOL)
    with pytest.raises(ValueError, match=r"expected a value of shape \(4, 3\), got shape \(3, 4\)"):
        fk.kernel.assign(np.zeros((3, 4), "float32"))


def test_batchnorm_moving_statistics_attribute_follows_training_calls():
    bn = layers.BatchNormalization(momentum=0.5)
    x = _x((8, 3)) + 2.0
    bn(x, training=True)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.5 * x.mean(0), **TOL)
    assert bn.moving_mean.trainable is False and bn.gamma.trainable is True


def test_attribute_sees_fit_results_and_assign_writes_through_to_predict():
    model = fkeras.Sequential([fkeras.Input((4,)), layers.Dense(2, name="out")])
    dense = model.layers[0]
    before = dense.kernel.numpy().copy()
    model.compile(optimizer=fkeras.optimizers.SGD(0.1), loss="mse")
    x, y = _x((8, 4)), _x((8, 2), 1)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    trained = dense.kernel.numpy()
    assert not np.allclose(trained, before)  # the attribute reads the TrainState
    np.testing.assert_array_equal(trained, model.get_weights()[0])
    np.testing.assert_array_equal(trained, np.asarray(model.train_state.params["out"]["kernel"]))
    dense.kernel.assign(np.zeros((4, 2), "float32"))
    dense.bias.assign(np.array([1.0, -1.0], "float32"))
    np.testing.assert_array_equal(np.asarray(model.train_state.params["out"]["kernel"]), 0.0)
    np.testing.assert_allclose(model.predict(x, verbose=0), np.tile([1.0, -1.0], (8, 1)), **TOL)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)  # training continues from the assigned values
    assert not np.allclose(dense.bias.numpy(), [1.0, -1.0])


# --- subclasses of built-in layers ----------------------------------------------------------------
def _zero_conv(base, ops_):
    class ZeroConv(base):
        """`convolution_op` returns zeros: the layer's output is its bias alone."""

        def convolution_op(self, inputs, kernel):
            return ops_.zeros_like(super().convolution_op(inputs, kernel))

    return ZeroConv


def test_conv2d_subclass_convolution_op_override_runs_eager_predict_fit_and_torch():
    x = _x((2, 5, 5, 3))
    conv = _zero_conv(layers.Conv2D, ops)(4, 3, bias_initializer="ones")
    kconv = _zero_conv(keras.layers.Conv2D, keras.ops)(4, 3, bias_initializer="ones")
    assert conv.name == kconv.name == "zero_conv"  # Keras names a subclass after it
    np.testing.assert_array_equal(np.asarray(conv(x)), 1.0)
    np.testing.assert_array_equal(np.asarray(kconv(x)), 1.0)

    model = fkeras.Sequential([fkeras.Input((5, 5, 3)), _zero_conv(layers.Conv2D, ops)(4, 3, name="zc")])
    np.testing.assert_array_equal(model.predict(x, verbose=0), 0.0)  # jitted; zero bias
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, np.ones((2, 3, 3, 4), "float32"), epochs=1, verbose=0)
    zc = model.layers[0]
    assert np.all(zc.bias.numpy() > 0)  # learned through the override; the kernel gets no gradient
    np.testing.assert_allclose(np.asarray(model.predict(x, verbose=0)), np.broadcast_to(zc.bias.numpy(),
                                                                                          (2, 3, 3, 4)), **TOL)
    # the pure counterpart is an nn Conv2D whose hook is the override
    assert isinstance(zc.nn_layer, nn.Conv2D)
    out, _ = zc.nn_layer.apply(zc.variables_tree, x)
    np.testing.assert_allclose(np.asarray(out), np.broadcast_to(zc.bias.numpy(), (2, 3, 3, 4)), **TOL)

    torch = pytest.importorskip("torch")
    from fkeras.interop.torch import to_torch

    module = to_torch(model).eval()
    with torch.no_grad():
        y = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(y, np.broadcast_to(zc.bias.numpy(), (2, 3, 3, 4)), **TOL)


def test_builtin_conv_and_nn_subclass_use_convolution_op():
    x = _x((1, 6, 6, 2))
    base = layers.Conv2D(3, 3)
    y = np.asarray(base(x))
    np.testing.assert_allclose(np.asarray(base.convolution_op(x, base.kernel)) + base.bias.numpy(), y, **TOL)

    class HalfConv(nn.Conv2D):  # a pure nn subclass overrides the same hook
        def convolution_op(self, inputs, kernel):
            return ops.multiply(super().convolution_op(inputs, kernel), 0.5)

    half = HalfConv(3, 3, use_bias=False)
    v = half.init(jax.random.key(0), x)
    full, _ = nn.Conv2D(3, 3, use_bias=False).apply(v, x)
    np.testing.assert_allclose(np.asarray(half.apply(v, x)[0]), 0.5 * np.asarray(full), **TOL)


def _scaled_dense(base, ops_):
    class ScaledDense(base):
        """Dense with an extra trainable `scale` (from `build`) and a `call` of its own."""

        def build(self, input_shape):
            super().build(input_shape)
            self.scale = self.add_weight(shape=(self.units,), initializer="ones", name="scale")

        def call(self, inputs):
            return ops_.multiply(super().call(inputs), self.scale)

    return ScaledDense


def _twice_dense(base, ops_):
    class TwiceDense(base):
        """Dense whose `call` does not use `super().call`: 2 * (x @ kernel) + bias."""

        def call(self, inputs):
            return ops_.add(ops_.multiply(ops_.matmul(inputs, self.kernel), 2.0), self.bias)

    return TwiceDense


def _same_weights(fk_layer, k_layer, seed=3):
    ws = [_x(tuple(w.shape), seed + i) for i, w in enumerate(k_layer.weights)]
    k_layer.set_weights(ws)
    fk_layer.set_weights(ws)
    return ws


@pytest.mark.parametrize("make", [_scaled_dense, _twice_dense], ids=["build+super.call", "own_call"])
def test_dense_subclass_override_matches_keras_eager_predict_pure_and_torch(make):
    x = _x((3, 4))
    fk, k = make(layers.Dense, ops)(2, activation="tanh"), make(keras.layers.Dense, keras.ops)(2, activation="tanh")
    fk(x), k(x)
    assert [w.path for w in fk.weights] == [w.path for w in k.weights]
    _same_weights(fk, k)
    want = np.asarray(k(x))
    np.testing.assert_allclose(np.asarray(fk(x)), want, **TOL)

    out, _ = fk.nn_layer.apply(fk.variables_tree, x)  # the pure counterpart runs the override
    np.testing.assert_allclose(np.asarray(out), want, **TOL)
    stack = nn.Sequential([fk.nn_layer])  # ... also inside a pure container, params keyed by name
    v = stack.init(jax.random.key(0), x)
    assert set(v.params[fk.name]) == {w.name for w in k.weights}
    out, _ = stack.apply(nn.Variables({fk.name: fk.variables_tree.params}, {}), x)
    np.testing.assert_allclose(np.asarray(out), want, **TOL)

    model = fkeras.Sequential([fkeras.Input((4,)), fk])
    np.testing.assert_allclose(model.predict(x, verbose=0), want, **TOL)

    torch = pytest.importorskip("torch")
    from fkeras.interop.torch import to_torch

    with torch.no_grad():
        y = to_torch(model).eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(y, want, **TOL)


def test_build_override_weight_trains_and_reaches_the_train_state():
    model = fkeras.Sequential([fkeras.Input((4,)), _scaled_dense(layers.Dense, ops)(2, name="sd")])
    sd = model.layers[0]
    assert [w.path for w in sd.weights] == [f"{model.name}/sd/{n}" for n in ("kernel", "bias", "scale")]
    model.compile(optimizer=fkeras.optimizers.SGD(0.1), loss="mse")
    model.fit(_x((8, 4)), _x((8, 2), 1), epochs=1, batch_size=4, verbose=0)
    assert set(model.train_state.params["sd"]) == {"kernel", "bias", "scale"}
    assert not np.allclose(sd.scale.numpy(), 1.0)  # the extra weight is trained
    np.testing.assert_array_equal(sd.scale.numpy(), np.asarray(model.train_state.params["sd"]["scale"]))


def test_build_override_without_super_build_says_what_is_missing():
    class NoKernel(layers.Dense):
        def build(self, input_shape):
            self.other = self.add_weight(shape=(2,), name="other")

    with pytest.raises(ValueError, match=r"needs the weight 'kernel'.*super\(\)\.build\(input_shape\)"):
        NoKernel(2)(_x((1, 4)))


def test_subclass_counterpart_losses_and_constraints():
    class Reg(layers.Dense):
        def build(self, input_shape):
            super().build(input_shape)
            self.extra = self.add_weight(shape=(2,), initializer="ones", regularizer=fkeras.regularizers.L2(0.5),
                                         constraint=fkeras.constraints.NonNeg(), name="extra")

        def call(self, inputs):
            return ops.multiply(super().call(inputs), self.extra)

    layer = Reg(2, kernel_regularizer=fkeras.regularizers.L1(0.1), activity_regularizer=fkeras.regularizers.L2(1.0))
    x = _x((4, 3))
    layer(x)
    pure = layer.nn_layer
    v = layer.variables_tree
    kernel, extra = np.asarray(v.params["kernel"]), np.asarray(v.params["extra"])
    penalties = 0.1 * np.abs(kernel).sum() + 0.5 * (extra ** 2).sum()
    np.testing.assert_allclose(float(pure.regularization_losses(v.params)), penalties, **TOL)
    y, _, aux = pure.apply_with_losses(v, x)
    activity = (np.asarray(y) ** 2).sum() / 4
    np.testing.assert_allclose(float(aux), activity + penalties, rtol=1e-5)
    projected = pure.apply_constraints({"kernel": v.params["kernel"], "bias": v.params["bias"],
                                        "extra": np.array([-1.0, 2.0], "float32")})
    np.testing.assert_array_equal(np.asarray(projected["extra"]), [0.0, 2.0])


# --- constructor keywords and configs -------------------------------------------------------------
def test_embedding_with_keyword_arguments_matches_keras():
    fk = layers.Embedding(input_dim=1000, output_dim=64)
    k = keras.layers.Embedding(input_dim=1000, output_dim=64)
    fk_config, k_config = fk.get_config(), k.get_config()
    fk_config.pop("name"), k_config.pop("name")
    assert fk_config.keys() == k_config.keys()
    assert (fk_config["input_dim"], fk_config["output_dim"]) == (1000, 64)
    ids = np.array([[1, 999, 0]])
    fk(ids), k(ids)
    assert fk.embeddings.shape == (1000, 64)
    _same_weights(fk, k)
    np.testing.assert_allclose(np.asarray(fk(ids)), np.asarray(k(ids)), **TOL)


def test_embedding_input_length_is_deprecated_and_ignored_as_in_keras():
    with pytest.warns(UserWarning, match="input_length` is deprecated"):
        fk = layers.Embedding(10, 4, input_length=3, name="e")
    with pytest.warns(UserWarning, match="input_length` is deprecated"):
        k = keras.layers.Embedding(10, 4, input_length=3, name="e")
    assert "input_length" not in fk.get_config()
    assert fk.get_config().keys() == k.get_config().keys()


def test_dense_input_dim_is_still_the_keras2_input_shape():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns about input_dim; it still takes it
        kmodel = keras.Sequential([keras.layers.Dense(3, input_dim=4)])
    model = fkeras.Sequential([layers.Dense(3, input_dim=4)])
    assert model.built and kmodel.built
    assert model.input_shape == kmodel.input_shape == (None, 4)


def _shared_embedding_model(lib):
    a = lib.Input((3,), dtype="int32", name="a")
    b = lib.Input((3,), dtype="int32", name="b")
    emb = lib.layers.Embedding(input_dim=20, output_dim=4, name="emb")
    merged = lib.layers.Add(name="add")([emb(a), emb(b)])
    out = lib.layers.Dense(2, name="head")(lib.layers.Flatten(name="flat")(merged))
    return lib.Model([a, b], out, name="shared")


def test_functional_with_shared_embedding_round_trips_through_config():
    model = _shared_embedding_model(fkeras)
    kmodel = _shared_embedding_model(keras)
    _same_weights(model, kmodel)
    a = np.array([[1, 2, 3], [4, 5, 19]], "int32")
    b = np.array([[0, 7, 3], [9, 9, 1]], "int32")
    want = np.asarray(kmodel.predict([a, b], verbose=0))
    np.testing.assert_allclose(model.predict([a, b], verbose=0), want, **TOL)

    clone = fkeras.Model.from_config(model.get_config())
    assert [w.path for w in clone.weights] == [w.path for w in model.weights]
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict([a, b], verbose=0), want, **TOL)
    # Keras reads fkeras's config, and fkeras reads Keras's
    kclone = keras.Model.from_config(model.get_config())
    kclone.set_weights(model.get_weights())
    np.testing.assert_allclose(np.asarray(kclone.predict([a, b], verbose=0)), want, **TOL)
    fclone = fkeras.Model.from_config(kmodel.get_config())
    fclone.set_weights(kmodel.get_weights())
    np.testing.assert_allclose(fclone.predict([a, b], verbose=0), want, **TOL)


def test_saved_subclasses_load_in_fkeras_and_keras(tmp_path):
    def register(lib, ops_):
        reg = lib.saving.register_keras_serializable(package="h1b_builtin_subclass")
        return reg(_zero_conv(lib.layers.Conv2D, ops_)), reg(_scaled_dense(lib.layers.Dense, ops_))

    zero_conv, scaled_dense = register(fkeras, ops)
    register(keras, keras.ops)
    model = fkeras.Sequential([fkeras.Input((5, 5, 3)), zero_conv(2, 3, bias_initializer="ones"), layers.Flatten(),
                               scaled_dense(2)])
    x = _x((2, 5, 5, 3))
    want = model.predict(x, verbose=0)
    path = str(tmp_path / "subclasses.keras")
    model.save(path)
    loaded = fkeras.saving.load_model(path)
    assert [type(layer).__name__ for layer in loaded.layers] == ["ZeroConv", "Flatten", "ScaledDense"]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), want, **TOL)
    kloaded = keras.saving.load_model(path)
    assert [w.path for w in loaded.weights] == [w.path for w in kloaded.weights]  # Keras's paths after a load
    np.testing.assert_allclose(np.asarray(kloaded.predict(x, verbose=0)), want, **TOL)


def test_a_subclass_of_a_subclass_keeps_the_inherited_hook_override():
    class Base(layers.Conv2D):
        def convolution_op(self, inputs, kernel):
            return ops.multiply(super().convolution_op(inputs, kernel), 0.0)

    class Child(Base):
        pass

    class Doubled(Base):
        def convolution_op(self, inputs, kernel):  # overrides again; `super()` reaches Base's zeros
            return ops.add(super().convolution_op(inputs, kernel), 2.0)

    x = _x((1, 5, 5, 2))
    np.testing.assert_array_equal(np.asarray(Child(3, 3, use_bias=False)(x)), 0.0)
    np.testing.assert_array_equal(np.asarray(Doubled(3, 3, use_bias=False)(x)), 2.0)
    plain = layers.Conv2D(3, 3, use_bias=False)
    assert type(plain.nn_layer) is nn.Conv2D  # built-in layers keep the plain nn class
    assert np.abs(np.asarray(plain(x))).sum() > 0


@pytest.mark.parametrize("make", [_scaled_dense, _twice_dense], ids=["build+super.call", "own_call"])
def test_subclass_call_under_mixed_precision_computes_in_float16_like_keras(make):
    """Keras casts a layer's inputs and reads its weights in the compute dtype inside `call`."""
    x = _x((3, 4))
    fk = make(layers.Dense, ops)(2, dtype="mixed_float16")
    k = make(keras.layers.Dense, keras.ops)(2, dtype="mixed_float16")
    fk(x), k(x)
    assert fk.kernel.dtype == "float32"  # variables stay float32
    _same_weights(fk, k)
    y, want = fk(x), k(x)
    assert str(np.asarray(y).dtype) == str(np.asarray(want).dtype) == "float16"
    np.testing.assert_allclose(np.asarray(y, "float32"), np.asarray(want, "float32"), atol=2e-3, rtol=2e-3)


def test_conv_subclass_call_using_the_convolution_op_hook_matches_keras():
    def make(base):
        class NoBiasConv(base):  # the Keras idiom: a `call` of its own built on `convolution_op`
            def call(self, inputs):
                return self.convolution_op(inputs, self.kernel)

        return NoBiasConv

    x = _x((2, 6, 6, 3))
    fk, k = make(layers.Conv2D)(4, 3, padding="same"), make(keras.layers.Conv2D)(4, 3, padding="same")
    fk(x), k(x)
    _same_weights(fk, k)
    want = np.asarray(k(x))
    np.testing.assert_allclose(np.asarray(fk(x)), want, **TOL)
    model = fkeras.Sequential([fkeras.Input((6, 6, 3)), fk])
    np.testing.assert_allclose(model.predict(x, verbose=0), want, **TOL)
