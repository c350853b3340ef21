"""`fkeras.Sequential`: a linear stack of layers, a view of its pure counterpart `nn.Sequential` (over
the layers' pure counterparts, params keyed by layer name), which `apply` and the train step run."""

from __future__ import annotations

import jax
import numpy as np

from fkeras import nn
from fkeras.layers.adapter import pure_of
from fkeras.layers.input_layer import Input, InputLayer
from fkeras.layers.layer import Layer, next_key
from fkeras.layers.symbolic import KerasTensor
from fkeras.layers.wrapped import as_facade
from fkeras.models.model import Model
from fkeras.nn import dtype_policies
from fkeras.saving.serialization_lib import deserialize_keras_object, serialize_keras_object


def _dtype_name(dtype):
    """A dtype's name ("float32", ...); strings stay "string" (NumPy has no such dtype)."""
    if dtype is None:
        return "float32"
    if dtype is str or dtype in ("string", "str"):
        return "string"
    return str(np.dtype(dtype).name)


def _input_of(obj):
    """(shape without batch, dtype, name, KerasTensor or None) when `obj` is an `Input` tensor or an
    InputLayer, else None."""
    if isinstance(obj, KerasTensor):
        return tuple(obj.shape[1:]), _dtype_name(obj.dtype), getattr(obj, "name", None), obj
    if isinstance(obj, (InputLayer, nn.InputLayer)):
        shape = getattr(obj, "batch_shape", None) or getattr(obj, "shape", None)
        tensor = getattr(obj, "output", None)
        return tuple(shape[1:]), _dtype_name(getattr(obj, "dtype", None)), getattr(obj, "name", None), tensor
    return None


def _reads_strings(layer) -> bool:
    """Whether `layer` takes strings (Keras's `input_dtype` "string": TextVectorization, StringLookup)."""
    return getattr(pure_of(layer), "input_dtype", None) == "string"


