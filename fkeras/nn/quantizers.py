"""Quantizers with Keras 3.15's names and numbers: int8/int4 abs-max quantization, int4 packing, float8
scaling, fake quantization, and the quantization configs `model.quantize(...)` takes.

Pure functions over `fkeras.ops` (packing runs in NumPy, as Keras does, so the packed bytes are the same on
every framework). `abs_max_quantize(x, axis)` returns `(q, scale)` with `x ~= q / scale`; scales keep the
reduced axis (keepdims), so `scale.shape` broadcasts against `x.shape`.
"""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np

from fkeras import backend, ops
from fkeras.nn import dtype_policies, registration

_EPS = backend.epsilon()
QUANTIZATION_MODES = ("int8", "float8", "int4", "gptq", "awq")


def _dtype(x) -> str:
    return backend.standardize_dtype(x.dtype)


def _canonical_axis(axis, ndim):
    if isinstance(axis, (tuple, list)):
        return tuple(a % ndim for a in axis)
    return axis % ndim


# --- int8 / int4 --------------------------------------------------------------------------------------------


class Quantizer:
    """Base quantizer: `__call__(x)` returns a quantized form of `x` (identity here)."""

    def __init__(self, output_dtype="int8"):
        self.output_dtype = output_dtype

    def __call__(self, x):
        return x

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_config(self):
        raise NotImplementedError(f"{self} does not implement get_config()")


def abs_max_quantize(inputs, axis, value_range=(-127, 127), dtype="int8", epsilon=_EPS, to_numpy=False):
    """Symmetric quantization: `scale = value_range[1] / (max|x| over axis + epsilon)`,
    `q = clip(round(x * scale), *value_range)` cast to `dtype`. Returns `(q, scale)`, scale in x's dtype
    with the reduced axes kept. `to_numpy=True` computes on the host (saves device memory)."""
    if to_numpy:
        original = _dtype(inputs)
        x = ops.convert_to_numpy(inputs)
        ax = _canonical_axis(axis, x.ndim)
        scale = np.divide(value_range[1], np.add(np.max(np.abs(x), axis=ax, keepdims=True), epsilon))
        out = np.clip(np.round(np.multiply(x, scale)), value_range[0], value_range[1]).astype(dtype)
        return ops.convert_to_tensor(out), ops.convert_to_tensor(scale, dtype=original)
    x = ops.convert_to_tensor(inputs)
    scale = ops.divide(value_range[1], ops.add(ops.max(ops.abs(x), axis=axis, keepdims=True), epsilon))
    scale = ops.cast(scale, _dtype(x))
    out = ops.clip(ops.round(ops.multiply(x, scale)), value_range[0], value_range[1])
    return ops.cast(out, dtype), scale


