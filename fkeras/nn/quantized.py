"""Keras 3.15's quantized layer math, once for the layers that quantize (Dense, EinsumDense, Embedding).

A quantized layer is the same nn layer with a quantized dtype policy: its `build` makes Keras's quantized weights
and its `call` runs the functions here. Modes:

- "int8": int8 kernel, one scale per output channel; inputs quantized per row on the fly (the config's
  activation quantizer) and an exact int32 contraction, or weight-only.
- "int4": int4 values packed two per byte along the kernel's last (output) axis, per output channel
  (`kernel_scale` (units,)) or per group of `block_size` input rows with zero points (`kernel_scale`,
  `kernel_zero` (n_groups, units), `g_idx` (in,) the group of each row).
- "float8": float kernel trained through fp8 quantize-dequantize with delayed scaling: per tensor `*_scale` ()
  and `*_amax_history` (history_length,) for inputs, kernel and output gradients. These are trainable weights
  whose gradient is their next value (Keras's `overwrite_with_gradient`): `FLOAT8_META` names them.

A contraction is described by `Contraction`: how inputs meet the kernel (matmul for Dense, an einsum for
EinsumDense), which input axes a per-row input scale reduces, and how scales are laid out against the output.
"""

from __future__ import annotations

import math
import re
import string
from typing import NamedTuple

import jax
import ml_dtypes
import numpy as np

from fkeras import backend, ops
from fkeras.nn import awq, dtype_policies, gptq, quantizers
from fkeras.nn.base import Variables, cast_floats

INT4_RANGE = (-8, 7)
FLOAT8_META = ("inputs_scale", "inputs_amax_history", "kernel_scale", "kernel_amax_history",
               "outputs_grad_scale", "outputs_grad_amax_history")
# Keras's `.keras` order of a quantized kernel layer's weights per mode (`variable_serialization_spec`)
KERNEL_SAVE_ORDER = {
    "int8": ("kernel", "bias", "kernel_scale"),
    "int4": ("kernel", "bias", "kernel_scale", "kernel_zero", "g_idx"),
    "float8": ("kernel", "bias") + FLOAT8_META,
    "gptq": ("bias", "kernel", "kernel_scale", "kernel_zero", "g_idx"),
    "awq": ("bias", "kernel", "kernel_scale", "kernel_zero", "awq_scales", "g_idx"),
}
# EinsumDense names its GPTQ/AWQ zero points "zero_point"
EINSUM_SAVE_ORDER = KERNEL_SAVE_ORDER | {
    mode: tuple("zero_point" if n == "kernel_zero" else n for n in KERNEL_SAVE_ORDER[mode]) for mode in ("gptq", "awq")}


def _dtype(x):
    return backend.standardize_dtype(x.dtype)


# --- how a layer contracts inputs with its kernel ------------------------------------------------------------


class EinsumInfo(NamedTuple):
    """Keras's `_analyze_quantization_info` of an EinsumDense equation for inputs of a given rank."""

    input_reduced_axes: list
    kernel_reduced_axes: list
    input_transpose_axes: list
    kernel_transpose_axes: list
    input_expand_axes: list
    kernel_expand_axes: list
    input_squeeze_axes: list
    kernel_squeeze_axes: list
    custom_gradient_equation: str


def _full_specs(equation, ndim):
    """(input, kernel, output) letter specs with an ellipsis replaced by free letters, as Keras names them."""
    dot = re.sub(r"\.\.\.", "0", equation)
    for pattern, where in (("([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$", None),
                           ("0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)$", "left"),
                           ("([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0$", "right")):
        m = re.match(pattern, dot)
        if m is None:
            continue
        ins, ker, out = m.groups()
        if where is not None:
            free = sorted(set(string.ascii_letters) - set(ins) - set(ker) - set(out))
            for i in range(ndim - len(ins)):
                ins, out = (free[i] + ins, free[i] + out) if where == "left" else (ins + free[i], out + free[i])
        return ins, ker, out
    raise ValueError(f"Invalid einsum equation '{equation}'. Equations must be in the form [X],[Y]->[Z], "
                     "...[X],[Y]->...[Z], or [X]...,[Y]->[Z]....")


