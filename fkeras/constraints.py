"""`fkeras.constraints` (Keras names); defined once in `fkeras.nn.constraints`, whose `__all__` is the list."""

from fkeras.nn.constraints import *  # noqa: F401,F403
from fkeras.nn import constraints as _family

__all__ = []
__all__ += _family.__all__
