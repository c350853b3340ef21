"""PReLU, RMSNormalization and GroupNormalization (fkeras.nn) against Keras 3.15 with the same weights:
outputs, weight names and shapes, configs and from_config, bad arguments. Tolerance: float32, atol=rtol=1e-5."""

import json

import jax
import numpy as np
import pytest

import keras  # noqa: E402  (KERAS_BACKEND=jax is set by conftest)

from fkeras import nn

TOL = dict(atol=1e-5, rtol=1e-5)


def _plain(config):
    config = json.loads(json.dumps(config))
    config.pop("name")
    return config


CASES = [
    (lambda m: m.PReLU(), (2, 3, 4)),
    (lambda m: m.PReLU(shared_axes=[1, 2], alpha_initializer="ones"), (2, 3, 4, 5)),
    (lambda m: m.RMSNormalization(), (2, 3, 4)),
    (lambda m: m.RMSNormalization(axis=[1, 2], epsilon=1e-3), (2, 3, 4)),
    (lambda m: m.GroupNormalization(groups=2), (2, 3, 4)),
    (lambda m: m.GroupNormalization(groups=-1, axis=1, center=False), (2, 3, 4, 5)),
    (lambda m: m.GroupNormalization(groups=3, axis=-1, epsilon=1e-5), (2, 5, 6)),
]


@pytest.mark.parametrize("make,shape", CASES)
def test_layer_matches_keras(make, shape):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    unbuilt = _plain(make(keras.layers).get_config())
    kl = make(keras.layers)
    kl.build(shape)
    rng = np.random.default_rng(1)
    for w in kl.weights:
        w.assign(rng.normal(size=w.shape).astype("float32"))
    fl = make(nn)
    v = fl.init(jax.random.key(0), shape)
    params = {w.name: np.asarray(w) for w in kl.weights}
    assert list(v.params) == [w.name for w in kl.weights]  # Keras's weight order
    assert jax.tree.map(np.shape, v.params) == jax.tree.map(np.shape, params)
    for training in (False, True):
        ky = np.asarray(kl(x, training=training))
        fy, _ = fl.apply(nn.Variables(params, {}), x, training=training)
        np.testing.assert_allclose(np.asarray(fy), ky, **TOL)
    assert _plain(fl.get_config()) == unbuilt
    assert _plain(type(fl).from_config(fl.get_config()).get_config()) == unbuilt


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="groups"):
        nn.GroupNormalization(groups=0)
    with pytest.raises(ValueError, match="multiple"):
        nn.GroupNormalization(groups=4).init(jax.random.key(0), (2, 6))
    with pytest.raises(ValueError, match="cannot be more"):
        nn.GroupNormalization(groups=8).init(jax.random.key(0), (2, 6))
    with pytest.raises(ValueError, match="out of bounds"):
        nn.RMSNormalization(axis=3).init(jax.random.key(0), (2, 6))
    with pytest.raises(ValueError, match="shared axis"):
        nn.PReLU(shared_axes=[4]).init(jax.random.key(0), (2, 6))


X5 = np.random.default_rng(2).normal(size=(4, 3, 3, 3, 6)).astype("float32")


@pytest.mark.parametrize("make", [
    lambda m: m.GaussianDropout(0.3, seed=1),
    lambda m: m.AlphaDropout(0.2, noise_shape=[None, 1, None], seed=2),
    lambda m: m.ActivityRegularization(l1=0.01, l2=0.1),
    lambda m: m.SpatialDropout3D(0.5, seed=3),
])
def test_regularization_layers_configs_and_inference_match_keras(make):
    kl, fl = make(keras.layers), make(nn)
    assert _plain(fl.get_config()) == _plain(kl.get_config())
    assert _plain(type(fl).from_config(fl.get_config()).get_config()) == _plain(kl.get_config())
    x = X5 if isinstance(fl, nn.SpatialDropout3D) else X5[:, 0, 0]
    np.testing.assert_array_equal(np.asarray(fl.apply(fl.init(jax.random.key(0), x.shape), x)[0]), x)


