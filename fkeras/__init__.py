"""fkeras: the Keras 3 experience on a functional JAX core.

`import fkeras as keras` gives Keras's namespaces; `fkeras.nn` and `fkeras.train`
are the functional core underneath. Submodules load on first use, so importing
fkeras stays cheap and never imports torch or tensorflow.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = {
    "ops", "random", "nn", "train", "interop", "io",
    "layers", "models", "activations", "initializers", "regularizers", "constraints",
    "losses", "metrics", "optimizers", "callbacks", "datasets", "saving", "utils",
    "backend", "config", "mixed_precision", "distribution", "tree", "preprocessing",
    "applications", "export",
    "quantizers", "dtype_policies", "visualization",
}
# Top-level names Keras exposes, and the module that defines each.
_NAMES = {
    "Model": "fkeras.models",
    "Sequential": "fkeras.models",
    "Input": "fkeras.layers",
    "Layer": "fkeras.layers",
    "Variable": "fkeras.layers",
    "Variables": "fkeras.nn",
    "KerasTensor": "fkeras.layers",
    "InputSpec": "fkeras.layers",
    "Initializer": "fkeras.initializers",
    "Regularizer": "fkeras.regularizers",
    "Loss": "fkeras.losses",
    "Metric": "fkeras.metrics",
    "Optimizer": "fkeras.optimizers",
    "DTypePolicy": "fkeras.nn.dtype_policies",
    "FloatDTypePolicy": "fkeras.nn.dtype_policies",
    "Quantizer": "fkeras.nn.quantizers",
    "name_scope": "fkeras.layers.name_scope",
    "StatelessScope": "fkeras.layers.scopes",
    "SymbolicScope": "fkeras.layers.scopes",
    "device": "fkeras.layers.scopes",
    "RematScope": "fkeras.layers.scopes",
    "remat": "fkeras.layers.scopes",
    "Operation": "fkeras.layers.operation",
    "Function": "fkeras.layers.operation",
}


def version() -> str:
    """fkeras's version (Keras's `keras.version()`)."""
    return __version__


def __getattr__(name):
    if name in _SUBMODULES:
        mod = importlib.import_module(f"fkeras.{name}")
        globals()[name] = mod
        return mod
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fkeras' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES | set(_NAMES))
