"""fkeras.nn behaviour that needs no oracle: parameter counts, jit/grad/vmap, Dropout randomness,
BatchNormalization state, errors, regularization losses and constraints, configs of containers."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fkeras import nn


def seed_convnet(num_classes=10):
    """The guide's MNIST convnet (intro_to_keras_for_engineers.md)."""
    return nn.Sequential([
        nn.Input(shape=(28, 28, 1)),
        nn.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        nn.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        nn.MaxPooling2D(pool_size=(2, 2)),
        nn.Conv2D(128, kernel_size=(3, 3), activation="relu"),
        nn.Conv2D(128, kernel_size=(3, 3), activation="relu"),
        nn.GlobalAveragePooling2D(),
        nn.Dropout(0.5),
        nn.Dense(num_classes, activation="softmax"),
    ])


def test_seed_convnet_has_260298_params_and_keras_names():
    model = seed_convnet()
    v = jax.eval_shape(model.init, jax.random.key(0))  # no spec needed: nn.Input declares it
    assert nn.count_params(v.params) == 260_298
    assert v.state == {}
    assert list(v.params) == ["conv2d", "conv2d_1", "conv2d_2", "conv2d_3", "dense"]
    assert v.params["conv2d_2"]["kernel"].shape == (3, 3, 64, 128)
    assert set(v.params["dense"]) == {"kernel", "bias"}


def test_same_seed_same_params_different_seed_different():
    m = nn.Sequential([nn.Dense(4, input_shape=(3,)), nn.Dense(2)])
    a, b, c = m.init(jax.random.key(1)), m.init(jax.random.key(1)), m.init(jax.random.key(2))
    chex.assert_trees_all_equal(a, b)
    assert not np.allclose(a.params["dense"]["kernel"], c.params["dense"]["kernel"])


def _small_model():
    return nn.Sequential([
        nn.Conv2D(4, 3, padding="same", activation="relu"), nn.BatchNormalization(), nn.MaxPooling2D(),
        nn.Flatten(), nn.Dropout(0.25), nn.Dense(3), nn.LayerNormalization(), nn.Activation("softmax"),
    ])


def test_jit_grad_and_vmap():
    model = _small_model()
    x = jax.random.normal(jax.random.key(0), (4, 6, 6, 2))
    v = model.init(jax.random.key(1), x)
    y, s = model.apply(v, x)
    yj, sj = jax.jit(model.apply, static_argnames="training")(v, x)
    chex.assert_trees_all_close(y, yj, atol=1e-6)

    def loss(params, state, x, rng):
        y, new_state = model.apply(nn.Variables(params, state), x, training=True, rng=rng)
        return jnp.mean(jnp.log(y[:, 0])), new_state

    (l, new_state), g = jax.jit(jax.value_and_grad(loss, has_aux=True))(v.params, v.state, x, jax.random.key(2))
    assert jax.tree.structure(g) == jax.tree.structure(v.params)
    assert all(bool(jnp.all(jnp.isfinite(t))) for t in jax.tree.leaves(g))
    assert float(jnp.abs(g["conv2d"]["kernel"]).sum()) > 0
    assert not np.allclose(new_state["batch_normalization"]["moving_mean"], v.state["batch_normalization"]["moving_mean"])

    # vmap over an ensemble of 3 parameter sets and 3 input batches equals a Python loop.
    mlp = nn.Sequential([nn.Dense(8, activation="relu"), nn.BatchNormalization(), nn.Dense(2)])
    xs = jax.random.normal(jax.random.key(4), (3, 4, 5))
    ens = jax.vmap(lambda k: mlp.init(k, xs[0]))(jax.random.split(jax.random.key(3), 3))
    ys, states = jax.vmap(lambda v, x: mlp.apply(v, x, training=True))(ens, xs)
    for i in range(3):
        y_i, s_i = mlp.apply(jax.tree.map(lambda t: t[i], ens), xs[i], training=True)
        chex.assert_trees_all_close(ys[i], y_i, atol=1e-5)
        chex.assert_trees_all_close(jax.tree.map(lambda t: t[i], states), s_i, atol=1e-6)


