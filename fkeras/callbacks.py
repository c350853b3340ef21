"""`fkeras.callbacks`: Keras's callbacks (defined in `fkeras.train.callbacks`).

ModelCheckpoint, BackupAndRestore and OrbaxCheckpoint live in `fkeras.io.callbacks` and load
on first use.
"""

from fkeras.train.callbacks import (  # noqa: F401
    Callback, CallbackList, CSVLogger, EarlyStopping, History, LambdaCallback, LearningRateScheduler, ProgbarLogger,
    ReduceLROnPlateau, TerminateOnNaN,
)

_FROM_IO = ("ModelCheckpoint", "BackupAndRestore", "OrbaxCheckpoint")


def __getattr__(name):
    if name in _FROM_IO:
        import importlib

        value = getattr(importlib.import_module("fkeras.io.callbacks"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fkeras.callbacks' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_FROM_IO))
