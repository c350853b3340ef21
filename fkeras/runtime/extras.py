"""Optional dependencies: one clear line naming the extra to install, and a quiet TensorFlow import.

    torch = require("torch", "torch", "fkeras.interop.torch.to_torch")
    tf = import_tensorflow("fkeras.interop.tf.to_tf")

A missing package raises `MissingExtraError` (a `ModuleNotFoundError`, so `except ImportError`
still catches it) whose message says which feature needs what and the `pip install "fkeras[...]"`
that provides it. TensorFlow prints absl/oneDNN lines on stderr while it loads (whatever
`TF_CPP_MIN_LOG_LEVEL` says); fkeras hides them unless the user asked for all of TensorFlow's logs
with `TF_CPP_MIN_LOG_LEVEL=0` (JAX itself sets 1 when it is unset, so 1 cannot mean "asked").
"""

from __future__ import annotations

import importlib
import os
import sys

# pip distribution and fkeras extra for each importable top-level module.
EXTRAS = {
    "torch": ("torch", "torch"),
    "tensorflow": ("tensorflow-cpu", "tf"),
    "pandas": ("pandas", "pandas"),
    "sklearn": ("scikit-learn", "digits"),
    "flax": ("flax", "flax"),
}


class MissingExtraError(ModuleNotFoundError):
    """An optional dependency of fkeras is not installed; the message names the extra to install."""


def missing_extra_message(module: str, feature: str) -> str:
    dist, extra = EXTRAS.get(module.split(".")[0], (module, None))
    fix = f'pip install "fkeras[{extra}]"' if extra else f"pip install {dist}"
    return f"{feature} needs {dist}, which is not installed: {fix}"


def require(module: str, feature: str):
    """Import `module` (e.g. "torch"), or raise `MissingExtraError` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        top = module.split(".")[0]
        if e.name is not None and e.name.split(".")[0] != top:
            raise  # the package is there but one of *its* dependencies is missing: keep Python's message
        raise MissingExtraError(missing_extra_message(module, feature), name=top) from None


def _tf_logs_wanted() -> bool:
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "").strip() == "0"


def import_tensorflow(feature: str):
    """`import tensorflow`, without its load-time absl/oneDNN lines on stderr unless the user wants them.

    Silences file descriptor 2 for the import itself only (later TensorFlow errors print as usual,
    and so does a Python error raised by the import).
    """
    if sys.modules.get("tensorflow") is not None:
        return sys.modules["tensorflow"]
    if _tf_logs_wanted() or "tensorflow" in sys.modules:  # None there: import fails loudly, nothing to hide
        return require("tensorflow", feature)
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable fd 2: import as is
        return require("tensorflow", feature)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        return require("tensorflow", feature)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
