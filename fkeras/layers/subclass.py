"""`SubclassAdapter`: the pure counterpart of a user's subclassed facade `Layer`/`Model` (and of a
built-in layer subclass that overrides `call` or `build`), written once for both."""

from __future__ import annotations

from fkeras import ops
from fkeras.layers.layer import Layer
from fkeras.nn.base import Layer as NNBase
from fkeras.nn.base import Variables, as_variables


def _sum_float32(terms):
    """Keras's `sum(model.losses)`: each term summed to a float32 scalar, then added (0.0 for none)."""
    total = 0.0
    for term in terms:
        total = total + ops.sum(ops.cast(term, "float32"))
    return total


class SubclassAdapter(NNBase):
    """The pure counterpart of a user's subclassed facade `Layer`/`Model`.

    `init` is the facade layer's (it builds the layer on the first call, tracing `call`);
    `apply(variables, *inputs, training, rng)` binds each Variable to its array in `variables`
    for the duration of the user's `call` and returns `(outputs, new_state)`. `_apply_collect`
    adds the call's `add_loss` terms; `regularization_losses(params)` the weight penalties.
    Params/state are the facade layer's tree (own weights by name, sub-layers under their names).
    """

    stateful = True
    autocast = False  # the facade layer casts for itself (its dtype policy)

    def __init__(self, layer):
        if not isinstance(layer, Layer):
            raise TypeError(f"SubclassAdapter: expected a facade fkeras.layers.Layer, got {type(layer).__name__}.")
        super().__init__(name=layer.name, dtype=layer.dtype_policy, trainable=layer.trainable)
        self.layer = layer

    def init(self, rng, *input_specs):
        return Layer.init(self.layer, rng, *input_specs)

    def apply(self, variables, *inputs, training=False, rng=None, **kwargs):
        out, new_state, _, _ = Layer._fk_apply_parts(self.layer, as_variables(variables), inputs, kwargs,
                                                     training, rng)
        return out, new_state

    def _apply_collect(self, variables, *inputs, training=False, rng=None):
        out, new_state, call_losses, _ = Layer._fk_apply_parts(self.layer, as_variables(variables), inputs, {},
                                                               training, rng)
        return out, new_state, _sum_float32(call_losses)

    def regularization_losses(self, params):
        if isinstance(params, Variables):
            params = params.params
        return _sum_float32(self.layer._fk_weight_penalties(params))

    def apply_constraints(self, params):
        if isinstance(params, Variables):
            return Variables(self.apply_constraints(params.params), params.state)
        return self.layer._apply_constraints(params)

    def get_config(self):
        return self.layer.get_config()
