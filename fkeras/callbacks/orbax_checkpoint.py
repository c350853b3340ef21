"""`OrbaxCheckpoint`: the whole TrainState saved with orbax during training (Keras 3's callback name).

    fkeras.callbacks.OrbaxCheckpoint("orbax/", max_to_keep=3)   # async; readable by plain orbax
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np

from fkeras.callbacks._save_freq import BatchCounter, check_save_freq
from fkeras.callbacks.callback import print_msg
from fkeras.callbacks.monitor import MonitorCallback
from fkeras.io import checkpoint
from fkeras.saving import archive


class OrbaxCheckpoint(MonitorCallback):
    """Save the whole TrainState (params, state, opt_state, metrics, rng, step) with orbax during training.

    Checkpoints are numbered by epoch (save_freq="epoch") or by total batches seen (int save_freq), kept
    newest-`max_to_keep`, written in the background when `save_on_background`, and readable by plain
    orbax without fkeras (`fkeras.io.checkpoint`). `save_weights_only` keeps just params and state.
    `save_best_only` saves only when `monitor` improved (`fkeras.callbacks.monitor`); a missing log skips.
    Restore with `OrbaxCheckpoint.restore(model, directory)` or `fkeras.io.checkpoint.CheckpointManager`.

    `resume=True` (fkeras; epoch checkpoints of the whole TrainState) makes resuming one step, as with
    `BackupAndRestore`: on `on_train_begin` the latest *finalized* checkpoint (orbax commits a save by
    renaming it, so a save killed mid-way, also an asynchronous one, is not seen) is restored and fit
    continues with the next epoch, with the training data's shuffle state saved beside it
    (`<directory>/fkeras_resume/<step>.json`, written before the checkpoint) so the result equals an
    uninterrupted run's.
    """

    def __init__(self, directory, monitor="val_loss", verbose=0, save_best_only=False, mode="auto",
                 save_freq="epoch", initial_value_threshold=None, max_to_keep=1, save_on_background=True,
                 save_weights_only=False, resume=False):
        super().__init__(monitor, mode, initial_value_threshold)
        if resume and (save_freq != "epoch" or save_weights_only):
            raise ValueError("OrbaxCheckpoint(resume=True) needs save_freq='epoch' and save_weights_only=False "
                             f"(checkpoints of the whole TrainState, numbered by epoch); got save_freq={save_freq!r}, "
                             f"save_weights_only={save_weights_only!r}.")
        self.resume = bool(resume)
        self.restored_epoch = None
        check_save_freq(save_freq)
        self.directory, self.verbose = os.fspath(directory), verbose
        self.save_best_only, self.save_freq, self.save_weights_only = save_best_only, save_freq, save_weights_only
        self.max_to_keep, self.save_on_background = max_to_keep, save_on_background
        self._counter = BatchCounter(save_freq)
        self.manager = checkpoint.CheckpointManager(self.directory, max_to_keep=max_to_keep,
                                                    async_save=save_on_background)

    def _tree(self):
        ts = self.model.train_state
        if ts is None:
            raise ValueError("OrbaxCheckpoint: the model has no TrainState yet (call fit first).")
        return {"params": ts.params, "state": ts.state} if self.save_weights_only else ts

    def _maybe_save(self, step, logs, where):
        if self.save_best_only:
            current = (logs or {}).get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available, skipping save at {where}.",
                              stacklevel=3)
                return
            current = float(np.asarray(current))
            if not self._is_improvement(current, self.best):
                return
            self.best = current
        if self.verbose > 0:
            print_msg(f"\nOrbaxCheckpoint: saving step {step} to {self.directory}")
        if self.resume:  # the data position first: a checkpoint is never without it
            state = getattr(self.model, "_fit_resume_state", None)
            archive.atomic_write_bytes(self._sidecar(step), json.dumps(state() if callable(state) else None).encode())
        self.manager.save(step, self._tree(), force=True)

    def _sidecar(self, step):
        return os.path.join(self.directory, "fkeras_resume", f"{int(step)}.json")

    def on_train_begin(self, logs=None):
        if not self.resume:
            return
        latest = None
        for step in sorted(self.manager.all_steps(), reverse=True):
            # the newest checkpoint that is complete on disk: a save still being written (or cut off by a
            # crash) may already be listed, so fall back to the one before it
            try:
                checkpoint.restore_into_model(self.model, self.directory, step=step)
            except FileNotFoundError:
                continue
            latest = step
            break
        if latest is None:
            return
        data = None
        path = self._sidecar(latest)
        if os.path.exists(path):
            try:
                with open(path, "rb") as f:
                    data = json.loads(f.read().decode("utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
                raise ValueError(f"OrbaxCheckpoint: cannot read the resume file {path} ({e}).") from e
        self.restored_epoch = int(latest) + 1
        self.model._initial_epoch = self.restored_epoch
        self.model._resume_fit = {"batch": 0, "data": data}

    def on_epoch_begin(self, epoch, logs=None):
        self._counter.new_epoch()

    def on_train_batch_end(self, batch, logs=None):
        if self._counter.should_save(batch):
            self._maybe_save(self._counter.total, logs, f"batch {batch}")

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()  # as Keras: once the model's metrics exist
        if self.save_freq == "epoch":
            self._maybe_save(epoch, logs, f"epoch {epoch}")

    def on_train_end(self, logs=None):
        self.manager.wait_until_finished()
        folder = os.path.join(self.directory, "fkeras_resume")
        if self.resume and os.path.isdir(folder):  # resume files of checkpoints max_to_keep dropped
            keep = {f"{int(s)}.json" for s in self.manager.all_steps()}
            for f in os.listdir(folder):
                if f.endswith(".json") and f not in keep:
                    os.remove(os.path.join(folder, f))

    def wait_until_finished(self):
        self.manager.wait_until_finished()

    @staticmethod
    def restore(model, directory, step=None):
        """Load checkpoint `step` (default: latest) of `directory` into `model`'s TrainState; returns the step."""
        return checkpoint.restore_into_model(model, directory, step=step)
