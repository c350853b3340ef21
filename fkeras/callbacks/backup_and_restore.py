"""`BackupAndRestore`: back up the training state so a killed `fit` resumes where it stopped (Keras 3)."""

from __future__ import annotations

import json
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np

from fkeras.callbacks._save_freq import BatchCounter, check_save_freq
from fkeras.callbacks.callback import Callback
from fkeras.saving import archive


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
        check_save_freq(save_freq)
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq, self.double_checkpoint, self.delete_checkpoint = save_freq, double_checkpoint, delete_checkpoint
        self._weights_path = os.path.join(self.backup_dir, "latest.weights.h5")
        self._training_metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._prev_weights_path = self._weights_path + ".bkp"
        self._prev_training_metadata_path = self._training_metadata_path + ".bkp"
        self._counter = BatchCounter(save_freq)
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
                    with open(src, "rb") as f:
                        archive.atomic_write_bytes(dst, f.read())
        self.model.save_weights(self._weights_path, overwrite=True)
        meta = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        ts = getattr(self.model, "train_state", None)
        if ts is not None:
            rng = ts.rng
            if jax.dtypes.issubdtype(rng.dtype, jax.dtypes.prng_key):
                rng = jax.random.key_data(rng)
            meta["rng"] = np.asarray(rng).tolist()
            meta["step"] = int(np.asarray(ts.step))
        _write_json_atomic(self._training_metadata_path, meta)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)