def compute_quantization_parameters(x, *, bits, symmetric=False, per_channel=False, group_size=-1,
                                    compute_dtype="float32", epsilon=0.0, signed=False):
    """Scale and zero point of a `(out_features, in_features)` weight: per tensor, per channel (row) or per
    group of `group_size` input columns. Returns `(scale, zero, maxq)`, scale/zero `(out_features, n_groups)`
    (`n_groups` 1 unless grouped); zero int8 when `signed` (range [-2^(bits-1), 2^(bits-1)-1]) else uint8."""
    if x is None:
        raise ValueError("compute_quantization_parameters: the input tensor cannot be None.")
    if len(x.shape) < 2:
        raise ValueError(f"compute_quantization_parameters: expected a weight of rank >= 2, got shape {tuple(x.shape)}.")
    if int(np.prod(x.shape)) == 0:
        raise ValueError("compute_quantization_parameters: the input tensor cannot be empty.")
    out_features, in_features = int(x.shape[0]), int(x.shape[1])
    n_groups = (in_features + group_size - 1) // group_size if per_channel and group_size > 0 else 1
    if n_groups > 1:
        remainder = in_features % group_size
        if remainder:
            x = ops.pad(x, [[0, 0], [0, group_size - remainder]], constant_values=0.0)
        grouped = ops.reshape(x, [out_features, n_groups, group_size])
        mins, maxs = ops.min(grouped, axis=2), ops.max(grouped, axis=2)
    else:
        flat = ops.reshape(x, [out_features, -1] if per_channel else [1, -1])
        mins, maxs = ops.min(flat, axis=1), ops.max(flat, axis=1)
    if symmetric:
        max_abs = ops.maximum(ops.abs(mins), maxs)
        mins = ops.where(ops.less(mins, 0), ops.negative(max_abs), mins)
        maxs = max_abs
    same = ops.equal(mins, maxs)
    mins = ops.where(same, ops.subtract(mins, 1), mins)
    maxs = ops.where(same, ops.add(maxs, 1), maxs)
    maxq = ops.cast(2 ** bits - 1, compute_dtype)
    span = ops.subtract(maxs, mins)
    if epsilon > 0:
        span = ops.add(span, epsilon)
    scale = ops.divide(span, maxq)
    scale = ops.where(ops.less_equal(scale, 0), 1e-8, scale)
    if signed:
        qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        if symmetric:
            zero = ops.full_like(scale, (2 ** bits) / 2 + qmin)
        else:
            zero = ops.add(ops.round(ops.divide(ops.negative(mins), scale)), qmin)
        zero = ops.clip(zero, qmin, qmax)
    elif symmetric:
        zero = ops.full_like(scale, (2 ** bits) / 2)
    else:
        zero = ops.round(ops.divide(ops.negative(mins), scale))
    if n_groups == 1:
        if per_channel:
            scale, zero = ops.reshape(scale, [-1, 1]), ops.reshape(zero, [-1, 1])
        else:
            scale = ops.tile(ops.reshape(scale, (1, 1)), (out_features, 1))
            zero = ops.tile(ops.reshape(zero, (1, 1)), (out_features, 1))
    return scale, ops.cast(zero, "int8" if signed else "uint8"), maxq


def abs_max_quantize_grouped_with_zero_point(inputs, block_size, value_range=(-8, 7), dtype="int8",
                                             epsilon=_EPS, to_numpy=False):
    """Asymmetric quantization of a 2-D `(input_dim, output_dim)` tensor in groups of `block_size` rows.
    Returns `(q, scale, zero_point)`: q like inputs, scale/zero `(ceil(input_dim / block_size), output_dim)`."""
    if len(inputs.shape) != 2:
        raise ValueError(f"abs_max_quantize_grouped_with_zero_point: expected a 2-D (input_dim, output_dim) "
                         f"tensor, got shape {tuple(inputs.shape)}.")
    original = _dtype(inputs)
    qmin, qmax = value_range
    input_dim, output_dim = int(inputs.shape[0]), int(inputs.shape[1])
    n_groups = math.ceil(input_dim / block_size)
    padded = n_groups * block_size
    if to_numpy:
        x = ops.convert_to_numpy(inputs)
        if padded > input_dim:
            x = np.concatenate([x, np.zeros((padded - input_dim, output_dim), x.dtype)], axis=0)
        x = x.reshape(n_groups, block_size, output_dim)
        lo, hi = np.min(x, axis=1, keepdims=True), np.max(x, axis=1, keepdims=True)
        scale = np.divide(np.subtract(hi, lo) + epsilon, qmax - qmin)
        zero = np.clip(np.round(np.divide(-lo, scale)) + qmin, qmin, qmax)
        out = np.clip(np.round(np.divide(x, scale)) + zero, qmin, qmax).astype(dtype)
        out = out.reshape(padded, output_dim)[:input_dim, :]
        return (ops.convert_to_tensor(out), ops.convert_to_tensor(np.squeeze(scale, 1), dtype=original),
                ops.convert_to_tensor(np.squeeze(zero, 1).astype("int8")))
    x = ops.convert_to_tensor(inputs)
    bits = int(math.log2(qmax - qmin + 1))
    scale_t, zero_t, _ = compute_quantization_parameters(
        ops.transpose(x), bits=bits, symmetric=False, per_channel=True, group_size=block_size,
        compute_dtype=original, epsilon=epsilon, signed=True)
    scale, zero = ops.transpose(scale_t), ops.transpose(zero_t)
    if padded > input_dim:
        x = ops.concatenate([x, ops.zeros((padded - input_dim, output_dim), dtype=x.dtype)], axis=0)
    x = ops.reshape(x, (n_groups, block_size, output_dim))
    out = ops.add(ops.round(ops.divide(x, ops.expand_dims(scale, 1))), ops.expand_dims(zero, 1))
    out = ops.cast(ops.clip(out, qmin, qmax), dtype)
    return ops.reshape(out, (padded, output_dim))[:input_dim, :], scale, zero


