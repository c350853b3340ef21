"""`fkeras.activations` (Keras names); defined once in `fkeras.nn.activations`, whose `__all__` is the list."""

from fkeras.nn.activations import *  # noqa: F401,F403
from fkeras.nn import activations as _family

__all__ = []
__all__ += _family.__all__
