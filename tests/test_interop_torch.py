"""The torch shim: the same pytree and the same `apply`, run by torch, equals JAX.

Tolerances (fp32): forward rtol=atol=1e-5; gradients and SGD round trips rtol=atol=1e-4
(conv gradients sum thousands of products in a different order on each side).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fkeras import nn, ops  # noqa: E402
from fkeras.interop.torch import FkerasModule, to_torch, to_variables  # noqa: E402

FWD, GRAD = 1e-5, 1e-4


def _np(tree):
    return jax.tree_util.tree_map(lambda t: t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t),
                                  tree)


def _close(got, want, tol):
    chex.assert_trees_all_close(_np(got), _np(want), rtol=tol, atol=tol)


def seed_convnet():
    """The guide's MNIST convnet (260,298 parameters)."""
    return nn.Sequential([
        nn.Input((28, 28, 1)),
        nn.Conv2D(64, 3, activation="relu"), nn.Conv2D(64, 3, activation="relu"), nn.MaxPooling2D(3),
        nn.Conv2D(128, 3, activation="relu"), nn.Conv2D(128, 3, activation="relu"),
        nn.GlobalAveragePooling2D(), nn.Dropout(0.5), nn.Dense(10, activation="softmax"),
    ])


def small_bn_net():
    return nn.Sequential([
        nn.Conv2D(4, 3, padding="same"), nn.BatchNormalization(), nn.Activation("relu"), nn.MaxPooling2D(2),
        nn.Flatten(), nn.Dense(10),
    ])


@pytest.fixture(scope="module")
def convnet():
    nn.clear_session()
    model = seed_convnet()
    variables = model.init(jax.random.key(0), jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32))
    x = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    return model, variables, x


def test_seed_convnet_forward_equals_jax(convnet):
    model, variables, x = convnet
    assert nn.count_params(variables) == 260_298
    module = to_torch(model, variables).eval()
    assert isinstance(module, torch.nn.Module)
    with torch.no_grad():
        got = module(torch.from_numpy(x))
    want, _ = model.apply(variables, jnp.asarray(x))
    assert isinstance(got, torch.Tensor) and got.shape == (2, 10)
    _close(got, want, FWD)


def test_seed_convnet_gradients_equal_jax(convnet):
    model, variables, x = convnet
    labels = np.array([3, 7])
    module = to_torch(model, variables).eval()

    xt = torch.from_numpy(x).requires_grad_(True)
    loss = ops.mean(ops.sparse_categorical_crossentropy(torch.from_numpy(labels), module(xt)))
    loss.backward()
    got_params = {name: p.grad for name, p in module.named_parameters()}

    def jax_loss(params, x):
        y, _ = model.apply(nn.Variables(params, variables.state), x)
        return jnp.mean(ops.sparse_categorical_crossentropy(jnp.asarray(labels), y))

    gp, gx = jax.jit(jax.grad(jax_loss, argnums=(0, 1)))(variables.params, jnp.asarray(x))
    want_params = {".".join(k.key for k in path): g for path, g in jax.tree_util.tree_leaves_with_path(gp)}
    assert set(got_params) == set(want_params)
    _close(got_params, want_params, GRAD)
    _close(xt.grad, gx, GRAD)


def test_state_dict_keys_are_pytree_paths():
    model = small_bn_net()
    variables = model.init(jax.random.key(1), (2, 6, 6, 3))
    module = to_torch(model, variables)
    assert list(module.state_dict()) == [
        "conv2d.kernel", "conv2d.bias", "batch_normalization.gamma", "batch_normalization.beta",
        "batch_normalization.moving_mean", "batch_normalization.moving_variance", "dense.kernel", "dense.bias",
    ]
    assert {n for n, _ in module.named_parameters()} == {
        "conv2d.kernel", "conv2d.bias", "batch_normalization.gamma", "batch_normalization.beta",
        "dense.kernel", "dense.bias",
    }
    assert {n for n, _ in module.named_buffers()} == {
        "batch_normalization.moving_mean", "batch_normalization.moving_variance",
    }
    # load_state_dict speaks the same keys.
    other = to_torch(model, model.init(jax.random.key(2), (2, 6, 6, 3)))
    other.load_state_dict(module.state_dict())
    _close(to_variables(other), to_variables(module), 0)