class AbsMaxQuantizer(Quantizer):
    """`abs_max_quantize` as an object: `quantizer(x, axis=None)` -> `(q, scale)` (axis defaults to the
    constructor's, then -1)."""

    def __init__(self, axis=None, value_range=(-127, 127), epsilon=_EPS, output_dtype="int8"):
        Quantizer.__init__(self, output_dtype=output_dtype)
        if axis is not None:
            axis = tuple((axis,) if isinstance(axis, int) else axis)
        self.axis = axis
        self.value_range = value_range
        self.epsilon = epsilon
        if output_dtype == "int8" and (value_range[0] < -128 or value_range[1] > 127):
            raise ValueError("Quantizer with output_dtype='int8' requires value_range to be within the interval "
                             f"[-128, 127]. Received: value_range={value_range}")

    def __call__(self, x, axis=None, to_numpy=False):
        axis = self.axis if axis is None else axis
        axis = -1 if axis is None else axis
        return abs_max_quantize(x, axis, self.value_range, self.output_dtype, self.epsilon, to_numpy)

    def get_config(self):
        config = {"value_range": self.value_range, "epsilon": self.epsilon, "output_dtype": self.output_dtype}
        if self.axis is not None:
            config["axis"] = self.axis
        return config


def _adjust_and_nudge(min_range, max_range, num_bits, narrow_range):
    compute_dtype = backend.result_type(_dtype(min_range), "float32")
    min_range, max_range = ops.cast(min_range, compute_dtype), ops.cast(max_range, compute_dtype)
    quant_max = (1 << num_bits) - 1
    quant_min = 1 if narrow_range else 0
    diff = ops.subtract(max_range, min_range)
    scale = ops.divide(diff, quant_max - quant_min)
    inv_scale = ops.divide(quant_max - quant_min, diff)
    zero_point = ops.round(ops.clip(quant_min - ops.divide(min_range, scale), quant_min, quant_max))
    nudged_min = ops.multiply(ops.subtract(quant_min, zero_point), scale)
    nudged_max = ops.multiply(ops.subtract(quant_max, zero_point), scale)
    return nudged_min, nudged_max, scale, inv_scale


def fake_quant_with_min_max_vars(inputs, min_vals, max_vals, num_bits=8, narrow_range=False, axis=None):
    """Quantize `inputs` into [0 or 1, 2^num_bits - 1] over `[min_vals, max_vals]` (nudged so 0 is exact) and
    dequantize back; per tensor (`axis=None`) or per channel along `axis`. Straight-through gradient inside
    the range; clipped values send their gradient to `min_vals`/`max_vals` (trainable ranges)."""
    inputs, min_vals, max_vals = (ops.convert_to_tensor(t) for t in (inputs, min_vals, max_vals))
    num_bits = int(num_bits)
    if axis is not None:
        axis = axis % len(inputs.shape)

    @ops.custom_gradient
    def _fake_quant(x, min_val, max_val):
        dtype = _dtype(x)
        nudged_min, nudged_max, scale, inv_scale = _adjust_and_nudge(min_val, max_val, num_bits, narrow_range)
        quant_zero = ops.floor(ops.add(ops.multiply(-nudged_min, inv_scale), 0.5))
        shifted = ops.subtract(ops.clip(ops.cast(x, _dtype(nudged_min)), nudged_min, nudged_max), nudged_min)
        result = ops.multiply(ops.floor(ops.add(ops.subtract(ops.multiply(shifted, inv_scale), quant_zero), 0.5)),
                              scale)
        result = ops.cast(result, dtype)
        inside = ops.logical_and(ops.greater_equal(x, nudged_min), ops.less_equal(x, nudged_max))

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            axes = [i for i in range(len(x.shape)) if i != axis]

            def reduce(mask, like):
                g = ops.where(mask, upstream, 0.0)
                g = ops.sum(g, axis=axes) if axis is not None else ops.sum(g)
                return ops.reshape(g, ops.shape(like))

            return (ops.where(inside, upstream, 0.0), reduce(ops.less_equal(x, nudged_min), min_val),
                    reduce(ops.greater_equal(x, nudged_max), max_val))

        return result, grad

    return _fake_quant(inputs, min_vals, max_vals)