def einsum_info(equation, ndim) -> EinsumInfo:
    """Which axes Keras's int8 EinsumDense reduces when it quantizes inputs and kernel, and how it lays the
    kept-dims scales out against the output (transpose, then expand, then squeeze)."""
    ins, ker, out = _full_specs(equation, ndim)
    in_red = [i for i, c in enumerate(ins) if c not in out]
    k_red = [i for i, c in enumerate(ker) if c not in out]
    # Keras reuses one loop variable across these steps: where a reduced axis finds no free output slot it is
    # inserted where the previous one was (first: the output position of the kernel's last letter).
    slot = out.find(ker[-1]) if ker else (out.find(ins[-1]) if ins else -1)
    in_exp = [i for i, c in enumerate(out) if c not in ins]
    k_exp = [i for i, c in enumerate(out) if c not in ker]
    in_tr = [ins.find(c) for c in out if c in ins]
    k_tr = [ker.find(c) for c in out if c in ker]
    in_sq, k_sq = [], []
    for reduced, expand, transpose, squeeze in ((in_red, in_exp, in_tr, in_sq), (k_red, k_exp, k_tr, k_sq)):
        for axis in reduced:
            if expand:
                slot = expand.pop(0)
            else:
                squeeze.append(axis)
            transpose.insert(slot, axis)
    return EinsumInfo(in_red, k_red, in_tr, k_tr, in_exp, k_exp, in_sq, k_sq, f"{out},{ker}->{ins}")


class Contraction:
    """Dense's contraction: `inputs (..., in) @ kernel (in, units)`; inputs quantized per row (axis -1)."""

    input_axis = -1

    def forward(self, x, kernel):
        return ops.matmul(x, kernel)

    def backward(self, upstream, float_kernel):
        return ops.matmul(upstream, ops.transpose(float_kernel))

    def input_scale(self, scale):
        return scale

    def kernel_scale_for_dequant(self, scale):
        return scale

    def reshape_kernel(self, flat_kernel):
        return flat_kernel


class EinsumContraction(Contraction):
    """EinsumDense's contraction: `einsum(equation, inputs, kernel)` for inputs of rank `ndim`."""

    def __init__(self, equation, ndim, kernel_shape):
        self.equation = equation
        self.info = einsum_info(equation, ndim)
        self.kernel_shape = tuple(kernel_shape)
        self.input_axis = tuple(self.info.input_reduced_axes)

    def forward(self, x, kernel):
        return ops.einsum(self.equation, x, kernel)

    def backward(self, upstream, float_kernel):
        return ops.einsum(self.info.custom_gradient_equation, upstream, float_kernel)

    def input_scale(self, scale):
        info = self.info
        return _layout(scale, info.input_transpose_axes, info.input_expand_axes, info.input_squeeze_axes)

    def kernel_scale(self, scale):
        """A kept-dims kernel scale laid out against the output (Keras's `_adjust_scale_for_quant`)."""
        info = self.info
        return _layout(scale, info.kernel_transpose_axes, info.kernel_expand_axes, info.kernel_squeeze_axes)

    def kernel_scale_for_dequant(self, scale):
        info = self.info
        if info.kernel_squeeze_axes:
            scale = ops.expand_dims(scale, axis=info.kernel_squeeze_axes)
        if info.kernel_expand_axes:
            scale = ops.squeeze(scale, axis=info.kernel_expand_axes)
        if info.kernel_transpose_axes:
            order = sorted(range(len(info.kernel_transpose_axes)), key=info.kernel_transpose_axes.__getitem__)
            scale = ops.transpose(scale, axes=order)
        return scale

    def kernel_scale_shape(self):
        """The int8 `kernel_scale` shape (Keras's `_get_kernel_scale_shape` per channel)."""
        info = self.info
        shape = np.array(self.kernel_shape)
        shape[info.kernel_reduced_axes] = 1
        shape = shape[info.kernel_transpose_axes].tolist()
        for a in sorted(info.kernel_expand_axes):
            shape.insert(a, 1)
        for a in sorted(info.kernel_squeeze_axes, reverse=True):
            shape.pop(a)
        return tuple(int(d) for d in shape)

    def rows_columns(self):
        """(rows, columns) of the kernel flattened for int4: the reduced axes' product and the rest's."""
        red = self.info.kernel_reduced_axes
        rows = math.prod(d for i, d in enumerate(self.kernel_shape) if i in red)
        return rows, math.prod(d for i, d in enumerate(self.kernel_shape) if i not in red)

    def reshape_kernel(self, flat_kernel):
        return ops.reshape(flat_kernel, self.kernel_shape)


