"""`fkeras.interop.data`: the data adapters' former home; they live in `fkeras.data` (below the training engine)."""

from fkeras.data.adapters import *  # noqa: F401,F403
from fkeras.data.adapters import __all__  # noqa: F401
