"""`fkeras.backend`: the few Keras backend utilities scripts use."""

from fkeras.nn.base import clear_session  # noqa: F401
from fkeras.ops._dtypes import (  # noqa: F401  (Keras's dtype rules live with the ops, floor 1)
    floatx,
    is_float_dtype,
    is_int_dtype,
    result_type,
    set_floatx,
    standardize_dtype,
)

_EPSILON = 1e-7


def backend() -> str:
    """fkeras always computes on JAX (torch/TF tensors are handled by dispatch)."""
    return "jax"


def epsilon() -> float:
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)


def image_data_format() -> str:
    return "channels_last"
