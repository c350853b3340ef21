"""Keras 3's object <-> config format: `{"module", "class_name", "config", "registered_name"}` (+ build/compile config).

Built-in fkeras classes are written under Keras's public module names (`keras.layers`, `keras.optimizers`,
`keras` for Sequential, `keras.src.models.functional` for Functional), so Keras reads fkeras files and vice
versa. Loading resolves classes only from `custom_objects`, `custom_object_scope`s, the
`register_keras_serializable` registry and the fkeras namespaces; it never imports other modules, unpickles,
or runs code. Python lambdas (`__lambda__`) are refused unless `safe_mode=False`.
"""

from __future__ import annotations

import base64
import contextlib
import inspect
import marshal
import threading
import types

import numpy as np

import fkeras as _entrance
from fkeras.saving import object_registration as reg

_state = threading.local()

# Keras public namespaces (`keras.<name>`) searched for a built-in class, each found as `fkeras.<name>` (then
# `fkeras.train.<name>`) through the entrance package's lazy attributes: saving stands below the facade and
# imports none of it, the top-level `fkeras` package (which points anywhere) hands each namespace on.
_PACKAGES = ("layers", "models", "models.functional", "optimizers", "optimizers.schedules", "losses", "metrics", "initializers",
             "regularizers", "constraints", "activations", "callbacks", "mixed_precision", "dtype_policies",
             "utils")


def _namespaces(name: str) -> list:
    """`fkeras.<name>` and `fkeras.train.<name>` ("layers", "optimizers.schedules"), those that exist."""
    out = []
    for root in (_entrance, getattr(_entrance, "train")):
        ns = root
        for part in name.split("."):
            ns = getattr(ns, part, None)
            if ns is None:
                break
        if ns is not None and ns not in out:
            out.append(ns)
    return out


def in_safe_mode() -> bool:
    """True unless inside `SafeModeScope(False)` (so a Lambda's from_config can refuse code)."""
    return getattr(_state, "safe_mode", True)


@contextlib.contextmanager
def SafeModeScope(safe_mode: bool = True):
    prev = in_safe_mode()
    _state.safe_mode = bool(safe_mode)
    try:
        yield
    finally:
        _state.safe_mode = prev


def enable_unsafe_deserialization() -> None:
    """Allow lambdas for the rest of the process (Keras's name)."""
    _state.safe_mode = False


# --- serialization ---------------------------------------------------------------------------------
def _keras_module_for(cls) -> str | None:
    """Keras's public module for a built-in fkeras class, or None for user classes."""
    mod = cls.__module__
    if not mod.startswith("fkeras."):
        return None
    if cls.__name__ == "Functional":
        return "keras.src.models.functional"
    if cls.__name__ in ("Sequential", "Model", "DTypePolicy", "FloatDTypePolicy"):
        return "keras"
    for pkg in _PACKAGES:
        for ns in _namespaces(pkg):
            if getattr(ns, cls.__name__, None) is cls:
                return f"keras.{pkg}"
    return None


def serialize_dict(d):
    return {k: serialize_keras_object(v) for k, v in d.items()}


