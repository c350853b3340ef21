"""`BackupAndRestore`: back up the training state so a killed `fit` resumes where it stopped (Keras 3)."""

from __future__ import annotations

import json
import os
import re
import shutil

import jax
import jax.numpy as jnp
import numpy as np

from fkeras.callbacks._save_freq import BatchCounter, check_save_freq
from fkeras.callbacks.callback import Callback
from fkeras.saving import archive

_WEIGHTS_RE = re.compile(r"^latest-(\d+)\.weights\.h5$")
_REQUIRED = ("epoch", "batch", "weights_file")


def _write_json_atomic(path, obj):
    archive.atomic_write_bytes(path, json.dumps(obj).encode())


class BackupAndRestore(Callback):
    """Back up the training state so a killed `fit` resumes where it stopped (Keras 3's callback).

    Files in `backup_dir`: `training_metadata.json`, the commit record, and the weights file it names
    (`latest-<n>.weights.h5`: weights + optimizer state, Keras layout). The metadata holds `epoch`
    (completed epochs), `batch` (index of the last batch trained in an unfinished epoch, -1 at an
    epoch's end), `batches_done`, fkeras's `step`, the TrainState `rng` (dropout masks continue
    exactly) and `data` (the training data's shuffle generator state and position).

    A backup is committed atomically: the new weights file is written first (temp file + rename),
    then the metadata is replaced atomically, then the previous weights file is removed. A kill at
    any point leaves a complete backup (the previous or the new one); an orphan weights file is
    removed by the next save. On `on_train_begin` the metadata is read and checked *before* any
    weight is restored (a corrupt file is a `ValueError` naming it); fit then resumes exactly: the
    same epoch, batch, shuffle order and dropout keys, so the final weights equal an uninterrupted
    run's bit for bit (for arrays and PyDatasets; see docs/resume.md). `delete_checkpoint=True`
    removes the backup when training ends; `double_checkpoint=True` keeps the previous backup as
    `training_metadata.json.bkp` (+ its weights file) and falls back to it when the latest is unreadable.
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        check_save_freq(save_freq)
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq, self.double_checkpoint, self.delete_checkpoint = save_freq, double_checkpoint, delete_checkpoint
        self._training_metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._prev_training_metadata_path = self._training_metadata_path + ".bkp"
        self._counter = BatchCounter(save_freq)
        self._current_epoch = 0
        self._last_batch_seen = -1
        self._batch_offset = 0  # batches of a resumed epoch trained before the backup
        self.restored_epoch = None  # the epoch fit resumed at (None when it started fresh)

    @property
    def _weights_path(self):
        """The committed weights file (None before the first backup)."""
        meta = self._read_meta(self._training_metadata_path, missing_ok=True)
        return None if meta is None else os.path.join(self.backup_dir, meta["weights_file"])

    # ------------------------------------------------------------------ restore
    def on_train_begin(self, logs=None):
        if not getattr(self.model, "built", True):
            raise ValueError("To use the BackupAndRestore callback, your model must be built before you call "
                             f"`fit()`. Model {self.model} is unbuilt.")
        try:
            meta = self._read_meta(self._training_metadata_path, missing_ok=True)
        except ValueError:
            if not os.path.exists(self._prev_training_metadata_path):
                raise
            meta = self._read_meta(self._prev_training_metadata_path)
        if meta is not None:
            self._restore(meta)
        self._remove_orphans()

    def _remove_orphans(self):
        """Temp files of saves killed mid-write (one fit owns its `backup_dir`, so none is in flight)."""
        if not os.path.isdir(self.backup_dir):
            return
        for f in os.listdir(self.backup_dir):
            if f.endswith(".tmp") and (f.startswith(".training_metadata.json.") or
                                       (f.startswith(".latest-") and ".weights.h5." in f)):
                os.remove(os.path.join(self.backup_dir, f))

    def _read_meta(self, path, missing_ok=False):
        """The parsed, checked metadata at `path` (None if absent and `missing_ok`); ValueError naming
        the file when it is unreadable or its weights file is missing. Reads only: nothing is restored."""
        if not os.path.exists(path):
            if missing_ok:
                return None
            raise ValueError(f"BackupAndRestore: the backup metadata file {path} does not exist.")
        try:
            with open(path, "rb") as f:
                meta = json.loads(f.read().decode("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"BackupAndRestore: cannot read the backup metadata file {path} ({e}). The backup "
                             "is corrupt; delete the folder to start training from scratch.") from e
        missing = [k for k in _REQUIRED if not isinstance(meta, dict) or k not in meta]
        if missing:
            raise ValueError(f"BackupAndRestore: the backup metadata file {path} lacks {missing}; expected a "
                             f"JSON object with {list(_REQUIRED)} written by fkeras's BackupAndRestore.")
        weights = os.path.join(os.path.dirname(path), str(meta["weights_file"]))
        if not _WEIGHTS_RE.match(str(meta["weights_file"])) or not os.path.isfile(weights):
            raise ValueError(f"BackupAndRestore: the backup metadata file {path} names the weights file "
                             f"{weights}, which does not exist.")
        return meta

    def _restore(self, meta):
        weights = os.path.join(self.backup_dir, meta["weights_file"])
        snapshot = self.model.get_weights()
        try:
            self.model.load_weights(weights)
        except BaseException:
            self.model.set_weights(snapshot)  # never leave the model half-restored
            raise
        self._restore_train_state_extras(meta)
        self._current_epoch = int(meta["epoch"])
        self.restored_epoch = self._current_epoch
        self.model._initial_epoch = self._current_epoch
        done = int(meta.get("batches_done", 0))
        self._batch_offset = done
        self.model._resume_fit = {"batch": done, "data": meta.get("data")}

    def _restore_train_state_extras(self, meta):
        ts = getattr(self.model, "train_state", None)
        if ts is None or "rng" not in meta:
            return
        data = jnp.asarray(np.asarray(meta["rng"], np.uint32))
        rng = jax.random.wrap_key_data(data) if jax.dtypes.issubdtype(ts.rng.dtype, jax.dtypes.prng_key) else data
        self.model.train_state = ts.replace(rng=rng, step=jnp.array(meta["step"], jnp.asarray(ts.step).dtype))

    # ------------------------------------------------------------------ backup
    def on_epoch_begin(self, epoch, logs=None):
        self._counter.new_epoch()
        if epoch != self._current_epoch:
            self._batch_offset = 0
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = -1
        self._batch_offset = 0
        if self.save_freq == "epoch":
            self._save()

    def on_train_batch_end(self, batch, logs=None):
        self._last_batch_seen = batch + self._batch_offset
        if self._counter.should_save(batch):
            self._save()

    def _save(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        old = self._read_meta_quiet(self._training_metadata_path)
        prev = self._read_meta_quiet(self._prev_training_metadata_path)
        used = [int(_WEIGHTS_RE.match(m["weights_file"]).group(1)) for m in (old, prev) if m is not None]
        name = f"latest-{max(used, default=-1) + 1}.weights.h5"
        self.model.save_weights(os.path.join(self.backup_dir, name), overwrite=True)
        meta = {"epoch": self._current_epoch, "batch": self._last_batch_seen,
                "batches_done": self._last_batch_seen + 1, "weights_file": name}
        ts = getattr(self.model, "train_state", None)
        if ts is not None:
            rng = ts.rng
            if jax.dtypes.issubdtype(rng.dtype, jax.dtypes.prng_key):
                rng = jax.random.key_data(rng)
            meta["rng"] = np.asarray(rng).tolist()
            meta["step"] = int(np.asarray(ts.step))
        state = getattr(self.model, "_fit_resume_state", None)
        meta["data"] = state() if callable(state) else None
        if self.double_checkpoint and old is not None:
            _write_json_atomic(self._prev_training_metadata_path, old)
        _write_json_atomic(self._training_metadata_path, meta)  # the commit point
        keep = {name} | ({old["weights_file"]} if self.double_checkpoint and old is not None else set())
        for f in os.listdir(self.backup_dir):
            if _WEIGHTS_RE.match(f) and f not in keep:
                os.remove(os.path.join(self.backup_dir, f))

    def _read_meta_quiet(self, path):
        try:
            return self._read_meta(path, missing_ok=True)
        except ValueError:
            return None

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)
