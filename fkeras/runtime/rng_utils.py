"""`set_random_seed`: seed every random source a Keras program may touch."""

from __future__ import annotations

import random
import sys

import numpy as np

_GLOBAL_SEED = None
_ON_SEED: list = []  # callables(seed) of packages above this one that keep their own key streams


def on_seed(fn):
    """Register `fn(seed)` to run at every `set_random_seed` (how the facade restarts its key stream
    without this module importing it)."""
    if fn not in _ON_SEED:
        _ON_SEED.append(fn)
    return fn


def set_random_seed(seed):
    """Seed Python's `random`, NumPy's global generator (used by the data adapters'
    shuffling when no seed is given), TensorFlow and torch when they are imported, and the
    fkeras global seed (`get_random_seed()`, used where Keras uses its global SeedGenerator)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"Expected `seed` argument to be an integer. Received: seed={seed!r} (of type {type(seed)})")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"Expected a non-negative `seed`; got {seed}.")
    global _GLOBAL_SEED
    _GLOBAL_SEED = seed
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    for fn in _ON_SEED:  # e.g. the facade's key stream restarts, even for the same seed as last time
        fn(seed)


def get_random_seed():
    """The seed last given to `set_random_seed` (None if never called)."""
    return _GLOBAL_SEED
