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
