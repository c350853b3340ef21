"""Convolution layers (channels_last by default, Keras kernel layout `(*window, in // groups, filters)`)."""

from __future__ import annotations

import numpy as np

from fkeras import backend, ops
from fkeras import random as frandom
from fkeras.nn import activations
from fkeras.nn.base import Layer, Variables, expect_rank
from fkeras.nn.kernel_bias import KernelBias, set_weight_args, weight_args_config


def normalize_tuple(value, n, name, layer=None):
    """`value` (an int or n ints) as a tuple of n ints; a clear ValueError otherwise."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * n
    try:
        value = tuple(value)
    except TypeError:
        value = (value,)
    if len(value) != n or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        msg = f"expected `{name}` as an int or a tuple of {n} ints, got {value!r}."
        raise layer.error(msg) if layer is not None else ValueError(msg)
    return tuple(int(v) for v in value)


def normalize_positive_tuple(value, n, name, layer=None):
    """`normalize_tuple` whose values must all be > 0 (kernel sizes, strides, dilation rates, pool sizes):
    a zero stride otherwise fails only at the first call, inside XLA."""
    out = normalize_tuple(value, n, name, layer)
    bad = sorted({v for v in out if v <= 0})
    if bad:
        msg = (f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value!r}, including "
               f"values {set(bad)} that do not satisfy `value > 0`.")
        raise layer.error(msg) if layer is not None else ValueError(msg)
    return out


def check_output_size(layer, shape, window, strides, padding, dilation_rate, data_format, what="kernel_size"):
    """Raise when a "valid" window leaves no output along a known spatial axis (Keras's "Computed output
    size would be zero or negative"; without it the layer returns an empty tensor)."""
    if padding != "valid":
        return
    spatial = shape[2:] if data_format == "channels_first" else shape[1:-1]
    out = []
    for size, k, s, d in zip(spatial, window, strides, dilation_rate):
        if size is None:
            return
        out.append((int(size) - d * (k - 1) - 1) // s + 1)
    if any(o <= 0 for o in out):
        raise layer.error(
            f"Computed output size would be zero or negative. Received `inputs shape={tuple(shape)}`, "
            f"`{what}={tuple(window)}`, `dilation_rate={tuple(dilation_rate)}`, `strides={tuple(strides)}`, "
            f"`padding=valid` (output spatial size {tuple(out)}).")


def check_filters(layer, filters):
    """`filters` as a positive int (a clear error naming the layer otherwise)."""
    if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters <= 0:
        raise layer.error(f"expected `filters` to be a positive int, got {filters!r}.")
    return int(filters)


class ConvWindow:
    """Mixin for a layer sliding a window over `rank` spatial axes (every convolution, ConvLSTM's cell):
    Keras's `kernel_size`, `strides`, `padding`, `data_format`, `dilation_rate`, checked and serialized once,
    and what they imply (channel axis, input rank, a bias added along the channels)."""

    rank = 2
    paddings = ("valid", "same")
    # the error for strides > 1 with dilation_rate > 1 (Keras's wording differs per layer); None: not checked
    strided_dilation = "`strides > 1` not supported in conjunction with `dilation_rate > 1`. Received"

    def set_window_args(self, kernel_size, strides, padding, data_format, dilation_rate):
        n = self.rank
        self.kernel_size = normalize_positive_tuple(kernel_size, n, "kernel_size", self)
        self.strides = normalize_positive_tuple(strides, n, "strides", self)
        padding = padding.lower() if isinstance(padding, str) else padding
        if padding not in self.paddings:
            raise self.error(f"expected padding in {self.paddings}, got {padding!r}.")
        self.padding = padding
        self.data_format = data_format or backend.image_data_format()
        if self.data_format not in ("channels_last", "channels_first"):
            raise self.error(f"expected data_format 'channels_last' or 'channels_first', got {data_format!r}.")
        self.dilation_rate = normalize_positive_tuple(dilation_rate, n, "dilation_rate", self)
        if self.strided_dilation and max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise self.error(f"{self.strided_dilation}: strides={self.strides} and dilation_rate={self.dilation_rate}")

    def window_config(self):
        return {"kernel_size": self.kernel_size, "strides": self.strides, "padding": self.padding,
                "data_format": self.data_format, "dilation_rate": self.dilation_rate}

    def _channels(self, shape):
        return shape[1] if self.data_format == "channels_first" else shape[-1]

    def check_window_input(self, x, what="input", output_size=True):
        """`x` of rank `rank + 2` in the layer's data format; with `output_size`, a "valid" window that leaves
        no output raises too."""
        where = "(batch, channels, *spatial)" if self.data_format == "channels_first" else "(batch, *spatial, channels)"
        expect_rank(self, x, self.rank + 2, f"{what} {where}")
        if output_size:
            check_output_size(self, tuple(x.shape), self.kernel_size, self.strides, self.padding, self.dilation_rate,
                              self.data_format)

    def add_bias(self, y, bias):
        """`y + bias` with the (channels,) bias on the channel axis."""
        if self.data_format == "channels_first":
            bias = ops.reshape(bias, (1, bias.shape[0]) + (1,) * self.rank)
        return ops.add(y, bias)


class ConvBase(ConvWindow, KernelBias, Layer):
    """What every N-D convolution shares (`rank` is set by the 1D/2D/3D classes): Keras's window arguments,
    `data_format`, the kernel/bias arguments, the bias add and the config."""

    def set_window(self, filters, kernel_size, strides, padding, data_format, dilation_rate):
        self.filters = check_filters(self, filters)
        self.set_window_args(kernel_size, strides, padding, data_format, dilation_rate)

    def check_input(self, x):
        self.check_window_input(x, output_size=False)

    def build_kernel_bias(self, rng, kernel_shape):
        k1, k2 = frandom.split_key(rng, 2)
        params = {"kernel": self.kernel_initializer(kernel_shape, self.variable_dtype, key=k1)}
        if self.use_bias:
            params["bias"] = self.bias_initializer((self.filters,), self.variable_dtype, key=k2)
        return Variables(params, {})

    def bias_activation(self, variables, y):
        if self.use_bias:
            y = self.add_bias(y, variables.params["bias"])
        return self.activation(y)

    def get_config(self):
        return super().get_config() | {"filters": self.filters} | self.window_config() | self.kernel_bias_config()


class Conv(ConvBase):
    """N-D convolution; `rank` is set by Conv1D/Conv2D/Conv3D.

    inputs: (batch, *spatial, in) -> (batch, *new_spatial, filters) for channels_last
    (channels_first: (batch, in, *spatial)). Conv1D also takes padding="causal".
    """

    # Math methods a facade subclass may override, as in Keras (`class MyConv(layers.Conv2D)` with its own
    # `convolution_op`): its nn layer then calls the override (see fkeras/layers/wrapped.py).
    hooks = ("convolution_op",)

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, activity_regularizer=activity_regularizer,
                         **kwargs)
        self.paddings = ("valid", "same", "causal") if self.rank == 1 else ("valid", "same")
        self.set_window(filters, kernel_size, strides, padding, data_format, dilation_rate)
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups <= 0 or filters % groups:
            raise self.error(f"expected `groups` as a positive int dividing filters ({filters}), got {groups!r}.")
        self.groups = int(groups)
        self.set_kernel_bias(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                             bias_regularizer, kernel_constraint, bias_constraint)

    def check_input(self, x):
        self.check_window_input(x)

    def build(self, rng, spec):
        in_ch = self._channels(spec.shape)
        if in_ch % self.groups:
            raise self.error(f"input channels ({in_ch}) must be divisible by groups ({self.groups}).")
        return self.build_kernel_bias(rng, self.kernel_size + (in_ch // self.groups, self.filters))

    def call(self, variables, x, training=False, rng=None):
        kernel = variables.params["kernel"]
        if self._channels(x.shape) != kernel.shape[-2] * self.groups:
            raise self.error(
                f"expected {kernel.shape[-2] * self.groups} input channels, got shape {tuple(x.shape)}."
            )
        if self.padding == "causal":
            left = self.dilation_rate[0] * (self.kernel_size[0] - 1)
            pads = [(0, 0), (0, 0), (left, 0)] if self.data_format == "channels_first" else [(0, 0), (left, 0), (0, 0)]
            x = ops.pad(x, pads)
        return self.bias_activation(variables, self.convolution_op(x, kernel))

    def convolution_op(self, inputs, kernel):
        """The convolution of `inputs` with `kernel` (*window, in // groups, filters), before bias and
        activation (Keras's hook of the same name). "causal" inputs arrive already padded (run as "valid")."""
        padding = "valid" if self.padding == "causal" else self.padding
        return ops.conv(inputs, kernel, strides=self.strides, padding=padding, data_format=self.data_format,
                        dilation_rate=self.dilation_rate)

    def get_config(self):
        return super().get_config() | {"groups": self.groups}


class Conv1D(Conv):
    """1-D convolution: (batch, steps, in) -> (batch, new_steps, filters)."""

    rank = 1


class Conv2D(Conv):
    """2-D convolution: (batch, rows, cols, in) -> (batch, new_rows, new_cols, filters)."""

    rank = 2


class Conv3D(Conv):
    """3-D convolution: (batch, d1, d2, d3, in) -> (batch, n1, n2, n3, filters)."""

    rank = 3


Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D


class _DepthwiseBase(ConvWindow, Layer):
    """Shared arguments of depthwise and separable convolutions."""

    strided_dilation = None  # Keras's depthwise and separable convolutions accept both

    def _setup(self, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier, activation,
               use_bias):
        self.set_window_args(kernel_size, strides, padding, data_format, dilation_rate)
        if isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, int) or depth_multiplier <= 0:
            raise self.error(f"expected `depth_multiplier` to be a positive int, got {depth_multiplier!r}.")
        self.depth_multiplier = depth_multiplier
        self.activation = self.lookup(activations.get, activation, "activation")
        self.use_bias = bool(use_bias)

    def check_input(self, x):
        self.check_window_input(x)

    def _depthwise(self, x, kernel):
        if self._channels(x.shape) != kernel.shape[-2]:
            raise self.error(f"expected {kernel.shape[-2]} input channels, got shape {tuple(x.shape)}.")
        return ops.depthwise_conv(x, kernel, strides=self.strides, padding=self.padding,
                                  data_format=self.data_format, dilation_rate=self.dilation_rate)

    def _bias_act(self, y, variables):
        if self.use_bias:
            y = self.add_bias(y, variables.params["bias"])
        return self.activation(y)

    def _common_config(self, kernels, **extra):
        """Keras's config of a depthwise/separable convolution whose kernels are `kernels`
        (`depthwise`, `pointwise`) beside the bias; `extra` goes in before the weights' arguments."""
        return {"depth_multiplier": self.depth_multiplier} | self.window_config() | {
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
        } | extra | weight_args_config(self, kernels + ("bias",), activity="activity_regularizer")


class DepthwiseConv(_DepthwiseBase):
    """Depthwise convolution: each input channel convolved with its own `depth_multiplier` filters.

    kernel: (*window, in, depth_multiplier); (batch, *spatial, in) -> (batch, *new, in * depth_multiplier)."""

    weight_regularizers = {"kernel": "depthwise_regularizer", "bias": "bias_regularizer"}
    weight_constraints = {"kernel": "depthwise_constraint", "bias": "bias_constraint"}

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, name=None, dtype=None,
                 trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, activity_regularizer=activity_regularizer,
                         **kwargs)
        self._setup(kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier, activation,
                    use_bias)
        set_weight_args(self, ("depthwise", "bias"), depthwise_initializer, bias_initializer, depthwise_regularizer,
                        bias_regularizer, depthwise_constraint, bias_constraint)

    def build(self, rng, spec):
        in_ch = self._channels(spec.shape)
        k1, k2 = frandom.split_key(rng, 2)
        shape = self.kernel_size + (in_ch, self.depth_multiplier)
        params = {"kernel": self.depthwise_initializer(shape, self.variable_dtype, key=k1)}
        if self.use_bias:
            params["bias"] = self.bias_initializer((in_ch * self.depth_multiplier,), self.variable_dtype, key=k2)
        return Variables(params, {})

    def call(self, variables, x, training=False, rng=None):
        return self._bias_act(self._depthwise(x, variables.params["kernel"]), variables)

    def get_config(self):
        return super().get_config() | self._common_config(("depthwise",))


class SeparableConv(_DepthwiseBase):
    """Depthwise convolution followed by a 1x1 (pointwise) convolution to `filters` channels.

    depthwise_kernel: (*window, in, depth_multiplier); pointwise_kernel: (1, ..., in * depth_multiplier, filters)."""

    weight_regularizers = {"depthwise_kernel": "depthwise_regularizer", "pointwise_kernel": "pointwise_regularizer",
                           "bias": "bias_regularizer"}
    weight_constraints = {"depthwise_kernel": "depthwise_constraint", "pointwise_kernel": "pointwise_constraint",
                          "bias": "bias_constraint"}

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, name=None, dtype=None,
                 trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, activity_regularizer=activity_regularizer,
                         **kwargs)
        self.filters = check_filters(self, filters)
        self._setup(kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier, activation,
                    use_bias)
        set_weight_args(self, ("depthwise", "pointwise", "bias"), depthwise_initializer, pointwise_initializer,
                        bias_initializer, depthwise_regularizer, pointwise_regularizer, bias_regularizer,
                        depthwise_constraint, pointwise_constraint, bias_constraint)

    def build(self, rng, spec):
        in_ch = self._channels(spec.shape)
        k1, k2, k3 = frandom.split_key(rng, 3)
        dt = self.variable_dtype
        params = {
            "depthwise_kernel": self.depthwise_initializer(self.kernel_size + (in_ch, self.depth_multiplier), dt,
                                                           key=k1),
            "pointwise_kernel": self.pointwise_initializer((1,) * self.rank + (in_ch * self.depth_multiplier,
                                                                               self.filters), dt, key=k2),
        }
        if self.use_bias:
            params["bias"] = self.bias_initializer((self.filters,), dt, key=k3)
        return Variables(params, {})

    def call(self, variables, x, training=False, rng=None):
        y = self._depthwise(x, variables.params["depthwise_kernel"])
        y = ops.conv(y, variables.params["pointwise_kernel"], strides=1, padding="valid", data_format=self.data_format)
        return self._bias_act(y, variables)

    def get_config(self):
        return super().get_config() | self._common_config(("depthwise", "pointwise"), filters=self.filters)


class DepthwiseConv1D(DepthwiseConv):
    rank = 1


class DepthwiseConv2D(DepthwiseConv):
    rank = 2


class SeparableConv1D(SeparableConv):
    rank = 1


class SeparableConv2D(SeparableConv):
    rank = 2


SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