# --- float8 -------------------------------------------------------------------------------------------------


def compute_float8_scale(amax, scale, dtype_max, margin=0):
    """The next delayed-scaling factor: `amax / dtype_max * 2^margin` (kept as the old `scale` where `amax` is
    0 or not finite), following Transformer Engine's `update_fp8_metas`."""
    scale = ops.reciprocal(scale)
    sf = ops.divide(ops.divide(dtype_max, amax), 2 ** margin)
    sf = ops.where(amax > 0.0, sf, scale)
    sf = ops.where(ops.isfinite(amax), sf, scale)
    return ops.reciprocal(sf)


def compute_float8_amax_history(x, amax_history):
    """`amax_history` rolled one step left with `max|x|` written at index 0 (shape `(history_length,)`)."""
    amax_update = ops.cast(ops.max(ops.abs(x)), _dtype(amax_history))
    return ops.scatter_update(ops.roll(amax_history, shift=-1), [[0]], ops.reshape(amax_update, [1]))


def quantize_and_dequantize(inputs, scale, quantized_dtype, compute_dtype):
    """`inputs / scale`, clipped to the finite range of `quantized_dtype` ("float8_e4m3fn", ...), rounded by a
    cast to it, then cast back to `compute_dtype` and multiplied by `scale`."""
    qmax = ops.cast(float(ml_dtypes.finfo(quantized_dtype).max), compute_dtype)
    x = ops.divide(inputs, ops.cast(scale, compute_dtype))
    x = ops.clip(x, -qmax, qmax)
    if ops.framework_of(x) == "jax":
        x = ops.cast(ops.cast(x, quantized_dtype), compute_dtype)
    else:  # fkeras's torch/TF ops have no float8 dtypes: the same rounding, computed
        x = ops.cast(_round_to_float(ops.cast(x, "float32"), quantized_dtype), compute_dtype)
    return ops.multiply(x, ops.cast(scale, compute_dtype))


def _round_to_float(x, dtype):
    """float32 `x` (within the finite range of `dtype`) rounded to the nearest value of the small float `dtype`
    (ties to even), as a cast to it does: steps of 2^(e - mantissa bits) for `x` in [2^e, 2^(e+1)), and the
    subnormal step below the smallest normal."""
    info = ml_dtypes.finfo(dtype)
    min_exp = int(np.log2(float(info.smallest_normal)))
    mag = ops.maximum(ops.abs(x), float(info.smallest_normal))
    exponent = ops.floor(ops.log2(mag))
    # log2 may land a hair off an exact power of two: step the exponent back into [2^e, 2^(e+1))
    exponent = ops.where(ops.power(2.0, exponent) > mag, exponent - 1, exponent)
    exponent = ops.where(ops.power(2.0, exponent + 1) <= mag, exponent + 1, exponent)
    step = ops.power(2.0, ops.maximum(exponent, min_exp) - info.nmant)
    return ops.multiply(ops.round(ops.divide(x, step)), step)


# --- int4 packing -------------------------------------------------------------------------------------------


def pack_int4(arr, axis=0, dtype="int8"):
    """Pack int4 values (int8/uint8 in [-8, 7]) two per byte along `axis`: the first of each pair in the low
    nibble, the second in the high one (an odd length is padded with 0). Returns
    `(packed, packed_shape, orig_len)`; `packed` has `ceil(n / 2)` entries along `axis`."""
    if dtype not in ("int8", "uint8"):
        raise ValueError(f"Expected dtype to be 'int8' or 'uint8', but got '{dtype}'.")
    if _dtype(arr) != dtype:
        raise TypeError(f"Expected {dtype} tensor for packing, got {_dtype(arr)}.")
    a = ops.convert_to_numpy(arr)
    np_dtype = np.dtype(dtype)
    axis = axis % a.ndim
    a = np.moveaxis(a, axis, 0)
    n = a.shape[0]
    if n % 2:
        a = np.concatenate([a, np.zeros((1,) + a.shape[1:], a.dtype)], axis=0)
    mask = np.array(0x0F, np_dtype)
    low = np.bitwise_and(a[::2].astype(np_dtype), mask)
    high = np.bitwise_and(a[1::2].astype(np_dtype), mask)
    packed = np.bitwise_or(low, np.left_shift(high, np.array(4, np_dtype))).astype(np_dtype)
    packed = np.moveaxis(packed, 0, axis)
    return ops.convert_to_tensor(packed), tuple(packed.shape), n


