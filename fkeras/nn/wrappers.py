"""`TimeDistributed`: apply one layer to every time step of (batch, timesteps, ...)."""

from __future__ import annotations

import jax

from fkeras import ops
from fkeras.nn.base import Layer, Variables, as_variables, expect_rank, fold_name
from fkeras.nn.recurrent import _serialize, as_nn_layer, leaf_layout, _nest


class TimeDistributed(Layer):
    """Apply `layer` to each slice `inputs[:, t]` with the same weights.

    (batch, timesteps, *in) -> (batch, timesteps, *out). A layer without state runs once on the merged
    (batch * timesteps, ...) input; a layer with state (BatchNormalization) runs step by step with its state
    carried from one step to the next, as Keras calls it once per step. Params nest under the layer's name."""

    stateful = True
    autocast = False  # the inner layer casts for itself

    def __init__(self, layer, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.layer = as_nn_layer(layer, "layer")

    def check_input(self, x, *rest):
        expect_rank(self, x, range(3, 64), "input (batch, timesteps, ...)")

    def build(self, rng, spec, *rest):
        step = jax.ShapeDtypeStruct((spec.shape[0],) + tuple(spec.shape[2:]), spec.dtype)
        v = self.layer.init(fold_name(rng, self.layer.name), step)
        return Variables({self.layer.name: v.params} if v.params else {},
                         {self.layer.name: v.state} if v.state else {})

    def apply(self, variables, *inputs, training: bool = False, rng=None, mask=None):
        variables = as_variables(variables)
        self.check_input(*inputs)
        return self.call(variables, *inputs, training=training, rng=rng, mask=mask)

    def call(self, variables, x, training=False, rng=None, mask=None):
        name = self.layer.name
        sub = Variables(variables.params.get(name, {}), variables.state.get(name, {}))
        key = fold_name(rng, name)
        b, t = x.shape[0], x.shape[1]
        if not sub.state:
            y, _ = self.layer.apply(sub, ops.reshape(x, (b * t,) + tuple(x.shape[2:])), training=training, rng=key)
            return ops.reshape(y, (b, t) + tuple(y.shape[1:])), variables.state
        xs = ops.transpose(x, (1, 0) + tuple(range(2, len(x.shape))))

        def step(state, inp):
            x_t, i = inp
            k = None if key is None else jax.random.fold_in(key, i)
            y, new = self.layer.apply(Variables(sub.params, state), x_t, training=training, rng=k)
            return new, y

        state, ys = ops.scan(step, sub.state, (xs, ops.arange(t)))
        ys = ops.transpose(ys, (1, 0) + tuple(range(2, len(ys.shape))))
        return ys, {**variables.state, name: state}

    def regularization_losses(self, params):
        if isinstance(params, Variables):
            params = params.params
        return self.layer.regularization_losses(params.get(self.layer.name, {}))

    def apply_constraints(self, params):
        if isinstance(params, Variables):
            return Variables(self.apply_constraints(params.params), params.state)
        out = dict(params)
        if self.layer.name in out:
            out[self.layer.name] = self.layer.apply_constraints(out[self.layer.name])
        return out

    def saving_layout(self, params, state):
        """Keras writes the wrapped layer's weights under `<wrapper>/layer`."""
        inner = leaf_layout(self.layer, (params or {}).get(self.layer.name, {}),
                            (state or {}).get(self.layer.name, {}))
        return [("", [])] + _nest(inner, "layer", self.layer.name)

    def get_config(self):
        return super().get_config() | {"layer": _serialize(self.layer)}