class Sequential(Model):
    """`Sequential(layers=None, trainable=True, name=None)`: each layer's output feeds the next.

    The first element may be `fkeras.Input(shape)` (or a layer given `input_shape=`); the model
    is then built at once, otherwise on its first call / `fit`.
    """

    _fk_call_takes_mask = True  # Keras's Sequential.call takes `mask` (it shows in functional configs)

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(name=name, trainable=trainable)
        self.__dict__["_fk_layers"] = []
        self.__dict__["_fk_input"] = None
        if layers is not None:
            if not isinstance(layers, (list, tuple)):
                raise TypeError(f"Sequential: expected `layers` as a list, got {type(layers).__name__}.")
            for layer in layers:
                self.add(layer, rebuild=False)
        self._fk_maybe_build()

    # -- structure ------------------------------------------------------------------
    def add(self, layer, rebuild=True):
        """Append a layer (or, first, an `Input`)."""
        spec = _input_of(layer)
        if spec is not None:
            if self._fk_layers or self._fk_input is not None:
                raise ValueError(
                    f"Sequential '{self.name}': an Input must be the first element; got it after "
                    f"{len(self._fk_layers)} layer(s)."
                )
            self.__dict__["_fk_input"] = spec
        else:
            if isinstance(layer, KerasTensor):
                raise TypeError("Sequential: add layers, not tensors.")
            try:
                layer = as_facade(layer)
            except TypeError:
                raise TypeError(
                    f"Sequential '{self.name}': expected a layer, got {type(layer).__name__}: {layer!r:.80}."
                ) from None
            if layer is self:
                raise ValueError("Sequential: cannot add a model to itself.")
            names = [l.name for l in self._fk_layers]
            if layer.name in names:
                raise ValueError(
                    f"Sequential '{self.name}': all layers must have unique names; {layer.name!r} is already "
                    f"used by {names}."
                )
            if not self._fk_layers and self._fk_input is None and layer._fk_input_shape_arg is not None:
                self.__dict__["_fk_input"] = (tuple(layer._fk_input_shape_arg), "float32", None, None)
            self._fk_layers.append(layer)
        if rebuild:
            self._fk_reset_build()
            self._fk_maybe_build()

    def pop(self, rebuild=True):
        """Remove and return the last layer."""
        if not self._fk_layers:
            raise IndexError(f"Sequential '{self.name}' has no layers to pop.")
        layer = self._fk_layers.pop()
        if rebuild:
            self._fk_reset_build()
            self._fk_maybe_build()
        return layer

    def _fk_reset_build(self):
        self.__dict__["built"] = False
        self.__dict__["_fk_output_shape"] = None

    def _fk_maybe_build(self):
        """With a known input: build every layer on the symbolic input (so `inputs`, `outputs` and
        each `layer.output` exist, as in Keras), then the model itself."""
        if self._fk_input is not None and self._fk_layers and not self.built:
            shape, dtype, name, tensor = self._fk_input
            if tensor is None or (self.__dict__.get("_fk_graph") is not None):
                tensor = Input(shape=shape, dtype=dtype, name=name)
            x = tensor
            with self._fk_name_scope():  # the layers' variable paths start `<sequential>/` (Keras's build scope)
                for layer in self._fk_layers:
                    x = layer(x)
            self.__dict__["_fk_graph"] = ([tensor], [x])
            batch = tuple(getattr(tensor, "shape", None) or (None,))[0] or 1  # Input(batch_size=...) kept
            example = (batch,) + tuple(1 if d is None else d for d in shape)
            if dtype == "string":  # strings are never traced: the pure container (its Graph form) builds
                self.__dict__["built"] = True
                self.__dict__["_fk_output_shape"] = tuple(x.shape)
                self.init(next_key(), np.full(example, "", dtype="U1"))
            else:
                self.init(next_key(), jax.ShapeDtypeStruct(example, dtype))
            self.__dict__["_fk_build_shapes"] = (None,) + tuple(shape)

    def _fk_children(self):
        return list(self._fk_layers)

    @property
    def layers(self):
        return list(self._fk_layers)

    def _fk_graph_part(self, i, what):
        graph = self.__dict__.get("_fk_graph")
        if graph is None:
            raise AttributeError(f"Sequential '{self.name}' has no symbolic {what}: give it an Input first.")
        return graph[i]

    @property
    def inputs(self):
        """[the symbolic input] when the model was given an Input (Keras semantics)."""
        return list(self._fk_graph_part(0, "inputs"))

    @property
    def outputs(self):
        return list(self._fk_graph_part(1, "outputs"))

    @property
    def input(self):
        return self._fk_graph_part(0, "input")[0]

    @property
    def output(self):
        return self._fk_graph_part(1, "output")[0]

    # -- running ----------------------------------------------------------------------
    def _fk_container(self):
        """The pure `nn.Sequential` of the layers' pure counterparts (None for a subclass with its own
        `call`, or with no layers yet)."""
        if type(self).call is not Sequential.call or not self._fk_layers:
            return None
        declared = None if self._fk_input is None else (None,) + tuple(self._fk_input[0])
        layers = [pure_of(layer) for layer in self._fk_layers]
        if self._fk_input is not None and self._fk_input[1] == "string":  # string layers run on the host
            name = self._fk_input[2]
            layers.insert(0, nn.InputLayer(batch_shape=declared, dtype="string", name=name or "input_layer"))
        return nn.Sequential(layers, name=self.name, batch_input_shape=declared)

    def _fk_host_batch(self, batch):
        """A data batch `(x, ...)` with `x` replaced by the `HostValues` of the string layers, run here on
        the host (the Trainer maps every batch through this); other batches unchanged."""
        container = self._fk_container()
        if container is None or not container.has_host or isinstance(batch[0], nn.functional.HostValues):
            return batch
        return (container.host_values(batch[0]),) + tuple(batch[1:])

    def _fk_check_call_input(self, args):
        if self._fk_input is None or not args:
            return
        x = args[0]
        shape = getattr(x, "shape", None)
        if shape is None:
            return
        want = tuple(self._fk_input[0])
        got = tuple(shape)[1:]
        if len(got) == len(want) + 1 and got[-1] == 1:  # fitted as Keras does (nn.core.fit_input_rank)
            got = got[:-1]
        elif len(got) == len(want) - 1 and want and want[-1] == 1:
            got = got + (1,)
        if len(got) != len(want) or any(w is not None and g is not None and int(w) != int(g)
                                        for w, g in zip(want, got)):
            raise ValueError(
                f"Input 0 of model '{self.name}' is incompatible: expected shape {(None,) + tuple(want)}, "
                f"got shape {tuple(shape)}."
            )

    def call(self, inputs, training=None):
        if not self._fk_layers:
            raise ValueError(f"Sequential '{self.name}' has no layers; add some before calling it.")
        x = inputs
        for layer in self._fk_layers:
            x = layer(x, training=training)
        return x

    def build(self, input_shape=None):
        if self.built:
            return
        if input_shape is None:
            if self._fk_input is None:
                raise ValueError(f"Sequential '{self.name}': build needs an input shape, got None.")
            input_shape = (None,) + self._fk_input[0]
        dtype = "string" if self._fk_layers and _reads_strings(self._fk_layers[0]) else "float32"
        self.__dict__["_fk_input"] = (tuple(input_shape)[1:], dtype, None, None)
        self._fk_maybe_build()

    def init(self, rng, *example_inputs, **kwargs):
        """As `Model.init`; a model with no Input yet given strings (or starting with a layer that reads
        strings) is first built on a string Input of that shape, as Keras builds it."""
        if not self.built and self._fk_input is None and len(example_inputs) == 1 and self._fk_layers:
            x = example_inputs[0]
            if hasattr(x, "shape") and (nn.functional.is_text(x) or _reads_strings(self._fk_layers[0])):
                self.__dict__["_fk_input"] = (tuple(x.shape)[1:], "string", None, None)
                self._fk_maybe_build()
        return Model.init(self, rng, *example_inputs, **kwargs)

    @property
    def input_shape(self):
        if self._fk_input is not None:
            return (None,) + tuple(self._fk_input[0])
        return self._fk_build_shapes

    # -- config ---------------------------------------------------------------------------
    def get_config(self):
        """Keras 3's Sequential config: `name`, `trainable`, `dtype`, `layers` (an InputLayer entry first
        when the input shape is known), `build_input_shape`."""
        layers = []
        if self._fk_input is not None:
            shape, dtype, name, _ = self._fk_input
            layers.append({
                "module": "keras.layers", "class_name": "InputLayer",
                "config": {"batch_shape": [None, *shape], "dtype": dtype, "sparse": False, "ragged": False,
                           "name": name or "input_layer", "optional": False},
                "registered_name": None,
            })
        layers += [serialize_keras_object(layer) for layer in self._fk_layers]
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": dtype_policies.serialize(self.dtype_policy), "layers": layers}
        if self.input_shape is not None:
            config["build_input_shape"] = list(self.input_shape)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config.get("layers", []):
            if isinstance(entry, dict) and entry.get("class_name") == "InputLayer":
                c = entry.get("config", {})
                shape = c.get("batch_shape") or ([None] + list(c.get("batch_input_shape", [None])[1:]))
                model.__dict__["_fk_input"] = (tuple(shape[1:]), c.get("dtype") or "float32", c.get("name"), None)
                continue
            model.add(deserialize_keras_object(entry, custom_objects=custom_objects), rebuild=False)
        if model._fk_input is None and config.get("build_input_shape"):
            model.__dict__["_fk_input"] = (tuple(config["build_input_shape"][1:]), "float32", None, None)
        model._fk_maybe_build()
        return model


Sequential.build._fk_default_build = True
assert isinstance(Sequential, type) and issubclass(Sequential, Layer)
