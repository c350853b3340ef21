"""`fkeras.saving`: `.keras` archives and `.weights.h5` files compatible with Keras 3, and (de)serialization.

    model.save("m.keras")                       # -> fkeras.saving.save_model(model, "m.keras")
    model = fkeras.saving.load_model("m.keras", custom_objects=None, compile=True, safe_mode=True)
    model.save_weights("m.weights.h5"); model.load_weights("m.weights.h5")

Files are untrusted input: what a load may allocate is bounded (`LoadLimits`; raise with
`set_load_limits(...)` or `with load_limits(...)`), and HDF5 links or external storage are refused.
"""

from fkeras.saving import legacy_h5, saving_lib
from fkeras.saving.archive import LoadLimits, get_load_limits, load_limits, set_load_limits  # noqa: F401
from fkeras.saving.keras_file_editor import KerasFileEditor  # noqa: F401
from fkeras.saving.object_registration import (  # noqa: F401
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from fkeras.saving.saving_lib import load_model, save_model, save_weights  # noqa: F401
from fkeras.saving.serialization_lib import (  # noqa: F401
    deserialize_keras_object,
    enable_unsafe_deserialization,
    serialize_keras_object,
)


def load_weights(model, filepath, skip_mismatch=False, **kwargs):
    """Keras's `keras.saving.load_weights`, read by fkeras's own readers (for any model exposing Keras's weights):
    `.keras` and `.weights.h5` through `saving_lib` (a mismatch is an error that leaves the model unchanged),
    legacy `.h5` through `legacy_h5` (by order or `by_name=`, `skip_mismatch=`)."""
    if legacy_h5.is_legacy_h5_path(filepath):  # Keras 2 / keras.applications weight files
        if "objects_to_skip" in kwargs:
            raise ValueError(f"`objects_to_skip` only supports loading '.weights.h5' files. Received: {filepath}")
        by_name = kwargs.pop("by_name", None)
        if kwargs:
            raise ValueError(f"Invalid keyword arguments: {kwargs}")
        return legacy_h5.load_weights(model, filepath, skip_mismatch=skip_mismatch, by_name=bool(by_name))
    return saving_lib.load_weights(model, filepath, **kwargs)
