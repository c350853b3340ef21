"""`fkeras.layers`: Keras's layer namespace.

`Layer` is the base for your own layers (`build` / `add_weight` / `call`); the built-in layers
(`Dense`, `Conv2D`, `BatchNormalization`, ...) are the pure `fkeras.nn` layers seen through the
facade (`fkeras.layers.builtin`, generated from `fkeras.nn`'s exports). `Input` / `InputLayer`
come from the Functional API (`fkeras.layers.input_layer`, `fkeras.layers.symbolic`).
"""

# the hand-written facades of nn layers register themselves before builtin.py asks `wrapper_for` for theirs
from fkeras.layers.jax_layer import FlaxLayer, JaxLayer
from fkeras.layers.tfsm_layer import TFSMLayer
from fkeras.layers.torch_module_wrapper import TorchModuleWrapper
from fkeras.layers import builtin
from fkeras.layers.builtin import *  # noqa: F401,F403
from fkeras.layers.core import Lambda
from fkeras.layers.input_layer import Input, InputLayer
from fkeras.layers.input_spec import InputSpec
from fkeras.layers.merge_functions import add, average, concatenate, dot, maximum, minimum, multiply, subtract
from fkeras.layers.layer import Layer
from fkeras.layers.symbolic import KerasTensor
from fkeras.layers.variables import Variable
from fkeras.layers.wrapped import NNLayer, as_facade, wrapper_for
from fkeras.layers.wrapper import Wrapper, deserialize, serialize

__all__ = ["Layer", "Variable", "Lambda", "NNLayer", "as_facade", "wrapper_for", "Input", "InputLayer",
           "KerasTensor", "InputSpec", "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate",
           "dot", "Wrapper", "serialize", "deserialize", "JaxLayer", "FlaxLayer", "TorchModuleWrapper", "TFSMLayer"]
__all__ += builtin.__all__

