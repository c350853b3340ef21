"""`fkeras.layers`: Keras's layer namespace.

`Layer` is the base for your own layers (`build` / `add_weight` / `call`); the built-in
layers (`Dense`, `Conv2D`, `BatchNormalization`, ...) are the pure `fkeras.nn` layers seen
through the facade, created on first access. `Input` / `InputLayer` come from the
Functional API (`fkeras.layers.input_layer`, `fkeras.layers.symbolic`).
"""

from fkeras import nn
from fkeras.layers.core import Lambda
from fkeras.layers.input_layer import Input, InputLayer
from fkeras.layers.layer import Layer
from fkeras.layers.symbolic import KerasTensor
from fkeras.layers.variables import Variable
from fkeras.layers.wrapped import NNLayer, as_facade, wrapper_for
from fkeras.nn.base import Layer as NNBase

__all__ = ["Layer", "Variable", "Lambda", "NNLayer", "as_facade", "wrapper_for", "Input", "InputLayer",
           "KerasTensor"]

_NOT_LAYERS = {"Layer", "Sequential", "Variables", "Input", "InputLayer"}


def __getattr__(name):
    if not name.startswith("_") and name not in _NOT_LAYERS:
        nn_cls = getattr(nn, name, None)
        if isinstance(nn_cls, type) and issubclass(nn_cls, NNBase):
            value = wrapper_for(nn_cls)
            globals()[name] = value
            return value
    raise AttributeError(f"module 'fkeras.layers' has no attribute {name!r}")


def __dir__():
    built_ins = {n for n in dir(nn) if isinstance(getattr(nn, n), type) and issubclass(getattr(nn, n), NNBase)}
    return sorted(set(globals()) | (built_ins - _NOT_LAYERS))
