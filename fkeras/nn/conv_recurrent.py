"""Convolutional LSTMs: `ConvLSTMCell` (one step) and `ConvLSTM1D/2D/3D`, the RNN loop of
`fkeras.nn.recurrent` over it.

Shapes (channels_last): sequences (batch, timesteps, *spatial, channels) -> (batch, *out_spatial, filters),
or with `return_sequences` (batch, timesteps, *out_spatial, filters); channels_first puts the channels right
after the time axis. The input transformation is a convolution with `kernel` (*kernel_size, channels,
4 * filters) using `strides`/`padding`/`dilation_rate`; the recurrent one a stride-1 "same" convolution
with `recurrent_kernel` (*kernel_size, filters, 4 * filters). Gates i, f, c, o in that order along the
kernels' last axis, as Keras. Params: `{"conv_lstm_cell": {"kernel", "recurrent_kernel", "bias"}}`.
"""

from __future__ import annotations

import jax

from fkeras import ops
from fkeras.nn import activations
from fkeras.nn.base import Layer, Variables, expect_rank
from fkeras.nn.conv import ConvWindow, check_filters, check_output_size
from fkeras.nn.kernel_bias import RECURRENT_CONSTRAINTS, RECURRENT_REGULARIZERS, KernelBias
from fkeras.nn.recurrent import CellArgsRNN, _CellDropout, lstm_update, unit_forget_bias_initializer


