"""Interactive logging switch (Keras's `keras.config.enable_interactive_logging` and friends) and `print_msg`.

With interactive logging on (the default) messages go to stdout; off, to `absl.logging` (INFO), for
jobs that run on servers.
"""

import sys

_STATE = {"interactive_logging": True}


def enable_interactive_logging():
    """Send Keras's messages (progress bars, download notices) to stdout."""
    _STATE["interactive_logging"] = True


def disable_interactive_logging():
    """Send Keras's messages to `absl.logging` instead of stdout."""
    _STATE["interactive_logging"] = False


def is_interactive_logging_enabled() -> bool:
    """True when messages go to stdout (the default)."""
    return _STATE["interactive_logging"]


def print_msg(message, line_break=True):
    """Write `message` to stdout (interactive logging) or to `absl.logging.info`."""
    message = str(message)
    if is_interactive_logging_enabled():
        sys.stdout.write(f"{message}\n" if line_break else message)
        sys.stdout.flush()
    else:
        from absl import logging

        logging.info(message)
