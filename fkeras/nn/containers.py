"""Containers that compose pure layers: `Sequential`."""

from __future__ import annotations

import jax

from fkeras.nn import dtype_policies, masking
from fkeras.nn.base import (Container, Layer, Variables, as_spec, as_variables, child_variables, fold_name, init_child,
                            layer_class)
from fkeras.nn.core import InputLayer, fit_input_rank
from fkeras.nn.functional import Graph, GraphNode, HostValues, InputInfo, Slot, TextSpec, is_text


class Sequential(Container):
    """Apply `layers` one after another. Params/state are keyed by each layer's name.

    Each child gets its own key, folded from the container's key with the child's name,
    so two Dropouts never share a mask. A first `InputLayer` (`nn.Input(shape)`), or a first
    layer given `input_shape=`, lets `init(rng)` run with no spec; the InputLayer owns no
    variables and only checks the input.

    Strings (a first `nn.Input(shape, dtype="string")`, or string arrays given): the stack runs as its
    `as_graph()`, the same layers as an `nn.functional.Graph`, whose string layers run on the host
    (`host_values(x)` for the jitted rest; `apply` takes its `HostValues`). Same names, keys, variables.
    """

    autocast = False  # children cast for themselves
    collects_with_mask = True  # `_apply_collect` takes `mask=`

    def __init__(self, layers=(), name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        layers = tuple(layers or ())
        seen = set()
        for layer in layers:
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential '{self.name}': expected fkeras.nn layers, got {type(layer).__name__}.")
            if layer.name in seen:
                raise ValueError(f"Sequential '{self.name}': two layers are named {layer.name!r}; names must be unique.")
            seen.add(layer.name)
        self.layers = layers

    stateful = True

    def _default_spec(self):
        if self.layers and isinstance(self.layers[0], InputLayer):
            return self.layers[0].input_spec()
        if self.layers and self.layers[0]._batch_input_shape is not None:
            return as_spec(self.layers[0]._batch_input_shape)
        if self._batch_input_shape is not None:
            return as_spec(self._batch_input_shape)
        raise self.error("init needs an input spec: pass one (an array, a ShapeDtypeStruct or a shape tuple) "
                         "or start the model with nn.Input(shape).")

    def init(self, rng, *input_specs) -> Variables:
        """Variables for inputs like `input_specs` (or for the declared Input when none is given)."""
        if self.has_host or any(is_text(s) for s in input_specs):
            return self.as_graph().init(rng, *input_specs)
        specs = [as_spec(s) for s in input_specs] or [self._default_spec()]
        return self.build(rng, *specs)

    # -- strings: the Graph form, whose string layers run on the host ------------------------------
    @property
    def has_host(self) -> bool:
        """Whether the declared input (a first InputLayer) is strings."""
        return bool(self.layers) and isinstance(self.layers[0], InputLayer) and self.layers[0].dtype == "string"

    def as_graph(self) -> Graph:
        """This stack as an `nn.functional.Graph`: the same layers (a first InputLayer becomes the graph's
        InputInfo), so the same variables and keys; a layer whose `output_dtype` is "string" feeds the
        next one strings."""
        layers = list(self.layers)
        first = layers[0] if layers and isinstance(layers[0], InputLayer) else None
        if first is not None:
            layers = layers[1:]
            info = InputInfo(first.name, first.batch_shape, first.dtype)
        else:
            shape = self._batch_input_shape
            info = InputInfo("input", None if shape is None else tuple(shape), "string")
        nodes = [GraphNode(layer, (Slot(i),), {}, Slot(i + 1)) for i, layer in enumerate(layers)]
        strings = [Slot(i + 1) for i, layer in enumerate(layers) if getattr(layer, "output_dtype", None) == "string"]
        return Graph(Slot(0), nodes, Slot(len(layers)), [info], name=self.name, trainable=self.trainable,
                     string_slots=strings)

    def host_values(self, x) -> HostValues:
        """Run the string layers on the host; `apply(variables, host_values(x))` equals `apply(variables, x)`."""
        return self.as_graph().host_values(x)

    def build(self, rng, spec):
        params, state = {}, {}
        for layer in self.layers:
            v = init_child(layer, rng, (spec,), params, state)
            spec = as_spec(layer.output_spec(v, spec))
        return Variables(params, state)

    def _child(self, variables, layer):
        return child_variables(variables, layer.name)

    def apply(self, variables, x, training: bool = False, rng=None, mask=None):
        """`(outputs, new_state)`; `mask` (or a mask attached to `x`) is handed along the layers with
        Keras's rules (`fkeras.nn.masking`), and the output carries the last one (`_keras_mask`)."""
        out, new_state, _ = self._run(as_variables(variables), x, training, rng, mask, collect=False)
        return out, new_state

    def call(self, variables, x, training=False, rng=None, mask=None):
        out, new_state, _ = self._run(variables, x, training, rng, mask, collect=False)
        return out, new_state

    def _apply_collect(self, variables, x, training=False, rng=None, mask=None):
        out, new_state, total = self._run(as_variables(variables), x, training, rng, mask, collect=True)
        return out, new_state, total + self.activity_loss(out)

    def _run(self, variables, x, training, rng, mask, collect):
        if self.has_host or isinstance(x, (HostValues, TextSpec)) or is_text(x):
            return self.as_graph()._run(variables, (x,), training, rng, collect, mask=mask)
        new_state, total = {}, 0.0
        if self._batch_input_shape is not None and self.layers and not isinstance(self.layers[0], InputLayer):
            x = fit_input_rank(x, self._batch_input_shape)  # (an InputLayer first fits it itself)
        current = masking.masks_of(x) if mask is None else mask
        for layer in self.layers:
            child, key = self._child(variables, layer), fold_name(rng, layer.name)

            def run(args, kwargs, layer=layer, child=child, key=key):
                if collect and (not kwargs or getattr(layer, "collects_with_mask", False)):
                    return layer._apply_collect(child, *args, training=training, rng=key, **kwargs)
                out, s = layer.apply(child, *args, training=training, rng=key, **kwargs)
                return out, s, layer.activity_loss(out) if collect else 0.0

            (x, s, loss), current = masking.call_with_masks(layer, run, (x,), {}, lambda _, m=current: m)
            total = total + loss
            if s:
                new_state[layer.name] = s
        return x, new_state, total

    def get_config(self):
        """Keras's Sequential config; with a leading Input, also the per-layer `build_config` and the
        `build_input_shape` Keras writes for a built model (shapes inferred abstractly, nothing computed)."""
        layers = [serialize(layer) for layer in self.layers]
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": dtype_policies.serialize(self.dtype_policy), "layers": layers}
        if self.layers and isinstance(self.layers[0], InputLayer) and not self.has_host:
            batch = self.layers[0].batch_shape[0]
            spec = self.layers[0].input_spec()
            for layer, entry in zip(self.layers[1:], layers[1:]):
                entry["build_config"] = {"input_shape": (batch,) + tuple(spec.shape[1:])}
                v = jax.eval_shape(layer.init, jax.random.key(0), spec)
                spec = as_spec(layer.output_spec(v, spec))
            config["build_input_shape"] = self.layers[0].batch_shape
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        layers = [deserialize(c) for c in config.pop("layers", [])]
        config.pop("build_input_shape", None)
        return cls(layers, **config)


def serialize(layer: Layer) -> dict:
    """`{"module", "class_name", "config", "registered_name"}` for a layer, as Keras writes it."""
    return {"module": "keras.layers", "class_name": type(layer).__name__, "config": layer.get_config(),
            "registered_name": None}


def deserialize(config: dict) -> Layer:
    """A layer from `serialize`'s dict (or Keras's): looks the class up among `fkeras.nn` layers."""
    name = config.get("class_name")
    cls = layer_class(name)
    if cls is None:
        raise ValueError(f"Unknown layer class {name!r}; expected one of fkeras.nn's layers.")
    return cls.from_config(config.get("config", {}))  # (a "build_config" needs nothing: init infers shapes)