def test_dropout_statistics_and_key_determinism():
    layer = nn.Dropout(0.3)
    x = jnp.ones((200, 100))
    v = layer.init(None, x)
    y1, _ = layer.apply(v, x, training=True, rng=jax.random.key(0))
    y2, _ = layer.apply(v, x, training=True, rng=jax.random.key(0))
    y3, _ = layer.apply(v, x, training=True, rng=jax.random.key(1))
    chex.assert_trees_all_equal(y1, y2)
    assert not np.array_equal(y1, y3)
    kept = np.asarray(y1) != 0
    assert abs(kept.mean() - 0.7) < 0.01  # 20,000 draws: std of the mean ~ 0.003
    np.testing.assert_allclose(np.asarray(y1)[kept], 1 / 0.7, rtol=1e-6)
    assert abs(float(y1.mean()) - 1.0) < 0.02  # expectation preserved
    chex.assert_trees_all_equal(layer.apply(v, x)[0], x)  # inference: identity
    with pytest.raises(ValueError, match="Layer 'dropout'.*rng"):
        layer.apply(v, x, training=True)
    seeded = nn.Dropout(0.3, seed=7)  # a seed stands in for a missing key
    chex.assert_trees_all_equal(seeded.apply(v, x, training=True)[0], seeded.apply(v, x, training=True)[0])
    # noise_shape shares the mask along axes of size 1.
    y, _ = nn.Dropout(0.5, noise_shape=(None, 1)).apply(v, x, training=True, rng=jax.random.key(0))
    rows = np.asarray(y)
    assert all(len(set(r)) == 1 for r in rows)


def test_two_dropouts_in_a_sequential_draw_different_masks():
    model = nn.Sequential([nn.Dropout(0.5), nn.Dropout(0.5, name="second")])
    x = jnp.ones((1, 4000))
    v = model.init(jax.random.key(0), x)
    d1, d2 = model.layers
    k = jax.random.key(5)
    y, _ = model.apply(v, x, training=True, rng=k)
    # Each child's key is the container's key folded with the child's name.
    none = nn.Variables({}, {})
    a, _ = d1.apply(none, x, training=True, rng=nn.fold_name(k, "dropout"))
    b, _ = d2.apply(none, a, training=True, rng=nn.fold_name(k, "second"))
    chex.assert_trees_all_equal(y, b)
    mask1 = np.asarray(a) != 0
    mask2 = np.asarray(d2.apply(none, x, training=True, rng=nn.fold_name(k, "second"))[0]) != 0
    assert mask1.mean() == pytest.approx(0.5, abs=0.05) and mask2.mean() == pytest.approx(0.5, abs=0.05)
    assert (mask1 == mask2).mean() == pytest.approx(0.5, abs=0.05)  # independent, not shared


def test_batchnorm_updates_moving_stats_only_when_training():
    bn = nn.BatchNormalization(momentum=0.5)
    x = jax.random.normal(jax.random.key(0), (8, 3)) * 2 + 1
    v = bn.init(None, x)
    assert set(v.params) == {"gamma", "beta"} and set(v.state) == {"moving_mean", "moving_variance"}
    _, s_inf = bn.apply(v, x, training=False)
    chex.assert_trees_all_equal(s_inf, v.state)
    y, s = bn.apply(v, x, training=True)
    chex.assert_trees_all_close(s["moving_mean"], 0.5 * x.mean(0), atol=1e-6)
    chex.assert_trees_all_close(s["moving_variance"], 0.5 + 0.5 * x.var(0), atol=1e-5)
    chex.assert_trees_all_close(y, (x - x.mean(0)) / jnp.sqrt(x.var(0) + 1e-3), atol=1e-5)
    frozen = nn.BatchNormalization(momentum=0.5, trainable=False)
    y_f, s_f = frozen.apply(v, x, training=True)  # Keras 3: a frozen BN runs in inference mode
    chex.assert_trees_all_equal(s_f, v.state)
    chex.assert_trees_all_close(y_f, x / jnp.sqrt(1 + 1e-3), atol=1e-6)


