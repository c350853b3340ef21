"""`fkeras.random`: Keras's random functions over explicit JAX keys.

`seed` may be a JAX key (the functional way), an int (same seed -> same numbers),
or a `SeedGenerator` (Keras's stateful way; its state is a small uint32 array).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from fkeras.ops._dispatch import TORCH, TF, framework_of


def split_key(rng, n=2):
    """`n` independent keys from `rng` (None stays None, for layers that need no randomness)."""
    if rng is None:
        return (None,) * n
    return tuple(jax.random.split(rng, n))


class SeedGenerator:
    """Keras's seed generator: state is a uint32 array `[seed, counter]`; `next()` draws a key
    and advances the counter. Under the facade's pure apply the state lives in the state pytree."""

    def __init__(self, seed=None, name=None):
        self.seed = int(np.random.randint(2**31) if seed is None else seed)
        self.name = name or "seed_generator"
        self.state = jnp.array([self.seed, 0], dtype=jnp.uint32)

    def next(self):
        key = jax.random.fold_in(jax.random.key(self.state[0]), self.state[1])
        self.state = self.state + jnp.array([0, 1], dtype=jnp.uint32)
        return key


def draw_key(seed):
    """A JAX key from a key, an int or a SeedGenerator (advancing it)."""
    if seed is None:
        raise ValueError("fkeras.random: expected `seed` (a JAX key, an int or a SeedGenerator), got None.")
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if isinstance(seed, (int, np.integer)):
        return jax.random.key(int(seed))
    if hasattr(seed, "dtype") and jax.dtypes.issubdtype(seed.dtype, jax.dtypes.prng_key):
        return seed
    if hasattr(seed, "shape") and tuple(seed.shape) == (2,):
        return jax.random.wrap_key_data(jnp.asarray(seed, jnp.uint32))
    raise ValueError(f"fkeras.random: could not use {seed!r} as a seed; expected a JAX key, an int or a SeedGenerator.")


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return mean + stddev * jax.random.normal(draw_key(seed), shape, dtype or "float32")


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    return jax.random.uniform(draw_key(seed), shape, dtype or "float32", minval, maxval)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zero a `rate` fraction of `inputs` and scale the rest by 1/(1-rate).

    Torch tensors draw from torch's generator and TF tensors from TF's, so the shims
    need no JAX key; JAX inputs need `seed`.
    """
    fw = framework_of(inputs)
    if fw == TORCH:
        from fkeras.ops import _torch

        return _torch.dropout(inputs, rate, noise_shape)
    if fw == TF:
        from fkeras.ops import _tf

        return _tf.dropout(inputs, rate, noise_shape)
    keep = 1.0 - rate
    shape = inputs.shape if noise_shape is None else tuple(
        s if n is None else n for s, n in zip(inputs.shape, noise_shape)
    )
    mask = jax.random.bernoulli(draw_key(seed), keep, shape)
    return jnp.where(mask, inputs / keep, jnp.zeros_like(inputs))
