import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fkeras import nn


def seed_convnet():
    return nn.Sequential([
        nn.Conv2D(64, (3, 3), activation="relu"),
        nn.Conv2D(64, (3, 3), activation="relu"),
        nn.Dense(10, activation="softmax"),
    ])


def test_sequential_names_and_jit():
    m = seed_convnet()
    v = m.init(jax.random.key(0), (None, 8, 8, 1))
    assert set(v.params) == {"conv2d", "conv2d_1", "dense"}
    assert set(v.params["conv2d"]) == {"kernel", "bias"}
    y, s = jax.jit(m.apply)(v, jnp.ones((2, 8, 8, 1)))
    assert y.shape == (2, 4, 4, 10)
    np.testing.assert_allclose(np.asarray(y.sum(-1)), 1.0, rtol=1e-5)


def test_conv_rank_error_names_layer():
    layer = nn.Conv2D(4, 3, name="c")
    with pytest.raises(ValueError, match="Layer 'c'.*rank 4"):
        layer.init(jax.random.key(0), (None, 8, 1))


def test_layers_are_immutable():
    layer = nn.Dense(3)
    with pytest.raises(AttributeError, match="immutable"):
        layer.units = 4