def _layout(scale, transpose, expand, squeeze):
    if transpose:
        scale = ops.transpose(scale, transpose)
    if expand:
        scale = ops.expand_dims(scale, axis=expand)
    if squeeze:
        scale = ops.squeeze(scale, axis=squeeze)
    return scale


# --- weights ------------------------------------------------------------------------------------------------


def int4_layout(rows, columns, block_size, variable_dtype):
    """The zero-initialized int4 weights of a `(rows, columns)` kernel: packed kernel, scale and, grouped,
    zero points and the group index of each row (as Keras's `_int4_build` makes them)."""
    grouped = block_size is not None and block_size > 0
    scale_shape = (math.ceil(rows / block_size), columns) if grouped else (columns,)
    state = {"kernel": ops.zeros((rows, (columns + 1) // 2), "int8"),
             "kernel_scale": ops.ones(scale_shape, variable_dtype)}
    if grouped:
        state["kernel_zero"] = ops.zeros(scale_shape, "int8")
        state["g_idx"] = ops.floor_divide(ops.arange(rows, dtype="float32"), block_size)
    return state


def quantize_int4(flat_kernel, block_size, weight_quantizer=None):
    """A `(rows, columns)` float kernel as int4 weights: per column abs-max in [-8, 7] (`weight_quantizer`, by
    default `AbsMaxQuantizer(axis=0, value_range=(-8, 7))`), or per group of `block_size` rows with zero points;
    packed along the columns. Returns `(packed, scale, zero or None)`."""
    if block_size is not None and block_size > 0:
        q, scale, zero = quantizers.abs_max_quantize_grouped_with_zero_point(flat_kernel, block_size=block_size,
                                                                             to_numpy=True)
    else:
        quantizer = weight_quantizer or quantizers.AbsMaxQuantizer(axis=0, value_range=INT4_RANGE,
                                                                   output_dtype="int8")
        q, scale = quantizer(flat_kernel, to_numpy=True)
        scale, zero = ops.squeeze(scale, axis=0), None
    packed, _, _ = quantizers.pack_int4(q, axis=-1)
    return packed, scale, zero


def float8_layout(amax_history_length):
    """Keras's float8 meta weights: scales 1, histories 0 (float32 whatever the policy)."""
    out = {}
    for name in FLOAT8_META:
        shape = (amax_history_length,) if name.endswith("history") else ()
        out[name] = (ops.zeros if name.endswith("history") else ops.ones)(shape, "float32")
    return out


# --- calls --------------------------------------------------------------------------------------------------


def int8_call(c: Contraction, x, kernel, kernel_scale, compute_dtype, inputs_quantizer):
    """Keras's int8 contraction: inputs quantized by `inputs_quantizer` (over `c.input_axis`) and an exact
    int32 contraction divided by both scales, or (None) float inputs against the int8 kernel. The gradient
    reaches the inputs only, through the dequantized kernel."""

    @ops.custom_gradient
    def _call(x, k, k_scale):
        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            float_kernel = ops.divide(ops.cast(k, compute_dtype), c.kernel_scale_for_dequant(k_scale))
            return c.backward(upstream, float_kernel), None, None

        if inputs_quantizer:
            xq, x_scale = inputs_quantizer(x, axis=c.input_axis)
            y = ops.cast(c.forward(xq, k), compute_dtype)
            return ops.divide(y, ops.multiply(c.input_scale(x_scale), k_scale)), grad
        if isinstance(c, EinsumContraction) and ops.framework_of(x) == "torch":  # Keras's torch path
            float_kernel = ops.divide(ops.cast(k, compute_dtype), c.kernel_scale_for_dequant(k_scale))
            return c.forward(x, float_kernel), grad
        y = ops.cast(c.forward(x, ops.cast(k, _dtype(x))), compute_dtype)
        return ops.divide(y, k_scale), grad

    return _call(x, kernel, kernel_scale)


def int4_call(c: Contraction, x, state, columns, compute_dtype, inputs_quantizer):
    """Keras's int4 contraction. Per channel: Dense contracts quantized inputs with the int8 values exactly
    (then divides by both scales) and float inputs with them directly; EinsumDense contracts with the
    dequantized kernel. Grouped: inputs against the dequantized kernel (weight-only)."""
    packed, k_scale = state["kernel"], state["kernel_scale"]
    dense = not isinstance(c, EinsumContraction)
    if "kernel_zero" not in state:

        @ops.custom_gradient
        def _per_channel(x, k, k_scale):
            unpacked = quantizers.unpack_int4(k, columns, axis=-1)

            def dequantized():
                return c.reshape_kernel(ops.divide(ops.cast(unpacked, compute_dtype), k_scale))

            def grad(*args, upstream=None):
                if upstream is None:
                    (upstream,) = args
                return c.backward(upstream, dequantized()), None, None

            if dense:
                scale = k_scale
                if inputs_quantizer:
                    x, x_scale = inputs_quantizer(x, axis=-1)
                    scale = ops.multiply(scale, x_scale)
                    y = c.forward(x, unpacked)
                else:
                    y = c.forward(x, ops.cast(unpacked, _dtype(x)))
                return ops.divide(ops.cast(y, compute_dtype), scale), grad
            if inputs_quantizer:
                xq, x_scale = inputs_quantizer(x, axis=c.input_axis)
                xq = ops.cast(xq, compute_dtype)
                return ops.divide(ops.cast(c.forward(xq, dequantized()), compute_dtype), c.input_scale(x_scale)), grad
            return c.forward(x, dequantized()), grad

        return _per_channel(x, packed, k_scale)

    @ops.custom_gradient
    def _grouped(x, k, k_scale, k_zero, g_idx):
        unpacked = quantizers.unpack_int4(k, columns, axis=-1)
        float_kernel = quantizers.dequantize_with_sz_map(unpacked, k_scale, k_zero, g_idx, group_axis=0)
        float_kernel = c.reshape_kernel(ops.cast(float_kernel, compute_dtype))

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return c.backward(upstream, float_kernel), None, None, None, None

        return c.forward(x, float_kernel), grad

    return _grouped(x, packed, k_scale, state["kernel_zero"], state["g_idx"])


def float8_call(c: Contraction, x, kernel, meta, compute_dtype, training):
    """Keras's float8 contraction: inputs and kernel quantize-dequantized through float8_e4m3fn with their
    scales, the output gradient through float8_e5m2. Training, the gradient of each scale/history is its
    delayed-scaling update (the next value, not a direction)."""
    e4m3 = float(ml_dtypes.finfo("float8_e4m3fn").max)
    e5m2 = float(ml_dtypes.finfo("float8_e5m2").max)

    @ops.custom_gradient
    def _qdq(value, scale, history):
        if training:
            new_scale = quantizers.compute_float8_scale(ops.max(history, axis=0), scale, ops.cast(e4m3, "float32"))
            new_history = quantizers.compute_float8_amax_history(value, history)
        else:
            new_scale = new_history = None
        out = quantizers.quantize_and_dequantize(value, scale, "float8_e4m3fn", compute_dtype)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return upstream, new_scale, new_history

        return out, grad

    @ops.custom_gradient
    def _qdq_grad(value, scale, history):
        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            new_scale = quantizers.compute_float8_scale(ops.max(history, axis=0), scale, ops.cast(e5m2, "float32"))
            out = quantizers.quantize_and_dequantize(upstream, scale, "float8_e5m2", compute_dtype)
            return out, new_scale, quantizers.compute_float8_amax_history(upstream, history)

        return value, grad

    y = c.forward(_qdq(x, meta["inputs_scale"], meta["inputs_amax_history"]),
                  _qdq(kernel, meta["kernel_scale"], meta["kernel_amax_history"]))
    return _qdq_grad(y, meta["outputs_grad_scale"], meta["outputs_grad_amax_history"])


def _zero_named(layer, state):
    """`state` with the zero points under the layer's Keras weight name (EinsumDense: "zero_point")."""
    name = getattr(layer, "calibrated_zero_name", "kernel_zero")
    return {(name if k == "kernel_zero" else k): v for k, v in state.items()}


def calibrated_layout(layer, kernel_shape):
    """The zero-initialized weights of a GPTQ/AWQ layer (its policy gives the bits and group size)."""
    policy = layer.dtype_policy
    if policy.quantization_mode == "awq":
        return _zero_named(layer, awq.layout(kernel_shape, policy.group_size, layer.variable_dtype))
    return _zero_named(layer, gptq.layout(kernel_shape, policy.weight_bits, policy.group_size, layer.variable_dtype))


def calibrated_call(c: Contraction, x, state, kernel_shape, weight_bits, compute_dtype):
    """Keras's GPTQ/AWQ contraction: the codes dequantized per group (`gptq.dequantize`, AWQ scales divided
    out) to a float kernel of `kernel_shape`, contracted with the inputs (weight-only)."""
    return c.forward(x, gptq.dequantize(state, kernel_shape, weight_bits, compute_dtype))


def calibrated_variables(layer, variables, mode, config, calibration):
    """Float variables of a Dense/EinsumDense as its GPTQ/AWQ weights, from `calibration` (the layer's
    `gptq.HessianStats` or `awq.ActivationStats` of a model's calibration run)."""
    if calibration is None:
        raise NotImplementedError(f"Quantizing layer '{layer.name}' to {mode!r} needs calibration data: call "
                                  f"`model.quantize({mode!r}, config=...)` on the model holding it.")
    params, state = dict(variables.params), dict(variables.state)
    kernel = params.pop("kernel")
    if mode == "gptq":
        new = gptq.quantize_kernel(kernel, calibration.hessian, config, layer.variable_dtype)
    else:
        new = awq.quantize_kernel(kernel, calibration.magnitudes, config, layer.variable_dtype)
    return Variables(params, state | _zero_named(layer, new))


def float8_bias(bias, compute_dtype):
    """Keras's float8 layers round a float32 bias through bfloat16."""
    if compute_dtype == "float32":
        return ops.cast(ops.cast(bias, "bfloat16"), _dtype(bias))
    return bias


def _is_float8_params(p):
    return isinstance(p, dict) and all(k in p and not isinstance(p[k], dict) for k in FLOAT8_META)


def overwrite_with_gradient(params, grads):
    """`params` with each float8 meta leaf replaced by its gradient (its delayed-scaling update), the rule
    Keras's optimizers apply to `overwrite_with_gradient` variables; other leaves are left as they are.
    (With `grads` any tree of the same dicts: the float8 meta leaves taken from it.)"""
    def walk(p, g):
        if not isinstance(p, dict) or not isinstance(g, dict):
            return p
        float8 = _is_float8_params(p)  # a float8 layer's own params
        return {k: (g[k] if float8 and k in FLOAT8_META else walk(v, g.get(k))) for k, v in p.items()}

    return walk(params, grads)


def without_float8_meta(tree):
    """`tree` with each float8 meta leaf set to None: what an optimizer sees. Keras gives its
    `overwrite_with_gradient` variables no slots and no update; `overwrite_with_gradient` sets them."""
    def walk(p):
        if not isinstance(p, dict):
            return p
        float8 = _is_float8_params(p)
        return {k: (None if float8 and k in FLOAT8_META else walk(v)) for k, v in p.items()}

    return walk(tree)


def float8_meta_mask(tree):
    """A bool per leaf of `tree`: True for the float8 meta leaves."""
    def walk(p, meta):
        if isinstance(p, dict):
            float8 = _is_float8_params(p)
            return {k: walk(v, float8 and k in FLOAT8_META) for k, v in p.items()}
        return jax.tree.map(lambda _: meta, p)

    return walk(tree, False)


# --- the layer side: modes, configs, policies -----------------------------------------------------------------


def set_config(layer, quantization_config):
    """Hold `quantization_config` (a `QuantizationConfig`, its serialized dict, or None) on `layer`. Its mode is
    not checked here: Keras keeps whatever config a failed `quantize` left (an Embedding asked for float8 keeps
    `Float8QuantizationConfig()` and stays float); the dtype policy decides the layout (`mode_of`)."""
    config = quantization_config
    if isinstance(config, dict):
        config = quantizers.deserialize(config)
    if config is not None and not isinstance(config, quantizers.QuantizationConfig):
        raise layer.error(f"expected `quantization_config` to be a QuantizationConfig (or None), got {config!r}.")
    object.__setattr__(layer, "quantization_config", config)


def mode_of(layer):
    """The layer's quantization mode from its dtype policy (None when float), checked against the class's
    `quantization_modes`."""
    mode = layer.dtype_policy.quantization_mode
    modes = getattr(type(layer), "quantization_modes", ())
    if mode is not None and mode not in modes:
        raise layer.error(f"quantization mode {mode!r} is not supported for {type(layer).__name__}; expected one "
                          f"of {modes}.")
    return mode


def check_quantizable(layer, mode):
    """Raise before any change when `layer` cannot be quantized to `mode` (unsupported, or quantized already)."""
    modes = getattr(type(layer), "quantization_modes", ())
    if mode not in modes:
        raise layer.error(f"cannot quantize to {mode!r}; {type(layer).__name__} supports {modes}.")
    if layer.dtype_policy.quantization_mode is not None:
        raise layer.error(f"is already quantized ({layer.dtype_policy.name}); quantize a float layer.")


def inputs_quantizer(layer, mode):
    """The activation quantizer of an int8/int4 layer: its config's (possibly None), else Keras's default
    (`AbsMaxQuantizer()` for int8, weight-only for int4)."""
    default = quantizers.AbsMaxQuantizer() if mode == "int8" else None
    return quantizers.QuantizationConfig.activation_quantizer_or_default(layer.quantization_config, default)


def weight_quantizer(config, default=None):
    return quantizers.QuantizationConfig.weight_quantizer_or_default(config, default)


def block_size(layer, config=None):
    """The int4 block size (None: per channel) from `config`, else the layer's config and policy."""
    return quantizers.get_block_size_for_layer(layer, config if config is not None else layer.quantization_config)


def amax_history_length(layer):
    return getattr(layer.dtype_policy, "amax_history_length",
                   dtype_policies.QuantizedFloat8DTypePolicy.default_amax_history_length)


def policy_for(mode, config, block, source_name):
    """The dtype policy Keras gives a layer quantized to `mode` from the float policy `source_name`:
    "int8_from_float32", "int4/<block or -1>_from_float32", "float8_from_float32", "gptq/4/128_from_...", ..."""
    name = mode
    if mode in ("gptq", "awq"):
        name = config.dtype_policy_string()
    elif mode == "int4":
        name = f"int4/{-1 if block is None else block}"
    return dtype_policies.get(f"{name}_from_{source_name}")


def autocast(layer, variables):
    """A quantized layer's variables as Keras's autocast reads them under a mixed policy: float weights (scales,
    zero-point indices, float8 kernels) in the compute dtype, float8's scales and histories in float32.
    (Quantized layers set `cast_variables` False so the base class leaves this to them.)"""
    dtype = layer.compute_dtype
    if dtype == layer.variable_dtype:
        return variables
    params = {k: (v if k in FLOAT8_META else cast_floats(v, dtype)) for k, v in variables.params.items()}
    return Variables(params, cast_floats(variables.state, dtype))
