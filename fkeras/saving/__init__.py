"""`fkeras.saving`: `.keras` archives and `.weights.h5` files compatible with Keras 3, and (de)serialization.

    model.save("m.keras")                       # -> fkeras.saving.save_model(model, "m.keras")
    model = fkeras.saving.load_model("m.keras", custom_objects=None, compile=True, safe_mode=True)
    model.save_weights("m.weights.h5"); model.load_weights("m.weights.h5")

Files are untrusted input: what a load may allocate is bounded (`LoadLimits`; raise with
`set_load_limits(...)` or `with load_limits(...)`), and HDF5 links or external storage are refused.
"""

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
    """Keras's `keras.saving.load_weights`: `model.load_weights(filepath, skip_mismatch, **kwargs)` for
    `.keras`, `.weights.h5` and legacy `.h5` files (`by_name=` for the latter: `fkeras.saving.legacy_h5`)."""
    return model.load_weights(filepath, skip_mismatch=skip_mismatch, **kwargs)