def test_batchnorm_training_forward_updates_buffers_like_jax():
    model = small_bn_net()
    variables = model.init(jax.random.key(1), (2, 6, 6, 3))
    x = np.random.default_rng(3).standard_normal((4, 6, 6, 3)).astype(np.float32)
    module = to_torch(model, variables).train()
    got = module(torch.from_numpy(x))
    want, new_state = model.apply(variables, jnp.asarray(x), training=True)
    _close(got, want, FWD)
    _close(to_variables(module).state, new_state, FWD)
    assert not np.allclose(np.asarray(new_state["batch_normalization"]["moving_mean"]), 0.0)
    # eval() uses (and does not change) the moving statistics.
    module.eval()
    before = to_variables(module).state
    with torch.no_grad():
        got_eval = module(torch.from_numpy(x))
    want_eval, _ = model.apply(nn.Variables(variables.params, new_state), jnp.asarray(x), training=False)
    _close(got_eval, want_eval, FWD)
    _close(to_variables(module).state, before, 0)


def test_round_trip_three_sgd_steps_equals_jax():
    model = small_bn_net()
    variables = model.init(jax.random.key(4), (8, 6, 6, 3))
    r = np.random.default_rng(5)
    batches = [(r.standard_normal((8, 6, 6, 3)).astype(np.float32), r.integers(0, 10, 8)) for _ in range(3)]
    lr = 0.1

    module = to_torch(model, variables).train()
    opt = torch.optim.SGD(module.parameters(), lr=lr)
    for x, y in batches:
        opt.zero_grad()
        logits = module(torch.from_numpy(x))
        ops.mean(ops.sparse_categorical_crossentropy(torch.from_numpy(y), logits, from_logits=True)).backward()
        opt.step()
    got = to_variables(module)

    def loss_fn(params, state, x, y):
        logits, new_state = model.apply(nn.Variables(params, state), x, training=True)
        return jnp.mean(ops.sparse_categorical_crossentropy(y, logits, from_logits=True)), new_state

    @jax.jit
    def sgd_step(params, state, x, y):
        grads, state = jax.grad(loss_fn, has_aux=True)(params, state, x, y)
        return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), state

    params, state = variables
    for x, y in batches:
        params, state = sgd_step(params, state, jnp.asarray(x), jnp.asarray(y))

    assert all(isinstance(leaf, jax.Array) for leaf in jax.tree_util.tree_leaves(got))
    _close(got.params, params, GRAD)
    _close(got.state, state, GRAD)
    # The JAX arrays handed to to_torch were copied, not trained in place.
    _close(variables.params, model.init(jax.random.key(4), (8, 6, 6, 3)).params, 0)


def test_train_eval_map_to_training_and_dropout_uses_torch_generator():
    model = nn.Sequential([nn.Dense(32), nn.Dropout(0.5)])
    variables = model.init(jax.random.key(0), (4, 8))
    module = to_torch(model, variables)
    x = torch.ones(4, 8)
    module.eval()
    want, _ = model.apply(variables, jnp.ones((4, 8)))
    _close(module(x), want, FWD)
    module.train()
    torch.manual_seed(0)
    a = module(x).detach()
    torch.manual_seed(0)
    b = module(x).detach()
    c = module(x).detach()
    _close(a, b, 0)
    assert not torch.equal(a, c)
    dense_out = torch.from_numpy(np.array(want))
    zero = a == 0
    assert 0.2 < zero.float().mean() < 0.8
    _close(a[~zero], 2.0 * dense_out[~zero], FWD)


LAYER_CASES = [
    ("dense", lambda: nn.Dense(5, activation="tanh"), [(3, 4)]),
    ("conv1d_same_strided", lambda: nn.Conv1D(3, 3, strides=2, padding="same"), [(2, 9, 2)]),
    ("conv2d_same_strided", lambda: nn.Conv2D(3, 3, strides=2, padding="same"), [(2, 8, 8, 2)]),
    ("max_pooling2d", lambda: nn.MaxPooling2D(2), [(2, 6, 6, 3)]),
    ("average_pooling2d_same", lambda: nn.AveragePooling2D(3, strides=2, padding="same"), [(2, 7, 7, 2)]),
    ("global_average_pooling2d", lambda: nn.GlobalAveragePooling2D(), [(2, 5, 5, 3)]),
    ("global_max_pooling1d", lambda: nn.GlobalMaxPooling1D(), [(2, 7, 3)]),
    ("batch_normalization", lambda: nn.BatchNormalization(), [(6, 4)]),
    ("layer_normalization", lambda: nn.LayerNormalization(), [(3, 6)]),
    ("flatten", lambda: nn.Flatten(), [(2, 3, 4)]),
    ("reshape", lambda: nn.Reshape((4, 3)), [(2, 12)]),
    ("permute", lambda: nn.Permute((2, 1)), [(2, 3, 4)]),
    ("zero_padding2d", lambda: nn.ZeroPadding2D(((1, 2), (0, 1))), [(2, 3, 3, 2)]),
    ("up_sampling2d", lambda: nn.UpSampling2D(2), [(2, 3, 3, 2)]),
    ("rescaling", lambda: nn.Rescaling(1 / 255.0, offset=-0.5), [(2, 5)]),
    ("activation_gelu", lambda: nn.Activation("gelu"), [(3, 4)]),
    ("add", lambda: nn.Add(), [(2, 3), (2, 3)]),
    ("concatenate", lambda: nn.Concatenate(), [(2, 3), (2, 2)]),
]


