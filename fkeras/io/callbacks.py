"""Checkpoint callbacks with Keras 3's names and arguments: ModelCheckpoint, BackupAndRestore, OrbaxCheckpoint.

    fkeras.callbacks.ModelCheckpoint("ckpt/model_at_epoch_{epoch}.keras")
    fkeras.callbacks.ModelCheckpoint("best_{val_loss:.2f}.weights.h5", save_best_only=True, save_weights_only=True)
    fkeras.callbacks.BackupAndRestore("backup/")          # resume after a crash at the last completed epoch
    fkeras.callbacks.OrbaxCheckpoint("orbax/", max_to_keep=3)   # whole TrainState, async, plain-orbax readable

Every file is written atomically (temp file + os.replace), so a crash mid-save keeps the previous one.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings

import numpy as np

from fkeras.saving import archive
from fkeras.train.callbacks import Callback
from fkeras.train.callbacks import _direction as _monitor_direction

__all__ = ["ModelCheckpoint", "BackupAndRestore", "OrbaxCheckpoint"]


def _check_save_freq(save_freq):
    if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1):
        raise ValueError(f"Unrecognized save_freq: {save_freq!r}. Expected 'epoch' or a positive int (batches).")


class _Monitor:
    """Keras's MonitorCallback logic: `monitor`, `mode`, `best`, improvement test."""

    def __init__(self, monitor, mode, initial_value_threshold):
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.", stacklevel=3)
            mode = "auto"
        self.monitor, self.mode = monitor, mode
        self.best = initial_value_threshold
        self._op = None

    def _resolve(self, model):
        if self._op is not None:
            return
        mode = self.mode if self.mode != "auto" else (_monitor_direction(model, self.monitor) or "min")
        self._op = np.less if mode == "min" else np.greater
        if self.best is None:
            self.best = np.inf if mode == "min" else -np.inf

    def improved(self, model, current) -> bool:
        self._resolve(model)
        return bool(self._op(current, self.best))


class _BatchCounter:
    """Counts batches across epochs for integer `save_freq` (works with steps_per_execution jumps)."""

    def __init__(self, save_freq):
        self.save_freq = save_freq
        self._since = 0
        self._last = None
        self.total = 0

    def should_save(self, batch) -> bool:
        if self.save_freq == "epoch":
            return False
        add = batch + 1 if self._last is None or batch <= self._last else batch - self._last
        self._last = batch
        self._since += add
        self.total += add
        if self._since >= self.save_freq:
            self._since = 0
            return True
        return False

    def new_epoch(self):
        self._last = None