def test_errors_name_the_layer_expected_and_got():
    with pytest.raises(ValueError, match=r"Layer 'c' \(Conv2D\): expected input .* rank 4, got shape \(8, 8, 1\)"):
        nn.Conv2D(4, 3, name="c").init(jax.random.key(0), (8, 8, 1))
    d = nn.Dense(3, name="d")
    v = d.init(jax.random.key(0), (2, 4))
    with pytest.raises(ValueError, match=r"Layer 'd' \(Dense\): expected input with last dimension 4, got shape \(2, 5\)"):
        d.apply(v, jnp.ones((2, 5)))
    with pytest.raises(ValueError, match=r"Layer 'd2' \(Dense\): invalid `activation`: Unknown activation 'relux'"):
        nn.Dense(3, activation="relux", name="d2")
    with pytest.raises(ValueError, match=r"Layer 'd3' \(Dense\): invalid `kernel_initializer`: Unknown initializer"):
        nn.Dense(3, kernel_initializer="glorot", name="d3")
    with pytest.raises(ValueError, match=r"invalid `kernel_regularizer`: Unknown regularizer 'l3'"):
        nn.Dense(3, kernel_regularizer="l3")
    with pytest.raises(ValueError, match=r"expected `units` to be a positive int, got 0"):
        nn.Dense(0)
    with pytest.raises(ValueError, match=r"Layer 'add' \(Add\): expected a list of at least 2 inputs, got 1"):
        nn.Add().apply(nn.Variables({}, {}), [jnp.ones((2, 3))])
    with pytest.raises(ValueError, match=r"must match on every axis except the concat axis"):
        nn.Concatenate(axis=-1).apply(nn.Variables({}, {}), [jnp.ones((2, 3)), jnp.ones((3, 3))])
    with pytest.raises(ValueError, match=r"cannot reshape input of shape \(2, 5\)"):
        nn.Reshape((2, 2)).apply(nn.Variables({}, {}), jnp.ones((2, 5)))
    with pytest.raises(ValueError, match=r"expected input of shape \(None, 28, 28, 1\), got shape \(2, 28, 28, 3\)"):
        seed_convnet().apply(nn.Variables({}, {}), jnp.ones((2, 28, 28, 3)))
    bn = nn.BatchNormalization(name="bn")
    with pytest.raises(ValueError, match=r"expected 3 features on axis -1, got shape \(2, 4\)"):
        bn.apply(bn.init(None, (2, 3)), jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="padding"):
        nn.Conv2D(2, 3, padding="causal")
    with pytest.raises(TypeError, match="unexpected keyword"):
        nn.Dense(3, foo=1)
    with pytest.raises(AttributeError, match="immutable"):
        d.units = 4


def test_errors_are_raised_while_tracing_before_any_compute():
    d = nn.Dense(3, name="d")
    v = d.init(jax.random.key(0), (2, 4))
    with pytest.raises(ValueError, match="Layer 'd'"):
        jax.jit(d.apply)(v, jnp.ones((2, 5)))


def test_regularization_losses_activity_losses_and_constraints():
    dense = nn.Dense(3, kernel_regularizer=nn.regularizers.L2(0.1), bias_regularizer=nn.regularizers.L1(0.5),
                     activity_regularizer=nn.regularizers.L1(0.01), kernel_constraint="non_neg",
                     bias_constraint=nn.constraints.MaxNorm(1.0))
    model = nn.Sequential([dense, nn.Dense(2, kernel_regularizer="l1")])
    x = jax.random.normal(jax.random.key(0), (4, 5))
    v = model.init(jax.random.key(1), x)
    v = nn.Variables({**v.params, "dense": {**v.params["dense"], "bias": jnp.array([1.0, -2.0, 2.0])}}, v.state)
    k1, b1, k2 = v.params["dense"]["kernel"], v.params["dense"]["bias"], v.params["dense_1"]["kernel"]
    want = 0.1 * jnp.sum(k1 ** 2) + 0.5 * jnp.sum(jnp.abs(b1)) + 0.01 * jnp.sum(jnp.abs(k2))
    chex.assert_trees_all_close(model.regularization_losses(v.params), want, rtol=1e-6)
    y, s, aux = jax.jit(model.apply_with_losses)(v, x)
    hidden = x @ k1 + b1
    chex.assert_trees_all_close(aux, want + 0.01 * jnp.sum(jnp.abs(hidden)) / 4, rtol=1e-6)
    chex.assert_trees_all_close(y, model.apply(v, x)[0])
    g = jax.grad(lambda p: model.apply_with_losses(nn.Variables(p, {}), x)[2])(v.params)
    assert float(jnp.abs(g["dense"]["kernel"]).sum()) > 0
    c = model.apply_constraints(v.params)
    chex.assert_trees_all_close(c["dense"]["kernel"], jnp.maximum(k1, 0))
    norm = jnp.sqrt(jnp.sum(b1 ** 2))  # MaxNorm(1.0) on a vector along axis 0
    chex.assert_trees_all_close(c["dense"]["bias"], b1 / (1e-7 + norm), rtol=1e-6)
    chex.assert_trees_all_equal(c["dense_1"], v.params["dense_1"])
    assert nn.Dense(2).regularization_losses({"kernel": k1}) == 0.0


