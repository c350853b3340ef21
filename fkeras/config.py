"""`fkeras.config`: global settings with Keras's names."""

from fkeras.backend import backend, epsilon, floatx, image_data_format, set_epsilon, set_floatx  # noqa: F401
from fkeras.nn.dtype_policies import dtype_policy, set_dtype_policy  # noqa: F401
from fkeras.saving.serialization_lib import enable_unsafe_deserialization  # noqa: F401


def set_backend(backend):
    """fkeras computes on JAX and dispatches torch/TF tensors to their frameworks; there is no other
    backend to switch to, so only "jax" is accepted."""
    if backend != "jax":
        raise ValueError(f"fkeras has one backend, 'jax' (torch and TF tensors run on their own frameworks through "
                         f"fkeras.ops dispatch and the interop shims); got set_backend({backend!r}).")


def is_nnx_enabled() -> bool:
    """False: fkeras has no Flax NNX integration."""
    return False