def serialize_keras_object(obj):
    """`obj` as a Keras-3 JSON-ready config (nested, recursive)."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return serialize_dict(obj)
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, np.ndarray) or (hasattr(obj, "__array__") and hasattr(obj, "dtype") and not hasattr(obj, "get_config")):
        arr = np.asarray(obj)
        return {"class_name": "__numpy__", "config": {"value": arr.tolist(), "dtype": arr.dtype.name}}
    if isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>":
        code = base64.b64encode(marshal.dumps(obj.__code__)).decode("ascii")
        return {"class_name": "__lambda__", "config": {"value": [code, obj.__defaults__, None]}}
    if isinstance(obj, types.FunctionType):
        registered = reg.GLOBAL_CUSTOM_NAMES.get(obj)
        module = _keras_module_for(obj) if obj.__module__.startswith("fkeras.") else None
        if module is None and obj.__module__.startswith("fkeras."):
            module = "keras.activations" if "activation" in obj.__module__ else obj.__module__
        return {"module": module or obj.__module__, "class_name": "function",
                "config": registered or obj.__name__, "registered_name": registered or obj.__name__}
    if inspect.isclass(obj):
        raise TypeError(f"Cannot serialize the class {obj.__name__} itself; serialize an instance.")
    if not hasattr(obj, "get_config"):
        raise TypeError(f"Cannot serialize {obj!r} of type {type(obj).__name__}: it has no get_config() method.")
    inner = obj.get_config()
    if not isinstance(inner, dict):
        raise TypeError(f"{type(obj).__name__}.get_config() must return a dict, got {type(inner).__name__}.")
    cls = type(obj)
    keras_module = _keras_module_for(cls)
    registered = reg.GLOBAL_CUSTOM_NAMES.get(cls)
    if keras_module is not None and registered is None:
        out = {"module": keras_module, "class_name": cls.__name__, "config": serialize_dict(inner),
               "registered_name": None}
    else:
        out = {"module": cls.__module__, "class_name": cls.__name__, "config": serialize_dict(inner),
               "registered_name": registered or cls.__name__}
    build = obj.get_build_config() if hasattr(obj, "get_build_config") else _build_config(obj, inner)
    if build is not None:
        out["build_config"] = serialize_dict(build)
    compile_cfg = obj.get_compile_config() if hasattr(obj, "get_compile_config") else _compile_config(obj)
    if compile_cfg is not None:
        out["compile_config"] = serialize_dict(compile_cfg)
    return out


def _build_config(obj, inner):
    """Keras's `{"input_shape": ...}` for a built model (so a reader can build it before loading weights)."""
    if not hasattr(obj, "_fk_build_shapes") or not getattr(obj, "built", False) or "layers" in inner and "input_layers" in inner:
        return None
    names = getattr(getattr(obj, "nn_layer", None), "build_shape_names", None)
    specs = obj.__dict__.get("_fk_build_specs") if names else None
    if specs and len(specs) > 1:  # a layer built from several inputs (MultiHeadAttention): Keras's shapes_dict
        return {"shapes_dict": {n: [None] + list(s.shape[1:]) for n, s in zip(names, specs)}}
    try:
        shape = obj.input_shape
    except Exception:  # noqa: BLE001 - no recorded input shape: no build_config, like an unbuilt Keras layer
        return None
    if shape is None:
        return None
    if isinstance(shape, (list, tuple)) and len(shape) == 1 and isinstance(shape[0], (list, tuple)):
        shape = shape[0]
    return {"input_shape": _plain_shape(shape)}


