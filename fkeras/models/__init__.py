"""`fkeras.models`: `Model`, `Sequential`, `load_model`, `save_model`, `model_from_json`, `clone_model`."""

from fkeras.models.functional import Functional
from fkeras.models.model import Model
from fkeras.models.sequential import Sequential
from fkeras.nn.registration import custom_object_scope
from fkeras.saving import archive, saving_lib
from fkeras.saving.serialization_lib import deserialize_keras_object, serialize_keras_object

__all__ = ["Model", "Sequential", "load_model", "save_model", "model_from_json", "clone_model", "Functional"]


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Save `model` as a `.keras` archive (Keras's `keras.models.save_model`; same as `model.save`)."""
    if kwargs:
        raise TypeError(f"save_model: unexpected keyword argument(s) {sorted(kwargs)}.")
    return saving_lib.save_model(model, filepath, overwrite=overwrite, zipped=zipped)


def model_from_json(json_string, custom_objects=None):
    """A new, unbuilt-weights model from `model.to_json()`'s string (Keras's format); `custom_objects`
    names your own classes and functions. The string is parsed with the same limits as a `.keras` file."""
    if not isinstance(json_string, (str, bytes)):
        raise TypeError(f"model_from_json: expected a JSON string, got {type(json_string).__name__}.")
    data = json_string.encode() if isinstance(json_string, str) else json_string
    config = archive.parse_json(data, "model_from_json's string")
    with custom_object_scope(custom_objects):
        return deserialize_keras_object(config, custom_objects=custom_objects)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a `.keras` archive (see `fkeras.saving.load_model`)."""
    return saving_lib.load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def clone_model(model, input_tensors=None, clone_function=None):
    """A new model with the same architecture (fresh layers, new weights) from `get_config`."""
    if input_tensors is not None or clone_function is not None:
        raise NotImplementedError("clone_model: `input_tensors` and `clone_function` are not supported yet.")
    return deserialize_keras_object(serialize_keras_object(model))