def conv_output_spatial(spatial, kernel_size, strides, padding, dilation_rate):
    """Spatial output sizes of a convolution (Keras's rule for "valid" and "same")."""
    out = []
    for n, k, s, d in zip(spatial, kernel_size, strides, dilation_rate):
        if padding == "same":
            out.append((int(n) + s - 1) // s)
        else:
            out.append((int(n) - d * (k - 1) - 1) // s + 1)
    return tuple(out)


class ConvLSTMCell(ConvWindow, KernelBias, Layer, _CellDropout):
    """One ConvLSTM step of rank `rank` (1, 2 or 3).

    inputs (batch, *spatial, channels), states [h, c] (batch, *out_spatial, filters) each ->
    (h, [h, c]). `dropout`/`recurrent_dropout` draw four masks each (one per gate), once per batch."""

    weight_regularizers = RECURRENT_REGULARIZERS
    weight_constraints = RECURRENT_CONSTRAINTS
    strided_dilation = "Specifying `strides > 1` is not compatible with `dilation_rate > 1`. Received"

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        if rank not in (1, 2, 3) or isinstance(rank, bool):
            raise self.error(f"expected `rank` 1, 2 or 3, got {rank!r}.")
        self.rank = int(rank)
        self.filters = check_filters(self, filters)
        self.set_window_args(kernel_size, strides, padding, data_format, dilation_rate)
        self.set_kernel_bias(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                             bias_regularizer, kernel_constraint, bias_constraint)
        self.set_recurrent_kernel(recurrent_initializer, recurrent_regularizer, recurrent_constraint)
        self.recurrent_activation = self.lookup(activations.get, recurrent_activation, "recurrent_activation")
        self.unit_forget_bias = bool(unit_forget_bias)
        self.set_dropout(dropout, recurrent_dropout, seed)

    # the RNN loop reads these: two states (h, c) of `filters` channels each
    @property
    def state_size(self):
        return [self.filters, self.filters]

    @property
    def output_size(self):
        return self.filters

    @property
    def _channel_axis(self):
        return 1 if self.data_format == "channels_first" else -1

    def _spatial(self, shape):
        return tuple(shape[2:]) if self.data_format == "channels_first" else tuple(shape[1:-1])

    def state_shape(self, step_shape):
        """Shape of h and c for a step input of `step_shape` (batch, *spatial, channels)."""
        out = conv_output_spatial(self._spatial(step_shape), self.kernel_size, self.strides, self.padding,
                                  self.dilation_rate)
        if self.data_format == "channels_first":
            return (step_shape[0], self.filters) + out
        return (step_shape[0],) + out + (self.filters,)

    def get_initial_state(self, batch_size=None, step_shape=None):
        """Zero [h, c] for step inputs of `step_shape` (the spatial sizes are needed, not only the batch)."""
        if step_shape is None:
            raise self.error("the initial state of a ConvLSTM cell depends on the input's spatial shape: pass "
                             "`step_shape=(batch, *spatial, channels)`.")
        shape = self.state_shape(step_shape)
        if batch_size is not None:
            shape = (batch_size,) + shape[1:]
        return [ops.zeros(shape, dtype=self.compute_dtype), ops.zeros(shape, dtype=self.compute_dtype)]

    def check_input(self, x, states=None):
        self.check_window_input(x, "step input")

    def build(self, rng, spec, *rest):
        k1, k2, k3 = jax.random.split(rng, 3) if rng is not None else (None, None, None)
        f, dtype = self.filters, self.variable_dtype
        channels = spec.shape[self._channel_axis]
        params = {"kernel": self.kernel_initializer(self.kernel_size + (channels, 4 * f), dtype, key=k1),
                  "recurrent_kernel": self.recurrent_initializer(self.kernel_size + (f, 4 * f), dtype, key=k2)}
        if self.use_bias:
            init = unit_forget_bias_initializer(self.bias_initializer, f) if self.unit_forget_bias else \
                self.bias_initializer
            params["bias"] = init((4 * f,), dtype, key=k3)
        return Variables(params, {})

    def _gates(self, x, kernel, masks, **conv_kw):
        """Convolution of `x` with the 4-gate kernel; with per-gate masks, one convolution per gate."""
        if masks is None:
            return ops.conv(x, kernel, data_format=self.data_format, **conv_kw)
        f = self.filters
        return ops.concatenate([ops.conv(x * m, kernel[..., g * f:(g + 1) * f], data_format=self.data_format,
                                         **conv_kw) for g, m in enumerate(masks)], axis=self._channel_axis)

    def call(self, variables, inputs, states, training=False, rng=None):
        p, axis = variables.params, self._channel_axis
        h_tm1, c_tm1 = states[0], states[1]
        if inputs.shape[axis] != p["kernel"].shape[-2]:
            raise self.error(f"expected {p['kernel'].shape[-2]} input channels, got step shape {tuple(inputs.shape)}.")
        dp, rdp = self._masks(inputs, h_tm1, training, rng, 4)
        z = self._gates(inputs, p["kernel"], dp, strides=self.strides, padding=self.padding,
                        dilation_rate=self.dilation_rate)
        if self.use_bias:
            z = self.add_bias(z, p["bias"])
        z = z + self._gates(h_tm1, p["recurrent_kernel"], rdp, strides=1, padding="same")
        return lstm_update(self, z, c_tm1, axis)

    def _config(self):
        return {"filters": self.filters} | self.window_config() | self.recurrent_kernel_bias_config() | {
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "unit_forget_bias": self.unit_forget_bias,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }

    def get_config(self):
        return super().get_config() | {"rank": self.rank} | self._config()


_CELL_ARGS = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "activation",
              "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer", "bias_initializer",
              "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
              "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout", "seed")


class ConvLSTM(CellArgsRNN):
    """An RNN over a `ConvLSTMCell` named `conv_lstm_cell`; `rank` is set by ConvLSTM1D/2D/3D.

    With `return_state`: `(output, h, c)`. Keras's ConvLSTM arguments; the RNN's `unroll` and
    `zero_output_for_mask` pass through `**kwargs`."""

    rank = 2
    cell_args = _CELL_ARGS

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, **kwargs):
        args = locals()
        cell = ConvLSTMCell(self.rank, **{k: args[k] for k in _CELL_ARGS}, name="conv_lstm_cell",
                            dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, activity_regularizer=activity_regularizer,
                         **kwargs)

    def check_input(self, x, *rest):
        cell = self.cell
        where = "(batch, timesteps, channels, *spatial)" if cell.data_format == "channels_first" else \
            "(batch, timesteps, *spatial, channels)"
        expect_rank(self, x, self.rank + 3, f"input {where}")
        check_output_size(self, (x.shape[0],) + tuple(x.shape[2:]), cell.kernel_size, cell.strides, cell.padding,
                          cell.dilation_rate, cell.data_format)

    def _zero_states(self, shape):
        return self.cell.get_initial_state(step_shape=(shape[0],) + tuple(shape[2:]))

    def get_initial_state(self, batch_size, step_shape=None):
        """Zero [h, c]; ConvLSTM needs the step shape (batch, *spatial, channels) as well."""
        return self.cell.get_initial_state(batch_size=batch_size, step_shape=step_shape)


class ConvLSTM1D(ConvLSTM):
    """1-D convolutional LSTM: (batch, timesteps, steps, channels) -> (batch, new_steps, filters)."""

    rank = 1


class ConvLSTM2D(ConvLSTM):
    """2-D convolutional LSTM: (batch, timesteps, rows, cols, channels) -> (batch, new_rows, new_cols, filters)."""

    rank = 2


class ConvLSTM3D(ConvLSTM):
    """3-D convolutional LSTM: (batch, timesteps, d1, d2, d3, channels) -> (batch, n1, n2, n3, filters)."""

    rank = 3