def _plain_shape(shape):
    if isinstance(shape, dict):
        return {k: _plain_shape(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and any(isinstance(d, (list, tuple, dict)) for d in shape):
        return [_plain_shape(s) for s in shape]
    return [None if d is None else int(d) for d in shape]


def _compile_config(obj):
    """Keras's compile_config for an fkeras Trainer model compiled with `compile(...)`."""
    args = getattr(obj, "_user_compile_args", None)
    if not getattr(obj, "compiled", False) or args is None:
        return None
    opt = getattr(obj, "optimizer", None)
    return {
        "optimizer": serialize_keras_object(opt) if opt is not None else None,
        "loss": serialize_keras_object(args.get("loss")),
        "loss_weights": serialize_keras_object(args.get("loss_weights")),
        "metrics": serialize_keras_object(args.get("metrics")),
        "weighted_metrics": serialize_keras_object(args.get("weighted_metrics")),
        "run_eagerly": bool(getattr(obj, "run_eagerly", False)),
        "steps_per_execution": int(getattr(obj, "steps_per_execution", 1)),
        "jit_compile": True,
    }


# --- deserialization --------------------------------------------------------------------------------
def _fkeras_namespaces(module: str | None):
    """fkeras modules to search for a class written under Keras module `module` (most specific first)."""
    parts = (module or "keras").split(".")[1:]
    if parts[:1] == ["src"]:
        parts = parts[1:]
    candidates = [".".join(parts[:2]), parts[0]] if parts else []
    if not parts or parts[0] == "models":
        candidates += ["models", "models.functional", "layers", "mixed_precision", "dtype_policies"]
    out = []
    for name in dict.fromkeys(candidates):
        if name in _PACKAGES:
            out += _namespaces(name)
    return out


def _first_registered(keys, custom_objects):
    """The object the first non-empty key of `keys` names among `custom_objects`, the active scopes and the
    global registry, or None."""
    for key in keys:
        if key:
            found = reg.get_registered_object(key, custom_objects)
            if found is not None:
                return found
    return None


def _resolve(config: dict, custom_objects):
    class_name = config.get("class_name")
    registered = config.get("registered_name")
    found = _first_registered((registered, class_name), custom_objects)
    if found is not None:
        return found
    module = config.get("module")
    is_builtin = module is None or module.split(".")[0] in ("keras", "fkeras")
    if is_builtin and isinstance(class_name, str) and not class_name.startswith("_"):
        for ns in _fkeras_namespaces(module):
            found = getattr(ns, class_name, None)
            if inspect.isclass(found):  # only public classes of fkeras's namespaces, never other attributes
                return found
    raise ValueError(
        f"Could not locate class '{class_name}' (module {module!r}, registered_name {registered!r}). "
        "Make sure custom classes are decorated with `@fkeras.saving.register_keras_serializable()` "
        f"or pass them in `custom_objects={{'{class_name}': {class_name}}}`."
    )


def _resolve_function(config: dict, custom_objects):
    name = config.get("config")
    found = _first_registered((config.get("registered_name"), name), custom_objects)
    if found is not None:
        return found
    module = config.get("module") or ""
    for pkg in ("activations", "losses", "metrics"):
        if pkg in module:
            ns = getattr(_entrance, pkg)
            fn = getattr(ns, name, None)
            if fn is None and hasattr(ns, "get"):
                fn = ns.get(name)
            if fn is not None:
                return fn
    raise ValueError(f"Could not locate function {name!r} (module {module!r}); pass it in `custom_objects`.")


def _load_lambda(value):
    if in_safe_mode():
        raise ValueError(
            "Requested the deserialization of a Python lambda. Its bytecode could run arbitrary code, so it is "
            "refused in safe mode. If you trust the source of this file, pass `safe_mode=False`."
        )
    code, defaults, _ = value
    fn_code = marshal.loads(base64.b64decode(code.encode("ascii")))
    return types.FunctionType(fn_code, globals(), name=fn_code.co_name,
                              argdefs=tuple(defaults) if defaults else None)


def contains_lambda(config) -> bool:
    """True when a config tree holds a serialized Python lambda."""
    if isinstance(config, dict):
        return config.get("class_name") == "__lambda__" or any(contains_lambda(v) for v in config.values())
    if isinstance(config, list):
        return any(contains_lambda(v) for v in config)
    return False


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """Rebuild an object from `serialize_keras_object`'s (or Keras 3's) config.

    Classes are found in `custom_objects`, `custom_object_scope`s, the registry, then fkeras's namespaces
    for Keras's module names; anything else is a ValueError. `build_config` is applied with
    `build_from_config` when the object has it (compile_config is left to `load_model`).
    """
    with SafeModeScope(safe_mode and in_safe_mode()), reg.custom_object_scope(custom_objects):
        return _deserialize(config, custom_objects)


def _deserialize(config, custom_objects):
    if config is None or isinstance(config, (bool, int, float, str)):
        return config
    if isinstance(config, list):
        return [_deserialize(c, custom_objects) for c in config]
    if not isinstance(config, dict):
        raise TypeError(f"Cannot deserialize {type(config).__name__}: expected a config dict.")
    if "class_name" not in config:
        return {k: _deserialize(v, custom_objects) for k, v in config.items()}
    class_name = config["class_name"]
    inner = config.get("config")
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__tuple__":
        return tuple(_deserialize(v, custom_objects) for v in inner["value"])
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__slice__":
        return slice(inner["start"], inner["stop"], inner["step"])
    if class_name == "__lambda__":
        return _load_lambda(inner["value"])
    if class_name == "__keras_tensor__":
        return config  # graph references: the Functional model's from_config reads them
    if class_name == "function":
        return _resolve_function(config, custom_objects)
    cls = _resolve(config, custom_objects)
    if not hasattr(cls, "from_config"):
        raise TypeError(f"{cls.__name__} has no from_config(); cannot rebuild it from a config.")
    inner = inner if inner is not None else {}
    if not isinstance(inner, dict):
        raise ValueError(f"Config of '{class_name}' must be a dict, got {type(inner).__name__}.")
    try:
        params = inspect.signature(cls.from_config).parameters
    except (TypeError, ValueError):
        params = {}
    if "custom_objects" in params:
        obj = cls.from_config(inner, custom_objects=custom_objects)
    else:
        obj = cls.from_config(inner)
    build = config.get("build_config")
    if build and hasattr(obj, "build_from_config"):
        obj.build_from_config(build)
    elif build and build.get("input_shape") is not None and hasattr(obj, "build") and not getattr(obj, "built", True):
        obj.build(_shape_from_config(build["input_shape"]))
    return obj


def _shape_from_config(shape):
    if isinstance(shape, dict):
        return {k: _shape_from_config(v) for k, v in shape.items()}
    if isinstance(shape, list) and any(isinstance(d, (list, dict)) for d in shape):
        return [_shape_from_config(s) for s in shape]
    return tuple(shape)
