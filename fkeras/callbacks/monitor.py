"""The one monitor helper: which log a callback watches, in which direction, and what counts as better.

`MonitorCallback` is Keras 3.15's base of the same name (EarlyStopping, ReduceLROnPlateau,
ModelCheckpoint and OrbaxCheckpoint derive from it), with Keras's attributes: `monitor`, `mode`,
`best` (starts at `baseline`), `min_delta` (made negative in "min" mode), `monitor_op`.

Keras's "auto" rule (`monitor_direction`): strip `val_`; `loss` is minimized; a compiled metric of
that name is maximized or minimized by its `_direction` ("up"/"down": accuracy, AUC, precision go
up; MSE, MAE go down); anything else raises a `ValueError` asking for `mode`. fkeras also resolves
the per-output names of a multi-output model (`val_out_accuracy` from the metric logged there,
`val_out_loss` as a loss), which Keras 3.15 cannot resolve and rejects.
"""

from __future__ import annotations

import warnings

import numpy as np

from fkeras.callbacks.callback import Callback

MODES = ("auto", "min", "max")


def monitor_direction(model, monitor) -> str:
    """"min" or "max" for the log `monitor` of `model` under Keras's "auto" rule (see the module doc).

    Raises a ValueError when the direction cannot be inferred.
    """
    name = monitor.removeprefix("val_")
    if name == "loss":
        return "min"
    find = getattr(model, "_metric_direction", None)  # the Trainer's lookup by metric or log name
    direction = find(name) if find is not None else None
    if direction in ("up", "down"):
        return "max" if direction == "up" else "min"
    if name.endswith("_loss"):  # a per-output loss of a multi-output model
        return "min"
    raise ValueError(f"received monitor={monitor!r}, but fkeras can't determine whether that metric should be "
                     "maximized or minimized (it is not `loss` nor a compiled metric with a known direction). "
                     "Pass `mode='max'` to monitor the highest value or `mode='min'` for the lowest.")


class MonitorCallback(Callback):
    """Base for callbacks that watch one log value (Keras 3.15's `MonitorCallback`).

    Args:
        monitor: the log to watch, e.g. "val_loss".
        mode: "min", "max" or "auto" (direction from the name: see `monitor_direction`). Anything
            else warns and falls back to "auto", as in Keras.
        baseline: the initial `best` (None: the first value seen is an improvement).
        min_delta: an improvement must beat the reference by more than `abs(min_delta)`.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in MODES:
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.", stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        """Fix `monitor_op` (np.less or np.greater) from `mode`; called once the model's metrics exist."""
        mode = self.mode
        if mode == "auto":
            try:
                mode = monitor_direction(self.model, self.monitor)
            except ValueError as e:
                raise ValueError(f"{type(self).__name__} callback {e}") from None
        self.monitor_op = np.less if mode == "min" else np.greater
        if mode == "min":
            self.min_delta *= -1

    def _is_improvement(self, monitor_value, reference_value) -> bool:
        """Whether `monitor_value` beats `reference_value` by more than `min_delta` (True when no reference)."""
        if reference_value is None:
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))