# Only layers whose math differs between modes run twice (Dropout's mask is torch's own; see above).
LAYER_RUNS = [(make, shapes, False) for _, make, shapes in LAYER_CASES] + [
    (make, shapes, True) for name, make, shapes in LAYER_CASES if name == "batch_normalization"]
LAYER_IDS = [c[0] for c in LAYER_CASES] + ["batch_normalization-training"]


@pytest.mark.parametrize("make, shapes, training", LAYER_RUNS, ids=LAYER_IDS)
def test_each_layer_forward_and_gradients_equal_jax(make, shapes, training):
    layer = make()
    r = np.random.default_rng(0)
    xs = [r.standard_normal(s).astype(np.float32) for s in shapes]
    variables = layer.init(jax.random.key(0), *[jax.ShapeDtypeStruct(s, jnp.float32) for s in shapes])
    module = to_torch(layer, variables).train(training)
    xts = [torch.from_numpy(x).requires_grad_(True) for x in xs]
    got = module(*xts)
    want, _ = layer.apply(variables, *[jnp.asarray(x) for x in xs], training=training)
    _close(got, want, FWD)

    ct = r.standard_normal(tuple(got.shape)).astype(np.float32)
    (got * torch.from_numpy(ct)).sum().backward()

    def loss(params, xs):
        y, _ = layer.apply(nn.Variables(params, variables.state), *xs, training=training)
        return jnp.sum(y * ct)

    gp, gx = jax.grad(loss, argnums=(0, 1))(variables.params, [jnp.asarray(x) for x in xs])
    _close([t.grad for t in xts], gx, GRAD)
    got_gp = {n: p.grad for n, p in module.named_parameters()}
    want_gp = {".".join(k.key for k in path): g for path, g in jax.tree_util.tree_leaves_with_path(gp)}
    _close(got_gp, want_gp, GRAD)


def test_embedding_takes_integer_inputs():
    layer = nn.Embedding(10, 3)
    variables = layer.init(jax.random.key(0), jax.ShapeDtypeStruct((2, 4), jnp.int32))
    idx = np.array([[1, 2, 3, 9], [0, 0, 5, 4]], np.int32)
    module = to_torch(layer, variables)
    got = module(torch.from_numpy(idx))
    want, _ = layer.apply(variables, jnp.asarray(idx))
    _close(got, want, FWD)
    got.sum().backward()
    counts = np.bincount(idx.ravel(), minlength=10)[:, None] * np.ones((1, 3))
    _close(module.embeddings.grad, counts, 0)


def test_numpy_and_jax_inputs_are_accepted():
    layer = nn.Dense(2)
    variables = layer.init(jax.random.key(0), (1, 3))
    module = to_torch(layer, variables)
    x = np.ones((1, 3), np.float32)
    out = module(x)
    assert isinstance(out, torch.Tensor)
    _close(module(jnp.asarray(x)), out, 0)
    add = to_torch(nn.Add(), ({}, {}))
    _close(add([np.ones((2, 3), np.float32), jnp.ones((2, 3))]), 2 * np.ones((2, 3), np.float32), 0)


def test_missing_or_misshaped_leaf_is_a_clear_error():
    model = small_bn_net()
    variables = model.init(jax.random.key(0), (2, 6, 6, 3))
    x = torch.ones(2, 6, 6, 3)

    params = {k: dict(v) for k, v in variables.params.items()}
    del params["dense"]["bias"]
    with pytest.raises(ValueError, match=r"params leaf 'dense\.bias' is missing"):
        to_torch(model, nn.Variables(params, variables.state))(x)

    params = {k: dict(v) for k, v in variables.params.items()}
    params["conv2d"]["kernel"] = jnp.zeros((3, 3, 3, 5))
    with pytest.raises(ValueError, match=r"'conv2d\.kernel' has shape \(3, 3, 3, 5\), expected \(3, 3, 3, 4\)"):
        to_torch(model, nn.Variables(params, variables.state))(x)

    state = {"batch_normalization": {"moving_mean": variables.state["batch_normalization"]["moving_mean"]}}
    with pytest.raises(ValueError, match=r"state leaf 'batch_normalization\.moving_variance' is missing"):
        to_torch(model, nn.Variables(variables.params, state))(x)


