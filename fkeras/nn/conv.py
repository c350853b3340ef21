"""Convolution layers (channels_last by default, Keras kernel layout `(*window, in // groups, filters)`)."""

from __future__ import annotations

from fkeras import ops
from fkeras import random as frandom
from fkeras.nn import activations, initializers
from fkeras.nn.base import Layer, Variables, expect_rank


def normalize_tuple(value, n, name):
    if isinstance(value, int):
        return (value,) * n
    value = tuple(value)
    if len(value) != n or not all(isinstance(v, int) for v in value):
        raise ValueError(f"Expected `{name}` as an int or a tuple of {n} ints, got {value!r}.")
    return value


class Conv(Layer):
    """N-D convolution; `rank` is set by Conv1D/Conv2D/Conv3D.

    inputs: (batch, *spatial, in) -> (batch, *new_spatial, filters) for channels_last.
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None, dtype=None, trainable=True):
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        n = self.rank
        self.filters = filters
        self.kernel_size = normalize_tuple(kernel_size, n, "kernel_size")
        self.strides = normalize_tuple(strides, n, "strides")
        if padding not in ("valid", "same"):
            raise ValueError(f"{type(self).__name__}: expected padding 'valid' or 'same', got {padding!r}.")
        self.padding = padding
        self.data_format = data_format or "channels_last"
        self.dilation_rate = normalize_tuple(dilation_rate, n, "dilation_rate")
        self.groups = groups
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def _channels(self, shape):
        return shape[1] if self.data_format == "channels_first" else shape[-1]

    def check_input(self, x):
        expect_rank(self, x, self.rank + 2, "input (batch, *spatial, channels)")

    def build(self, rng, spec):
        in_ch = self._channels(spec.shape)
        if in_ch % self.groups:
            raise self.error(f"input channels ({in_ch}) must be divisible by groups ({self.groups}).")
        k1, k2 = frandom.split_key(rng, 2)
        shape = self.kernel_size + (in_ch // self.groups, self.filters)
        params = {"kernel": self.kernel_initializer(shape, "float32", key=k1)}
        if self.use_bias:
            params["bias"] = self.bias_initializer((self.filters,), "float32", key=k2)
        return Variables(params, {})

    def call(self, variables, x, training=False, rng=None):
        kernel = variables.params["kernel"]
        if self._channels(x.shape) != kernel.shape[-2] * self.groups:
            raise self.error(
                f"expected {kernel.shape[-2] * self.groups} input channels, got shape {tuple(x.shape)}."
            )
        y = ops.conv(x, kernel, strides=self.strides, padding=self.padding, data_format=self.data_format,
                     dilation_rate=self.dilation_rate)
        if self.use_bias:
            bias = variables.params["bias"]
            if self.data_format == "channels_first":
                bias = ops.reshape(bias, (1, self.filters) + (1,) * self.rank)
            y = ops.add(y, bias)
        return self.activation(y)

    def get_config(self):
        return super().get_config() | {
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "groups": self.groups,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }


class Conv1D(Conv):
    rank = 1


class Conv2D(Conv):
    rank = 2


class Conv3D(Conv):
    rank = 3
