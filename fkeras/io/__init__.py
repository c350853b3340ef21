"""`fkeras.io`: orbax checkpoints of the TrainState (`fkeras.io.checkpoint`). The checkpoint callbacks
live in `fkeras.callbacks`; `.keras` archives in `fkeras.saving`; datasets in `fkeras.datasets`."""

import importlib

_SUBMODULES = {"checkpoint"}


def __getattr__(name):
    if name in _SUBMODULES:
        mod = importlib.import_module(f"fkeras.io.{name}")
        globals()[name] = mod
        return mod
    raise AttributeError(f"module 'fkeras.io' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES)
