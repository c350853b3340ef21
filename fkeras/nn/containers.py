"""Containers that compose pure layers: `Sequential`."""

from __future__ import annotations

from fkeras.nn.base import Layer, Variables, as_spec, fold_name


class Sequential(Layer):
    """Apply `layers` one after another. Params/state are keyed by each layer's name.

    Each child gets its own key, folded from the container's key with the child's name,
    so two Dropouts never share a mask.
    """

    def __init__(self, layers=(), name=None, dtype=None, trainable=True):
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        layers = tuple(layers)
        seen = set()
        for layer in layers:
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential '{self.name}': expected fkeras.nn layers, got {type(layer).__name__}.")
            if layer.name in seen:
                raise ValueError(f"Sequential '{self.name}': two layers are named {layer.name!r}; names must be unique.")
            seen.add(layer.name)
        self.layers = layers

    @property
    def stateful(self):
        return True

    def build(self, rng, spec):
        params, state = {}, {}
        for layer in self.layers:
            v = layer.init(fold_name(rng, layer.name), spec)
            if v.params:
                params[layer.name] = v.params
            if v.state:
                state[layer.name] = v.state
            spec = as_spec(layer.output_spec(v, spec))
        return Variables(params, state)

    def call(self, variables, x, training=False, rng=None):
        new_state = {}
        for layer in self.layers:
            v = Variables(variables.params.get(layer.name, {}), variables.state.get(layer.name, {}))
            x, s = layer.apply(v, x, training=training, rng=fold_name(rng, layer.name))
            if s:
                new_state[layer.name] = s
        return x, new_state

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                "layers": [{"class_name": type(l).__name__, "config": l.get_config()} for l in self.layers]}
