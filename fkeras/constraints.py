"""`fkeras.constraints` (Keras names); defined once in `fkeras.nn.constraints`."""

from fkeras.nn.constraints import *  # noqa: F401,F403
from fkeras.nn.constraints import (  # noqa: F401
    Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm, deserialize, get, max_norm, min_max_norm, non_neg, serialize,
    unit_norm,
)
