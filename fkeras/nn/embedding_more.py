"""`ReversibleEmbedding`: an Embedding that also projects vectors back to vocabulary logits (Keras 3.15)."""

from __future__ import annotations

from fkeras import ops
from fkeras.nn.base import Variables, as_variables, cast_floats
from fkeras.nn.core import Embedding


class ReversibleEmbedding(Embedding):
    """`apply(v, ids)`: int (batch, ...) -> (batch, ..., output_dim), as Embedding. `apply(v, x, reverse=True)`:
    (..., output_dim) -> logits (..., input_dim) = x @ embeddings^T (tie_weights) or x @ reverse_embeddings,
    computed in `reverse_dtype` when given, then `logit_soft_cap * tanh(logits / logit_soft_cap)` when set."""

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
        reverse = self.embeddings_initializer((self.output_dim, self.input_dim), self.variable_dtype, key=k2)
        return Variables({**v.params, "reverse_embeddings": reverse}, v.state)

    def apply(self, variables, x, training=False, rng=None, reverse=False):
        if not reverse:
            return super().apply(variables, x, training=training, rng=rng)
        variables = as_variables(variables)
        if x.shape[-1] != self.output_dim:
            raise self.error(f"reverse=True expects inputs with last dimension {self.output_dim}, got shape "
                             f"{tuple(x.shape)}.")
        p = variables.params
        x = cast_floats(x, self.compute_dtype)
        kernel = ops.transpose(p["embeddings"]) if self.tie_weights else p["reverse_embeddings"]
        kernel = cast_floats(kernel, self.compute_dtype)
        if self.reverse_dtype is not None:
            x, kernel = ops.cast(x, self.reverse_dtype), ops.cast(kernel, self.reverse_dtype)
        logits = ops.matmul(x, kernel)
        if self.logit_soft_cap is not None:
            logits = ops.tanh(logits / self.logit_soft_cap) * self.logit_soft_cap
        return logits, variables.state

    def get_config(self):
        return super().get_config() | {"tie_weights": self.tie_weights, "reverse_dtype": self.reverse_dtype,
                                       "logit_soft_cap": self.logit_soft_cap}
