"""Keras's `layers.Wrapper` base and `layers.serialize` / `layers.deserialize`."""

from __future__ import annotations

from fkeras.layers.layer import Layer
from fkeras.saving.serialization_lib import deserialize_keras_object, serialize_keras_object


class Wrapper(Layer):
    """Base for layers that wrap another layer (`self.layer`) and augment it; subclass it and write `call`.

    Its config holds the wrapped layer's config, so `from_config` rebuilds both."""

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"Layer {layer!r} supplied to Wrapper isn't a supported layer type. Please ensure "
                             "wrapped layer is a valid Keras layer.")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)

    def get_config(self):
        return {**super().get_config(), "layer": serialize_keras_object(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = deserialize_keras_object(config.pop("layer"), custom_objects=custom_objects)
        return cls(layer, **config)


def serialize(layer):
    """The layer's config as Keras writes it (`{"module", "class_name", "config", ...}`)."""
    return serialize_keras_object(layer)


def deserialize(config, custom_objects=None):
    """A layer rebuilt from `serialize`'s (or Keras 3's) config."""
    obj = deserialize_keras_object(config, custom_objects=custom_objects)
    if not isinstance(obj, Layer):
        raise ValueError("`keras.layers.deserialize` was passed a `config` object that is not a "
                         f"`keras.layers.Layer`. Received: {config}")
    return obj
