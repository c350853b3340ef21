"""`fkeras.datasets`: Keras's small datasets, loaded as NumPy arrays from Keras's cache (`~/.keras/datasets`)."""

import importlib

_SUBMODULES = {"mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters", "boston_housing",
               "california_housing"}


def __getattr__(name):
    if name in _SUBMODULES:
        mod = importlib.import_module(f"fkeras.datasets.{name}")
        globals()[name] = mod
        return mod
    raise AttributeError(f"module 'fkeras.datasets' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES)
