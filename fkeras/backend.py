"""`fkeras.backend`: the Keras backend utilities scripts use (floor 1: it imports nothing above ops)."""

import os

from fkeras.ops import _dispatch
from fkeras.ops._dtypes import (  # noqa: F401  (Keras's dtype rules live with the ops, floor 1)
    floatx,
    is_float_dtype,
    is_int_dtype,
    result_type,
    set_floatx,
    standardize_dtype,
)

_EPSILON = 1e-7
_ON_CLEAR_SESSION: list = []  # callables() of the packages that keep session state (auto layer names, ...)


def on_clear_session(fn):
    """Register `fn()` to run at every `clear_session()` (how fkeras.nn resets its auto names without
    this module importing it)."""
    if fn not in _ON_CLEAR_SESSION:
        _ON_CLEAR_SESSION.append(fn)
    return fn


def clear_session(free_memory=True):
    """Reset the session's global state, as `keras.backend.clear_session()`: automatic layer names start
    again at `dense`, `conv2d`, ... (`free_memory` is accepted for Keras compatibility)."""
    for fn in _ON_CLEAR_SESSION:
        fn()


def backend() -> str:
    """fkeras always computes on JAX (torch/TF tensors are handled by dispatch)."""
    return "jax"


def epsilon() -> float:
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)


_UIDS: dict = {}


def get_uid(prefix=""):
    """1, 2, 3, ... for each `prefix` in this session (Keras's `get_uid`; `clear_session` restarts them)."""
    _UIDS[prefix] = _UIDS.get(prefix, 0) + 1
    return _UIDS[prefix]


on_clear_session(_UIDS.clear)


def is_keras_tensor(x) -> bool:
    """True for a symbolic functional-API tensor (`fkeras.Input(...)` and what layers make of it)."""
    return _dispatch._framework_of_one(x) == _dispatch.SYMBOLIC


_IMAGE_DATA_FORMAT = "channels_last"


def image_data_format() -> str:
    """The default image layout, "channels_last" unless `set_image_data_format` changed it."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format):
    """Set the default image layout: "channels_first" or "channels_last" (Keras's rule, case-insensitive)."""
    global _IMAGE_DATA_FORMAT
    value = str(data_format).lower()
    if value not in {"channels_first", "channels_last"}:
        raise ValueError("The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
                         f"Received: data_format={data_format}")
    _IMAGE_DATA_FORMAT = value


_FLASH_ATTENTION = None  # None: use flash attention where available (Keras's default); False: never


def enable_flash_attention():
    """Let `dot_product_attention` use flash attention where the hardware allows (Keras stores None: auto)."""
    global _FLASH_ATTENTION
    _FLASH_ATTENTION = None


def disable_flash_attention():
    """Never use flash attention."""
    global _FLASH_ATTENTION
    _FLASH_ATTENTION = False


def is_flash_attention_enabled():
    """None (auto, the default) or False after `disable_flash_attention()`, as Keras returns it."""
    return _FLASH_ATTENTION


# Debugging caps on fit/evaluate/predict (Keras reads KERAS_MAX_EPOCHS / KERAS_MAX_STEPS_PER_EPOCH at import);
# the trainer reads them in fit/evaluate/predict, so they live here, below it.
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
