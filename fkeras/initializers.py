"""`fkeras.initializers` (Keras names); defined once in `fkeras.nn.initializers`."""

from fkeras.nn.initializers import *  # noqa: F401,F403
from fkeras.nn.initializers import Initializer, get, serialize  # noqa: F401
