"""`fkeras.config`: global settings with Keras's names."""

import os

from fkeras.backend import backend, epsilon, floatx, image_data_format, set_epsilon, set_floatx  # noqa: F401
from fkeras.backend import (  # noqa: F401
    disable_flash_attention,
    enable_flash_attention,
    is_flash_attention_enabled,
    set_image_data_format,
)
from fkeras.nn.dtype_policies import dtype_policy, set_dtype_policy  # noqa: F401
from fkeras.saving.serialization_lib import enable_unsafe_deserialization  # noqa: F401
from fkeras.utils.io_utils import (  # noqa: F401
    disable_interactive_logging,
    enable_interactive_logging,
    is_interactive_logging_enabled,
)
from fkeras.utils.traceback_utils import (  # noqa: F401
    disable_traceback_filtering,
    enable_traceback_filtering,
    is_traceback_filtering_enabled,
)

# Debugging caps on fit/evaluate/predict (Keras reads KERAS_MAX_EPOCHS / KERAS_MAX_STEPS_PER_EPOCH at import).
_LIMITS = {"max_epochs": int(os.environ["KERAS_MAX_EPOCHS"]) if os.environ.get("KERAS_MAX_EPOCHS") else None,
           "max_steps_per_epoch": (int(os.environ["KERAS_MAX_STEPS_PER_EPOCH"])
                                   if os.environ.get("KERAS_MAX_STEPS_PER_EPOCH") else None)}


def set_max_epochs(max_epochs):
    """Cap the number of epochs of every `fit` (an int, or None for no cap); for debugging."""
    _LIMITS["max_epochs"] = max_epochs


def set_max_steps_per_epoch(max_steps_per_epoch):
    """Cap the steps of each epoch of `fit`/`evaluate`/`predict` (an int, or None for no cap); for debugging."""
    _LIMITS["max_steps_per_epoch"] = max_steps_per_epoch


def max_epochs():
    """The epoch cap set by `set_max_epochs` or `KERAS_MAX_EPOCHS`, else None."""
    return _LIMITS["max_epochs"]


def max_steps_per_epoch():
    """The per-epoch step cap set by `set_max_steps_per_epoch` or `KERAS_MAX_STEPS_PER_EPOCH`, else None."""
    return _LIMITS["max_steps_per_epoch"]


def set_backend(backend):
    """fkeras computes on JAX and dispatches torch/TF tensors to their frameworks; there is no other
    backend to switch to, so only "jax" is accepted."""
    if backend != "jax":
        raise ValueError(f"fkeras has one backend, 'jax' (torch and TF tensors run on their own frameworks through "
                         f"fkeras.ops dispatch and the interop shims); got set_backend({backend!r}).")


def is_nnx_enabled() -> bool:
    """False: fkeras has no Flax NNX integration."""
    return False
