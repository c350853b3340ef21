"""`CategoryEncoding`: integer category ids -> one-hot, multi-hot or count vectors."""

from __future__ import annotations

from fkeras import ops
from fkeras.nn.base import as_variables
from fkeras.nn.preprocessing import _common


class CategoryEncoding(_common.PreprocessingLayer):
    """Encode int ids in [0, num_tokens): "one_hot" (..., 1) or (...,) -> (..., num_tokens); "multi_hot" /
    "count" (batch, n) -> (batch, num_tokens) (a rank-1 input is one sample). `count_weights` (same
    shape as the ids, "count" only) weighs each occurrence. Output in the layer's dtype (float32)."""

    builds_no_variables = True  # the facade layer is built as made

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in ("count", "one_hot", "multi_hot"):
            raise self.error(f"unknown arg for output_mode: {output_mode!r}; expected 'count', 'one_hot' or "
                             "'multi_hot'.")
        if num_tokens is None:
            raise self.error("num_tokens must be set to use this layer. If the number of tokens is not known "
                             "beforehand, use the IntegerLookup layer instead.")
        if num_tokens < 1:
            raise self.error(f"`num_tokens` must be >= 1. Received: num_tokens={num_tokens}.")
        if sparse:
            raise self.error("`sparse=True` is not supported (fkeras has no sparse tensors).")
        self.num_tokens = num_tokens
        self.output_mode = output_mode
        self.sparse = sparse

    def apply(self, variables, x, training=False, rng=None, count_weights=None):
        """`(encoded, state)`; `count_weights` as Keras's call argument."""
        variables = as_variables(variables)
        if count_weights is not None and self.output_mode != "count":
            raise self.error("`count_weights` is not used when `output_mode` is not `'count'`. "
                             f"Received `count_weights={count_weights}`.")
        if count_weights is not None:
            count_weights = ops.cast(count_weights, self.compute_dtype)
        return _common.encode(x, self.output_mode, self.num_tokens, self.dtype,
                              count_weights=count_weights), variables.state

    def compute_output_shape(self, input_shape):
        """The output shape for `input_shape` (None dims allowed)."""
        return _common.encoded_shape(tuple(input_shape), self.output_mode, self.num_tokens)

    def get_config(self):
        config = super().get_config()
        config.update({"num_tokens": self.num_tokens, "output_mode": self.output_mode})
        return config