def unpack_int4(packed, orig_len, axis=0, dtype="int8"):
    """Inverse of `pack_int4`: the int4 values (signed in [-8, 7] for dtype "int8", [0, 15] for "uint8")
    with `orig_len` entries along `axis`."""
    if dtype not in ("int8", "uint8"):
        raise ValueError(f"Expected dtype to be 'int8' or 'uint8', but got '{dtype}'.")
    if _dtype(packed) not in ("int8", "uint8"):
        raise TypeError(f"Expected int8 or uint8 tensor for unpacking, got {_dtype(packed)}.")
    rank = len(packed.shape)
    axis = axis % rank
    perm = [axis] + [i for i in range(rank) if i != axis]
    inv_perm = [perm.index(i) for i in range(rank)]
    t = ops.transpose(packed, perm) if axis else packed
    mask = ops.array(0x0F, dtype=_dtype(packed))
    low = ops.bitwise_and(t, mask)
    high = ops.bitwise_and(ops.right_shift(t, 4), mask)
    if dtype == "int8":  # nibble 0..15 -> -8..7: (x ^ 8) - 8
        eight = ops.cast(8, _dtype(low))
        low = ops.subtract(ops.bitwise_xor(low, eight), eight)
        high = ops.subtract(ops.bitwise_xor(high, eight), eight)
    stacked = ops.stack([ops.cast(low, dtype), ops.cast(high, dtype)], axis=1)
    out = ops.reshape(stacked, (-1,) + tuple(ops.shape(t)[1:]))[:orig_len, ...]
    return ops.transpose(out, inv_perm) if axis else out


# --- configs ------------------------------------------------------------------------------------------------


def _serialize(obj):
    return serialize(obj)


def _deserialize(config):
    return None if config is None else deserialize(config)


class QuantizationConfig:
    """Base of the configs `model.quantize(config=...)` takes: a weight and an activation quantizer; `mode`
    names the scheme ("int8", "int4", "float8", "gptq", "awq")."""

    def __init__(self, weight_quantizer=None, activation_quantizer=None):
        self.weight_quantizer = weight_quantizer
        self.activation_quantizer = activation_quantizer

    @property
    def mode(self):
        raise NotImplementedError("Subclasses must implement this property. Do not instantiate "
                                  "QuantizationConfig directly.")

    def get_config(self):
        return {"weight_quantizer": _serialize(self.weight_quantizer),
                "activation_quantizer": _serialize(self.activation_quantizer)}

    @classmethod
    def from_config(cls, config):
        return cls(weight_quantizer=_deserialize(config.get("weight_quantizer")),
                   activation_quantizer=_deserialize(config.get("activation_quantizer")))

    @staticmethod
    def weight_quantizer_or_default(config, default):
        if config is not None and config.weight_quantizer is not None:
            return config.weight_quantizer
        return default

    @staticmethod
    def activation_quantizer_or_default(config, default):
        return config.activation_quantizer if config is not None else default


class Int8QuantizationConfig(QuantizationConfig):
    """Int8 weights (per output channel); activations quantized per row on the fly by `AbsMaxQuantizer()`
    unless `activation_quantizer=None` (weight-only)."""

    def __init__(self, weight_quantizer=None, activation_quantizer="default"):
        if isinstance(activation_quantizer, str) and activation_quantizer == "default":
            activation_quantizer = AbsMaxQuantizer()
        super().__init__(weight_quantizer, activation_quantizer)
        if self.weight_quantizer is not None and self.weight_quantizer.output_dtype != "int8":
            raise ValueError("Int8QuantizationConfig requires a weight_quantizer with output_dtype='int8'. "
                             f"Received: output_dtype={self.weight_quantizer.output_dtype}")

    @property
    def mode(self):
        return "int8"


