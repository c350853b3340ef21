"""Keras-style `get` (initializers, regularizers, constraints) and `serialize` (regularizers, constraints) for
by-name families, and their shared config base, written once."""

from fkeras.nn import registration


class Configurable:
    """`get_config()` (here `{}`), `from_config(config) = cls(**config)` and a repr showing the config."""

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({self.get_config()})"


def make_get(kind: str, by_name: dict):
    """`get(identifier)`: None, a name ("l2"), a Keras config dict, an instance or a callable."""

    def get(identifier):
        if identifier is None:
            return None
        if isinstance(identifier, str):
            cls = by_name.get(identifier) or registration.get_registered_object(identifier)
            if cls is None:
                raise ValueError(f"Unknown {kind} {identifier!r}; expected one of: "
                                 f"{', '.join(sorted(k for k in by_name if k.islower()))}.")
            return cls()
        if isinstance(identifier, dict) and "class_name" in identifier:
            cls = by_name.get(identifier["class_name"]) or registration.get_registered_object(
                identifier.get("registered_name") or identifier["class_name"])
            if cls is None:
                raise ValueError(f"Unknown {kind} class {identifier['class_name']!r} in config: register it with "
                                 "fkeras.saving.register_keras_serializable() or pass it in `custom_objects`.")
            return cls.from_config(identifier.get("config") or {})
        if callable(identifier):
            return identifier
        raise ValueError(f"Could not interpret {kind} {identifier!r}: expected a name, a config dict or a callable.")

    get.__doc__ = f"A {kind} from None, a name, a Keras config dict, an instance or a callable."
    return get


def make_serialize(base: type, module: str):
    """`serialize(obj)`: Keras's `{"module", "class_name", "config", "registered_name"}` (None stays None)."""

    def serialize(obj):
        if obj is None:
            return None
        if not isinstance(obj, base):
            name = getattr(obj, "__name__", type(obj).__name__)
            return {"module": None, "class_name": "function", "config": name, "registered_name": "function"}
        registered = registration.GLOBAL_CUSTOM_NAMES.get(type(obj))
        return {"module": module if registered is None else type(obj).__module__, "class_name": type(obj).__name__,
                "config": obj.get_config(), "registered_name": registered}

    return serialize
