"""Activation layers with their own arguments: ReLU, LeakyReLU, ELU, Softmax. Shape preserved."""

from __future__ import annotations

from fkeras.nn import activations
from fkeras.nn.base import Layer


class ReLU(Layer):
    """`max_value`-capped ReLU with a `negative_slope` below `threshold` (Keras's formula)."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, name=None, dtype=None, trainable=True,
                 **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        if max_value is not None and max_value < 0:
            raise self.error(f"expected `max_value` >= 0 or None, got {max_value!r}.")
        if negative_slope is None or negative_slope < 0:
            raise self.error(f"expected `negative_slope` >= 0, got {negative_slope!r}.")
        if threshold is None:
            raise self.error("expected a float `threshold`, got None.")
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def call(self, variables, x, training=False, rng=None):
        return activations.relu(x, negative_slope=self.negative_slope, max_value=self.max_value,
                                threshold=self.threshold)

    def get_config(self):
        return super().get_config() | {"max_value": self.max_value, "negative_slope": self.negative_slope,
                                       "threshold": self.threshold}


class LeakyReLU(Layer):
    """`x` for x >= 0, `negative_slope * x` below (default slope 0.3, as Keras's layer)."""

    def __init__(self, negative_slope=0.3, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        if negative_slope is None or negative_slope < 0:
            raise self.error(f"expected `negative_slope` >= 0, got {negative_slope!r}.")
        self.negative_slope = negative_slope

    def call(self, variables, x, training=False, rng=None):
        return activations.leaky_relu(x, negative_slope=self.negative_slope)

    def get_config(self):
        return super().get_config() | {"negative_slope": self.negative_slope}


class ELU(Layer):
    """`x` for x > 0, `alpha * (exp(x) - 1)` below."""

    def __init__(self, alpha=1.0, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.alpha = alpha

    def call(self, variables, x, training=False, rng=None):
        return activations.elu(x, alpha=self.alpha)

    def get_config(self):
        return super().get_config() | {"alpha": self.alpha}


class Softmax(Layer):
    """Softmax along `axis` (an int or a list of ints)."""

    def __init__(self, axis=-1, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.axis = axis

    def call(self, variables, x, training=False, rng=None):
        axis = tuple(self.axis) if isinstance(self.axis, (list, tuple)) else self.axis
        return activations.softmax(x, axis=axis)

    def get_config(self):
        return super().get_config() | {"axis": self.axis}
