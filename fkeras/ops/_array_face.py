"""`ArrayFace`: what Keras's Variables share — an object whose `value` is an array, usable as one.

Layer weights (`fkeras.Variable`) and optimizer variables (`Optimizer.variables`) are views whose
truth lives elsewhere (a model's TrainState); this mixin gives both the array protocols and
arithmetic on the current value, over `fkeras.ops` (so a view bound to a torch or TF tensor in a
shim stays in that framework).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from fkeras import ops


def unwrap(x):
    """The current value of an `ArrayFace` (a Variable); anything else unchanged."""
    return x.value if isinstance(x, ArrayFace) else x


class ArrayFace:
    """Array protocols and arithmetic over `self.value` (subclasses define `value`, `shape` and `assign`)."""

    __slots__ = ()

    @property
    def ndim(self):
        return len(self.shape)

    def assign_add(self, value):
        return self.assign(ops.add(self.value, unwrap(value)))

    def assign_sub(self, value):
        return self.assign(ops.subtract(self.value, unwrap(value)))

    def __array__(self, dtype=None, copy=None):
        a = np.asarray(self.value)
        return a.astype(dtype) if dtype is not None else a

    def __jax_array__(self):
        return jnp.asarray(self.value)

    def numpy(self):
        return np.asarray(self.value)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, idx):
        return self.value[idx]

    def __neg__(self):
        return ops.negative(self.value)

    def __pos__(self):
        return self.value

    def __abs__(self):
        return ops.abs(self.value)

    def __add__(self, o):
        return ops.add(self.value, unwrap(o))

    def __radd__(self, o):
        return ops.add(unwrap(o), self.value)

    def __sub__(self, o):
        return ops.subtract(self.value, unwrap(o))

    def __rsub__(self, o):
        return ops.subtract(unwrap(o), self.value)

    def __mul__(self, o):
        return ops.multiply(self.value, unwrap(o))

    def __rmul__(self, o):
        return ops.multiply(unwrap(o), self.value)

    def __truediv__(self, o):
        return ops.divide(self.value, unwrap(o))

    def __rtruediv__(self, o):
        return ops.divide(unwrap(o), self.value)

    def __floordiv__(self, o):
        return ops.floor_divide(self.value, unwrap(o))

    def __rfloordiv__(self, o):
        return ops.floor_divide(unwrap(o), self.value)

    def __mod__(self, o):
        return ops.mod(self.value, unwrap(o))

    def __pow__(self, o):
        return ops.power(self.value, unwrap(o))

    def __rpow__(self, o):
        return ops.power(unwrap(o), self.value)

    def __matmul__(self, o):
        return ops.matmul(self.value, unwrap(o))

    def __rmatmul__(self, o):
        return ops.matmul(unwrap(o), self.value)

    def __lt__(self, o):
        return ops.less(self.value, unwrap(o))

    def __le__(self, o):
        return ops.less_equal(self.value, unwrap(o))

    def __gt__(self, o):
        return ops.greater(self.value, unwrap(o))

    def __ge__(self, o):
        return ops.greater_equal(self.value, unwrap(o))

    @property
    def T(self):
        return ops.transpose(self.value)

    __hash__ = object.__hash__

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        """Torch functions given a view (bound to a torch tensor in a shim) see its value."""
        def unwrap_all(a):
            if isinstance(a, ArrayFace):
                return a.value
            if isinstance(a, (list, tuple)):
                return type(a)(unwrap_all(x) for x in a)
            return a

        return func(*unwrap_all(args), **{k: unwrap_all(v) for k, v in (kwargs or {}).items()})
