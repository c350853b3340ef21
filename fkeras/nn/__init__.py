"""`fkeras.nn`: pure layers. Each holds hyperparameters only and has `init` and `apply`."""

from fkeras.nn import activations, initializers
from fkeras.nn.base import Layer, Variables, as_spec, clear_session, unique_name
from fkeras.nn.containers import Sequential
from fkeras.nn.conv import Conv1D, Conv2D, Conv3D
from fkeras.nn.core import Activation, Dense, Dropout, Flatten
