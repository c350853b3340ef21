"""Keras's functional merge helpers: `add([a, b])` is `Add()([a, b])`, and so on (KerasTensors or arrays)."""

from __future__ import annotations

from fkeras.layers import builtin

__all__ = ["add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot"]


def add(inputs, **kwargs):
    """Elementwise sum of a list of inputs of the same shape: `Add(**kwargs)(inputs)`."""
    return builtin.Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """`inputs[0] - inputs[1]` (exactly two inputs): `Subtract(**kwargs)(inputs)`."""
    return builtin.Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Elementwise product of a list of inputs: `Multiply(**kwargs)(inputs)`."""
    return builtin.Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Elementwise mean of a list of inputs: `Average(**kwargs)(inputs)`."""
    return builtin.Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """Elementwise maximum of a list of inputs: `Maximum(**kwargs)(inputs)`."""
    return builtin.Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """Elementwise minimum of a list of inputs: `Minimum(**kwargs)(inputs)`."""
    return builtin.Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """The inputs joined along `axis`: `Concatenate(axis=axis, **kwargs)(inputs)`."""
    return builtin.Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    """The batched dot product of two inputs along `axes`: `Dot(axes=axes, **kwargs)(inputs)`."""
    return builtin.Dot(axes=axes, **kwargs)(inputs)
