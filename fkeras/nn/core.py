"""Core pure layers: InputLayer/Input, Dense, Activation, Dropout, Flatten, Embedding, Masking, Rescaling."""

from __future__ import annotations

import math
import warnings

import jax
import numpy as np

from fkeras import backend, ops
from fkeras import random as frandom
from fkeras.nn import activations, quantized, quantizers
from fkeras.nn.base import Layer, Variables, as_spec, expect_rank
from fkeras.nn.kernel_bias import KernelBias, QuantizedKernel, set_weight_args, weight_args_config
from fkeras.nn.dtype_policies import _standardize


def _no_lora(layer, lora_rank=None, lora_alpha=None):
    if lora_rank is not None or lora_alpha is not None:
        raise layer.error(f"LoRA is not supported; expected lora_rank=None, got {lora_rank!r}.")


def fit_input_rank(x, batch_shape):
    """`x` fitted to an input declared as `batch_shape`, as Keras's models do: one trailing 1 squeezed when
    `x` has one axis too many, or added when it has one too few and the declared last axis is 1 (so
    `(N, 28, 28)` feeds `Input((28, 28, 1))`); anything else is returned unchanged for the checks to judge."""
    shape = getattr(x, "shape", None)
    if shape is None or batch_shape is None:
        return x
    if len(shape) == len(batch_shape) + 1 and shape[-1] == 1:
        return ops.squeeze(x, axis=-1)
    if len(shape) == len(batch_shape) - 1 and batch_shape[-1] == 1:
        return ops.expand_dims(x, axis=-1)
    return x


