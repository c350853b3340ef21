"""Merge layers: take a list of inputs, return one. Add, Subtract, Multiply, Average, Maximum,
Minimum (elementwise, with broadcasting) and Concatenate (along `axis`).

    y, _ = nn.Add().apply(variables, [a, b])      # or .apply(variables, a, b)
    variables = nn.Add().init(rng, [spec_a, spec_b])
"""

from __future__ import annotations

import functools

from fkeras import ops
from fkeras.nn.base import Layer


def _as_list(inputs):
    if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)):
        return list(inputs[0])
    return list(inputs)


class _Merge(Layer):
    """Base of merge layers: checks the list of inputs, then reduces it with `_merge`."""

    min_inputs, max_inputs = 2, None

    def check_input(self, *inputs):
        xs = _as_list(inputs)
        if not all(hasattr(x, "shape") for x in xs):
            raise self.error(f"expected a list of arrays, got {[type(x).__name__ for x in xs]}.")
        n = len(xs)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            want = f"exactly {self.max_inputs}" if self.max_inputs == self.min_inputs else f"at least {self.min_inputs}"
            raise self.error(f"expected a list of {want} inputs, got {n}.")
        self._check_shapes([tuple(x.shape) for x in xs])

    def _check_shapes(self, shapes):
        for dims in zip(*[s[::-1] for s in shapes]):
            if len({d for d in dims if d != 1}) > 1:
                raise self.error(f"inputs must have broadcast-compatible shapes, got {shapes}.")

    def call(self, variables, *inputs, training=False, rng=None):
        return self._merge(_as_list(inputs))

    supports_masking = True

    def compute_mask(self, inputs, mask=None):
        """Keras's merge mask: the OR of the inputs' masks, None unless every input has one."""
        masks = _check_masks(self, inputs, mask)
        if masks is None or any(m is None for m in masks):
            return None
        out = masks[0]
        for m in masks[1:]:
            out = ops.logical_or(out, m)
        return out

    def _merge(self, xs):
        raise NotImplementedError


def _check_masks(layer, inputs, mask):
    """`mask` as a list matching the list `inputs` (None for no mask); a clear error otherwise."""
    if mask is None:
        return None
    if not isinstance(mask, (list, tuple)):
        raise layer.error(f"expected `mask` as a list (one entry per input), got {type(mask).__name__}.")
    if not isinstance(inputs, (list, tuple)):
        raise layer.error(f"expected `inputs` as a list, got {type(inputs).__name__}.")
    if len(mask) != len(inputs):
        raise layer.error(f"expected one mask per input: {len(inputs)} inputs, got {len(mask)} masks.")
    return list(mask)


class Add(_Merge):
    """Elementwise sum of the inputs."""

    def _merge(self, xs):
        return functools.reduce(ops.add, xs)


class Subtract(_Merge):
    """`inputs[0] - inputs[1]` (exactly two inputs)."""

    max_inputs = 2

    def _merge(self, xs):
        return ops.subtract(xs[0], xs[1])


class Multiply(_Merge):
    """Elementwise product of the inputs."""

    def _merge(self, xs):
        return functools.reduce(ops.multiply, xs)


class Average(_Merge):
    """Elementwise mean of the inputs."""

    def _merge(self, xs):
        return ops.divide(functools.reduce(ops.add, xs), len(xs))


class Maximum(_Merge):
    """Elementwise maximum of the inputs."""

    def _merge(self, xs):
        return functools.reduce(ops.maximum, xs)


class Minimum(_Merge):
    """Elementwise minimum of the inputs."""

    def _merge(self, xs):
        return functools.reduce(ops.minimum, xs)


class Concatenate(_Merge):
    """Join the inputs along `axis`; all other dimensions must match."""

    min_inputs = 1

    def __init__(self, axis=-1, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise self.error(f"expected `axis` to be an int, got {axis!r}.")
        self.axis = axis

    def _check_shapes(self, shapes):
        ranks = {len(s) for s in shapes}
        if len(ranks) > 1:
            raise self.error(f"inputs must have the same rank, got shapes {shapes}.")
        nd = ranks.pop()
        if not -nd <= self.axis < nd:
            raise self.error(f"axis {self.axis} is out of range for inputs of shapes {shapes}.")
        axis = self.axis % nd
        rest = {tuple(d for i, d in enumerate(s) if i != axis) for s in shapes}
        if len(rest) > 1:
            raise self.error(f"inputs must match on every axis except the concat axis ({self.axis}), "
                             f"got shapes {shapes}.")

    def _merge(self, xs):
        return ops.concatenate(xs, axis=self.axis)

    def compute_mask(self, inputs, mask=None):
        """Keras's rule: each input's mask (all True where it has none) widened to the input's rank,
        concatenated along `axis`, then any() over the last axis."""
        masks = _check_masks(self, inputs, mask)
        if masks is None or all(m is None for m in masks):
            return None
        full = []
        for x, m in zip(inputs, masks):
            if m is None:
                full.append(ops.ones_like(x, dtype="bool"))
            elif len(m.shape) < len(x.shape):
                full.append(ops.logical_or(ops.expand_dims(m, axis=-1), ops.zeros_like(x, dtype="bool")))
            else:
                full.append(m)
        return ops.any(ops.concatenate(full, axis=self.axis), axis=-1, keepdims=False)

    def get_config(self):
        return super().get_config() | {"axis": self.axis}
