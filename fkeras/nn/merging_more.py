"""`Dot`: the batched dot product of two inputs along given axes (Keras 3.15's `batch_dot` shapes)."""

from __future__ import annotations

import string

from fkeras import ops
from fkeras.nn.merging import _as_list, _Merge


class Dot(_Merge):
    """Dot product of `[x1, x2]` along `axes` (an int or a pair), per example: (batch, ..., d) . (batch, d, ...)
    -> (batch, x1's other dims, x2's other dims); two (batch, d) inputs give (batch, 1). `normalize=True`
    L2-normalizes both along the axes first (the cosine proximity)."""

    min_inputs, max_inputs = 2, 2

    def compute_mask(self, inputs, mask=None):
        return None

    def __init__(self, axes, normalize=False, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        if not isinstance(axes, int):
            if not isinstance(axes, (list, tuple)) or len(axes) != 2 or not all(isinstance(a, int) for a in axes):
                raise self.error(f"expected `axes` as an int or a pair of ints, got {axes!r}.")
            axes = list(axes)
        self.axes, self.normalize = axes, bool(normalize)

    def _axes(self, shapes):
        pair = [self.axes] * 2 if isinstance(self.axes, int) else self.axes
        return [a % len(s) for a, s in zip(pair, shapes)]

    def _check_shapes(self, shapes):
        a0, a1 = self._axes(shapes)
        if min(len(s) for s in shapes) < 2 or 0 in (a0, a1):
            raise self.error(f"expected inputs of rank >= 2 and axes other than the batch axis; got shapes {shapes} "
                             f"and axes {self.axes}.")
        if shapes[0][a0] != shapes[1][a1]:
            raise self.error(f"incompatible input shapes: axis values {shapes[0][a0]} (at axis {a0}) != "
                             f"{shapes[1][a1]} (at axis {a1}); shapes {shapes}.")

    def _merge(self, xs):
        x1, x2 = xs
        a0, a1 = self._axes([tuple(x1.shape), tuple(x2.shape)])
        if self.normalize:
            x1, x2 = ops.normalize(x1, axis=a0), ops.normalize(x2, axis=a1)
        letters = iter(string.ascii_letters[1:])
        s1 = ["a"] + [next(letters) for _ in range(len(x1.shape) - 1)]
        s2 = ["a"] + [next(letters) for _ in range(len(x2.shape) - 1)]
        s2[a1] = s1[a0]
        out = ["a"] + [c for i, c in enumerate(s1) if i not in (0, a0)] + [c for i, c in enumerate(s2)
                                                                           if i not in (0, a1)]
        y = ops.einsum(f"{''.join(s1)},{''.join(s2)}->{''.join(out)}", x1, x2)
        return ops.expand_dims(y, -1) if len(y.shape) == 1 else y

    def call(self, variables, *inputs, training=False, rng=None):
        return self._merge(_as_list(inputs))

    def get_config(self):
        return super().get_config() | {"axes": self.axes, "normalize": self.normalize}
