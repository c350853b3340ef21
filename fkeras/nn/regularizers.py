"""Weight regularizers with Keras names: a regularizer maps a weight array to a scalar penalty.

Layers take them as `kernel_regularizer=`, `bias_regularizer=`, ... (a name like "l2", a config
dict, an instance or a callable); `Layer.regularization_losses(params)` sums them. Written over
`fkeras.ops`, so they run on JAX, torch and TF arrays alike.
"""

from __future__ import annotations

import math

from fkeras import ops
from fkeras.nn._lookup import Configurable, make_get, make_serialize


def _factor(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isinf(value) or math.isnan(value) \
            or value < 0:
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float, got {name}={value!r}.")
    return float(value)


class Regularizer(Configurable):
    """Base class: `__call__(x) -> scalar`; `get_config`/`from_config` round-trip."""

    def __call__(self, x):
        return 0.0


class L1L2(Regularizer):
    """`l1 * sum(|x|) + l2 * sum(x**2)`."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _factor(0.0 if l2 is None else l2, "l2")

    def __call__(self, x):
        loss = 0.0
        if self.l1:
            loss = loss + self.l1 * ops.sum(ops.abs(x))
        if self.l2:
            loss = loss + self.l2 * ops.sum(ops.square(x))
        return loss

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """`l1 * sum(|x|)`."""

    def __init__(self, l1=0.01):
        self.l1 = _factor(l1, "l1")

    def __call__(self, x):
        return self.l1 * ops.sum(ops.abs(x))

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """`l2 * sum(x**2)`."""

    def __init__(self, l2=0.01):
        self.l2 = _factor(l2, "l2")

    def __call__(self, x):
        return self.l2 * ops.sum(ops.square(x))

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Penalise non-orthogonal rows (or columns) of a rank-2 weight:
    `factor * 0.5 * sum(|offdiag(N N^T)|) / (n (n-1) / 2)` with N the L2-normalised rows."""

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _factor(factor, "factor")
        if mode not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer: expected mode 'rows' or 'columns', got {mode!r}.")
        self.mode = mode

    def __call__(self, x):
        if len(x.shape) != 2:
            raise ValueError(f"OrthogonalRegularizer: expected a rank-2 weight, got shape {tuple(x.shape)}.")
        if self.mode == "rows":
            n = ops.normalize(x, axis=1)
            product, size = ops.matmul(n, ops.transpose(n)), x.shape[0]
        else:
            n = ops.normalize(x, axis=0)
            product, size = ops.matmul(ops.transpose(n), n), x.shape[1]
        idx = ops.arange(size)
        off_diag = ops.cast(ops.not_equal(ops.expand_dims(idx, 0), ops.expand_dims(idx, 1)), "float32")
        pairs = size * (size - 1.0) / 2.0
        return self.factor * 0.5 * ops.sum(ops.abs(product * ops.cast(off_diag, ops.dtype(product)))) / pairs

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


def l1_l2(l1=0.01, l2=0.01):
    """Keras's `l1_l2` shortcut (both factors default to 0.01, unlike `L1L2`)."""
    return L1L2(l1=l1, l2=l2)


l1, l2, orthogonal_regularizer = L1, L2, OrthogonalRegularizer

_CLASSES = (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)
_BY_NAME = {c.__name__: c for c in _CLASSES} | {
    "regularizer": Regularizer, "l1": L1, "l2": L2, "l1_l2": L1L2, "orthogonal_regularizer": OrthogonalRegularizer,
}


get = make_get('regularizer', _BY_NAME)
serialize = make_serialize(Regularizer, 'keras.regularizers')

deserialize = get

# The public names of this family: `fkeras.<family>` exports exactly these (the one list).
__all__ = [
    "L1", "L1L2", "L2", "OrthogonalRegularizer", "Regularizer", "deserialize", "get", "l1", "l1_l2", "l2",
    "orthogonal_regularizer", "serialize",
]
