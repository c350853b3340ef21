"""`fkeras.losses`: Keras's loss classes and functions, `get`/`serialize`/`deserialize`.

Defined once in `fkeras.train.losses`; its `__all__` is the one list of public names."""

from fkeras.train.losses import *  # noqa: F401,F403
from fkeras.train import losses as _family

__all__ = []
__all__ += _family.__all__
