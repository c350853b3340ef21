"""`fkeras.config`: global settings with Keras's names."""

from fkeras.backend import backend, epsilon, floatx, image_data_format, set_epsilon, set_floatx  # noqa: F401
from fkeras.backend import (  # noqa: F401
    disable_flash_attention,
    enable_flash_attention,
    is_flash_attention_enabled,
    max_epochs,
    max_steps_per_epoch,
    set_image_data_format,
    set_max_epochs,
    set_max_steps_per_epoch,
)
from fkeras.nn.dtype_policies import dtype_policy, set_dtype_policy  # noqa: F401
from fkeras.saving.serialization_lib import enable_unsafe_deserialization  # noqa: F401
from fkeras.runtime.io_utils import (  # noqa: F401
    disable_interactive_logging,
    enable_interactive_logging,
    is_interactive_logging_enabled,
)
from fkeras.runtime.traceback_utils import (  # noqa: F401
    disable_traceback_filtering,
    enable_traceback_filtering,
    is_traceback_filtering_enabled,
)

def set_backend(backend):
    """fkeras computes on JAX and dispatches torch/TF tensors to their frameworks; there is no other
    backend to switch to, so only "jax" is accepted."""
    if backend != "jax":
        raise ValueError(f"fkeras has one backend, 'jax' (torch and TF tensors run on their own frameworks through "
                         f"fkeras.ops dispatch and the interop shims); got set_backend({backend!r}).")


def is_nnx_enabled() -> bool:
    """False: fkeras has no Flax NNX integration."""
    return False
