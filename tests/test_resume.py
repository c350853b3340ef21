"""Exact, crash-safe resume of `fit` with `BackupAndRestore` (issue 16): a resumed run ends with the
same weights, bit for bit, as the uninterrupted run with the same seed (shuffle order, dropout keys
and data position are part of the backup); a backup is committed atomically; a corrupt backup is a
clear error raised before any weight is restored. The kill -9 test kills a real fit (and its saves)
at random points."""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fkeras as fk
from fkeras.callbacks import backup_and_restore as bar_mod

REPO = Path(__file__).resolve().parents[1]
X = np.random.default_rng(1).random((40, 4), dtype=np.float32)
Y = (X.sum(1) > 2).astype(np.int32)


class Boom(Exception):
    pass


class StopAt(fk.callbacks.Callback):
    """Raise after the `at`-th batch of the whole fit (an in-process stand-in for a crash)."""

    def __init__(self, at):
        super().__init__()
        self.at, self.n = at, 0

    def on_train_batch_end(self, batch, logs=None):
        self.n += 1
        if self.n == self.at:
            raise Boom()


def _model():
    fk.backend.clear_session(free_memory=False)  # same layer names -> same per-layer dropout keys
    fk.utils.set_random_seed(0)
    m = fk.Sequential([fk.Input((4,)), fk.layers.Dense(8, activation="relu"), fk.layers.Dropout(0.3),
                       fk.layers.Dense(2)])
    m.compile(optimizer=fk.optimizers.Adam(1e-2), loss=fk.losses.SparseCategoricalCrossentropy(from_logits=True))
    return m


def _fit(m, callbacks=(), **kw):
    kw = {"batch_size": 8, "epochs": 3, "verbose": 0, **kw}
    m.fit(X, Y, callbacks=list(callbacks), **kw)
    return m.get_weights()


_REFERENCE = {}


def _reference(**fit_kw):
    """(weights, final step) of the uninterrupted run with `fit_kw`: computed once per module (the runs are
    seeded and identical; each test compares against it bit for bit)."""
    key = tuple(sorted(fit_kw.items()))
    if key not in _REFERENCE:
        ref = _model()
        _REFERENCE[key] = (_fit(ref, **fit_kw), int(ref.train_state.step))
    return _REFERENCE[key]


def _assert_bit_equal(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)  # bit for bit, no tolerance


@pytest.mark.parametrize("save_freq,at,fit_kw", [
    ("epoch", 7, {}),                                   # killed mid-epoch 1, backup from the end of epoch 0
    (2, 7, {}),                                         # mid-epoch backup (batch 1 of epoch 1): skip 2 batches
    (3, 10, {}),                                        # backup after an epoch's last batch, before on_epoch_end
    (2, 5, {"shuffle": "batch"}),
    (2, 5, {"steps_per_epoch": 3, "batch_size": 4}),    # epochs continue one shuffled pass (mid-pass resume)
])
def test_resume_is_bit_exact_with_shuffle_and_dropout(tmp_path, save_freq, at, fit_kw):
    want, ref_step = _reference(**fit_kw)
    d = tmp_path / "backup"
    with pytest.raises(Boom):
        _fit(_model(), [fk.callbacks.BackupAndRestore(d, save_freq=save_freq), StopAt(at)], **fit_kw)
    assert (d / "training_metadata.json").exists()
    m = _model()
    cb = fk.callbacks.BackupAndRestore(d, save_freq=save_freq)
    got = _fit(m, [cb], **fit_kw)
    assert cb.restored_epoch is not None
    _assert_bit_equal(got, want)
    assert int(m.train_state.step) == ref_step == 3 * (3 if "steps_per_epoch" in fit_kw else 5)


def test_without_the_data_state_shuffle_resume_differs(tmp_path):
    """The check above can fail: dropping the saved data position (Keras's behaviour) changes the result."""
    want, _ = _reference()
    d = tmp_path / "backup"
    with pytest.raises(Boom):
        _fit(_model(), [fk.callbacks.BackupAndRestore(d), StopAt(12)])
    meta = json.loads((d / "training_metadata.json").read_text())
    meta["data"] = None
    (d / "training_metadata.json").write_text(json.dumps(meta))
    got = _fit(_model(), [fk.callbacks.BackupAndRestore(d)])
    assert any(not np.array_equal(g, w) for g, w in zip(got, want))