class InputLayer(Layer):
    """Declares the input of a model: `batch_shape` (batch dim may be None) and `dtype`.

    `apply` passes its input through after checking rank and known dimensions; a container
    whose first layer is an InputLayer can `init(rng)` with no spec."""

    autocast = False

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, input_tensor=None,
                 optional=False, name=None, ragged=None, **kwargs):
        if kwargs.pop("input_shape", None) is not None and shape is None:  # Keras 2 spelling
            raise TypeError("InputLayer: `input_shape` is not an argument; use `shape=` (without the batch dim).")
        if kwargs:
            raise TypeError(f"InputLayer: unexpected keyword argument(s) {sorted(kwargs)}.")
        super().__init__(name=name)
        if input_tensor is not None:
            shape, dtype = tuple(input_tensor.shape)[1:], dtype or ops.dtype(input_tensor)
        if shape is not None and batch_shape is not None:
            raise self.error("pass either `shape` or `batch_shape`, not both.")
        if shape is None and batch_shape is None:
            raise self.error("expected a `shape` (e.g. shape=(28, 28, 1)) or a `batch_shape`; got neither.")
        if shape is not None:
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            batch_shape = (batch_size,) + shape
        batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        if sparse or ragged:
            raise self.error("sparse and ragged inputs are not supported; expected sparse=False, ragged=False.")
        self.batch_shape = batch_shape
        # "string": host-side NumPy str arrays for TextVectorization/StringLookup/Hashing (never traced)
        self._input_dtype = "string" if dtype is str or dtype in ("string", "str") else _standardize(dtype or "float32")
        self.sparse, self.ragged, self.optional = False, False, bool(optional)
        self._batch_input_shape = batch_shape

    @property
    def dtype(self) -> str:
        return self._input_dtype

    @property
    def shape(self):
        return self.batch_shape

    def input_spec(self):
        """The ShapeDtypeStruct this layer declares (unknown dims taken as 1)."""
        return as_spec(self.batch_shape, self._input_dtype)

    def init(self, rng, *input_specs):
        specs = input_specs or (self.input_spec(),)
        self.check_input(*[as_spec(s) for s in specs])
        return Variables({}, {})

    def check_input(self, x):
        if len(x.shape) != len(self.batch_shape) or any(
                want is not None and got != want for want, got in zip(self.batch_shape[1:], tuple(x.shape)[1:])):
            raise self.error(f"expected input of shape {self.batch_shape}, got shape {tuple(x.shape)}.")

    def apply(self, variables, x, training=False, rng=None, **kwargs):
        return super().apply(variables, fit_input_rank(x, self.batch_shape), training=training, rng=rng, **kwargs)

    def call(self, variables, x, training=False, rng=None):
        return x

    def get_config(self):
        return {"batch_shape": self.batch_shape, "dtype": self._input_dtype, "sparse": self.sparse,
                "ragged": self.ragged, "name": self.name, "optional": self.optional}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None,
          optional=False):
    """The nn-level `Input`: an InputLayer declaring shape (without batch) and dtype.

    `nn.Sequential([nn.Input((28, 28, 1)), ...]).init(rng)` then needs no spec."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, batch_shape=batch_shape,
                      input_tensor=tensor, optional=optional, name=name)


class Dense(QuantizedKernel, KernelBias, Layer):
    """`activation(inputs @ kernel + bias)`. inputs: (..., in) -> (..., units); kernel: (in, units)."""

    supports_masking = True  # the mask passes through (Keras)

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, activity_regularizer=activity_regularizer,
                         **kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise self.error(f"expected `units` to be a positive int, got {units!r}.")
        _no_lora(self, lora_rank, lora_alpha)
        quantized.set_config(self, quantization_config)
        self.units = int(units)
        self.set_kernel_bias(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                             bias_regularizer, kernel_constraint, bias_constraint)

    def check_input(self, x):
        expect_rank(self, x, range(1, 64), "input (..., features)")

    def build(self, rng, spec):
        k1, k2 = frandom.split_key(rng, 2)
        dtype = self.variable_dtype
        shape = (spec.shape[-1], self.units)
        mode = quantized.mode_of(self)
        params, state = {}, {}
        if mode == "int8":  # Keras's int8 weights, not trainable (so state): kernel int8, kernel_scale
            state = {"kernel": ops.zeros(shape, "int8"), "kernel_scale": ops.ones((self.units,), dtype)}
        elif mode == "int4":  # packed along units: (in, ceil(units / 2))
            state = quantized.int4_layout(shape[0], self.units, quantized.block_size(self), dtype)
        elif mode in ("gptq", "awq"):  # codes (units, in), 4-bit packed along units
            state = quantized.calibrated_layout(self, shape)
        else:
            if mode == "float8":  # Keras makes the float8 meta weights first
                params.update(quantized.float8_layout(quantized.amax_history_length(self)))
            params["kernel"] = self.kernel_initializer(shape, dtype, key=k1)
        if self.use_bias:
            params["bias"] = self.bias_initializer((self.units,), dtype, key=k2)
        return Variables(params, state)

    # Keras's order of the weights in a `.keras` file per quantization mode (`save_own_variables`)
    quantized_save_order = quantized.KERNEL_SAVE_ORDER

    def quantized_kernel(self, kernel, mode, config, input_spec=None):
        """The int8/int4 weights of `kernel` (in, units), as Keras's `Dense.quantize`: int8 per-output-channel
        abs-max kernel and `kernel_scale` (units,); int4 the same in [-8, 7] packed two per byte along units, or
        grouped by `config.block_size` input rows with `kernel_zero` and `g_idx`. The layer with dtype
        `quantized.policy_for(...)` and this config builds and calls them."""
        if mode == "int8":
            wq = quantized.weight_quantizer(config, quantizers.AbsMaxQuantizer(axis=0))
            q, scale = wq(kernel, to_numpy=True)
            return {"kernel": q, "kernel_scale": ops.cast(ops.squeeze(scale, axis=0), self.variable_dtype)}
        block = quantized.block_size(self, config)
        packed, scale, zero = quantized.quantize_int4(kernel, block, quantized.weight_quantizer(config))
        return self.int4_weights(kernel.shape[0], self.units, block, packed, scale, zero)

    def call(self, variables, x, training=False, rng=None):
        mode, variables = self.quantized_call_variables(variables)
        kernel = (variables.state if mode in ("int8", "int4", "gptq", "awq") else variables.params)["kernel"]
        rows = variables.state["g_idx"].shape[0] if mode in ("gptq", "awq") else kernel.shape[0]
        if x.shape[-1] != rows:
            raise self.error(f"expected input with last dimension {rows}, got shape {tuple(x.shape)}.")
        bias = variables.params.get("bias") if self.use_bias else None
        if mode == "int8":
            y = quantized.int8_call(_MATMUL, x, kernel, variables.state["kernel_scale"], self.compute_dtype,
                                    quantized.inputs_quantizer(self, mode))
        elif mode == "int4":
            y = quantized.int4_call(_MATMUL, x, variables.state, self.units, self.compute_dtype,
                                    quantized.inputs_quantizer(self, mode))
        elif mode == "float8":
            y = quantized.float8_call(_MATMUL, x, kernel, variables.params, self.compute_dtype, training)
            bias = None if bias is None else quantized.float8_bias(bias, self.compute_dtype)
        elif mode in ("gptq", "awq"):
            y = quantized.calibrated_call(_MATMUL, x, variables.state, (rows, self.units),
                                          self.dtype_policy.weight_bits, self.compute_dtype)
        else:
            y = ops.matmul(x, kernel)
        if bias is not None:
            y = ops.add(y, bias)
        return self.activation(y)

    def get_config(self):
        return super().get_config() | {
            "units": self.units,
        } | self.kernel_bias_config(activity_regularizer=False) | {"quantization_config": quantizers.serialize(self.quantization_config)}


_MATMUL = quantized.Contraction()


class Activation(Layer):
    """Apply an activation function elementwise. Shape preserved."""

    supports_masking = True  # the mask passes through (Keras)

    def __init__(self, activation, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.activation = self.lookup(activations.get, activation, "activation")

    def call(self, variables, x, training=False, rng=None):
        return self.activation(x)

    def get_config(self):
        return super().get_config() | {"activation": activations.serialize(self.activation)}


class Dropout(Layer):
    """Zero a `rate` fraction of inputs and scale the rest by 1/(1-rate), only when training.

    Training with rate > 0 on JAX arrays needs a key: `rng`, or else the layer's `seed` (the
    same mask every call). In a container each child gets its own key folded from its name.
    `noise_shape` (None entries = the input's size) shares the mask along axes of size 1.
    """

    supports_masking = True  # the mask passes through (Keras)

    def __init__(self, rate, noise_shape=None, seed=None, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise self.error(f"expected `rate` as a float in [0, 1], got {rate!r}.")
        self.rate = float(rate) if isinstance(rate, float) else rate
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed

    def check_input(self, x):
        if self.noise_shape is not None and len(self.noise_shape) != len(x.shape):
            raise self.error(f"noise_shape {self.noise_shape} must have the input's rank; got input shape "
                             f"{tuple(x.shape)}.")

    def call(self, variables, x, training=False, rng=None):
        if not training or self.rate == 0:
            return x
        if self.rate == 1:
            return ops.zeros_like(x)
        if rng is None:
            if self.seed is not None:
                rng = int(self.seed)
            elif ops.framework_of(x) == "jax":
                raise self.error("training with rate > 0 needs an `rng` key (or a `seed`); got rng=None.")
        return frandom.dropout(x, self.rate, noise_shape=self.noise_shape, seed=rng)

    def get_config(self):
        return super().get_config() | {"rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape}


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...); (batch,) -> (batch, 1)."""

    def __init__(self, data_format=None, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.data_format = _data_format(self, data_format)

    def check_input(self, x):
        expect_rank(self, x, range(1, 64), "input (batch, ...)")

    def call(self, variables, x, training=False, rng=None):
        if self.data_format == "channels_first" and len(x.shape) > 2:
            x = ops.transpose(x, (0, *range(2, len(x.shape)), 1))
        return ops.reshape(x, (-1, math.prod(x.shape[1:])))

    def get_config(self):
        return super().get_config() | {"data_format": self.data_format}


class Embedding(Layer):
    """Look up rows of `embeddings` (input_dim, output_dim): int (batch, ...) -> (batch, ..., output_dim)."""

    weight_regularizers = {"embeddings": "embeddings_regularizer"}
    weight_constraints = {"embeddings": "embeddings_constraint"}

    @property
    def supports_masking(self):
        return self.mask_zero  # as Keras: only an Embedding making masks hands them on

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, name=None, dtype=None, trainable=True, activity_regularizer=None,
                 **kwargs):
        if kwargs.pop("input_length", None) is not None:  # Keras 2's argument: Keras 3 warns and ignores it
            warnings.warn("Argument `input_length` is deprecated. Just remove it.", stacklevel=2)
        super().__init__(name=name, dtype=dtype, trainable=trainable, activity_regularizer=activity_regularizer,
                         **kwargs)
        for arg, v in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise self.error(f"expected `{arg}` to be a positive int, got {v!r}.")
        _no_lora(self, lora_rank, lora_alpha)
        quantized.set_config(self, quantization_config)
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        set_weight_args(self, ("embeddings",), embeddings_initializer, embeddings_regularizer, embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        if weights is not None:
            w = np.asarray(weights[0] if isinstance(weights, (list, tuple)) else weights)
            if w.shape != (self.input_dim, self.output_dim):
                raise self.error(f"expected `weights` of shape {(self.input_dim, self.output_dim)}, got {w.shape}.")
            w.setflags(write=False)
            weights = w
        self._initial_weights = weights

    def build(self, rng, spec):
        mode = quantized.mode_of(self)
        if mode == "int8":  # Keras's int8 layout: one scale per row (token)
            return Variables({}, {"embeddings": ops.zeros((self.input_dim, self.output_dim), "int8"),
                                  "embeddings_scale": ops.ones((self.input_dim,), self.variable_dtype)})
        if mode == "int4":
            return Variables({}, self._int4_layout(quantized.block_size(self)))
        if self._initial_weights is not None:
            return Variables({"embeddings": ops.convert_to_tensor(self._initial_weights, self.variable_dtype)}, {})
        shape = (self.input_dim, self.output_dim)
        return Variables({"embeddings": self.embeddings_initializer(shape, self.variable_dtype, key=rng)}, {})

    def _int4_layout(self, block):
        """int4 rows packed along output_dim: (input_dim, ceil(output_dim / 2)); a scale per row, or per row and
        group of `block` columns with zero points and the group `g_idx` of each column."""
        grouped = block is not None and block > 0
        scale_shape = (self.input_dim, math.ceil(self.output_dim / block)) if grouped else (self.input_dim,)
        state = {"embeddings": ops.zeros((self.input_dim, (self.output_dim + 1) // 2), "int8"),
                 "embeddings_scale": ops.ones(scale_shape, self.variable_dtype)}
        if grouped:
            state["embeddings_zero"] = ops.zeros(scale_shape, "int8")
            state["g_idx"] = ops.floor_divide(ops.arange(self.output_dim, dtype="float32"), block)
        return state

    quantization_modes = ("int8", "int4")
    quantized_save_order = {"int8": ("embeddings", "embeddings_scale"),
                            "int4": ("embeddings", "embeddings_scale", "embeddings_zero", "g_idx")}

    def quantize_variables(self, variables, mode="int8", config=None, input_spec=None):
        """Float variables in the layout of this layer quantized to `mode` with `config` (None: the mode's
        default), as Keras's `Embedding.quantize`: int8 abs-max per row with `embeddings_scale` (input_dim,);
        int4 the same in [-8, 7] packed two per byte along output_dim, or grouped by `config.block_size`
        columns with `embeddings_zero` and `g_idx`."""
        quantized.check_quantizable(self, mode)
        config = quantizers.validate_and_resolve_config(mode, config)
        table = variables.params["embeddings"]
        params = {k: v for k, v in variables.params.items() if k != "embeddings"}
        state = dict(variables.state)
        if mode == "int8":
            wq = quantized.weight_quantizer(config, quantizers.AbsMaxQuantizer(axis=-1))
            q, scale = wq(table, to_numpy=True)
            state.update(embeddings=q, embeddings_scale=ops.cast(ops.squeeze(scale, axis=-1), self.variable_dtype))
            return Variables(params, state)
        block = quantized.block_size(self, config)
        if block is not None and block > 0:  # groups of columns: quantize the transposed table by rows
            q, scale, zero = quantizers.abs_max_quantize_grouped_with_zero_point(
                ops.transpose(table), block_size=block, value_range=quantized.INT4_RANGE, dtype="int8", to_numpy=True)
            q, scale, zero = ops.transpose(q), ops.transpose(scale), ops.transpose(zero)
        else:
            wq = quantized.weight_quantizer(config, quantizers.AbsMaxQuantizer(
                axis=-1, value_range=quantized.INT4_RANGE, output_dtype="int8"))
            q, scale = wq(table, to_numpy=True)
            scale, zero = ops.squeeze(scale, axis=-1), None
        packed, _, _ = quantizers.pack_int4(q, axis=-1)
        state.update(self._int4_layout(block), embeddings=packed, embeddings_scale=ops.cast(scale, self.variable_dtype))
        if zero is not None:
            state["embeddings_zero"] = zero
        return Variables(params, state)

    def call(self, variables, x, training=False, rng=None):
        self._check_indices(x)
        if ops.dtype(x) not in ("int32", "int64"):
            x = ops.cast(x, "int32")
        mode = quantized.mode_of(self)
        if mode is None:
            return ops.take(variables.params["embeddings"], x, axis=0)
        st = quantized.autocast(self, variables).state
        table = st["embeddings"]
        if mode == "int4":
            table = quantizers.unpack_int4(table, self.output_dim, axis=-1)
        rows = ops.take(table, x, axis=0)
        scale = ops.take(st["embeddings_scale"], x, axis=0)
        if "embeddings_zero" in st:
            zero = ops.take(st["embeddings_zero"], x, axis=0)
            return quantizers.dequantize_with_sz_map(ops.cast(rows, self.compute_dtype), scale, zero, st["g_idx"],
                                                     group_axis=-1)
        return ops.divide(ops.cast(rows, self.compute_dtype), ops.expand_dims(scale, -1))

    def compute_mask(self, inputs, mask=None):
        """(batch, ...) bool, True where the index is not 0 (with `mask_zero=True`); None otherwise."""
        if not self.mask_zero or _reversible(self):  # Keras's ReversibleEmbedding makes no mask
            return None
        return inputs != 0

    def _check_indices(self, x):
        """Indices outside [0, input_dim) are an error for concrete (eager, NumPy) inputs. Under jit the
        values are unknown when tracing, and the lookup follows `jnp.take`: a row of NaN (float tables)."""
        if isinstance(x, jax.core.Tracer) or not isinstance(x, (np.ndarray, jax.Array)) or x.size == 0:
            return
        a = np.asarray(x)
        lo, hi = a.min(), a.max()
        if lo < 0 or hi >= self.input_dim:
            bad = lo if lo < 0 else hi
            raise self.error(f"received index {bad}, outside the valid range [0, {self.input_dim}) of its "
                             f"`input_dim={self.input_dim}` rows (inputs of shape {tuple(a.shape)}).")

    def get_config(self):
        return super().get_config() | {
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
        } | weight_args_config(self, ("embeddings",), activity="activity_regularizer") | {
            "mask_zero": self.mask_zero,
            "quantization_config": quantizers.serialize(self.quantization_config),
        }


def _reversible(layer) -> bool:
    return any(k.__name__ == "ReversibleEmbedding" for k in type(layer).__mro__)


class Masking(Layer):
    """Mark timesteps whose features all equal `mask_value` as padding: (batch, steps, features) ->
    the same array with those steps zeroed, and the mask (batch, steps) for the layers after it."""

    supports_masking = True

    def __init__(self, mask_value=0.0, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float, np.integer, np.floating)):
            raise self.error(f"expected `mask_value` as a number, got {mask_value!r}.")
        self.mask_value = mask_value.item() if isinstance(mask_value, (np.integer, np.floating)) else mask_value

    def check_input(self, x):
        expect_rank(self, x, range(2, 64), "input (batch, ..., features)")

    def compute_mask(self, inputs, mask=None):
        return ops.any(inputs != self.mask_value, axis=-1)

    def call(self, variables, x, training=False, rng=None):
        keep = ops.any(ops.not_equal(x, self.mask_value), axis=-1, keepdims=True)
        return ops.where(keep, x, ops.zeros_like(x))

    def get_config(self):
        return super().get_config() | {"mask_value": self.mask_value}


class Rescaling(Layer):
    """`inputs * scale + offset`, in the compute dtype (integer images become floats)."""

    supports_masking = True  # the mask passes through (Keras)

    def __init__(self, scale, offset=0.0, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.scale = tuple(scale) if isinstance(scale, list) else scale
        self.offset = tuple(offset) if isinstance(offset, list) else offset

    def call(self, variables, x, training=False, rng=None):
        dtype = self.compute_dtype
        x = ops.cast(x, dtype)
        scale = ops.cast(ops.convert_to_tensor(self.scale), dtype) if isinstance(self.scale, tuple) else self.scale
        offset = ops.cast(ops.convert_to_tensor(self.offset), dtype) if isinstance(self.offset, tuple) else self.offset
        return ops.add(ops.multiply(x, scale), offset)

    def get_config(self):
        scale = list(self.scale) if isinstance(self.scale, tuple) else self.scale
        offset = list(self.offset) if isinstance(self.offset, tuple) else self.offset
        return super().get_config() | {"scale": scale, "offset": offset}


def _data_format(layer, data_format):
    data_format = data_format or backend.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise layer.error(f"expected data_format 'channels_last' or 'channels_first', got {data_format!r}.")
    return data_format


class Identity(Layer):
    """Return the input unchanged (a placeholder layer)."""

    supports_masking = True  # the mask passes through (Keras)

    def call(self, variables, x, training=False, rng=None):
        return x


class _SpatialDropout(Dropout):
    """Dropout of whole feature maps over `rank` spatial axes: one mask entry per (example, channel)."""

    rank = 2
    layout = "(batch, rows, cols, channels)"

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.data_format = _data_format(self, data_format)

    def check_input(self, x):
        expect_rank(self, x, self.rank + 2, f"input {self.layout}")

    def call(self, variables, x, training=False, rng=None):
        ones = (1,) * self.rank
        if self.data_format == "channels_first":
            shape = (x.shape[0], x.shape[1]) + ones
        else:
            shape = (x.shape[0],) + ones + (x.shape[-1],)
        return _noise_shaped_dropout(self, x, shape, training, rng)

    def get_config(self):
        # Keras 3.15 writes exactly these keys for spatial dropouts (dtype as a plain name, no `trainable`).
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype,
                "data_format": self.data_format}


class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole channels: one mask entry per (example, channel) of (batch, steps, channels)."""

    rank = 1
    layout = "(batch, steps, channels)"

    def __init__(self, rate, seed=None, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(rate, "channels_last", seed=seed, name=name, dtype=dtype, trainable=trainable, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["data_format"]  # Keras's SpatialDropout1D has none
        return config


class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole feature maps: one mask entry per (example, channel) of 4-D inputs."""


def _noise_shaped_dropout(layer, x, noise_shape, training, rng):
    if not training or layer.rate == 0:
        return x
    if rng is None:
        if layer.seed is not None:
            rng = int(layer.seed)
        elif ops.framework_of(x) == "jax":
            raise layer.error("training with rate > 0 needs an `rng` key (or a `seed`); got rng=None.")
    return frandom.dropout(x, layer.rate, noise_shape=noise_shape, seed=rng)


class GaussianNoise(Layer):
    """Add zero-mean Gaussian noise of `stddev` when training (needs `rng` or `seed`); identity otherwise."""

    supports_masking = True  # the mask passes through (Keras)

    def __init__(self, stddev, seed=None, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        if not isinstance(stddev, (int, float)) or stddev < 0:
            raise self.error(f"expected `stddev` as a float >= 0, got {stddev!r}.")
        self.stddev, self.seed = stddev, seed

    def call(self, variables, x, training=False, rng=None):
        if not training or self.stddev == 0:
            return x
        if rng is None:
            if self.seed is None:
                raise self.error("training needs an `rng` key (or a `seed`); got rng=None.")
            rng = int(self.seed)
        noise = frandom.normal(tuple(x.shape), stddev=self.stddev, dtype=ops.dtype(x), seed=rng)
        return ops.add(x, noise)

    def get_config(self):
        return super().get_config() | {"stddev": self.stddev, "seed": self.seed}