def test_input_shape_kwarg_and_nn_input_let_init_run_without_spec():
    m = nn.Sequential([nn.Dense(4, input_shape=(3,)), nn.Dense(2)])
    v = m.init(jax.random.key(0))
    assert v.params["dense"]["kernel"].shape == (3, 4)
    m2 = nn.Sequential([nn.Input((5,), dtype="int32"), nn.Embedding(10, 3), nn.Flatten()])
    v2 = m2.init(jax.random.key(0))
    y, _ = m2.apply(v2, jnp.arange(10).reshape(2, 5))
    assert y.shape == (2, 15)
    with pytest.raises(ValueError, match="init needs an input spec"):
        nn.Sequential([nn.Dense(2)]).init(jax.random.key(0))


def test_sequential_config_round_trip_and_deserialize():
    model = _small_model()
    config = model.get_config()
    assert [c["class_name"] for c in config["layers"]][:3] == ["Conv2D", "BatchNormalization", "MaxPooling2D"]
    clone = nn.Sequential.from_config(config)
    assert clone.get_config() == config
    x = jax.random.normal(jax.random.key(0), (2, 6, 6, 2))
    v = model.init(jax.random.key(1), x)
    chex.assert_trees_all_close(clone.apply(v, x)[0], model.apply(v, x)[0])
    assert isinstance(nn.deserialize(nn.serialize(nn.Dense(2))), nn.Dense)
    with pytest.raises(ValueError, match="Unknown layer class 'Nope'"):
        nn.deserialize({"class_name": "Nope", "config": {}})


def test_layers_run_on_torch_tensors():
    torch = pytest.importorskip("torch")
    model = nn.Sequential([nn.Conv2D(3, 3, activation="relu"), nn.BatchNormalization(), nn.MaxPooling2D(),
                           nn.Flatten(), nn.Dense(4), nn.LayerNormalization()])
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 2)).astype("float32")
    v = model.init(jax.random.key(0), x)
    y, s = model.apply(v, x, training=True)
    tv = jax.tree.map(lambda a: torch.from_numpy(np.array(a)), v)
    ty, ts = model.apply(tv, torch.from_numpy(x), training=True)
    assert isinstance(ty, torch.Tensor)
    chex.assert_trees_all_close(ty.numpy(), np.asarray(y), atol=1e-5)
    chex.assert_trees_all_close(jax.tree.map(lambda t: t.numpy(), ts), jax.tree.map(np.asarray, s), atol=1e-5)


def test_spatial_dropout_drops_whole_channels_and_gaussian_noise_statistics():
    x = jnp.ones((4, 5, 5, 64))
    y, _ = nn.SpatialDropout2D(0.5).apply(nn.Variables({}, {}), x, training=True, rng=jax.random.key(0))
    per_channel = np.asarray(y).reshape(4, 25, 64)
    assert (per_channel.min(1) == per_channel.max(1)).all()  # each (example, channel) kept or dropped whole
    assert set(np.unique(per_channel)) == {0.0, 2.0}
    z = jnp.zeros((100, 100))
    noisy, _ = nn.GaussianNoise(0.5).apply(nn.Variables({}, {}), z, training=True, rng=jax.random.key(1))
    assert abs(float(noisy.mean())) < 0.02 and abs(float(noisy.std()) - 0.5) < 0.02
    chex.assert_trees_all_equal(nn.GaussianNoise(0.5).apply(nn.Variables({}, {}), z)[0], z)
    with pytest.raises(ValueError, match="needs an `rng`"):
        nn.GaussianNoise(0.5).apply(nn.Variables({}, {}), z, training=True)
    with pytest.raises(ValueError, match=r"cropping \(\(3, 0\), \(0, 0\)\) removes all of axis 1"):
        nn.Cropping2D(((3, 0), (0, 0))).apply(nn.Variables({}, {}), jnp.ones((1, 3, 3, 1)))