class Int4QuantizationConfig(QuantizationConfig):
    """Int4 weights, packed two per byte: per channel (`block_size` None or -1) or in groups of `block_size`
    input rows (default 128, weight-only; custom quantizers only per channel)."""

    def __init__(self, weight_quantizer=None, activation_quantizer="default", block_size=128):
        if isinstance(activation_quantizer, str) and activation_quantizer == "default":
            activation_quantizer = None
        super().__init__(weight_quantizer, activation_quantizer)
        if block_size is not None and block_size != -1 and block_size <= 0:
            raise ValueError(f"block_size must be None, -1, or a positive integer. Received: block_size={block_size}")
        self.block_size = block_size
        if (block_size is not None and block_size > 0
                and (self.weight_quantizer is not None or self.activation_quantizer is not None)):
            raise ValueError("Int4 sub-channel quantization (block_size > 0) does not support custom quantizers. "
                             "Either set block_size to None or -1 for per-channel quantization, or remove the "
                             f"custom quantizer arguments. Received: block_size={block_size}")
        if self.weight_quantizer is not None:
            if tuple(self.weight_quantizer.value_range) != (-8, 7):
                raise ValueError("Int4QuantizationConfig requires a weight_quantizer with value_range=(-8, 7). "
                                 f"Received: value_range={self.weight_quantizer.value_range}")
            if self.weight_quantizer.output_dtype != "int8":
                raise ValueError("Int4QuantizationConfig requires a weight_quantizer with output_dtype='int8'. "
                                 f"Received: output_dtype={self.weight_quantizer.output_dtype}")

    @property
    def mode(self):
        return "int4"

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size}

    @classmethod
    def from_config(cls, config):
        return cls(weight_quantizer=_deserialize(config.get("weight_quantizer")),
                   activation_quantizer=_deserialize(config.get("activation_quantizer")),
                   block_size=config.get("block_size", None))


class Float8QuantizationConfig(QuantizationConfig):
    """FP8 mixed-precision training (delayed scaling); takes no quantizers."""

    def __init__(self):
        super().__init__(None, None)

    @property
    def mode(self):
        return "float8"

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls()


def _check_calibration(name, num_samples, sequence_length, group_size):
    if num_samples <= 0:
        raise ValueError("num_samples must be a positive integer.")
    if sequence_length <= 0:
        raise ValueError("sequence_length must be a positive integer.")
    if group_size < -1 or group_size == 0:
        raise ValueError(f"Invalid group_size. Supported values are -1 ({name}) or a positive integer, "
                         f"but got {group_size}.")


def _saved_structure(structure):
    """A calibration structure as a config holds it: None when it names layers (like the dataset and tokenizer,
    it only serves the calibration; Keras 3.15 serializes the layers and recurses through the quantized layers'
    own configs)."""
    if isinstance(structure, dict) and any(not isinstance(v, (str, int, float, bool, type(None)))
                                           for layers in structure.values() for v in (layers or [])):
        return None
    return structure


class _CalibratedConfig(QuantizationConfig):
    """GPTQConfig / AWQConfig: post-training schemes calibrated on a dataset, configured by their arguments
    alone; `calibrated_mode` names the scheme."""

    calibrated_mode = None

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @property
    def mode(self):
        return self.calibrated_mode

    def dtype_policy_string(self):
        """The quantized policy name, "<mode>/<bits>/<group_size>"."""
        return f"{self.mode}/{self.weight_bits}/{self.group_size}"


class GPTQConfig(_CalibratedConfig):
    """GPTQ post-training quantization settings (calibration `dataset`/`tokenizer`, `weight_bits` in
    {2, 3, 4, 8}, groups of `group_size` columns). Dataset and tokenizer are not saved in the config."""

    calibrated_mode = "gptq"

    def __init__(self, dataset, tokenizer, *, weight_bits: int = 4, num_samples: int = 128,
                 per_channel: bool = True, sequence_length: int = 512, hessian_damping: float = 0.01,
                 group_size: int = 128, symmetric: bool = False, activation_order: bool = False,
                 quantization_layer_structure: dict = None):
        super().__init__()
        if weight_bits not in (2, 3, 4, 8):
            raise ValueError(f"Unsupported weight_bits {weight_bits}. Supported values are 2, 3, 4, and 8.")
        if hessian_damping < 0 or hessian_damping > 1:
            raise ValueError("hessian_damping must be between 0 and 1.")
        _check_calibration("whole-tensor", num_samples, sequence_length, group_size)
        self.dataset, self.tokenizer = dataset, tokenizer
        self.num_samples, self.per_channel, self.sequence_length = num_samples, per_channel, sequence_length
        self.hessian_damping, self.weight_bits, self.group_size = hessian_damping, weight_bits, group_size
        self.symmetric, self.activation_order = symmetric, activation_order
        self.quantization_layer_structure = quantization_layer_structure

    def get_config(self):
        return {"dataset": None, "tokenizer": None, "weight_bits": self.weight_bits,
                "num_samples": self.num_samples, "per_channel": self.per_channel,
                "sequence_length": self.sequence_length, "hessian_damping": self.hessian_damping,
                "group_size": self.group_size, "symmetric": self.symmetric,
                "activation_order": self.activation_order,
                "quantization_layer_structure": _saved_structure(self.quantization_layer_structure)}


