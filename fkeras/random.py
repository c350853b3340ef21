"""`fkeras.random`: Keras's random functions (`keras.random` names and arguments) over JAX keys.

`seed` may be a JAX key (the functional way), an int (same numbers as `keras.random.*(seed=...)` under
Keras's JAX backend), a `SeedGenerator` (Keras's stateful way) or None (a global generator, eager only).
The implementation lives on the ops floor (`fkeras.ops.random_impl`); this module is its public face.
"""

from fkeras.ops.random_impl import (  # noqa: F401
    SeedGenerator, __all__, beta, binomial, categorical, draw_key, dropout, gamma, next_key, normal, randint, shuffle,
    split_key, truncated_normal, uniform,
)

SeedGenerator.__module__ = __name__  # its public home, as in `keras.random.SeedGenerator`
