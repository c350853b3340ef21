"""Keras's traceback-filtering switch (`keras.config.enable_traceback_filtering` and friends).

fkeras raises its errors from the frame that detected them and does not rewrite tracebacks, so the
switch only records the setting that Keras scripts set and read back.
"""

_STATE = {"enabled": True}


def enable_traceback_filtering():
    """Turn traceback filtering on (the default)."""
    _STATE["enabled"] = True


def disable_traceback_filtering():
    """Turn traceback filtering off."""
    _STATE["enabled"] = False


def is_traceback_filtering_enabled() -> bool:
    """True unless `disable_traceback_filtering()` was called."""
    return _STATE["enabled"]