class AWQConfig(_CalibratedConfig):
    """AWQ (activation-aware 4-bit) post-training quantization settings; dataset and tokenizer are not saved."""

    calibrated_mode = "awq"

    def __init__(self, dataset, tokenizer, *, weight_bits: int = 4, num_samples: int = 128,
                 sequence_length: int = 512, group_size: int = 128, num_grid_points: int = 20,
                 quantization_layer_structure: dict = None):
        super().__init__()
        if weight_bits != 4:
            raise ValueError(f"AWQ only supports 4-bit quantization. Received weight_bits={weight_bits}.")
        _check_calibration("per-channel", num_samples, sequence_length, group_size)
        if num_grid_points <= 0:
            raise ValueError("num_grid_points must be a positive integer.")
        self.dataset, self.tokenizer = dataset, tokenizer
        self.weight_bits, self.num_samples, self.sequence_length = weight_bits, num_samples, sequence_length
        self.group_size, self.num_grid_points = group_size, num_grid_points
        self.quantization_layer_structure = quantization_layer_structure

    def get_config(self):
        return {"dataset": None, "tokenizer": None, "weight_bits": self.weight_bits,
                "num_samples": self.num_samples, "sequence_length": self.sequence_length,
                "group_size": self.group_size, "num_grid_points": self.num_grid_points,
                "quantization_layer_structure": _saved_structure(self.quantization_layer_structure)}


def validate_and_resolve_config(mode, config):
    """The `QuantizationConfig` a `quantize(mode, config=...)` call runs with, as Keras resolves it: a string
    `config` is a mode; no config gives the mode's default (`Int8QuantizationConfig()`, `Int4QuantizationConfig()`
    (block_size 128), `Float8QuantizationConfig()`); GPTQ/AWQ need their config object."""
    if isinstance(config, str):
        mode, config = config, None
    if mode is not None and mode not in QUANTIZATION_MODES:
        raise ValueError(f"Invalid quantization mode. Expected one of {QUANTIZATION_MODES}. Received: mode={mode}")
    if config is None:
        defaults = {"int8": Int8QuantizationConfig, "int4": Int4QuantizationConfig,
                    "float8": Float8QuantizationConfig}
        if mode in ("gptq", "awq"):
            cls = "GPTQConfig" if mode == "gptq" else "AWQConfig"
            raise ValueError(f"For {mode.upper()}, you must pass a `{cls}` object in the `config` argument.")
        if mode is None:
            raise ValueError("You must provide either `mode` or `config` to `quantize`.")
        config = defaults[mode]()
    elif not isinstance(config, QuantizationConfig):
        raise ValueError(f"Argument `config` must be an instance of `QuantizationConfig`. Received: config={config} "
                         f"(of type {type(config)})")
    if mode is not None and config.mode != mode:
        raise ValueError(f"Contradictory arguments: mode='{mode}' but config.mode='{config.mode}'")
    mode = config.mode
    if mode not in QUANTIZATION_MODES:
        raise ValueError(f"Invalid quantization mode. Expected one of {QUANTIZATION_MODES}. Received: mode={mode}")
    if mode == "gptq" and not isinstance(config, GPTQConfig):
        raise ValueError(f"Mode 'gptq' requires a valid `config` argument of type `GPTQConfig`. Received: {type(config)}")
    if mode == "awq" and not isinstance(config, AWQConfig):
        raise ValueError(f"Mode 'awq' requires a valid `config` argument of type `AWQConfig`. Received: {type(config)}")
    return config


