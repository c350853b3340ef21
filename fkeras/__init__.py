"""fkeras: the Keras 3 experience on a functional JAX core."""

__version__ = "0.1.0"

from fkeras import nn, ops, random  # noqa: E402
