"""GPTQ post-training quantization, as Keras 3.15 runs it (`keras.quantizers.GPTQConfig`).

A Dense/EinsumDense kernel is viewed as a `(rows, columns)` matrix (rows: the inputs it contracts); the
calibration inputs reaching the layer give a Hessian `H = 2/N sum x x^T` (rows, rows); the columns of `W^T`
(columns, rows) are quantized one at a time to `weight_bits` unsigned codes with a scale and zero point per
output channel and group of `group_size` inputs, each column's error pushed onto the columns not yet quantized
through the inverse of the damped Hessian (optionally in decreasing order of `diag(H)`: `activation_order`).

The quantized layer holds (Keras's `_gptq_build`): `kernel` uint8 codes `(columns, rows)`, 4-bit packed two per
byte along the columns; `kernel_scale` and `kernel_zero` (uint8) `(columns, n_groups)`; `g_idx` float32 (rows,),
`row / group_size` (its integer part is the group of each input row).

`calibrate_layerwise` is the block-by-block calibration loop GPTQ and AWQ share: the calibration tokens go
through the pre-block layers, then each block in turn with its target layers' inputs recorded, the targets
quantized, and the block's outputs (with the quantized weights) the next block's inputs.
"""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager

import jax
import numpy as np

from fkeras import ops
from fkeras.nn import quantizers


def kernel_rows_columns(kernel_shape):
    """Keras's 2-D view `(rows, columns)` of a Dense/EinsumDense kernel: 2-D as it is; 3-D by its largest axis,
    `(in, heads, head_dim)` -> `(in, heads*head_dim)` when it is first, `(heads, head_dim, out)` ->
    `(heads*head_dim, out)` otherwise."""
    shape = [int(d) for d in kernel_shape]
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 3:
        if shape.index(max(shape)) == 0:
            return shape[0], shape[1] * shape[2]
        return shape[0] * shape[1], shape[2]
    raise TypeError(f"GPTQ/AWQ quantize kernels of rank 2 or 3 (Dense, EinsumDense); got kernel shape {tuple(shape)}.")


def n_groups(rows, group_size):
    return 1 if group_size == -1 else math.ceil(rows / group_size)


def layout(kernel_shape, weight_bits, group_size, variable_dtype="float32"):
    """The zero-initialized GPTQ weights of a kernel (Keras's `_gptq_build`)."""
    rows, columns = kernel_rows_columns(kernel_shape)
    groups = n_groups(rows, group_size)
    kernel_columns = (columns + 1) // 2 if weight_bits == 4 else columns
    return {"kernel": ops.zeros((kernel_columns, rows), "uint8"),
            "kernel_scale": ops.ones((columns, groups), variable_dtype),
            "kernel_zero": ops.zeros((columns, groups), "uint8"),
            "g_idx": ops.zeros((rows,), "float32")}


# --- the calibration statistics and the quantization ---------------------------------------------------------
# Calibration runs eagerly, op by op over `fkeras.ops`, in Keras's order of operations: its float32 roundings
# (XLA:CPU divides by a broadcast scalar through its reciprocal) are then those of Keras on JAX, so codes that
# sit near a rounding boundary come out the same.


class HessianStats:
    """The running Hessian estimate of one layer: `update(x)` with inputs (..., rows) streams a batch in as
    Keras's `GPTQ.update_hessian_with_batch` does (float32, decayed mean with factor 2/N)."""

    def __init__(self, rows):
        self.rows = int(rows)
        self.hessian = ops.zeros((self.rows, self.rows), "float32")
        self.num_samples = 0

    def update(self, x):
        if x is None or len(x.shape) < 2:
            raise ValueError(f"GPTQ: the layer input must have rank >= 2, got {None if x is None else x.shape}.")
        if int(np.prod(x.shape)) == 0:
            raise ValueError("GPTQ: the layer input cannot be empty.")
        x = ops.cast(ops.reshape(x, (-1, x.shape[-1])), "float32")
        if x.shape[-1] != self.rows:
            raise ValueError(f"GPTQ: Hessian dimensions ({self.rows}) do not match input features ({x.shape[-1]}).")
        prev, total = self.num_samples, self.num_samples + int(x.shape[0])
        gram = ops.matmul(ops.transpose(x), x)
        gram = ops.divide(ops.add(gram, ops.transpose(gram)), 2.0)
        if prev > 0:
            self.hessian = ops.multiply(self.hessian, ops.divide(prev, total))
        self.hessian = ops.add(self.hessian, ops.multiply(ops.divide(2.0, total), gram))
        self.num_samples = total


