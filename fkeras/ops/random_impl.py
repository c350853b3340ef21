"""Keras's random functions (`keras.random` names and arguments) over JAX keys: the implementation behind
`fkeras.random`, kept on the ops floor so ops that draw randomness (`image.elastic_transform`) need nothing above.

`seed` may be
- a JAX key (typed `jax.random.key(...)` or raw uint32[2] key data): the functional way;
- an int: same seed -> same numbers (the key is Keras's `[seed, 0]`, so the numbers equal
  `keras.random.*(seed=...)` under Keras's JAX backend);
- a `SeedGenerator`: Keras's stateful way; each draw uses its state as the key and advances it;
- None: an internal global `SeedGenerator` (eager only; inside `jax.jit` pass a seed).

Torch and TF inputs to `dropout` draw from their own framework's generator, so the shims
need no JAX key.
"""

from __future__ import annotations

import random as _py_random

import jax
import jax.numpy as jnp
import numpy as np

from fkeras.ops._dispatch import TF, TORCH, framework_of

__all__ = ["SeedGenerator", "beta", "binomial", "categorical", "draw_key", "dropout", "gamma", "next_key", "normal",
           "randint", "shuffle", "split_key", "truncated_normal", "uniform"]


def split_key(rng, n=2):
    """`n` independent keys from `rng` (None stays None, for layers that need no randomness)."""
    if rng is None:
        return (None,) * n
    return tuple(jax.random.split(rng, n))


def next_key(state):
    """Pure form of `SeedGenerator.next`: `(key, new_state)` for a uint32 `[seed, counter]` state."""
    state = jnp.asarray(state, jnp.uint32)
    if state.shape != (2,):
        raise ValueError(f"fkeras.random: a seed state is a uint32 array of shape (2,), got shape {state.shape}.")
    return jax.random.wrap_key_data(state), state + jnp.array([0, 1], dtype=jnp.uint32)


class SeedGenerator:
    """Keras's seed generator. `state` is a uint32 array `[seed, counter]` (shape (2,)).

    `next()` returns a key made from the current state and advances the counter, so
    successive draws differ while the same `seed` replays the same sequence. The facade's
    pure `apply` binds `state` to the state pytree and collects the advanced value.
    """

    def __init__(self, seed=None, name=None, **kwargs):
        if kwargs:
            raise ValueError(f"SeedGenerator: unrecognized keyword arguments: {sorted(kwargs)}.")
        self._initial_seed = seed
        if seed is None:
            seed = _py_random.randint(1, int(1e9))
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"SeedGenerator: expected `seed` to be an int or None, got {seed!r}.")
        self.seed = int(seed) & 0xFFFFFFFF
        self.name = name or "seed_generator"
        self.state = jnp.array([self.seed, 0], dtype=jnp.uint32)

    def next(self, ordered=True):
        """A key from the current state; advances the state (`ordered=False` scrambles it, as Keras)."""
        key, new_state = next_key(self.state)
        if not ordered:
            new_state = (jnp.asarray(self.state, jnp.uint32) + 1) * 5387 % 933199
        self.state = new_state
        return key

    def get_config(self):
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<SeedGenerator name={self.name} seed={self._initial_seed}>"


_GLOBAL: list[SeedGenerator] = []


def _in_jax_trace() -> bool:
    return isinstance(jnp.ones(()), jax.core.Tracer)


def _global_generator() -> SeedGenerator:
    if _in_jax_trace():
        raise ValueError(
            "fkeras.random: seed=None uses a global SeedGenerator, which cannot be used while tracing a "
            "jax.jit/grad function (its state would freeze into the trace). Pass a JAX key, an int or a "
            "SeedGenerator as `seed`."
        )
    if not _GLOBAL:
        _GLOBAL.append(SeedGenerator())
    return _GLOBAL[0]


def draw_key(seed):
    """A JAX key from a key, an int, a SeedGenerator (advancing it) or None (the global generator)."""
    if seed is None:
        return _global_generator().next(ordered=False)
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if isinstance(seed, bool):
        raise TypeError(f"fkeras.random: expected `seed` as a JAX key, an int or a SeedGenerator, got {seed!r}.")
    if isinstance(seed, (int, np.integer)):
        return jax.random.wrap_key_data(jnp.array([int(seed) & 0xFFFFFFFF, 0], dtype=jnp.uint32))
    if hasattr(seed, "dtype") and jax.dtypes.issubdtype(seed.dtype, jax.dtypes.prng_key):
        return seed
    if hasattr(seed, "shape") and tuple(seed.shape) == (2,) and np.issubdtype(np.dtype(seed.dtype), np.integer):
        return jax.random.wrap_key_data(jnp.asarray(seed, jnp.uint32))
    raise TypeError(
        f"fkeras.random: could not use {type(seed).__name__} {seed!r:.60} as a seed; expected a JAX key, "
        "an int or a SeedGenerator."
    )


