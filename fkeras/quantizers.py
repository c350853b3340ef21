"""`fkeras.quantizers` (Keras names); defined once in `fkeras.nn.quantizers`, whose `__all__` is the list."""

from fkeras.nn.quantizers import *  # noqa: F401,F403
from fkeras.nn import quantizers as _family

__all__ = []
__all__ += _family.__all__
