"""`EarlyStopping`: stop training when a monitored log has stopped improving (Keras 3.15's rules)."""

from __future__ import annotations

import warnings

from fkeras.callbacks.callback import print_msg
from fkeras.callbacks.monitor import MonitorCallback


def _snapshot(model):
    """A copy of the model's weights that later (donating) train steps cannot invalidate."""
    if hasattr(model, "_snapshot_variables"):
        return model._snapshot_variables()
    return model.get_weights()


def _restore(model, snapshot):
    if hasattr(model, "_restore_variables"):
        model._restore_variables(snapshot)
    else:
        model.set_weights(snapshot)


class EarlyStopping(MonitorCallback):
    """Stop training when `monitor` has not improved (by more than `min_delta`) for `patience` epochs.

    `baseline`: training stops after `patience` epochs unless the value beats it. `start_from_epoch`:
    epochs before it are not watched. `restore_best_weights`: at the end, the weights of the best epoch
    come back (the last epoch's when no epoch improved).
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best = None
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = _snapshot(self.model)
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = _snapshot(self.model)
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print_msg(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            _restore(self.model, self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                          f"Available metrics are: {','.join(logs)}", stacklevel=2)
        return value
