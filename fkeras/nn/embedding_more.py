"""`ReversibleEmbedding`: an Embedding that also projects vectors back to vocabulary logits (Keras 3.15).

Quantized ("int8", "int4") as Keras 3.15 quantizes it: the table as Embedding's, and an untied
`reverse_embeddings` (output_dim, input_dim) abs-max per column (input_dim scales), int4 packed two per byte along
output_dim, per column or in groups of `block_size` rows with float zero points. The reverse projection of a
quantized layer quantizes its inputs per row (the config's activation quantizer, else `AbsMaxQuantizer(axis=-1)`).
"""

from __future__ import annotations

import math

from fkeras import ops
from fkeras.nn import quantized, quantizers
from fkeras.nn.base import Variables, as_variables, cast_floats
from fkeras.nn.core import Embedding

_REVERSE = ("reverse_embeddings", "reverse_embeddings_scale", "reverse_embeddings_zero")


class ReversibleEmbedding(Embedding):
    """`apply(v, ids)`: int (batch, ...) -> (batch, ..., output_dim), as Embedding. `apply(v, x, reverse=True)`:
    (..., output_dim) -> logits (..., input_dim) = x @ embeddings^T (tie_weights) or x @ reverse_embeddings,
    computed in `reverse_dtype` when given, then `logit_soft_cap * tanh(logits / logit_soft_cap)` when set."""

    # Keras's `variable_serialization_spec` (a name the layer lacks is skipped)
    quantized_save_order = {mode: order + _REVERSE for mode, order in Embedding.quantized_save_order.items()}

    def __init__(self, input_dim, output_dim, tie_weights=True, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False, reverse_dtype=None,
                 logit_soft_cap=None, **kwargs):
        super().__init__(input_dim, output_dim, embeddings_initializer=embeddings_initializer,
                         embeddings_regularizer=embeddings_regularizer, embeddings_constraint=embeddings_constraint,
                         mask_zero=mask_zero, **kwargs)
        self.tie_weights, self.reverse_dtype, self.logit_soft_cap = bool(tie_weights), reverse_dtype, logit_soft_cap

    def build(self, rng, spec):
        import jax

        k1, k2 = jax.random.split(rng) if rng is not None else (None, None)
        v = super().build(k1, spec)
        if self.tie_weights:
            return v
        mode = quantized.mode_of(self)
        if mode is not None:
            return Variables(v.params, v.state | self._reverse_layout(mode, quantized.block_size(self)))
        reverse = self.embeddings_initializer((self.output_dim, self.input_dim), self.variable_dtype, key=k2)
        return Variables({**v.params, "reverse_embeddings": reverse}, v.state)

    def _reverse_layout(self, mode, block):
        """The untied quantized reverse weights (zeros, scales one), as Keras's `_int8_build`/`_int4_build`."""
        if mode == "int8":
            return {"reverse_embeddings": ops.zeros((self.output_dim, self.input_dim), "int8"),
                    "reverse_embeddings_scale": ops.ones((self.input_dim,), self.variable_dtype)}
        grouped = block is not None and block > 0
        scale_shape = (math.ceil(self.output_dim / block), self.input_dim) if grouped else (self.input_dim,)
        out = {"reverse_embeddings": ops.zeros(((self.output_dim + 1) // 2, self.input_dim), "int8"),
               "reverse_embeddings_scale": ops.ones(scale_shape, self.variable_dtype)}
        if grouped:  # Keras makes this zero point a float weight (the forward table's is int8)
            out["reverse_embeddings_zero"] = ops.zeros(scale_shape, self.variable_dtype)
        return out

    def quantize_variables(self, variables, mode="int8", config=None, input_spec=None):
        """Float variables in the layout of this layer quantized to `mode` (Keras's `ReversibleEmbedding.quantize`):
        the table as `Embedding.quantize_variables`; an untied `reverse_embeddings` (output_dim, input_dim) abs-max
        over axis 0 (int8: `reverse_embeddings_scale` (input_dim,); int4: packed along axis 0, per column, or per
        group of `block_size` rows with `reverse_embeddings_scale`/`_zero` (n_groups, input_dim))."""
        quantized.check_quantizable(self, mode)
        config = quantizers.validate_and_resolve_config(mode, config)
        params = dict(variables.params)
        reverse = params.pop("reverse_embeddings", None)
        if not self.tie_weights and reverse is None:
            raise self.error("expected float `reverse_embeddings` (tie_weights=False) among the variables to "
                             f"quantize; got params {sorted(variables.params)}.")
        out = super().quantize_variables(Variables(params, variables.state), mode, config)
        if self.tie_weights:
            return out
        state = dict(out.state)
        if mode == "int8":
            wq = quantized.weight_quantizer(config, quantizers.AbsMaxQuantizer(axis=0))
            q, scale = wq(reverse, to_numpy=True)
            state.update(reverse_embeddings=q,
                         reverse_embeddings_scale=ops.cast(ops.squeeze(scale, axis=0), self.variable_dtype))
            return Variables(out.params, state)
        block = config.block_size if isinstance(config, quantizers.Int4QuantizationConfig) else None
        if block is not None and block != -1:
            q, scale, zero = quantizers.abs_max_quantize_grouped_with_zero_point(
                reverse, block_size=block, value_range=quantized.INT4_RANGE, dtype="int8", to_numpy=True)
            state["reverse_embeddings_zero"] = ops.cast(zero, self.variable_dtype)
        else:
            wq = quantized.weight_quantizer(config, quantizers.AbsMaxQuantizer(
                axis=0, value_range=quantized.INT4_RANGE, output_dtype="int8"))
            q, scale = wq(reverse, to_numpy=True)
            scale = ops.squeeze(scale, axis=0)
        packed, _, _ = quantizers.pack_int4(q, axis=0)
        state.update(reverse_embeddings=packed, reverse_embeddings_scale=ops.cast(scale, self.variable_dtype))
        order = self.quantized_save_order[mode]
        return Variables(out.params, {k: state[k] for k in order if k in state})

    def apply(self, variables, x, training=False, rng=None, reverse=False):
        if not reverse:
            return super().apply(variables, x, training=training, rng=rng)
        variables = as_variables(variables)
        if x.shape[-1] != self.output_dim:
            raise self.error(f"reverse=True expects inputs with last dimension {self.output_dim}, got shape "
                             f"{tuple(x.shape)}.")
        x = cast_floats(x, self.compute_dtype)
        mode = quantized.mode_of(self)
        if mode is not None:
            logits = self._quantized_reverse(quantized.autocast(self, variables).state, x, mode)
        else:
            p = variables.params
            kernel = ops.transpose(p["embeddings"]) if self.tie_weights else p["reverse_embeddings"]
            kernel = cast_floats(kernel, self.compute_dtype)
            if self.reverse_dtype is not None:
                x, kernel = ops.cast(x, self.reverse_dtype), ops.cast(kernel, self.reverse_dtype)
            logits = ops.matmul(x, kernel)
        if self.logit_soft_cap is not None:
            logits = ops.tanh(logits / self.logit_soft_cap) * self.logit_soft_cap
        return logits, variables.state

    def _quantized_reverse(self, st, x, mode):
        """Keras's int8/int4 reverse projection: inputs quantized per row (unless the config's activation
        quantizer is None), contracted with the integer kernel and divided by both scales; grouped int4 contracts
        with the dequantized kernel."""
        dtype = self.compute_dtype
        inputs_quantizer = quantizers.QuantizationConfig.activation_quantizer_or_default(
            self.quantization_config, quantizers.AbsMaxQuantizer(axis=-1))
        if inputs_quantizer:
            x, x_scale = inputs_quantizer(x)
        else:
            x_scale = ops.ones((1,), dtype=dtype)
        tied = self.tie_weights
        kernel = ops.transpose(st["embeddings"]) if tied else st["reverse_embeddings"]
        if mode == "int8":
            scale = st["embeddings_scale"] if tied else st["reverse_embeddings_scale"]
            return ops.divide(ops.cast(ops.matmul(x, kernel), dtype), ops.multiply(x_scale, scale))
        kernel = quantizers.unpack_int4(kernel, self.output_dim, axis=0)
        if "g_idx" not in st:  # per channel
            scale = st["embeddings_scale"] if tied else st["reverse_embeddings_scale"]
            return ops.divide(ops.cast(ops.matmul(x, kernel), dtype), ops.multiply(x_scale, scale))
        if tied:
            scale, zero = ops.transpose(st["embeddings_scale"]), ops.transpose(st["embeddings_zero"])
        else:
            scale, zero = st["reverse_embeddings_scale"], st["reverse_embeddings_zero"]
        float_kernel = quantizers.dequantize_with_sz_map(ops.cast(kernel, dtype), scale, zero, st["g_idx"],
                                                         group_axis=0)
        return ops.divide(ops.matmul(x, float_kernel), x_scale)

    def get_config(self):
        return super().get_config() | {"tie_weights": self.tie_weights, "reverse_dtype": self.reverse_dtype,
                                       "logit_soft_cap": self.logit_soft_cap}