def _shape(shape, what="shape"):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        shape = tuple(int(d) for d in shape)
    except TypeError:
        raise TypeError(f"fkeras.random: expected `{what}` as a tuple of ints, got {shape!r}.") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"fkeras.random: expected non-negative dimensions in `{what}`, got {shape}.")
    return shape


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples of N(mean, stddev**2), float32 by default."""
    sample = jax.random.normal(draw_key(seed), _shape(shape), dtype or "float32")
    return sample * stddev + mean


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Samples of U[minval, maxval), float32 by default."""
    return jax.random.uniform(draw_key(seed), _shape(shape), dtype or "float32", minval, maxval)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers uniform in [minval, maxval)."""
    return jax.random.randint(draw_key(seed), _shape(shape), minval, maxval, dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """N(mean, stddev**2) with samples beyond two standard deviations redrawn (as Keras)."""
    sample = jax.random.truncated_normal(draw_key(seed), -2.0, 2.0, _shape(shape), dtype or "float32")
    return sample * stddev + mean


def categorical(logits, num_samples, dtype="int32", seed=None):
    """Class indices drawn from unnormalised log-probabilities. logits: (batch, classes) -> (batch, num_samples)."""
    logits = jnp.asarray(logits)
    if logits.ndim != 2:
        raise ValueError(f"fkeras.random.categorical: expected logits of shape (batch, classes), got {logits.shape}.")
    out = jax.random.categorical(draw_key(seed), logits[..., None], axis=1,
                                 shape=(logits.shape[0], int(num_samples)))
    return out.astype(dtype)


def gamma(shape, alpha, dtype=None, seed=None):
    """Samples of Gamma(alpha, 1)."""
    return jax.random.gamma(draw_key(seed), alpha, shape=_shape(shape), dtype=dtype or "float32")


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Number of successes in `counts` trials of success probability `probabilities` (broadcast to `shape`)."""
    return jax.random.binomial(draw_key(seed), jnp.asarray(counts), jnp.asarray(probabilities),
                               shape=_shape(shape), dtype=dtype or "float32")


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Samples of Beta(alpha, beta)."""
    return jax.random.beta(draw_key(seed), jnp.asarray(alpha), jnp.asarray(beta), shape=_shape(shape),
                           dtype=dtype or "float32")


def shuffle(x, axis=0, seed=None):
    """`x` with its slices along `axis` in a random order (whole slices move together)."""
    x = jnp.asarray(x)
    return jax.random.permutation(draw_key(seed), x, axis=axis, independent=False)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zero a `rate` fraction of `inputs` and scale the rest by 1/(1-rate).

    `noise_shape` (None entries take the input's size) shares one mask value along its
    size-1 axes. Torch tensors draw from torch's generator and TF tensors from TF's, so the
    shims need no JAX key; JAX inputs use `seed`.
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating)) or not 0 <= rate <= 1:
        raise ValueError(f"fkeras.random.dropout: expected `rate` as a float in [0, 1], got {rate!r}.")
    fw = framework_of(inputs)
    if fw == TORCH:
        from fkeras.ops import _torch

        return _torch.dropout(inputs, rate, noise_shape)
    if fw == TF:
        from fkeras.ops import _tf

        return _tf.dropout(inputs, rate, noise_shape)
    inputs = jnp.asarray(inputs)
    if rate == 1:
        return jnp.zeros_like(inputs)
    if rate == 0:
        return inputs
    keep = 1.0 - rate
    if noise_shape is None:
        shape = inputs.shape
    else:
        if len(noise_shape) != inputs.ndim:
            raise ValueError(
                f"fkeras.random.dropout: noise_shape {tuple(noise_shape)} must have the input's rank "
                f"{inputs.ndim} (input shape {inputs.shape})."
            )
        shape = tuple(s if n is None else int(n) for s, n in zip(inputs.shape, noise_shape))
    mask = jnp.broadcast_to(jax.random.bernoulli(draw_key(seed), keep, shape), inputs.shape)
    return jax.lax.select(mask, inputs / keep, jnp.zeros_like(inputs))