def scale_zero(x, *, bits, symmetric=False, per_channel=False, group_size=-1):
    """`quantizers.compute_quantization_parameters` with unsigned codes: `(scale, zero uint8, maxq)` of a
    `(columns, n)` slice, scale/zero `(columns, n_groups)`."""
    return quantizers.compute_quantization_parameters(x, bits=bits, symmetric=symmetric, per_channel=per_channel,
                                                      group_size=group_size, compute_dtype="float32")


def quantize_with_zero_point(x, scale, zero, maxq):
    """Unsigned codes in [0, maxq]: `clip(round(x / scale + zero))` (a zero scale counts as 1e-8)."""
    safe = ops.where(ops.equal(scale, 0), ops.cast(1e-8, scale.dtype), scale)
    return ops.clip(ops.round(ops.add(ops.divide(x, safe), ops.cast(zero, scale.dtype))), 0, maxq)


def dequantize_with_zero_point(q, scale, zero):
    return ops.multiply(scale, ops.subtract(q, ops.cast(zero, scale.dtype)))


def _stable_descending(metric):
    n = metric.shape[0]
    jitter = ops.divide(ops.cast(ops.arange(0, n, dtype="int32"), "float32"), ops.cast(n, "float32"))
    return ops.argsort(ops.negative(ops.add(metric, ops.multiply(jitter, 1e-12))))


