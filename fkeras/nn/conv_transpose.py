"""Transposed convolutions `Conv1DTranspose` / `Conv2DTranspose` / `Conv3DTranspose` over `ops.conv_transpose`
(Keras kernel layout `(*window, filters, in_channels)`, Keras 3.15's output shapes, output_padding and configs)."""

from __future__ import annotations

from fkeras import ops
from fkeras import random as frandom
from fkeras.nn import activations, constraints, initializers, regularizers
from fkeras.nn.base import Layer, Variables, expect_rank
from fkeras.nn.conv import normalize_tuple


class ConvTranspose(Layer):
    """N-D transposed convolution ("deconvolution"); `rank` is set by the 1D/2D/3D classes.

    inputs (batch, *spatial, in) -> (batch, *upsampled, filters) for channels_last (channels_first:
    (batch, in, *spatial)); with padding "valid" each spatial dim becomes (d - 1) * stride + kernel
    (+ output_padding), with "same" d * stride."""

    rank = 2
    weight_regularizers = {"kernel": "kernel_regularizer", "bias": "bias_regularizer"}
    weight_constraints = {"kernel": "kernel_constraint", "bias": "bias_constraint"}

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, activity_regularizer=activity_regularizer,
                         **kwargs)
        n = self.rank
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise self.error(f"expected `filters` to be a positive int, got {filters!r}.")
        self.filters = filters
        self.kernel_size = normalize_tuple(kernel_size, n, "kernel_size", self)
        self.strides = normalize_tuple(strides, n, "strides", self)
        self.dilation_rate = normalize_tuple(dilation_rate, n, "dilation_rate", self)
        if not all(self.kernel_size) or not all(self.strides):
            raise self.error(f"`kernel_size` and `strides` cannot contain 0; got {self.kernel_size}, {self.strides}.")
        padding = padding.lower() if isinstance(padding, str) else padding
        if padding not in ("valid", "same"):
            raise self.error(f"expected padding 'valid' or 'same', got {padding!r}.")
        self.padding = padding
        self.output_padding = None if output_padding is None else normalize_tuple(output_padding, n,
                                                                                   "output_padding", self)
        if self.output_padding is not None and any(p >= s for p, s in zip(self.output_padding, self.strides)):
            raise self.error(f"each `output_padding` must be strictly less than the stride; got output_padding="
                             f"{self.output_padding}, strides={self.strides}.")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise self.error(f"strides > 1 are not supported with dilation_rate > 1; got strides={self.strides}, "
                             f"dilation_rate={self.dilation_rate}.")
        self.data_format = data_format or "channels_last"
        if self.data_format not in ("channels_last", "channels_first"):
            raise self.error(f"expected data_format 'channels_last' or 'channels_first', got {data_format!r}.")
        self.activation = self.lookup(activations.get, activation, "activation")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = self.lookup(initializers.get, kernel_initializer, "kernel_initializer")
        self.bias_initializer = self.lookup(initializers.get, bias_initializer, "bias_initializer")
        self.kernel_regularizer = self.lookup(regularizers.get, kernel_regularizer, "kernel_regularizer")
        self.bias_regularizer = self.lookup(regularizers.get, bias_regularizer, "bias_regularizer")
        self.kernel_constraint = self.lookup(constraints.get, kernel_constraint, "kernel_constraint")
        self.bias_constraint = self.lookup(constraints.get, bias_constraint, "bias_constraint")

    def _channels(self, shape):
        return shape[1] if self.data_format == "channels_first" else shape[-1]

    def check_input(self, x):
        where = "(batch, channels, *spatial)" if self.data_format == "channels_first" else "(batch, *spatial, channels)"
        expect_rank(self, x, self.rank + 2, f"input {where}")

    def build(self, rng, spec):
        k1, k2 = frandom.split_key(rng, 2)
        shape = self.kernel_size + (self.filters, self._channels(spec.shape))
        params = {"kernel": self.kernel_initializer(shape, self.variable_dtype, key=k1)}
        if self.use_bias:
            params["bias"] = self.bias_initializer((self.filters,), self.variable_dtype, key=k2)
        return Variables(params, {})

    def call(self, variables, x, training=False, rng=None):
        kernel = variables.params["kernel"]
        if self._channels(x.shape) != kernel.shape[-1]:
            raise self.error(f"expected {kernel.shape[-1]} input channels, got shape {tuple(x.shape)}.")
        y = ops.conv_transpose(x, kernel, strides=list(self.strides), padding=self.padding,
                               output_padding=self.output_padding, dilation_rate=self.dilation_rate,
                               data_format=self.data_format)
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
            "output_padding": self.output_padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }


class Conv1DTranspose(ConvTranspose):
    """1-D transposed convolution: (batch, steps, in) -> (batch, new_steps, filters)."""

    rank = 1


class Conv2DTranspose(ConvTranspose):
    """2-D transposed convolution: (batch, rows, cols, in) -> (batch, new_rows, new_cols, filters)."""

    rank = 2


class Conv3DTranspose(ConvTranspose):
    """3-D transposed convolution: (batch, d1, d2, d3, in) -> (batch, n1, n2, n3, filters)."""

    rank = 3


Convolution1DTranspose, Convolution2DTranspose, Convolution3DTranspose = (Conv1DTranspose, Conv2DTranspose,
                                                                          Conv3DTranspose)
