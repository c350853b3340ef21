"""Weight constraints with Keras names: a constraint maps a weight to its projected value.

Layers take them as `kernel_constraint=`, `bias_constraint=`, ...; the train engine applies them
after each optimizer update through `Layer.apply_constraints(params)` (pure: returns new params).
Written over `fkeras.ops`.
"""

from __future__ import annotations

from fkeras import backend, ops
from fkeras.nn._lookup import Configurable, make_get, make_serialize


def _epsilon():
    return backend.epsilon()


def _norms(w, axis):
    return ops.sqrt(ops.sum(ops.square(w), axis=axis, keepdims=True))


class Constraint(Configurable):
    """Base class: `__call__(w) -> w'` (identity here)."""

    def __call__(self, w):
        return w


class MaxNorm(Constraint):
    """Rescale so the norm along `axis` is at most `max_value`."""

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = ops.clip(norms, 0, self.max_value)
        return w * (desired / (_epsilon() + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Clip negative weights to zero."""

    def __call__(self, w):
        return ops.maximum(w, 0)


class UnitNorm(Constraint):
    """Rescale to unit norm along `axis`."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (_epsilon() + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Move the norm along `axis` towards `[min_value, max_value]` at `rate` (1.0 = strictly)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = self.rate * ops.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (_epsilon() + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

_CLASSES = (Constraint, MaxNorm, NonNeg, UnitNorm, MinMaxNorm)
_BY_NAME = {c.__name__: c for c in _CLASSES} | {
    "constraint": Constraint, "max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm,
    "min_max_norm": MinMaxNorm,
}


get = make_get('constraint', _BY_NAME)
serialize = make_serialize(Constraint, 'keras.constraints')

deserialize = get

# The public names of this family: `fkeras.<family>` exports exactly these (the one list).
__all__ = [
    "Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "deserialize", "get", "max_norm",
    "min_max_norm", "non_neg", "serialize", "unit_norm",
]
