"""fkeras.random: Keras-equal numbers for int seeds and SeedGenerators, determinism, moments, dropout."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fkeras import random as frandom


@pytest.fixture(scope="module")
def krandom():
    import keras

    assert keras.backend.backend() == "jax"
    return keras.random


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("normal", {"shape": (3, 4), "mean": 1.0, "stddev": 2.0}),
        ("uniform", {"shape": (5,), "minval": -1.0, "maxval": 3.0}),
        ("randint", {"shape": (4, 3), "minval": 2, "maxval": 9}),
        ("truncated_normal", {"shape": (6, 2), "mean": -1.0, "stddev": 0.5}),
        ("gamma", {"shape": (5,), "alpha": 2.5}),
        ("binomial", {"shape": (4,), "counts": 10, "probabilities": 0.3}),
        ("beta", {"shape": (3, 2), "alpha": 2.0, "beta": 5.0}),
    ],
)
def test_int_seed_gives_keras_numbers(krandom, name, kwargs):
    got = getattr(frandom, name)(seed=42, **kwargs)
    want = getattr(krandom, name)(seed=42, **kwargs)
    chex.assert_trees_all_close(np.asarray(got), np.asarray(want), rtol=0, atol=0)  # bit-identical


def test_categorical_and_dropout_and_shuffle_equal_keras(krandom):
    logits = jnp.log(jnp.array([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]]))
    chex.assert_trees_all_equal(np.asarray(frandom.categorical(logits, 7, seed=3)),
                                np.asarray(krandom.categorical(logits, 7, seed=3)))
    x = jnp.arange(1.0, 41.0).reshape(4, 10)
    chex.assert_trees_all_close(np.asarray(frandom.dropout(x, 0.3, seed=5)),
                                np.asarray(krandom.dropout(x, 0.3, seed=5)), rtol=0, atol=0)
    chex.assert_trees_all_close(np.asarray(frandom.dropout(x, 0.5, noise_shape=(None, 1), seed=5)),
                                np.asarray(krandom.dropout(x, 0.5, noise_shape=(None, 1), seed=5)), rtol=0, atol=0)
    v = jnp.arange(12)
    chex.assert_trees_all_equal(np.asarray(frandom.shuffle(v, seed=9)), np.asarray(krandom.shuffle(v, seed=9)))


def test_seed_generator_sequence_equals_keras(krandom):
    import keras

    ours, theirs = frandom.SeedGenerator(1337), keras.random.SeedGenerator(1337)
    for _ in range(3):
        chex.assert_trees_all_close(np.asarray(frandom.normal((2, 3), seed=ours)),
                                    np.asarray(krandom.normal((2, 3), seed=theirs)), rtol=0, atol=0)
    np.testing.assert_array_equal(np.asarray(ours.state), np.asarray(theirs.state.value))
    keras.backend.clear_session(free_memory=False)  # Keras's SeedGenerator took an auto name; leave Keras's counters as found


def test_seed_generator_state_and_advance():
    g = frandom.SeedGenerator(7)
    assert g.state.dtype == jnp.uint32 and g.state.shape == (2,)
    np.testing.assert_array_equal(np.asarray(g.state), [7, 0])
    a = frandom.uniform((4,), seed=g)
    b = frandom.uniform((4,), seed=g)
    np.testing.assert_array_equal(np.asarray(g.state), [7, 2])
    assert not np.allclose(np.asarray(a), np.asarray(b))
    # The first draw of a fresh generator equals the int seed; a replayed generator replays.
    np.testing.assert_array_equal(np.asarray(a), np.asarray(frandom.uniform((4,), seed=7)))
    g2 = frandom.SeedGenerator(7)
    np.testing.assert_array_equal(np.asarray(frandom.uniform((4,), seed=g2)), np.asarray(a))
    assert frandom.SeedGenerator.from_config(g.get_config()).seed == 7


def test_next_key_is_pure_and_jittable():
    state = jnp.array([3, 0], jnp.uint32)
    key, new = jax.jit(frandom.next_key)(state)
    np.testing.assert_array_equal(np.asarray(new), [3, 1])
    np.testing.assert_array_equal(np.asarray(state), [3, 0])
    np.testing.assert_array_equal(np.asarray(frandom.normal((3,), seed=key)), np.asarray(frandom.normal((3,), seed=3)))


def test_same_seed_same_numbers_and_key_forms():
    k = jax.random.key(0)
    chex.assert_trees_all_equal(np.asarray(frandom.normal((5,), seed=k)), np.asarray(frandom.normal((5,), seed=k)))
    raw = jax.random.key_data(k)
    chex.assert_trees_all_equal(np.asarray(frandom.normal((5,), seed=raw)), np.asarray(frandom.normal((5,), seed=k)))
    assert not np.allclose(np.asarray(frandom.normal((5,), seed=1)), np.asarray(frandom.normal((5,), seed=2)))
    jitted = jax.jit(lambda key: frandom.normal((5,), seed=key))
    chex.assert_trees_all_close(np.asarray(jitted(k)), np.asarray(frandom.normal((5,), seed=k)), rtol=1e-6)


def test_global_seed_generator_eager_only():
    a, b = frandom.normal((4,)), frandom.normal((4,))
    assert not np.allclose(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="while tracing"):
        jax.jit(lambda x: x + frandom.normal((4,)))(jnp.zeros(4))


@pytest.mark.parametrize("bad", ["abc", 1.5, True, jnp.zeros((3,), jnp.uint32)])
def test_bad_seed_is_a_type_error(bad):
    with pytest.raises(TypeError, match="seed"):
        frandom.normal((2,), seed=bad)


def test_seed_generator_rejects_non_int():
    with pytest.raises(ValueError, match="int"):
        frandom.SeedGenerator("x")


def test_distribution_moments():
    n = 20000
    x = np.asarray(frandom.normal((n,), mean=2.0, stddev=3.0, seed=0))
    assert abs(x.mean() - 2.0) < 0.1 and abs(x.std() - 3.0) < 0.1  # ~4 sigma of the estimators
    u = np.asarray(frandom.uniform((n,), minval=-1.0, maxval=3.0, seed=1))
    assert u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.05 and abs(u.var() - 16 / 12) < 0.05
    t = np.asarray(frandom.truncated_normal((n,), mean=1.0, stddev=0.5, seed=2))
    assert t.min() >= 0.0 and t.max() <= 2.0 and abs(t.mean() - 1.0) < 0.02
    assert abs(t.std() - 0.5 * 0.8796) < 0.02  # std of N(0,1) truncated to [-2, 2] is 0.8796
    r = np.asarray(frandom.randint((n,), 3, 7, seed=3))
    assert r.dtype == np.int32 and set(np.unique(r)) == {3, 4, 5, 6}
    c = np.asarray(frandom.categorical(jnp.log(jnp.array([[0.2, 0.8]])), n, seed=4))
    assert c.shape == (1, n) and abs(c.mean() - 0.8) < 0.02
    g = np.asarray(frandom.gamma((n,), alpha=3.0, seed=5))
    assert abs(g.mean() - 3.0) < 0.06 and abs(g.var() - 3.0) < 0.2
    b = np.asarray(frandom.beta((n,), alpha=2.0, beta=6.0, seed=6))
    assert 0 < b.min() and b.max() < 1 and abs(b.mean() - 0.25) < 0.01
    k = np.asarray(frandom.binomial((n,), counts=12, probabilities=0.25, seed=7))
    assert k.min() >= 0 and k.max() <= 12 and abs(k.mean() - 3.0) < 0.05


def test_shuffle_moves_whole_slices():
    x = jnp.arange(20).reshape(5, 4)
    y = np.asarray(frandom.shuffle(x, axis=0, seed=0))
    assert sorted(map(tuple, y)) == sorted(map(tuple, np.asarray(x)))
    y1 = np.asarray(frandom.shuffle(x, axis=1, seed=0))
    assert sorted(map(tuple, y1.T)) == sorted(map(tuple, np.asarray(x).T))


@pytest.mark.parametrize("framework", ["jax", "torch"])
def test_dropout_scaling_and_rate(framework):
    rate = 0.3
    if framework == "torch":
        torch = pytest.importorskip("torch")
        torch.manual_seed(0)
        x = torch.ones(400, 50)
        y = frandom.dropout(x, rate).numpy()
        torch.manual_seed(0)
        np.testing.assert_array_equal(frandom.dropout(x, rate).numpy(), y)  # torch's generator decides
    else:
        x = jnp.ones((400, 50))
        y = np.asarray(frandom.dropout(x, rate, seed=0))
        np.testing.assert_array_equal(np.asarray(frandom.dropout(x, rate, seed=0)), y)
    kept = y[y != 0]
    np.testing.assert_allclose(kept, 1.0 / (1.0 - rate), rtol=1e-6)
    assert abs((y == 0).mean() - rate) < 0.02  # 20000 draws: sd of the fraction is 0.0032
    assert abs(y.mean() - 1.0) < 0.03


@pytest.mark.parametrize("framework", ["jax", "torch"])
def test_dropout_noise_shape_and_edge_rates(framework):
    if framework == "torch":
        torch = pytest.importorskip("torch")
        x = torch.ones(64, 8)
        run = lambda *a, **k: frandom.dropout(x, *a, **k).numpy()  # noqa: E731
    else:
        x = jnp.ones((64, 8))
        run = lambda *a, **k: np.asarray(frandom.dropout(x, *a, seed=1, **k))  # noqa: E731
    y = run(0.5, noise_shape=(None, 1))
    assert (y == y[:, :1]).all()  # one mask value per row
    assert 0 < (y[:, 0] == 0).sum() < 64
    np.testing.assert_array_equal(run(0.0), np.ones((64, 8), np.float32))
    np.testing.assert_array_equal(run(1.0), np.zeros((64, 8), np.float32))
    with pytest.raises(ValueError, match="rate"):
        run(1.5)


def test_dropout_grad_and_jit():
    x = jnp.arange(1.0, 9.0)
    key = jax.random.key(3)
    g = jax.grad(lambda x: jnp.sum(frandom.dropout(x, 0.5, seed=key)))(x)
    mask = np.asarray(frandom.dropout(x, 0.5, seed=key)) != 0
    np.testing.assert_allclose(np.asarray(g), np.where(mask, 2.0, 0.0))
    chex.assert_trees_all_close(jax.jit(lambda x, k: frandom.dropout(x, 0.5, seed=k))(x, key),
                                frandom.dropout(x, 0.5, seed=key))


def test_split_key():
    assert frandom.split_key(None, 3) == (None, None, None)
    a, b = frandom.split_key(jax.random.key(0))
    assert not np.array_equal(jax.random.key_data(a), jax.random.key_data(b))