def test_bad_arguments():
    with pytest.raises(TypeError, match="apply"):
        to_torch(object(), ({}, {}))
    with pytest.raises(ValueError, match="holds no variables"):
        to_torch(nn.Dense(2))
    with pytest.raises(TypeError, match="Variables"):
        to_torch(nn.Dense(2), "weights")
    with pytest.raises(TypeError, match="to_torch"):
        to_variables(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="both params and state"):
        to_torch(nn.Dense(2), ({"a": jnp.ones(2)}, {"a": jnp.ones(2)}))


def test_module_moves_with_to_and_keeps_dtype():
    layer = nn.Dense(2)
    module = to_torch(layer, layer.init(jax.random.key(0), (1, 3))).to(torch.float64)
    assert module.kernel.dtype == torch.float64
    assert isinstance(module, FkerasModule)
    assert module(torch.ones(1, 3, dtype=torch.float64)).dtype == torch.float64


def test_facade_functional_and_subclassed_models():
    """Facade models expose `apply` and `variables_tree`; to_torch uses them (the guide's MyDense/MyDropout)."""
    import fkeras as keras

    inputs = keras.Input(shape=(8, 8, 1))
    h = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    h = keras.layers.BatchNormalization()(h)
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

    x = np.random.default_rng(0).random((2, 8, 8, 1), dtype=np.float32)
    subclassed = MyModel()
    subclassed(x)  # build
    for model in (functional, subclassed):
        module = to_torch(model).eval()
        _close(to_variables(module), model.variables_tree, 0)
        with torch.no_grad():
            _close(module(torch.from_numpy(x)), model(x), FWD)
        module.train()
        y = module(torch.from_numpy(x))  # dropout from torch's generator
        _close(y.sum(-1), np.ones(2, np.float32), FWD)
        y[:, 0].sum().backward()
        assert all(p.grad is not None for p in module.parameters())
    assert "my_dense.kernel" in dict(to_torch(subclassed).named_parameters())


def test_frozen_facade_weights_get_no_gradient():
    import fkeras as keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="frozen"), keras.layers.Dense(2)])
    model.get_layer("frozen").trainable = False
    module = to_torch(model)
    flags = {n: p.requires_grad for n, p in module.named_parameters()}
    assert flags == {"frozen.kernel": False, "frozen.bias": False, "dense.kernel": True, "dense.bias": True}
    module(torch.ones(2, 4)).sum().backward()
    assert module.frozen.kernel.grad is None and module.dense.kernel.grad is not None


def test_module_runs_on_the_device_it_is_moved_to():
    """Forward (and the BatchNorm state write-back) stays on the module's device ("meta" stands in for a GPU)."""
    model = small_bn_net()
    module = to_torch(model, model.init(jax.random.key(0), (2, 6, 6, 3))).to("meta").train()
    out = module(torch.ones(2, 6, 6, 3, device="meta"))
    assert out.device.type == "meta" and out.shape == (2, 10)
    assert all(b.device.type == "meta" for b in module.buffers())


def test_assign_copies_in_place_and_checks_first():
    model = small_bn_net()
    v0 = model.init(jax.random.key(0), (2, 6, 6, 3))
    v1 = model.init(jax.random.key(1), (2, 6, 6, 3))
    module = to_torch(model, v0)
    kernel = module.conv2d.kernel
    module.assign(v1)
    assert module.conv2d.kernel is kernel  # same Parameter object: optimizers keep working
    _close(to_variables(module), v1, 0)
    bad = nn.Variables({**v1.params, "dense": {**v1.params["dense"], "bias": jnp.zeros(3)}}, v1.state)
    with pytest.raises(ValueError, match=r"'dense\.bias' has shape \(3,\), expected \(10,\)"):
        module.assign(bad)
    _close(to_variables(module), v1, 0)  # unchanged


def test_torch_compile_accepts_the_shim():
    """torch.compile traces the shim (same forward/backward as eager); the layer path must stay traceable."""
    m = nn.Sequential([nn.Input((6, 6, 1)), nn.Conv2D(2, 3, activation="relu"), nn.GlobalAveragePooling2D(),
                       nn.Dense(3)])
    module = to_torch(m, m.init(jax.random.key(0)))
    x = torch.randn(2, 6, 6, 1)
    eager = module(x)
    compiled = torch.compile(module, backend="aot_eager")(x)
    torch.testing.assert_close(compiled, eager, rtol=1e-6, atol=1e-6)
    compiled.sum().backward()
    assert all(p.grad is not None for p in module.parameters())