def test_gaussian_and_alpha_dropout_statistics_in_training():
    x = np.ones((200, 300), "float32")
    y, _ = nn.GaussianDropout(0.3).apply(({}, {}), x, training=True, rng=jax.random.key(0))
    y = np.asarray(y)
    assert abs(y.mean() - 1) < 0.01 and abs(y.std() - np.sqrt(0.3 / 0.7)) < 0.01
    z = np.random.default_rng(0).normal(size=(200, 300)).astype("float32")  # SELU's fixed point: N(0, 1)
    a, _ = nn.AlphaDropout(0.2).apply(({}, {}), z, training=True, rng=jax.random.key(1))
    a = np.asarray(a)
    assert abs(a.mean()) < 0.02 and abs(a.std() - 1) < 0.02
    def dropped_value(rate):  # every dropped unit becomes a * alpha_p + b (Keras's constants)
        alpha_p = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946
        a_ = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
        return a_ * alpha_p - a_ * alpha_p * rate

    assert 0.18 < np.isclose(a, dropped_value(0.2), atol=1e-5).mean() < 0.22
    shared, _ = nn.AlphaDropout(0.5, noise_shape=[None, 1]).apply(({}, {}), z, training=True,
                                                                   rng=jax.random.key(2))
    dropped = np.isclose(np.asarray(shared), dropped_value(0.5), atol=1e-5)
    assert (dropped.all(axis=1) | ~dropped.any(axis=1)).all()  # one mask entry per row
    with pytest.raises(ValueError, match="rng"):
        nn.GaussianDropout(0.3).apply(({}, {}), x, training=True)


def test_activity_regularization_loss_equals_keras():
    x = X5[:, 0, 0]
    kl = keras.layers.ActivityRegularization(l1=0.01, l2=0.1)
    kl(x)
    fl = nn.ActivityRegularization(l1=0.01, l2=0.1)
    _, _, loss = fl.apply_with_losses(({}, {}), x)
    np.testing.assert_allclose(float(loss), float(sum(kl.losses)), rtol=1e-5)


def test_spatial_dropout3d_drops_whole_feature_maps():
    y, _ = nn.SpatialDropout3D(0.5).apply(({}, {}), X5, training=True, rng=jax.random.key(0))
    zero = (np.asarray(y) == 0).reshape(4, -1, 6)
    assert (zero.all(axis=1) | ~zero.any(axis=1)).all() and zero.any()


@pytest.mark.parametrize("make,shape", [
    (lambda m: m.Conv1DTranspose(3, 3, strides=2), (2, 5, 4)),
    (lambda m: m.Conv1DTranspose(3, 4, strides=3, padding="same", output_padding=1), (2, 5, 4)),
    (lambda m: m.Conv2DTranspose(2, (3, 2), strides=(2, 1), activation="relu"), (2, 4, 5, 3)),
    (lambda m: m.Conv2DTranspose(2, 3, padding="same", dilation_rate=2, use_bias=False), (2, 4, 5, 3)),
    (lambda m: m.Conv2DTranspose(2, 3, strides=2, data_format="channels_first"), (2, 3, 4, 5)),
    (lambda m: m.Conv3DTranspose(2, 2, strides=2, padding="same"), (1, 3, 2, 3, 2)),
])
def test_conv_transpose_matches_keras(make, shape):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    kl = make(keras.layers)
    ky = np.asarray(kl(x))
    fl = make(nn)
    v = fl.init(jax.random.key(0), shape)
    params = {w.name: np.asarray(w) for w in kl.weights}
    assert list(v.params) == [w.name for w in kl.weights]
    assert jax.tree.map(np.shape, v.params) == jax.tree.map(np.shape, params)
    np.testing.assert_allclose(np.asarray(fl.apply(nn.Variables(params, {}), x)[0]), ky, atol=1e-4, rtol=1e-4)
    assert _plain(fl.get_config()) == _plain(kl.get_config())
    assert _plain(type(fl).from_config(fl.get_config()).get_config()) == _plain(kl.get_config())


def test_conv_transpose_bad_arguments():
    with pytest.raises(ValueError, match="output_padding"):
        nn.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="dilation_rate"):
        nn.Conv1DTranspose(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="rank"):
        nn.Conv2DTranspose(2, 3).init(jax.random.key(0), (2, 5, 3))


