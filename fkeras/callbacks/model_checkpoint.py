"""`ModelCheckpoint`: save the model (`.keras`) or its weights (`.weights.h5`) during training.

    fkeras.callbacks.ModelCheckpoint("ckpt/model_at_epoch_{epoch}.keras")
    fkeras.callbacks.ModelCheckpoint("best_{val_loss:.2f}.weights.h5", save_best_only=True, save_weights_only=True)

Files are written atomically by `fkeras.saving` (temp file + os.replace): a crash mid-save keeps
the previous one.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from fkeras.callbacks._save_freq import BatchCounter, check_save_freq
from fkeras.callbacks.callback import print_msg
from fkeras.callbacks.monitor import MonitorCallback


class ModelCheckpoint(MonitorCallback):
    """Save the model or its weights at the end of every epoch or every `save_freq` batches, as Keras 3.

    Args:
        filepath: a path template: `{epoch}` (1-based), `{batch}` (with integer save_freq) and any log key
            with a format spec, e.g. `model_{epoch:02d}-{val_loss:.2f}.keras`.
        monitor, mode ("auto"/"min"/"max"), initial_value_threshold: which log decides "best" and its
            starting value (`fkeras.callbacks.monitor`: Keras's "auto" rule).
        save_best_only: only save when `monitor` improved (the newest best overwrites a fixed path). When
            the log is missing or not a scalar, it warns and saves anyway, as Keras does.
        save_weights_only: write `model.save_weights` (filepath must end in `.weights.h5`), else `model.save`
            (filepath must end in `.keras`).
        save_freq: "epoch" or a positive int number of batches.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        filepath = os.fspath(filepath)
        check_save_freq(save_freq)
        if save_weights_only and not filepath.endswith(".weights.h5"):
            raise ValueError("When using `save_weights_only=True` in `ModelCheckpoint`, the filepath provided must "
                             f"end in `.weights.h5` (Keras weights format). Received: filepath={filepath}")
        if not save_weights_only and not filepath.endswith(".keras"):
            raise ValueError("The filepath provided must end in `.keras` (Keras model format). "
                             f"Received: filepath={filepath}")
        self.filepath, self.verbose = filepath, verbose
        self.save_best_only, self.save_weights_only, self.save_freq = save_best_only, save_weights_only, save_freq
        self._counter = BatchCounter(save_freq)
        self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch
        self._counter.new_epoch()

    def on_train_batch_end(self, batch, logs=None):
        if self._counter.should_save(batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()  # as Keras: once the model's metrics exist
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _get_file_path(self, epoch, batch, logs):
        values = {k: float(np.asarray(v)) if np.ndim(v) == 0 else v for k, v in (logs or {}).items()}
        try:
            if batch is None or "batch" in values:
                return self.filepath.format(epoch=epoch + 1, **values)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **values)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". Reason: the logs have no '
                           f"key {e}; available: {sorted(values)}.") from e

    def _should_save_model(self, epoch, logs, filepath) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                print_msg(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=3)
            return True
        if np.ndim(current) > 0:
            warnings.warn(f"Can save best model only when `monitor` is a scalar value. Received: {current}. "
                          "Falling back to `save_best_only=False`.", stacklevel=3)
            return True
        current = float(np.asarray(current))
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print_msg(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, "
                          f"saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save_model(self, epoch, batch, logs):
        logs = logs or {}
        path = self._get_file_path(epoch, batch, logs)
        if not self._should_save_model(epoch, logs, path):
            return
        if os.path.isdir(path):
            raise IOError("Please specify a non-directory filepath for ModelCheckpoint. Filepath used is an "
                          f"existing directory: {path}")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: finished saving model to {path}")
