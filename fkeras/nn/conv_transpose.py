"""Transposed convolutions `Conv1DTranspose` / `Conv2DTranspose` / `Conv3DTranspose` over `ops.conv_transpose`
(Keras kernel layout `(*window, filters, in_channels)`, Keras 3.15's output shapes, output_padding and configs)."""

from __future__ import annotations

from fkeras import ops
from fkeras.nn.conv import ConvBase, normalize_tuple


class ConvTranspose(ConvBase):
    """N-D transposed convolution ("deconvolution"); `rank` is set by the 1D/2D/3D classes.

    inputs (batch, *spatial, in) -> (batch, *upsampled, filters) for channels_last (channels_first:
    (batch, in, *spatial)); with padding "valid" each spatial dim becomes (d - 1) * stride + kernel
    (+ output_padding), with "same" d * stride."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, activity_regularizer=activity_regularizer,
                         **kwargs)
        self.set_window(filters, kernel_size, strides, padding, data_format, dilation_rate)
        self.output_padding = None if output_padding is None else normalize_tuple(output_padding, self.rank,
                                                                                   "output_padding", self)
        if self.output_padding is not None and any(p >= s for p, s in zip(self.output_padding, self.strides)):
            raise self.error(f"each `output_padding` must be strictly less than the stride; got output_padding="
                             f"{self.output_padding}, strides={self.strides}.")
        self.set_kernel_bias(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                             bias_regularizer, kernel_constraint, bias_constraint)

    def build(self, rng, spec):
        return self.build_kernel_bias(rng, self.kernel_size + (self.filters, self._channels(spec.shape)))

    def call(self, variables, x, training=False, rng=None):
        kernel = variables.params["kernel"]
        if self._channels(x.shape) != kernel.shape[-1]:
            raise self.error(f"expected {kernel.shape[-1]} input channels, got shape {tuple(x.shape)}.")
        y = ops.conv_transpose(x, kernel, strides=list(self.strides), padding=self.padding,
                               output_padding=self.output_padding, dilation_rate=self.dilation_rate,
                               data_format=self.data_format)
        return self.bias_activation(variables, y)

    def get_config(self):
        return super().get_config() | {"output_padding": self.output_padding}


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
