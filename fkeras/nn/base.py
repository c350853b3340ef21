"""The pure layer protocol: immutable hyperparameters, `init` and `apply` over explicit pytrees.

    variables = layer.init(rng, *input_specs)            # Variables(params, state)
    outputs, new_state = layer.apply(variables, *inputs, training=False, rng=None)

A leaf layer's `params`/`state` are flat dicts of its own leaves with Keras names
(`kernel`, `bias`, `gamma`, `moving_mean`, ...). Containers nest their children's
dicts under the children's names (`{"conv2d": {"kernel": ..., "bias": ...}}`) and
leave out children that own nothing. An input spec is an array, a
`jax.ShapeDtypeStruct`, or anything with `.shape` and `.dtype`; a bare shape tuple
means float32. Dimensions given as None (unknown batch) are taken as 1 for
shape inference.
"""

from __future__ import annotations

import itertools
import re
import threading
import zlib
from collections import defaultdict
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Variables(NamedTuple):
    """A layer's arrays: trainable `params` and non-trainable `state`, both nested dicts."""

    params: dict
    state: dict


# --- Keras-style automatic names ---------------------------------------------
_names = threading.local()


def _counters() -> defaultdict:
    if not hasattr(_names, "counters"):
        _names.counters = defaultdict(itertools.count)
    return _names.counters


def snake_case(name: str) -> str:
    """`Conv2D` -> `conv2d`, `GlobalAveragePooling2D` -> `global_average_pooling2d` (Keras's rule)."""
    s = re.sub(r"\W+", "", name)
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", s)
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", s)
    return s.lower()


def unique_name(prefix: str) -> str:
    """`prefix`, then `prefix_1`, `prefix_2`, ... for the session (like Keras)."""
    n = next(_counters()[prefix])
    return prefix if n == 0 else f"{prefix}_{n}"


def clear_session() -> None:
    """Reset automatic layer names, as `keras.backend.clear_session()` does."""
    _counters().clear()


# --- specs --------------------------------------------------------------------
def as_spec(x, default_dtype="float32") -> jax.ShapeDtypeStruct:
    """Turn an array, a ShapeDtypeStruct or a shape tuple into a concrete ShapeDtypeStruct."""
    if isinstance(x, (tuple, list)) and all(d is None or isinstance(d, (int, np.integer)) for d in x):
        shape, dtype = tuple(x), default_dtype
    elif hasattr(x, "shape") and hasattr(x, "dtype"):
        shape, dtype = tuple(x.shape), x.dtype
    else:
        raise TypeError(f"Expected an array, a ShapeDtypeStruct or a shape tuple as input spec, got {type(x).__name__}.")
    shape = tuple(1 if d is None else int(d) for d in shape)
    dtype = np.dtype(dtype) if not isinstance(dtype, jnp.dtype) else dtype
    return jax.ShapeDtypeStruct(shape, dtype)


def fold_name(rng, name: str):
    """A key for the child `name` derived from `rng` (stable across runs and processes)."""
    if rng is None:
        return None
    return jax.random.fold_in(rng, zlib.crc32(name.encode()) & 0x7FFFFFFF)


# --- the layer base class ------------------------------------------------------
class _Frozen(type):
    def __call__(cls, *args, **kwargs):
        obj = super().__call__(*args, **kwargs)
        object.__setattr__(obj, "_frozen", True)
        return obj


class Layer(metaclass=_Frozen):
    """Base of all pure layers. Subclasses set hyperparameters in `__init__` and implement
    `build` (returns Variables for given input specs) and `call` (the math).

    After `__init__` the object is immutable; it holds no arrays.
    """

    def __init__(self, name: str | None = None, dtype=None, trainable: bool = True):
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.dtype = dtype or "float32"
        self.trainable = trainable

    def __setattr__(self, key, value):
        if getattr(self, "_frozen", False):
            raise AttributeError(
                f"{type(self).__name__} '{self.name}' is immutable; build a new layer instead of setting `{key}`."
            )
        object.__setattr__(self, key, value)

    # -- to implement ------------------------------------------------------
    def build(self, rng, *input_specs: jax.ShapeDtypeStruct) -> Variables:
        """Create this layer's variables for the given input specs. Default: none."""
        return Variables({}, {})

    def call(self, variables: Variables, *inputs, training: bool = False, rng=None):
        """The math: return `outputs` or `(outputs, new_state)`."""
        raise NotImplementedError

    # -- the public pure API ------------------------------------------------
    def init(self, rng, *input_specs) -> Variables:
        """Variables for inputs shaped like `input_specs` (arrays, ShapeDtypeStructs or shapes)."""
        specs = [as_spec(s) for s in input_specs]
        self.check_input(*specs)
        return self.build(rng, *specs)

    def apply(self, variables, *inputs, training: bool = False, rng=None):
        """Run the layer: returns `(outputs, new_state)`; never mutates anything."""
        variables = Variables(*variables) if not isinstance(variables, Variables) else variables
        self.check_input(*inputs)
        out = self.call(variables, *inputs, training=training, rng=rng)
        return out if self.stateful else (out, variables.state)

    def output_spec(self, variables, *input_specs):
        """Shape/dtype of the output for `input_specs`, without computing anything."""
        specs = [as_spec(s) for s in input_specs]
        return jax.eval_shape(lambda v, *x: self.apply(v, *x)[0], variables, *specs)

    # -- helpers ------------------------------------------------------------
    stateful = False  # True when `call` returns (outputs, new_state)

    def check_input(self, *inputs) -> None:
        """Raise ValueError (naming the layer) when inputs do not fit. Default: accept all."""

    def error(self, message: str) -> ValueError:
        return ValueError(f"Layer '{self.name}' ({type(self).__name__}): {message}")

    def get_config(self) -> dict:
        """Keras-compatible config of the hyperparameters."""
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def expect_rank(layer: Layer, x, rank: int | tuple, what: str = "input") -> None:
    """Raise a clear ValueError when `x` does not have `rank` (an int or tuple of allowed ranks)."""
    ranks = (rank,) if isinstance(rank, int) else tuple(rank)
    nd = len(x.shape)
    if nd not in ranks:
        allowed = " or ".join(str(r) for r in ranks)
        raise layer.error(f"expected {what} of rank {allowed}, got shape {tuple(x.shape)} (rank {nd}).")

