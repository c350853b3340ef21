"""`fkeras.datasets`: Keras's small datasets, loaded as NumPy arrays from Keras's cache (`~/.keras/datasets`)."""

from fkeras.runtime.lazy import lazy_attributes as _lazy_attributes

_SUBMODULES = {"mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters", "boston_housing",
               "california_housing"}


__getattr__, __dir__ = _lazy_attributes(globals(), submodules=_SUBMODULES)
