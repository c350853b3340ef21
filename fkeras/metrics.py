"""`fkeras.metrics`: Keras's metrics as pure state (`init/update/result`) with Keras's stateful face.

Defined once in `fkeras.train.metrics`; its `__all__` is the one list of public names."""

from fkeras.train.metrics import *  # noqa: F401,F403
from fkeras.train import metrics as _family

__all__ = []
__all__ += _family.__all__
