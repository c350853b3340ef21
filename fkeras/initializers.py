"""`fkeras.initializers` (Keras names); defined once in `fkeras.nn.initializers`, whose `__all__` is the list."""

from fkeras.nn.initializers import *  # noqa: F401,F403
from fkeras.nn import initializers as _family

__all__ = []
__all__ += _family.__all__