def quantize_matrix(weights_t, inv_hessian, *, blocksize=128, group_size=-1, activation_order=False,
                    order_metric=None, compute_scale_zero):
    """Keras's `gptq_quantize_matrix`: codes (columns, rows) int32, scale/zero (columns, n_groups), g_idx
    float32 (rows,) for `weights_t` = kernel^T (columns, rows) and the inverse damped Hessian (rows, rows).
    `compute_scale_zero(w)` gives `(scale, zero, maxq)` of a slice of columns."""
    weights_t = ops.convert_to_tensor(weights_t, "float32")
    inv_hessian = ops.convert_to_tensor(inv_hessian, "float32")
    rows = int(weights_t.shape[1])
    inv_perm = None
    if activation_order:
        if order_metric is None:
            order_metric = ops.reciprocal(ops.add(ops.diagonal(inv_hessian), 1e-12))
        else:
            order_metric = ops.cast(order_metric, "float32")
            order_metric = ops.where(ops.isfinite(order_metric), order_metric, ops.zeros_like(order_metric))
        perm = _stable_descending(order_metric)
        inv_perm = ops.argsort(perm)
        weights_t = ops.take(weights_t, perm, axis=1)
        inv_hessian = ops.take(ops.take(inv_hessian, perm, axis=0), perm, axis=1)

    buffer = weights_t
    codes = ops.zeros(weights_t.shape, "int32")
    scales, zeros = [], []
    group = rows if group_size == -1 else group_size
    # Each group's parameters are found once, when its first column comes up (Keras 3.15 finds them again when a
    # group, or the whole-matrix group, runs on into the next block of columns, and then fails to store them).
    cached_start, params = -1, None
    for start in range(0, rows, blocksize):
        end = min(start + blocksize, rows)
        block = buffer[:, start:end]
        block_err = ops.zeros_like(block)
        block_inv = inv_hessian[start:end, start:end]
        for j in range(end - start):
            col = start + j
            if group != rows:  # a new group: its parameters from its columns as they stand before this block
                g_start = (col // group) * group
                if g_start != cached_start:
                    params = compute_scale_zero(buffer[:, g_start:min(g_start + group, rows)])
                    scales.append(params[0])
                    zeros.append(params[1])
                    cached_start = g_start
            elif params is None:
                params = compute_scale_zero(buffer)
                scales.append(params[0])
                zeros.append(params[1])
            scale, zero, maxq = params
            w = block[:, j]
            q = quantize_with_zero_point(ops.expand_dims(w, 1), scale, zero, maxq)
            codes = ops.slice_update(codes, (0, col), ops.cast(q, "int32"))
            err = ops.divide(ops.subtract(w, dequantize_with_zero_point(q, scale, zero)[:, 0]), block_inv[j, j])
            block_err = ops.slice_update(block_err, (0, j), ops.expand_dims(err, 1))
            if j < end - start - 1:
                update = ops.matmul(ops.expand_dims(err, 1), ops.expand_dims(block_inv[j, j + 1:], 0))
                block = ops.slice_update(block, (0, j + 1), ops.subtract(block[:, j + 1:], update))
        if end < rows:
            update = ops.matmul(block_err, inv_hessian[start:end, end:])
            buffer = ops.concatenate([buffer[:, :end], ops.subtract(buffer[:, end:], update)], axis=1)

    g_idx = ops.cast(ops.divide(ops.arange(0, rows, dtype="int32"), group), "float32")
    if activation_order:
        g_idx = ops.take(g_idx, inv_perm, axis=0)
        codes = ops.take(codes, inv_perm, axis=1)
    return codes, ops.concatenate(scales, axis=1), ops.concatenate(zeros, axis=1), g_idx


def damped_hessian(hessian, damping):
    """Keras's stabilized Hessian: dead inputs (zero diagonal) get 1 on the diagonal, and the diagonal gains
    `damping * mean(diag)`."""
    h = ops.convert_to_tensor(hessian, "float32")
    diag = ops.diagonal(h)
    dead = ops.equal(diag, 0.0)
    diag = ops.where(dead, 1.0, diag)
    h = ops.add(h, ops.diag(ops.where(dead, 1.0, ops.zeros_like(diag))))
    diag = ops.add(diag, ops.multiply(damping, ops.mean(diag)))
    return ops.add(ops.subtract(h, ops.diag(ops.diagonal(h))), ops.diag(diag))


def quantize_kernel(kernel, hessian, config, variable_dtype="float32", blocksize=128, inverse=None):
    """A float kernel (2-D or 3-D) and its layer's Hessian as the GPTQ weights `layout` describes, with the
    settings of `config` (a `GPTQConfig`): Keras's `GPTQ.quantize_and_correct_layer`. `inverse` (rows, rows), if
    given, stands for the inverse of the damped Hessian."""
    rows, columns = kernel_rows_columns(kernel.shape)
    w_t = ops.transpose(ops.reshape(ops.convert_to_tensor(kernel, "float32"), (rows, columns)))
    h = damped_hessian(hessian, config.hessian_damping)
    inv = ops.linalg.inv(h) if inverse is None else ops.convert_to_tensor(inverse, "float32")

    def find_params(x):
        return quantizers.compute_quantization_parameters(
            x, bits=config.weight_bits, symmetric=config.symmetric, per_channel=config.per_channel,
            group_size=config.group_size, compute_dtype=variable_dtype)

    codes, scale, zero, g_idx = quantize_matrix(w_t, inv, blocksize=blocksize, group_size=config.group_size,
                                                activation_order=config.activation_order,
                                                order_metric=ops.diagonal(h), compute_scale_zero=find_params)
    codes = ops.cast(codes, "uint8")
    if config.weight_bits == 4:
        codes, _, _ = quantizers.pack_int4(codes, axis=0, dtype="uint8")
    return {"kernel": codes, "kernel_scale": ops.cast(scale, variable_dtype), "kernel_zero": zero, "g_idx": g_idx}


def dequantize(state, kernel_shape, weight_bits, dtype):
    """The float kernel (Keras's shape) a GPTQ/AWQ layer computes with: codes unpacked (4-bit), `(q - zero[g])
    * scale[g]` per input row's group, transposed back, divided by the AWQ scales where there are some."""
    rows, columns = kernel_rows_columns(kernel_shape)
    q = state["kernel"]
    if weight_bits == 4:
        q = quantizers.unpack_int4(q, columns, axis=0, dtype="uint8")
    zero = state["kernel_zero"] if "kernel_zero" in state else state["zero_point"]  # EinsumDense's name
    w = ops.transpose(quantizers.dequantize_with_sz_map(q, state["kernel_scale"], zero, state["g_idx"]))
    if "awq_scales" in state:
        w = ops.divide(w, ops.expand_dims(state["awq_scales"], -1))
    return ops.reshape(ops.cast(w, dtype), tuple(kernel_shape))


# --- the calibration data and loop ----------------------------------------------------------------------------


def get_dataloader(tokenizer, sequence_length, dataset, num_samples=128, *, strategy="strided", seed=42,
                   stride=None, eos_id=None):
    """Keras's calibration windows: the dataset's texts tokenized (or its token arrays) joined, repeated to
    `num_samples * sequence_length` tokens, and `num_samples` windows taken. Returns int32
    (num_samples, 1, sequence_length)."""
    if not hasattr(dataset, "__iter__") or isinstance(dataset, (str, bytes)):
        raise TypeError("The `dataset` argument must be an iterable (e.g., a list of strings, a generator, or a "
                        f"NumPy array). Got type: {type(dataset).__name__}. Please pass the loaded dataset directly.")
    items = list(dataset)
    if not items:
        raise ValueError("Provided dataset is empty.")
    pieces = []
    if isinstance(items[0], str):
        for i, s in enumerate(items):
            pieces.append(np.asarray(ops.convert_to_numpy(tokenizer.tokenize(s))).reshape(-1))
            if eos_id is not None and i < len(items) - 1:
                pieces.append(np.array([eos_id], np.int32))
    else:
        pieces = [np.asarray(ops.convert_to_numpy(s)).reshape(-1).astype(np.int32, copy=False) for s in items]
    tokens = np.concatenate(pieces, axis=0).astype(np.int32, copy=False)
    need = num_samples * sequence_length
    if tokens.size < need:
        tokens = np.tile(tokens, math.ceil(need / max(1, tokens.size)))
    max_start = tokens.size - sequence_length
    if max_start < 0:
        raise ValueError(f"Not enough tokens to form one sample of length {sequence_length} (have {tokens.size}).")
    if strategy == "random":
        starts = np.random.default_rng(seed).integers(0, max_start + 1, size=num_samples, dtype=np.int64)
    elif strategy == "linspace":
        starts = np.linspace(0, max_start, num_samples, dtype=np.int64)
    elif strategy == "strided":
        stride = max(1, (max_start + 1) // num_samples) if stride is None else stride
        offset = abs(hash(("gptq-calib", seed))) % (max_start + 1) if max_start > 0 else 0
        starts = (offset + np.arange(num_samples, dtype=np.int64) * stride) % (max_start + 1)
    else:
        raise ValueError(f"Unknown strategy: {strategy!r}; expected 'strided', 'linspace' or 'random'.")
    windows = np.lib.stride_tricks.sliding_window_view(tokens, sequence_length)
    return windows[starts].astype(np.int32)[:, None, :]


@contextmanager
def record_inputs(targets, record):
    """Within the block, every call of each target ({name: target}) hands its input to `record(name, array)`
    first (eager values directly, traced ones through `jax.debug.callback`). A target is an nn layer, or
    `(attention_layer, projection_name)` for an EinsumDense projection an attention layer makes per call
    (its `_sublayers`)."""
    patched, owners = [], {}

    def hook(name, call):
        def wrapped(variables, x, *args, **kwargs):
            if isinstance(x, jax.core.Tracer):
                jax.debug.callback(lambda v: record(name, np.asarray(v)), x)
            else:
                record(name, np.asarray(ops.convert_to_numpy(x)))
            return call(variables, x, *args, **kwargs)
        return wrapped

    def sublayers_hook(make, names):
        def sublayers(*args, **kwargs):
            subs = make(*args, **kwargs)
            for projection, name in names.items():
                if projection in subs:
                    object.__setattr__(subs[projection], "call", hook(name, subs[projection].call))
            return subs
        return sublayers

    try:
        for name, target in targets.items():
            if isinstance(target, tuple):
                owners.setdefault(id(target[0]), (target[0], {}))[1][target[1]] = name
            else:
                object.__setattr__(target, "call", hook(name, target.call))
                patched.append((target, "call"))
        for owner, names in owners.values():
            object.__setattr__(owner, "_sublayers", sublayers_hook(owner._sublayers, names))
            patched.append((owner, "_sublayers"))
        yield
    finally:
        for target, attr in patched:
            object.__delattr__(target, attr)


def calibrate_layerwise(dataloader, num_samples, pre_block_layers, blocks, targets_of, make_stats, quantize):
    """Keras's layer-wise loop (`apply_gptq_layerwise`/`apply_awq_layerwise`): tokens through
    `pre_block_layers` (callables); for each block (callable), `targets_of(block)` gives {name: (target,
    rows)}; their inputs stream into `make_stats(rows)` objects (`.update(x)`) while the first `num_samples`
    samples run through the block (`record_inputs` says what a target is); then `quantize(block, name, stats)`
    for each; then the block's outputs
    (first batch element, as Keras takes it) feed the next block."""
    if not blocks:
        raise ValueError("No sequential blocks found in the provided structure to quantize.")
    inputs = []
    for batch in dataloader:
        x = ops.convert_to_tensor(batch, "int32")
        for layer in pre_block_layers:
            x = layer(x)
        inputs.append(x)
    num_samples = min(num_samples, len(inputs))
    for index, block in enumerate(blocks):
        targets = targets_of(block)
        if targets:
            stats = {name: make_stats(rows) for name, (_, rows) in targets.items()}

            def record(name, x):
                stats[name].update(np.reshape(x, (-1, stats[name].rows)))

            with record_inputs({name: target for name, (target, _) in targets.items()}, record):
                for i in range(num_samples):
                    x = inputs[i]
                    _ = block(ops.expand_dims(x, 0) if len(x.shape) == 2 else x)
            jax.effects_barrier()
            silent = [name for name in targets if stats[name].num_samples == 0]
            if silent:  # (a layer the block never calls, or a program compiled before the hooks)
                warnings.warn(f"No calibration inputs reached {silent} while block {index} ran on the calibration "
                              "data: they are quantized without activation statistics (rounded to nearest).",
                              stacklevel=2)
            for name in targets:
                quantize(block, name, stats[name])
        if index < len(blocks) - 1:
            outs = []
            for i in range(num_samples):
                x = inputs[i]
                outs.append(block(ops.expand_dims(x, 0) if len(x.shape) == 2 else x)[0])
            inputs = outs