class ModelCheckpoint(Callback):
    """Save the model (`.keras`) or its weights (`.weights.h5`) during training, like Keras 3.

    Args:
        filepath: a path template: `{epoch}` (1-based), `{batch}` (with integer save_freq) and any log key
            with a format spec, e.g. `model_{epoch:02d}-{val_loss:.2f}.keras`.
        monitor, mode ("auto"/"min"/"max"), initial_value_threshold: which log decides "best".
        save_best_only: only save when `monitor` improved (the newest best overwrites a fixed path).
        save_weights_only: write `model.save_weights` (filepath must end in `.weights.h5`), else `model.save`
            (filepath must end in `.keras`).
        save_freq: "epoch" or an int number of batches.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__()
        filepath = os.fspath(filepath)
        _check_save_freq(save_freq)
        if save_weights_only and not filepath.endswith(".weights.h5"):
            raise ValueError("When using `save_weights_only=True` in `ModelCheckpoint`, the filepath provided must "
                             f"end in `.weights.h5` (Keras weights format). Received: filepath={filepath}")
        if not save_weights_only and not filepath.endswith(".keras"):
            raise ValueError("The filepath provided must end in `.keras` (Keras model format). "
                             f"Received: filepath={filepath}")
        self.filepath, self.verbose = filepath, verbose
        self.save_best_only, self.save_weights_only, self.save_freq = save_best_only, save_weights_only, save_freq
        self._monitor = _Monitor(monitor, mode, initial_value_threshold)
        self._counter = _BatchCounter(save_freq)
        self._current_epoch = 0

    @property
    def monitor(self):
        return self._monitor.monitor

    @property
    def best(self):
        return self._monitor.best

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch
        self._counter.new_epoch()

    def on_train_batch_end(self, batch, logs=None):
        if self._counter.should_save(batch):
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _file_path(self, epoch, batch, logs):
        values = {k: float(np.asarray(v)) if np.ndim(v) == 0 else v for k, v in (logs or {}).items()}
        try:
            if batch is None or "batch" not in self.filepath:
                return self.filepath.format(epoch=epoch + 1, **values)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **values)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". Reason: the logs have no '
                           f"key {e}; available: {sorted(values)}.") from e

    def _save(self, epoch, batch, logs):
        logs = logs or {}
        path = self._file_path(epoch, batch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available, skipping.", stacklevel=2)
                return
            current = float(np.asarray(current))
            previous = self._monitor.best
            if not self._monitor.improved(self.model, current):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {previous:.5f}")
                return
            if self.verbose > 0:
                prev = self._monitor.best
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {prev:.5f} to {current:.5f}, "
                      f"saving model to {path}")
            self._monitor.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)


def _write_json_atomic(path, obj):
    archive.atomic_write_bytes(path, json.dumps(obj).encode())


class BackupAndRestore(Callback):
    """Back up the training state so a killed `fit` resumes where it stopped (Keras 3's callback).

    Files in `backup_dir`: `latest.weights.h5` (weights + optimizer state, Keras layout) and
    `training_metadata.json` (`epoch` = completed epochs, `batch`, plus fkeras's `step` and `rng` key
    data so dropout masks continue exactly). On `on_train_begin` a backup, if present, is loaded and
    `model._initial_epoch` set, so fit continues with the first unfinished epoch. With an int `save_freq`
    the backup is also written every N batches (the interrupted epoch then restarts from the weights of
    the last backup, as in Keras). `delete_checkpoint=True` removes the backup when training ends.
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        _check_save_freq(save_freq)
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq, self.double_checkpoint, self.delete_checkpoint = save_freq, double_checkpoint, delete_checkpoint
        self._weights_path = os.path.join(self.backup_dir, "latest.weights.h5")
        self._training_metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._prev_weights_path = self._weights_path + ".bkp"
        self._prev_training_metadata_path = self._training_metadata_path + ".bkp"
        self._counter = _BatchCounter(save_freq)
        self._current_epoch = 0
        self._last_batch_seen = 0
        self.restored_epoch = None  # the epoch fit resumed at (None when it started fresh)

    def on_train_begin(self, logs=None):
        if not getattr(self.model, "built", True):
            raise ValueError("To use the BackupAndRestore callback, your model must be built before you call "
                             f"`fit()`. Model {self.model} is unbuilt.")
        try:
            self._load()
        except (OSError, ValueError):
            if not os.path.exists(self._prev_weights_path):
                raise
            shutil.copyfile(self._prev_weights_path, self._weights_path)
            if os.path.exists(self._prev_training_metadata_path):
                shutil.copyfile(self._prev_training_metadata_path, self._training_metadata_path)
            self._load()

    def _load(self):
        if os.path.exists(self._weights_path):
            self.model.load_weights(self._weights_path)
        if os.path.exists(self._training_metadata_path):
            with open(self._training_metadata_path) as f:
                meta = json.load(f)
            self._restore_train_state_extras(meta)
            self._current_epoch = int(meta["epoch"])
            self.restored_epoch = self._current_epoch
            self.model._initial_epoch = self._current_epoch

    def _restore_train_state_extras(self, meta):
        ts = getattr(self.model, "train_state", None)
        if ts is None or "rng" not in meta:
            return
        import jax
        import jax.numpy as jnp

        data = jnp.asarray(np.asarray(meta["rng"], np.uint32))
        rng = jax.random.wrap_key_data(data) if jax.dtypes.issubdtype(ts.rng.dtype, jax.dtypes.prng_key) else data
        self.model.train_state = ts.replace(rng=rng, step=jnp.array(meta["step"], jnp.asarray(ts.step).dtype))

    def on_epoch_begin(self, epoch, logs=None):
        self._counter.new_epoch()

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save()

    def on_train_batch_end(self, batch, logs=None):
        self._last_batch_seen = batch
        if self._counter.should_save(batch):
            self._save()

    def _save(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint:
            for src, dst in ((self._weights_path, self._prev_weights_path),
                             (self._training_metadata_path, self._prev_training_metadata_path)):
                if os.path.exists(src):
                    archive.atomic_write_bytes(dst, open(src, "rb").read())
        self.model.save_weights(self._weights_path, overwrite=True)
        meta = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        ts = getattr(self.model, "train_state", None)
        if ts is not None:
            import jax

            rng = ts.rng
            if jax.dtypes.issubdtype(rng.dtype, jax.dtypes.prng_key):
                rng = jax.random.key_data(rng)
            meta["rng"] = np.asarray(rng).tolist()
            meta["step"] = int(np.asarray(ts.step))
        _write_json_atomic(self._training_metadata_path, meta)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)


class OrbaxCheckpoint(Callback):
    """Save the whole TrainState (params, state, opt_state, metrics, rng, step) with orbax during training.

    Checkpoints are numbered by epoch (save_freq="epoch") or by total batches seen (int save_freq), kept
    newest-`max_to_keep`, written in the background when `save_on_background`, and readable by plain
    orbax without fkeras (`fkeras.io.checkpoint`). `save_weights_only` keeps just params and state.
    Restore with `OrbaxCheckpoint.restore(model, directory)` or `fkeras.io.checkpoint.CheckpointManager`.
    """

    def __init__(self, directory, monitor="val_loss", verbose=0, save_best_only=False, mode="auto",
                 save_freq="epoch", initial_value_threshold=None, max_to_keep=1, save_on_background=True,
                 save_weights_only=False):
        super().__init__()
        _check_save_freq(save_freq)
        from fkeras.io.checkpoint import CheckpointManager

        self.directory, self.verbose = os.fspath(directory), verbose
        self.save_best_only, self.save_freq, self.save_weights_only = save_best_only, save_freq, save_weights_only
        self._monitor = _Monitor(monitor, mode, initial_value_threshold)
        self._counter = _BatchCounter(save_freq)
        self.manager = CheckpointManager(self.directory, max_to_keep=max_to_keep, async_save=save_on_background)

    def _tree(self):
        ts = self.model.train_state
        if ts is None:
            raise ValueError("OrbaxCheckpoint: the model has no TrainState yet (call fit first).")
        return {"params": ts.params, "state": ts.state} if self.save_weights_only else ts

    def _maybe_save(self, step, logs):
        if self.save_best_only:
            current = (logs or {}).get(self._monitor.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self._monitor.monitor} available, skipping.",
                              stacklevel=2)
                return
            current = float(np.asarray(current))
            if not self._monitor.improved(self.model, current):
                return
            self._monitor.best = current
        if self.verbose > 0:
            print(f"\nOrbaxCheckpoint: saving step {step} to {self.directory}")
        self.manager.save(step, self._tree(), force=True)

    def on_epoch_begin(self, epoch, logs=None):
        self._counter.new_epoch()

    def on_train_batch_end(self, batch, logs=None):
        if self._counter.should_save(batch):
            self._maybe_save(self._counter.total, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._maybe_save(epoch, logs)

    def on_train_end(self, logs=None):
        self.manager.wait_until_finished()

    def wait_until_finished(self):
        self.manager.wait_until_finished()

    @staticmethod
    def restore(model, directory, step=None):
        """Load checkpoint `step` (default: latest) of `directory` into `model`'s TrainState."""
        from fkeras.io.checkpoint import restore_into_model

        return restore_into_model(model, directory, step=step)