def test_corrupt_metadata_is_a_clear_error_before_any_weight_is_restored(tmp_path):
    d = tmp_path / "backup"
    with pytest.raises(Boom):
        _fit(_model(), [fk.callbacks.BackupAndRestore(d), StopAt(7)])
    (d / "training_metadata.json").write_text('{"epoch": 1, "batch"')  # truncated
    m = _model()
    m.build((None, 4))
    before = m.get_weights()
    with pytest.raises(ValueError, match=r"training_metadata\.json.*corrupt"):
        _fit(m, [fk.callbacks.BackupAndRestore(d)])
    _assert_bit_equal(m.get_weights(), before)
    (d / "training_metadata.json").write_text('{"epoch": 1}')
    with pytest.raises(ValueError, match=r"training_metadata\.json lacks"):
        _fit(m, [fk.callbacks.BackupAndRestore(d)])
    (d / "training_metadata.json").write_text('{"epoch": 1, "batch": -1, "weights_file": "latest-9.weights.h5"}')
    with pytest.raises(ValueError, match=r"latest-9\.weights\.h5, which does not exist"):
        _fit(m, [fk.callbacks.BackupAndRestore(d)])
    _assert_bit_equal(m.get_weights(), before)


def test_double_checkpoint_falls_back_to_the_previous_backup(tmp_path):
    d = tmp_path / "backup"
    with pytest.raises(Boom):
        _fit(_model(), [fk.callbacks.BackupAndRestore(d, double_checkpoint=True), StopAt(12)])
    assert (d / "training_metadata.json.bkp").exists()
    (d / "training_metadata.json").write_text("not json")
    cb = fk.callbacks.BackupAndRestore(d, double_checkpoint=True)
    m = _model()
    m.build((None, 4))
    cb.set_model(m)
    cb.on_train_begin()
    assert cb.restored_epoch == 1  # the previous backup (end of epoch 0)


def test_a_crash_between_weights_and_metadata_keeps_the_previous_backup(tmp_path, monkeypatch):
    """The metadata is the commit point: a save killed after writing the new weights leaves the previous
    backup intact and loadable; the next save removes the orphan weights file."""
    d = tmp_path / "backup"
    real = bar_mod._write_json_atomic
    calls = []

    def failing(path, obj):
        calls.append(path)
        if len(calls) == 2:  # the second backup: weights written, metadata not yet
            raise Boom()
        real(path, obj)

    monkeypatch.setattr(bar_mod, "_write_json_atomic", failing)
    with pytest.raises(Boom):
        _fit(_model(), [fk.callbacks.BackupAndRestore(d)])
    monkeypatch.setattr(bar_mod, "_write_json_atomic", real)
    assert sorted(os.listdir(d)) == ["latest-0.weights.h5", "latest-1.weights.h5", "training_metadata.json"]
    assert json.loads((d / "training_metadata.json").read_text())["epoch"] == 1
    want, _ = _reference()
    cb = fk.callbacks.BackupAndRestore(d, delete_checkpoint=False)
    got = _fit(_model(), [cb])
    assert cb.restored_epoch == 1
    _assert_bit_equal(got, want)
    assert sorted(os.listdir(d)) == ["latest-2.weights.h5", "training_metadata.json"]  # orphan removed


KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    import fkeras as fk
    from fkeras.saving import archive
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    backup, out, where, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    fk.utils.set_random_seed(0)
    x = np.random.default_rng(1).random((40, 4), dtype=np.float32)
    y = (x.sum(1) > 2).astype(np.int32)
    m = fk.Sequential([fk.Input((4,)), fk.layers.Dense(8, activation="relu"), fk.layers.Dropout(0.3),
                       fk.layers.Dense(2)])
    m.compile(optimizer=fk.optimizers.Adam(1e-2), loss=fk.losses.SparseCategoricalCrossentropy(from_logits=True))
    count = [0]

    def tick():
        count[0] += 1
        if count[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup of any kind

    class Killer(fk.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if where == "batch":
                tick()

    if where == "save":  # inside a save: after the temp file is written, before it is renamed
        real_replace = os.replace
        def replace(src, dst):
            if str(src).endswith(".tmp"):
                tick()
            return real_replace(src, dst)
        os.replace = replace
    cbs = [fk.callbacks.BackupAndRestore(backup, save_freq=2, delete_checkpoint=False), Killer()]
    m.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=cbs)
    np.savez(out, *m.get_weights(), step=np.asarray(m.train_state.step))
""")


@pytest.mark.slow
def test_kill_9_at_random_points_resumes_bit_exact(tmp_path):
    """A real fit killed with SIGKILL at a random batch, then inside a random save of the restarted fit, and
    restarted again until it finishes, ends bit-identical to the uninterrupted run (the in-process reference,
    the same model, seed and data); no half-written or temporary file is left behind."""
    script = tmp_path / "kill_fit.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}

    def run(backup, out, where="-", n=0):
        return subprocess.run([sys.executable, str(script), str(backup), str(out), where, str(n)], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)

    want, step = _reference()
    rnd = random.Random(16)
    # 15 batches, a backup (two files, two renames) after every second batch: killed after batch n (1..13), the
    # restart resumes at batch 2 * (n // 2) and has 7 - n // 2 saves (twice as many renames) left to be killed in.
    # (One process per kill: each start imports JAX and fkeras, most of this test's time.)
    n = rnd.randint(1, 13)
    plan = [("batch", n), ("save", rnd.randint(1, 2 * (7 - n // 2)))]
    backup, out = tmp_path / "backup", tmp_path / "out"
    for where, n in plan:
        r = run(backup, out, where, n)
        assert r.returncode == -signal.SIGKILL, (where, n, r.stderr[-3000:])
    r = run(backup, out)
    assert r.returncode == 0, (plan, r.stderr[-3000:])
    got = np.load(str(out) + ".npz")
    assert len(got.files) == len(want) + 1
    for i, w in enumerate(want):
        np.testing.assert_array_equal(got[f"arr_{i}"], w, err_msg=str(plan))
    files = sorted(os.listdir(backup))
    assert len(files) == 2 and files[1] == "training_metadata.json", files  # no temp/orphan file
    assert int(got["step"]) == step == 15  # no batch lost or repeated


def test_orbax_checkpoint_resume_is_one_step_and_exact(tmp_path):
    """`OrbaxCheckpoint(resume=True)` restores the latest finalized checkpoint and continues with the next
    epoch, shuffle order and dropout keys included: the result equals the uninterrupted run bit for bit."""
    pytest.importorskip("orbax.checkpoint")
    want, ref_step = _reference()
    d = tmp_path / "orbax"
    first = fk.callbacks.OrbaxCheckpoint(d, resume=True, save_on_background=True)
    with pytest.raises(Boom):
        _fit(_model(), [first, StopAt(12)])
    # In one process the crashed fit's background save keeps running; a killed process's would stop. Wait
    # for it so the directory is in one of the two states a kill leaves (in-process racing is not a crash).
    first.manager.wait_until_finished()
    m = _model()
    cb = fk.callbacks.OrbaxCheckpoint(d, resume=True)
    got = _fit(m, [cb])
    # epochs 0 and 1 were checkpointed before the crash in epoch 2; the asynchronous save of epoch 1 may
    # not have been finalized when the crash came: then fit resumes at epoch 1 (nothing lost, still exact)
    assert cb.restored_epoch in (1, 2)
    _assert_bit_equal(got, want)
    assert int(m.train_state.step) == ref_step == 15
    d2 = tmp_path / "orbax_sync"
    with pytest.raises(Boom):
        _fit(_model(), [fk.callbacks.OrbaxCheckpoint(d2, resume=True, save_on_background=False), StopAt(12)])
    cb = fk.callbacks.OrbaxCheckpoint(d2, resume=True)
    _assert_bit_equal(_fit(_model(), [cb]), want)
    assert cb.restored_epoch == 2
    with pytest.raises(ValueError, match="resume=True"):
        fk.callbacks.OrbaxCheckpoint(d, resume=True, save_freq=2)