@pytest.mark.parametrize("make,shape", [
    (lambda m: m.UpSampling3D(), (2, 2, 3, 2, 3)),
    (lambda m: m.UpSampling3D((1, 2, 3), data_format="channels_first"), (2, 3, 2, 3, 2)),
    (lambda m: m.Cropping3D(), (2, 4, 5, 6, 2)),
    (lambda m: m.Cropping3D(((0, 1), 2, (1, 0)), data_format="channels_first"), (2, 2, 4, 5, 6)),
    (lambda m: m.AdaptiveAveragePooling1D(3), (2, 7, 3)),
    (lambda m: m.AdaptiveMaxPooling1D(4), (2, 9, 3)),
    (lambda m: m.AdaptiveAveragePooling2D((2, 3)), (2, 5, 7, 3)),
    (lambda m: m.AdaptiveMaxPooling2D(2, data_format="channels_first"), (2, 3, 5, 6)),
    (lambda m: m.AdaptiveAveragePooling3D(2), (1, 5, 4, 3, 2)),
    (lambda m: m.AdaptiveMaxPooling3D((1, 2, 3)), (1, 5, 4, 6, 2)),
])
def test_shape_layers_match_keras(make, shape):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    kl, fl = make(keras.layers), make(nn)
    ky = np.asarray(kl(x))
    fy, _ = fl.apply(fl.init(jax.random.key(0), shape), x)
    np.testing.assert_allclose(np.asarray(fy), ky, **TOL)
    assert _plain(fl.get_config()) == _plain(kl.get_config())
    assert _plain(type(fl).from_config(fl.get_config()).get_config()) == _plain(kl.get_config())


def test_shape_layers_bad_arguments():
    with pytest.raises(ValueError, match="cropping"):
        nn.Cropping3D((1, 2))
    with pytest.raises(ValueError, match="removes all"):
        nn.Cropping3D(2).init(jax.random.key(0), (1, 4, 5, 6, 1))
    with pytest.raises(ValueError, match="output_size"):
        nn.AdaptiveAveragePooling2D((2, 0))
    with pytest.raises(ValueError, match="rank"):
        nn.UpSampling3D().init(jax.random.key(0), (1, 4, 5, 1))


@pytest.mark.parametrize("axes,normalize,shapes", [
    (1, False, [(2, 4), (2, 4)]),
    (-1, True, [(2, 3, 4), (2, 5, 4)]),
    ((2, 1), False, [(2, 3, 4), (2, 4, 5)]),
    ((1, 1), False, [(2, 4), (2, 4, 3)]),
    ([2, 2], True, [(2, 3, 4), (2, 6, 4)]),
    ((1, 2), False, [(2, 3, 4, 2), (2, 5, 3)]),
])
def test_dot_matches_keras(axes, normalize, shapes):
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=s).astype("float32") for s in shapes]
    kl = keras.layers.Dot(axes=axes, normalize=normalize)
    ky = np.asarray(kl(xs))
    fl = nn.Dot(axes=axes, normalize=normalize)
    fy, _ = fl.apply(fl.init(jax.random.key(0), shapes), xs)
    assert fy.shape == ky.shape
    np.testing.assert_allclose(np.asarray(fy), ky, **TOL)
    assert _plain(fl.get_config()) == _plain(kl.get_config())
    with pytest.raises(ValueError, match="incompatible"):
        nn.Dot(axes=1).apply(({}, {}), [xs[0], np.zeros((2, 9, 9, 9), "float32")])


@pytest.mark.parametrize("kwargs", [{}, {"tie_weights": False, "logit_soft_cap": 2.0}, {"reverse_dtype": "float32"}])
def test_reversible_embedding_matches_keras(kwargs):
    ids = np.array([[1, 4, 0], [3, 3, 9]], "int32")
    kl = keras.layers.ReversibleEmbedding(10, 4, **kwargs)
    ke = np.asarray(kl(ids))
    fl = nn.ReversibleEmbedding(10, 4, **kwargs)
    v = fl.init(jax.random.key(0), ids)
    assert list(v.params) == [w.name for w in kl.weights]
    params = nn.Variables({w.name: np.asarray(w) for w in kl.weights}, {})
    np.testing.assert_allclose(np.asarray(fl.apply(params, ids)[0]), ke, **TOL)
    h = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(fl.apply(params, h, reverse=True)[0]), np.asarray(kl(h, reverse=True)),
                               **TOL)
    assert _plain(fl.get_config()) == _plain(kl.get_config())
    assert _plain(nn.ReversibleEmbedding.from_config(fl.get_config()).get_config()) == _plain(kl.get_config())
    with pytest.raises(ValueError, match="last dimension"):
        fl.apply(params, h[..., :3], reverse=True)
