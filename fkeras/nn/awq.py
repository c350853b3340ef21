"""AWQ (activation-aware weight quantization), as Keras 3.15 runs it (`keras.quantizers.AWQConfig`).

Calibration records each input channel's largest |activation| `x_max` (rows,); a grid search over ratios
r in {0, 1/n, ..., 1} scales the kernel's input rows by `s = x_max^r` (normalized by sqrt(max(s) min(s))),
quantizes `W^T * s` to 4-bit codes with scale/zero per output channel (and group of `group_size` rows), and
keeps the `s` whose reconstruction `dequant / s` has the least `x_max^2`-weighted squared error.

The quantized layer holds (Keras's `_awq_build`): `kernel` uint8 (ceil(columns/2), rows) packed codes,
`kernel_scale` and `kernel_zero` (columns, n_groups), `awq_scales` (rows,), `g_idx` float32 (rows,).
The calibration loop is GPTQ's (`gptq.calibrate_layerwise`).
"""

from __future__ import annotations

import numpy as np

from fkeras import ops
from fkeras.nn import gptq, quantizers


def layout(kernel_shape, group_size, variable_dtype="float32"):
    """The zero-initialized AWQ weights of a kernel (Keras's `_awq_build`), in its creation order."""
    rows, _ = gptq.kernel_rows_columns(kernel_shape)
    state = gptq.layout(kernel_shape, 4, group_size, variable_dtype)
    return {k: state[k] for k in ("kernel", "kernel_scale", "kernel_zero")} | {
        "awq_scales": ops.ones((rows,), variable_dtype), "g_idx": state["g_idx"]}


class ActivationStats:
    """Per input channel max |x| over the calibration inputs (Keras's `AWQ.update_activation_magnitudes`)."""

    def __init__(self, rows):
        self.rows = int(rows)
        self.magnitudes = ops.zeros((self.rows,), "float32")
        self.num_samples = 0

    def update(self, x):
        if x is None or int(np.prod(x.shape)) == 0:
            raise ValueError("AWQ: the layer input cannot be empty.")
        x = ops.cast(ops.reshape(x, (-1, x.shape[-1])), "float32")
        if x.shape[-1] != self.rows:
            raise ValueError(f"AWQ: expected inputs with {self.rows} features, got {x.shape[-1]}.")
        self.magnitudes = ops.maximum(self.magnitudes, ops.max(ops.abs(x), axis=0))
        self.num_samples += int(x.shape[0])


def _quantize(w, group_size):
    """(codes, scale, zero, g_idx or None) of `w` (columns, rows): 4-bit asymmetric per output channel, or per
    group of `group_size` input rows (Keras's order of operations)."""
    scale, zero, maxq = gptq.scale_zero(w, bits=4, symmetric=False, per_channel=True, group_size=group_size)
    if group_size == -1:
        return gptq.quantize_with_zero_point(w, scale, zero, maxq), scale, zero, None
    g_idx = ops.cast(ops.floor_divide(ops.arange(0, w.shape[1]), group_size), "int32")
    q = gptq.quantize_with_zero_point(w, ops.take(scale, g_idx, axis=-1), ops.take(zero, g_idx, axis=-1), maxq)
    return q, scale, zero, g_idx


def search_scales(weights_t, magnitudes, *, num_grid_points=20, group_size=-1):
    """Keras's `awq_search_optimal_scales`: the per-input-row scales (rows,) of the best grid ratio."""
    weights_t = ops.convert_to_tensor(weights_t, "float32")
    x_max = ops.cast(magnitudes, "float32")
    x_max = ops.where(ops.less(x_max, 1e-8), ops.ones_like(x_max), x_max)
    best_loss = best = None
    for i in range(num_grid_points + 1):
        ratio = i / num_grid_points
        scales = ops.ones_like(x_max) if ratio == 0 else ops.power(x_max, ratio)
        scales = ops.maximum(scales, 1e-4)
        mean = ops.maximum(ops.sqrt(ops.multiply(ops.max(scales), ops.min(scales))), 1e-8)
        scales = ops.divide(scales, mean)
        q, scale, zero, g_idx = _quantize(ops.multiply(weights_t, scales), group_size)
        if g_idx is None:
            deq = gptq.dequantize_with_zero_point(q, scale, zero)
        else:
            deq = quantizers.dequantize_with_sz_map(q, scale, zero, g_idx)
        err = ops.square(ops.subtract(weights_t, ops.divide(deq, scales)))
        loss = ops.mean(ops.multiply(err, ops.square(x_max)))
        if best_loss is None or bool(ops.less(loss, best_loss)):
            best_loss, best = loss, scales
    return best


def quantize_kernel(kernel, magnitudes, config, variable_dtype="float32"):
    """A float kernel (2-D or 3-D) and its layer's activation magnitudes as the AWQ weights `layout`
    describes, with `config` (an `AWQConfig`): Keras's `AWQ.quantize_layer`."""
    rows, columns = gptq.kernel_rows_columns(kernel.shape)
    w_t = ops.transpose(ops.reshape(ops.convert_to_tensor(kernel, "float32"), (rows, columns)))
    group = config.group_size
    awq_scales = search_scales(w_t, magnitudes, num_grid_points=config.num_grid_points, group_size=group)
    q, scale, zero, g_idx = _quantize(ops.multiply(w_t, awq_scales), group)
    g_idx = ops.zeros((rows,), "float32") if g_idx is None else ops.cast(g_idx, "float32")
    packed, _, _ = quantizers.pack_int4(ops.cast(q, "uint8"), axis=0, dtype="uint8")
    return {"kernel": packed, "kernel_scale": ops.cast(scale, variable_dtype), "kernel_zero": zero,
            "awq_scales": ops.cast(awq_scales, variable_dtype), "g_idx": g_idx}
