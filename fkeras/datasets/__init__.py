"""`fkeras.datasets`: Keras's small datasets, loaded as NumPy arrays (`mnist`)."""

import importlib

_SUBMODULES = {"mnist"}


def __getattr__(name):
    if name in _SUBMODULES:
        mod = importlib.import_module(f"fkeras.datasets.{name}")
        globals()[name] = mod
        return mod
    raise AttributeError(f"module 'fkeras.datasets' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES)
