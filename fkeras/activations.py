"""`fkeras.activations` (Keras names); defined once in `fkeras.nn.activations`."""

from fkeras.nn.activations import *  # noqa: F401,F403
from fkeras.nn.activations import get, serialize  # noqa: F401
