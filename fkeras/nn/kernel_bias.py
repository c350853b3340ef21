"""Keras's kernel/bias arguments, held and serialized once for every layer that has them (Dense, the
convolutions, EinsumDense, the RNN cells, ...): `activation`, `use_bias`, and the kernel's and bias's
initializer, regularizer and constraint; the recurrent cells add their `recurrent_kernel`'s
(`set_recurrent_kernel`, `RECURRENT_REGULARIZERS`/`RECURRENT_CONSTRAINTS`). Any weight's
`<weight>_initializer/_regularizer/_constraint` arguments go through `set_weight_args`/`weight_args_config`
(normalization's gamma/beta, PReLU's alpha, ...); `QuantizedKernel` is Dense's and EinsumDense's quantization."""

from __future__ import annotations

from fkeras import ops
from fkeras.nn import activations, constraints, initializers, quantized, quantizers, regularizers
from fkeras.nn.base import Variables

_FAMILIES = (("initializer", initializers), ("regularizer", regularizers), ("constraint", constraints))


def set_weight_args(layer, weights, *values, kinds=("initializer", "regularizer", "constraint")):
    """Resolve `<weight>_<kind>` arguments onto `layer` (attributes of the same names), for each kind then each
    of `weights`: `values` come in that order (`beta_initializer, gamma_initializer, beta_regularizer, ...`).
    An unknown name raises naming its argument."""
    if len(values) != len(weights) * len(kinds):
        raise TypeError(f"expected {len(weights) * len(kinds)} values for {weights} x {kinds}, got {len(values)}.")
    values = iter(values)
    for kind, family in _FAMILIES:
        if kind in kinds:
            for w in weights:
                setattr(layer, f"{w}_{kind}", layer.lookup(family.get, next(values), f"{w}_{kind}"))


def weight_args_config(layer, weights, kinds=("initializer", "regularizer", "constraint"), activity=None):
    """The serialized `<weight>_<kind>` entries in Keras's order (by kind, then weight); `activity` names the
    attribute whose value goes in as `activity_regularizer`, right after the regularizers."""
    config = {}
    for kind, family in _FAMILIES:
        if kind in kinds:
            config.update({f"{w}_{kind}": family.serialize(getattr(layer, f"{w}_{kind}")) for w in weights})
        if kind == "regularizer" and activity is not None:
            config["activity_regularizer"] = regularizers.serialize(getattr(layer, activity))
    return config


class KernelBias:
    """Mixin for an `nn.Layer` with a `kernel` and an optional `bias` param.

    `set_kernel_bias(...)` resolves the arguments (a clear error naming the argument for an unknown name);
    `kernel_bias_config()` gives their Keras config entries."""

    weight_regularizers = {"kernel": "kernel_regularizer", "bias": "bias_regularizer"}
    weight_constraints = {"kernel": "kernel_constraint", "bias": "bias_constraint"}

    def set_kernel_bias(self, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                        bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                        kernel_constraint=None, bias_constraint=None):
        self.activation = self.lookup(activations.get, activation, "activation")
        self.use_bias = bool(use_bias)
        set_weight_args(self, ("kernel", "bias"), kernel_initializer, bias_initializer, kernel_regularizer,
                        bias_regularizer, kernel_constraint, bias_constraint)

    def kernel_bias_config(self, activity_regularizer=True, use_bias=True):
        """The config entries; `activity_regularizer=False` leaves that key to the base config (Keras's Dense
        writes it only when set, its convolutions always); `use_bias=False` leaves out `use_bias` (EinsumDense
        has `bias_axes` instead)."""
        config = {"activation": activations.serialize(self.activation)}
        if use_bias:
            config["use_bias"] = self.use_bias
        return config | weight_args_config(self, ("kernel", "bias"),
                                           activity="activity_regularizer" if activity_regularizer else None)

    def set_recurrent_kernel(self, recurrent_initializer="orthogonal", recurrent_regularizer=None,
                             recurrent_constraint=None):
        """The recurrent kernel's arguments (RNN cells; with `RECURRENT_REGULARIZERS`/`_CONSTRAINTS`)."""
        set_weight_args(self, ("recurrent",), recurrent_initializer, recurrent_regularizer, recurrent_constraint)

    def recurrent_kernel_bias_config(self):
        """A recurrent cell's entries in Keras's order: activation, use_bias, then the initializers, the
        regularizers and the constraints, each for kernel, recurrent_kernel, bias (no activity_regularizer)."""
        return {"activation": activations.serialize(self.activation), "use_bias": self.use_bias} | \
            weight_args_config(self, ("kernel", "recurrent", "bias"))


class QuantizedKernel:
    """Mixin for Dense and EinsumDense: Keras's quantization of a `kernel` layer. `quantize_variables` checks the
    mode and config and lays out float8 (scale/history weights) and GPTQ/AWQ (from `calibration`) itself; the
    layer's `quantized_kernel` gives the int8/int4 weights. Quantized, the layer casts its own variables in
    `call` (`quantized_call_variables`), so the base `apply` leaves them."""

    quantization_modes = ("int8", "int4", "float8", "gptq", "awq")

    def quantize_variables(self, variables, mode="int8", config=None, input_spec=None, calibration=None):
        """This float layer's variables in the layout of the same layer quantized to `mode` with `config`
        (None: the mode's default config), as Keras's `quantize`; `input_spec` (the input shape) where the
        kernel's layout depends on it, `calibration` the statistics of `model.quantize`'s GPTQ/AWQ run."""
        quantized.check_quantizable(self, mode)
        config = quantizers.validate_and_resolve_config(mode, config)
        params, state = dict(variables.params), dict(variables.state)
        if mode == "float8":
            return Variables(params | quantized.float8_layout(quantized.amax_history_length(self)), state)
        if mode in ("gptq", "awq"):
            return quantized.calibrated_variables(self, variables, mode, config, calibration)
        state.update(self.quantized_kernel(params.pop("kernel"), mode, config, input_spec))
        return Variables(params, state)

    def int4_weights(self, rows, cols, block, packed, scale, zero):
        """Keras's int4 weights of a (rows, cols) kernel: `quantized.int4_layout` with the packed kernel, its
        scale and (grouped by `block` rows) its zero points."""
        weights = quantized.int4_layout(rows, cols, block, self.variable_dtype) | {
            "kernel": packed, "kernel_scale": ops.cast(scale, self.variable_dtype)}
        if zero is not None:
            weights["kernel_zero"] = zero
        return weights

    @property
    def cast_variables(self):
        return quantized.mode_of(self) is None

    def quantized_call_variables(self, variables):
        """`(mode, variables)` for `call`: a quantized layer's variables cast by `quantized.autocast`."""
        mode = quantized.mode_of(self)
        return mode, (variables if mode is None else quantized.autocast(self, variables))


RECURRENT_REGULARIZERS = {"kernel": "kernel_regularizer", "recurrent_kernel": "recurrent_regularizer",
                          "bias": "bias_regularizer"}
RECURRENT_CONSTRAINTS = {"kernel": "kernel_constraint", "recurrent_kernel": "recurrent_constraint",
                         "bias": "bias_constraint"}