def get_block_size_for_layer(layer, config):
    """The int4 block size of `layer`: the config's, else its `Int4DTypePolicy`'s; None means per channel."""
    if isinstance(config, Int4QuantizationConfig):
        return config.block_size
    policy = layer.dtype_policy
    if isinstance(policy, dtype_policies.DTypePolicyMap):
        policy = policy[getattr(layer, "path", layer.name)]
    if isinstance(policy, dtype_policies.Int4DTypePolicy):
        return None if policy.block_size == -1 else policy.block_size
    return None


def dequantize_with_sz_map(weights_matrix, scale, zero, g_idx, group_axis=-1):
    """`(w - zero[g]) * scale[g]` with each position along `group_axis` of `scale`/`zero` taken from its group
    `g_idx` (as Keras rebuilds grouped int4/GPTQ weights)."""
    groups = ops.cast(g_idx, "int32")
    scales = ops.take(scale, groups, axis=group_axis)
    zeros = ops.cast(ops.take(zero, groups, axis=group_axis), _dtype(scales))
    return ops.multiply(ops.subtract(weights_matrix, zeros), scales)


# --- get / serialize ----------------------------------------------------------------------------------------

_CLASSES = (Quantizer, AbsMaxQuantizer, QuantizationConfig, Int8QuantizationConfig, Int4QuantizationConfig,
            Float8QuantizationConfig, AWQConfig)
_BY_NAME = {c.__name__: c for c in _CLASSES} | {
    "quantizer": Quantizer, "abs_max_quantizer": AbsMaxQuantizer, "quantization_config": QuantizationConfig,
    "int8_quantization_config": Int8QuantizationConfig, "int4_quantization_config": Int4QuantizationConfig,
    "float8_quantization_config": Float8QuantizationConfig, "awq_config": AWQConfig,
}

# configs a saved layer names that `get` does not know by name (as in Keras, where the file resolves them
# through `keras.quantizers.GPTQConfig`'s export)
_LAYER_CONFIGS = {"GPTQConfig": GPTQConfig}


def serialize(initializer):
    """Keras's `{"module": "keras.quantizers", "class_name", "config", "registered_name"}` (None stays None).
    The argument is named `initializer`, as in Keras."""
    obj = initializer
    if obj is None:
        return None
    registered = registration.GLOBAL_CUSTOM_NAMES.get(type(obj))
    return {"module": "keras.quantizers" if registered is None else type(obj).__module__,
            "class_name": type(obj).__name__, "config": obj.get_config(), "registered_name": registered}


def deserialize(config, custom_objects=None):
    """A quantizer or quantization config from its `serialize` form."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"quantizers.deserialize: expected a dict with 'class_name' and 'config', got {config!r}.")
    name = config["class_name"]
    cls = ((custom_objects or {}).get(name) or _BY_NAME.get(name) or _LAYER_CONFIGS.get(name)
           or registration.get_registered_object(config.get("registered_name") or name))
    if cls is None:
        raise ValueError(f"Unknown quantizer class {name!r}: expected one of {sorted(c.__name__ for c in _CLASSES)} "
                         "or a class registered with fkeras.saving.register_keras_serializable().")
    return cls.from_config(config.get("config") or {})


def get(identifier, **kwargs):
    """A quantizer from None, a config dict, a class name ("AbsMaxQuantizer" / "abs_max_quantizer", built with
    `**kwargs`) or an instance/callable."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = _BY_NAME.get(identifier)
        if obj is None:
            raise ValueError(f"Could not interpret quantizer identifier: {identifier!r}; expected one of "
                             f"{sorted(_BY_NAME)}.")
    else:
        obj = identifier
    if not callable(obj):
        raise ValueError(f"Could not interpret quantizer identifier: {identifier!r}")
    return obj(**kwargs) if isinstance(obj, type) else obj


__all__ = [
    "AWQConfig", "AbsMaxQuantizer", "Float8QuantizationConfig", "GPTQConfig", "Int4QuantizationConfig",
    "Int8QuantizationConfig", "QuantizationConfig", "Quantizer", "abs_max_quantize",
    "abs_max_quantize_grouped_with_zero_point", "compute_float8_amax_history", "compute_float8_scale",
    "deserialize", "fake_quant_with_min_max_vars", "get", "pack_int4", "quantize_and_dequantize", "serialize",
    "unpack_int4",
]
