"""`fkeras.backend`: the few Keras backend utilities scripts use."""

from fkeras.nn.base import clear_session  # noqa: F401

_EPSILON = 1e-7
_FLOATX = "float32"


def backend() -> str:
    """fkeras always computes on JAX (torch/TF tensors are handled by dispatch)."""
    return "jax"


def epsilon() -> float:
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)


def floatx() -> str:
    return _FLOATX


def image_data_format() -> str:
    return "channels_last"
