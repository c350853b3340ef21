"""`fkeras.regularizers` (Keras names); defined once in `fkeras.nn.regularizers`, whose `__all__` is the list."""

from fkeras.nn.regularizers import *  # noqa: F401,F403
from fkeras.nn import regularizers as _family

__all__ = []
__all__ += _family.__all__
