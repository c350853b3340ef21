"""Registry of user classes/functions for `.keras` (de)serialization, with Keras 3's names.

    @fkeras.saving.register_keras_serializable(package="my")
    class Scale(fkeras.layers.Layer): ...          # saved as registered_name "my>Scale"
"""

from __future__ import annotations

import contextlib
import inspect
import threading

GLOBAL_CUSTOM_OBJECTS: dict = {}
GLOBAL_CUSTOM_NAMES: dict = {}
_scope = threading.local()


def register_keras_serializable(package: str = "Custom", name: str | None = None):
    """Decorator registering a class or function under `"<package>>name"` (default: its `__name__`)."""
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"register_keras_serializable: expected a package name without '>', got {package!r}.")

    def decorator(arg):
        class_name = name if name is not None else arg.__name__
        registered_name = f"{package}>{class_name}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError(f"Cannot register {arg.__name__}: a registered class needs a get_config() method.")
        GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg

    return decorator


def get_registered_name(obj) -> str:
    """The registered name of `obj`, else its `__name__`."""
    return GLOBAL_CUSTOM_NAMES.get(obj, getattr(obj, "__name__", None))


def get_registered_object(name: str, custom_objects: dict | None = None, module_objects: dict | None = None):
    """Look `name` up in `custom_objects`, the active `custom_object_scope`s, the registry, then `module_objects`."""
    for table in (custom_objects or {}, *reversed(_scopes()), GLOBAL_CUSTOM_OBJECTS, module_objects or {}):
        if name in table:
            return table[name]
    return None


def _scopes() -> list:
    if not hasattr(_scope, "stack"):
        _scope.stack = []
    return _scope.stack


@contextlib.contextmanager
def custom_object_scope(custom_objects: dict | None):
    """Within the block, `custom_objects` are visible to deserialization (like `keras.saving.custom_object_scope`)."""
    _scopes().append(dict(custom_objects or {}))
    try:
        yield
    finally:
        _scopes().pop()


CustomObjectScope = custom_object_scope


def get_custom_objects() -> dict:
    """The global registry (mutable, like Keras's)."""
    return GLOBAL_CUSTOM_OBJECTS
