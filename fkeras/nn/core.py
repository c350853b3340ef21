"""Core pure layers: Dense, Activation, Dropout, Flatten."""

from __future__ import annotations

import math

from fkeras import ops
from fkeras import random as frandom
from fkeras.nn import activations, initializers
from fkeras.nn.base import Layer, Variables, expect_rank


class Dense(Layer):
    """`activation(inputs @ kernel + bias)`. inputs: (..., in) -> (..., units); kernel: (in, units)."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None, dtype=None, trainable=True):
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"Dense: expected `units` to be a positive int, got {units!r}.")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, rng, spec):
        expect_rank(self, spec, range(2, 100), "input")
        k1, k2 = frandom.split_key(rng, 2)
        params = {"kernel": self.kernel_initializer((spec.shape[-1], self.units), "float32", key=k1)}
        if self.use_bias:
            params["bias"] = self.bias_initializer((self.units,), "float32", key=k2)
        return Variables(params, {})

    def call(self, variables, x, training=False, rng=None):
        kernel = variables.params["kernel"]
        if x.shape[-1] != kernel.shape[0]:
            raise self.error(f"expected input with last dimension {kernel.shape[0]}, got shape {tuple(x.shape)}.")
        y = ops.matmul(x, kernel)
        if self.use_bias:
            y = ops.add(y, variables.params["bias"])
        return self.activation(y)

    def get_config(self):
        return super().get_config() | {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }


class Activation(Layer):
    """Apply an activation function elementwise. Shape preserved."""

    def __init__(self, activation, name=None, dtype=None, trainable=True):
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        self.activation = activations.get(activation)

    def call(self, variables, x, training=False, rng=None):
        return self.activation(x)

    def get_config(self):
        return super().get_config() | {"activation": activations.serialize(self.activation)}


class Dropout(Layer):
    """Zero a `rate` fraction of inputs and scale the rest by 1/(1-rate), only when training.

    Needs an `rng` key when training with rate > 0. Shape preserved.
    """

    def __init__(self, rate, noise_shape=None, seed=None, name=None, dtype=None, trainable=True):
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        if not 0 <= rate <= 1:
            raise ValueError(f"Dropout: expected `rate` in [0, 1], got {rate!r}.")
        self.rate, self.noise_shape, self.seed = rate, noise_shape, seed

    def call(self, variables, x, training=False, rng=None):
        if not training or self.rate == 0:
            return x
        return frandom.dropout(x, self.rate, noise_shape=self.noise_shape, seed=rng)

    def get_config(self):
        return super().get_config() | {"rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...)."""

    def __init__(self, data_format=None, name=None, dtype=None, trainable=True):
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        self.data_format = data_format or "channels_last"

    def call(self, variables, x, training=False, rng=None):
        if self.data_format == "channels_first" and len(x.shape) > 2:
            x = ops.transpose(x, (0, *range(2, len(x.shape)), 1))
        return ops.reshape(x, (x.shape[0], math.prod(x.shape[1:])))

    def get_config(self):
        return super().get_config() | {"data_format": self.data_format}
