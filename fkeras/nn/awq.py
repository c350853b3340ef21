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
        self.magnitudes = np.zeros((self.rows,), np.float32)
        self.num_samples = 0

    def update(self, x):
        x = np.asarray(x)
        if x.size == 0:
            raise ValueError("AWQ: the layer input cannot be empty.")
        x = x.reshape(-1, x.shape[-1]).astype(np.float32)
        if x.shape[-1] != self.rows:
            raise ValueError(f"AWQ: expected inputs with {self.rows} features, got {x.shape[-1]}.")
        self.magnitudes = np.maximum(self.magnitudes, np.max(np.abs(x), axis=0))
        self.num_samples += x.shape[0]


_F32 = np.float32


def _quantize(w, group_size):
    """(codes, scale, zero, dequantized) of `w` (columns, rows): 4-bit asymmetric per output channel, or per
    group of `group_size` input rows (NumPy float32, as `gptq.quantize_matrix`)."""
    scale, zero, maxq = gptq.scale_zero(w, bits=4, symmetric=False, per_channel=True, group_size=group_size)
    if group_size == -1:
        s, z = scale, zero
    else:
        g = np.arange(w.shape[1]) // group_size
        s, z = scale[:, g], zero[:, g]
    q = gptq.quantize_with_zero_point(w, s, z, maxq)
    return q, scale, zero, gptq.dequantize_with_zero_point(q, s, z)


def search_scales(weights_t, magnitudes, *, num_grid_points=20, group_size=-1):
    """Keras's `awq_search_optimal_scales`: the per-input-row scales (rows,) of the best grid ratio."""
    weights_t = np.asarray(weights_t, _F32)
    x_max = np.asarray(magnitudes, _F32)
    x_max = np.where(x_max < 1e-8, _F32(1), x_max)
    best_loss = best = None
    for i in range(num_grid_points + 1):
        ratio = i / num_grid_points
        scales = np.ones_like(x_max) if ratio == 0 else np.power(x_max, _F32(ratio))
        scales = np.maximum(scales, _F32(1e-4))
        scales = scales / np.maximum(np.sqrt(np.max(scales) * np.min(scales)), _F32(1e-8))
        deq = _quantize(weights_t * scales, group_size)[3]
        loss = np.mean(np.square(weights_t - deq / scales) * np.square(x_max), dtype=_F32)
        if best_loss is None or loss < best_loss:
            best_loss, best = loss, scales
    return best.astype(_F32)


def quantize_kernel(kernel, magnitudes, config, variable_dtype="float32"):
    """A float kernel (2-D or 3-D) and its layer's activation magnitudes as the AWQ weights `layout`
    describes, with `config` (an `AWQConfig`): Keras's `AWQ.quantize_layer`."""
    rows, columns = gptq.kernel_rows_columns(kernel.shape)
    w_t = np.asarray(ops.convert_to_numpy(kernel), _F32).reshape(rows, columns).T
    group = config.group_size
    awq_scales = search_scales(w_t, magnitudes, num_grid_points=config.num_grid_points, group_size=group)
    q, scale, zero, _ = _quantize(w_t * awq_scales, group)
    g_idx = np.zeros((rows,), _F32) if group == -1 else (np.arange(rows) // group).astype(_F32)
    packed, _, _ = quantizers.pack_int4(q.astype(np.uint8), axis=0, dtype="uint8")
    return {"kernel": ops.convert_to_tensor(packed, "uint8"), "kernel_scale": ops.cast(scale, variable_dtype),
            "kernel_zero": ops.convert_to_tensor(zero, "uint8"),
            "awq_scales": ops.cast(awq_scales, variable_dtype), "g_idx": ops.convert_to_tensor(g_idx, "float32")}
