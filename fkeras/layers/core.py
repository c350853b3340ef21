"""Facade-only layers that have no pure-math counterpart of their own: `Lambda`."""

from __future__ import annotations

import inspect

from fkeras.layers.layer import Layer
from fkeras.saving.serialization_lib import deserialize_keras_object


class Lambda(Layer):
    """Wrap a function of arrays as a layer: `Lambda(lambda x: x * 2)`.

    The function should use `fkeras.ops` so it runs on any framework; it may take `mask` /
    `training` keyword arguments, and `arguments` (a dict) are passed as extra keywords.
    Saved files hold the function's bytecode, so loading one needs `safe_mode=False`.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: expected a callable `function`, got {type(function).__name__}.")
        self.function = function
        self.output_shape_arg = output_shape
        self.mask = mask
        self.arguments = dict(arguments or {})
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            params = {}
        self._fk_fn_training = "training" in params

    def call(self, inputs, training=None):
        kwargs = dict(self.arguments)
        if self._fk_fn_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": Layer.get_config(self)["dtype"],
                  "function": self.function, "arguments": self.arguments}
        if self.output_shape_arg is not None:
            config["output_shape"] = self.output_shape_arg
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        fn = config.pop("function")
        if isinstance(fn, dict):
            fn = deserialize_keras_object(fn, custom_objects=custom_objects)
        return cls(fn, **config)
