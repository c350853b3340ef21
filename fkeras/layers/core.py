"""Facade-only layers that have no pure-math counterpart of their own: `Lambda`."""

from __future__ import annotations

import inspect

from fkeras.layers.layer import Layer
from fkeras.saving.serialization_lib import deserialize_keras_object


class Lambda(Layer):
    """Wrap a function of arrays as a layer: `Lambda(lambda x: x * 2)`.

    The function should use `fkeras.ops` so it runs on any framework; it may take `mask` /
    `training` keyword arguments, and `arguments` (a dict) are passed as extra keywords.
    `mask` (Keras's): None (the output carries no mask), a callable `mask(inputs, previous_mask)`, or
    an array used as the output mask whatever comes in.
    Saved files hold the function's bytecode, so loading one needs `safe_mode=False`.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: expected a callable `function`, got {type(function).__name__}.")
        self.function = function
        self.output_shape_arg = output_shape
        if mask is not None and not callable(mask) and not hasattr(mask, "shape"):
            raise TypeError(f"Lambda: expected `mask` to be None, a callable `mask(inputs, previous_mask)` or an "
                            f"array, got {type(mask).__name__}: {mask!r}.")
        self.mask = mask
        self.supports_masking = mask is not None
        self.arguments = dict(arguments or {})
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            params = {}
        self._fk_fn_training = "training" in params
        self._fk_fn_mask = "mask" in params

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fk_fn_mask:
            kwargs["mask"] = mask
        if self._fk_fn_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": Layer.get_config(self)["dtype"],
                  "function": self.function, "arguments": self.arguments}
        if self.output_shape_arg is not None:
            config["output_shape"] = self.output_shape_arg
        if self.mask is not None:
            config["mask"] = self.mask
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        fn = config.pop("function")
        if isinstance(fn, dict):
            fn = deserialize_keras_object(fn, custom_objects=custom_objects)
        if isinstance(config.get("mask"), dict):
            config["mask"] = deserialize_keras_object(config["mask"], custom_objects=custom_objects)
        return cls(fn, **config)
