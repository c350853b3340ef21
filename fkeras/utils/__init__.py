"""`fkeras.utils`: Keras's utilities (`keras.utils`), above the facade: its modules (`FeatureSpace`, `plot_model`,
the dataset utilities, `get_file`) import layers and models, and no module below imports them. What lower floors
need lives lower and is handed on here under Keras's names: `PyDataset`, `pack_x_y_sample_weight` (`fkeras.data`),
`Progbar`, `set_random_seed`, the logging switches (`fkeras.runtime`).

Names load on first use; `PyDataset` needs neither JAX nor any other framework.
"""

from fkeras.runtime.lazy import lazy_attributes as _lazy_attributes

_NAMES = {
    "PyDataset": "fkeras.data.py_dataset",
    "Sequence": "fkeras.data.py_dataset",
    "to_categorical": "fkeras.utils.numerical_utils",
    "normalize": "fkeras.utils.numerical_utils",
    "set_random_seed": "fkeras.runtime.rng_utils",
    "get_random_seed": "fkeras.runtime.rng_utils",
    "pack_x_y_sample_weight": "fkeras.data.base",
    "unpack_x_y_sample_weight": "fkeras.data.base",
    "pad_sequences": "fkeras.utils.sequence_utils",
    "get_file": "fkeras.utils.file_utils",
    "load_img": "fkeras.utils.image_utils",
    "img_to_array": "fkeras.utils.image_utils",
    "array_to_img": "fkeras.utils.image_utils",
    "save_img": "fkeras.utils.image_utils",
    "image_dataset_from_directory": "fkeras.utils.image_dataset_utils",
    "text_dataset_from_directory": "fkeras.utils.text_dataset_utils",
    "audio_dataset_from_directory": "fkeras.utils.audio_dataset_utils",
    "timeseries_dataset_from_array": "fkeras.utils.timeseries_dataset_utils",
    "split_dataset": "fkeras.utils.dataset_utils",
    "enable_interactive_logging": "fkeras.runtime.io_utils",
    "disable_interactive_logging": "fkeras.runtime.io_utils",
    "is_interactive_logging_enabled": "fkeras.runtime.io_utils",
    "Config": "fkeras.utils.config",
    "plot_model": "fkeras.utils.model_visualization",
    "model_to_dot": "fkeras.utils.model_visualization",
    "get_source_inputs": "fkeras.utils.model_visualization",
    "FeatureSpace": "fkeras.utils.feature_space",
}
# Defined by other fkeras packages; re-exported here under Keras's names when present.
_ELSEWHERE = {
    "Progbar": "fkeras.runtime.progbar",
    "clear_session": "fkeras.backend",
    "is_keras_tensor": "fkeras.backend",
    "standardize_dtype": "fkeras.backend",
    "CustomObjectScope": "fkeras.nn.registration",
    "custom_object_scope": "fkeras.nn.registration",
    "get_custom_objects": "fkeras.nn.registration",
    "get_registered_name": "fkeras.nn.registration",
    "get_registered_object": "fkeras.nn.registration",
    "register_keras_serializable": "fkeras.nn.registration",
    "serialize_keras_object": "fkeras.saving.serialization_lib",
    "deserialize_keras_object": "fkeras.saving.serialization_lib",
}


__getattr__, __dir__ = _lazy_attributes(globals(), names={**_ELSEWHERE, **_NAMES})
from fkeras.utils import bounding_boxes  # noqa: E402,F401  (keras.utils.bounding_boxes; its names load on first use)
