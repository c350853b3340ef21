"""The facade's default key stream (Keras's global seed): keys drawn when a model is built
from data or a layer runs eagerly. `fkeras.utils.set_random_seed(seed)` restarts it."""

from __future__ import annotations

import itertools
import threading

import jax

from fkeras.runtime import rng_utils

# --- default keys for builds and eager randomness (Keras's global seed) ---------------
_seed = {"base": 0, "counter": itertools.count()}
_seed_lock = threading.Lock()


@rng_utils.on_seed
def set_seed(seed: int) -> None:
    """Seed the keys fkeras draws when a model is built from data or a layer runs eagerly."""
    with _seed_lock:
        _seed["base"] = int(seed)
        _seed["counter"] = itertools.count()
        _seed["synced"] = seed


def next_key():
    """A fresh key from the facade's global stream (deterministic per session and seed; a new
    `fkeras.utils.set_random_seed(seed)` restarts it from that seed)."""
    global_seed = rng_utils.get_random_seed()
    with _seed_lock:
        if global_seed is not None and global_seed != _seed.get("synced"):
            _seed["base"], _seed["counter"], _seed["synced"] = int(global_seed), itertools.count(), global_seed
        n = next(_seed["counter"])
        base = _seed["base"]
    return jax.random.fold_in(jax.random.key(base), n)


