"""Keras's `keras.saving` names for the registry of your classes and functions; the registry itself
lives in `fkeras.nn.registration` so layers, activations and initializers resolve your objects by name."""

from fkeras.nn.registration import (  # noqa: F401
    GLOBAL_CUSTOM_NAMES,
    GLOBAL_CUSTOM_OBJECTS,
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
