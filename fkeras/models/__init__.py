"""`fkeras.models`: `Model`, `Sequential`, `load_model`, `clone_model`."""

from fkeras.models.functional import Functional
from fkeras.models.model import Model
from fkeras.models.sequential import Sequential
from fkeras.saving import saving_lib
from fkeras.saving.serialization_lib import deserialize_keras_object, serialize_keras_object

__all__ = ["Model", "Sequential", "load_model", "clone_model", "Functional"]


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a `.keras` archive (see `fkeras.saving.load_model`)."""
    return saving_lib.load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def clone_model(model, input_tensors=None, clone_function=None):
    """A new model with the same architecture (fresh layers, new weights) from `get_config`."""
    if input_tensors is not None or clone_function is not None:
        raise NotImplementedError("clone_model: `input_tensors` and `clone_function` are not supported yet.")
    return deserialize_keras_object(serialize_keras_object(model))

