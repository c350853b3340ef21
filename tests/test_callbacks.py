"""Callbacks' behaviour inside fit: early-stop epoch, best-weight restore, LR changes, CSV content,
NaN stop, hook order, Lambda hooks."""

import csv

import chex
import jax
import numpy as np
import pytest

from fkeras import nn
from fkeras import callbacks as C
from fkeras.train import optimizers
from tests.test_trainer import Host, _data


class Scripted(C.Callback):
    """Overwrites the monitored value with a scripted sequence (to test monitors exactly)."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


def _model(lr=0.05, opt=None):
    m = Host(nn.Sequential([nn.Dense(8, activation="relu"), nn.Dense(2, activation="softmax")]))
    m.compile(optimizer=opt or optimizers.SGD(lr), loss="sparse_categorical_crossentropy", metrics=["acc"])
    return m


X, Y = _data(64)


def test_early_stopping_stops_at_the_right_epoch_and_restores_best():
    m = _model()
    snaps = []
    rec = C.LambdaCallback(on_epoch_end=lambda e, logs: snaps.append(jax.tree.map(np.array, m.train_state.params)))
    es = C.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    # val_loss: best at epoch 1, then 2 epochs without improvement -> stops after epoch index 3
    h = m.fit(X, Y, batch_size=32, epochs=10, verbose=0, validation_data=(X, Y),
              callbacks=[Scripted("val_loss", [1.0, 0.5, 0.6, 0.7, 0.1, 0.1]), rec, es])
    assert h.epoch == [0, 1, 2, 3] and es.stopped_epoch == 3 and es.best_epoch == 1
    chex.assert_trees_all_close(m.train_state.params, snaps[1], atol=0)


def test_early_stopping_min_delta_mode_baseline_start_from_epoch():
    m = _model()
    es = C.EarlyStopping(monitor="acc", patience=1, min_delta=0.1, start_from_epoch=1)
    h = m.fit(X, Y, batch_size=32, epochs=10, verbose=0, callbacks=[Scripted("acc", [0.0, 0.5, 0.55, 0.9, 0.95]), es])
    # direction "max" from the metric kind; epoch 0 ignored; 0.55 is not > 0.5 + 0.1 -> stop at epoch 2
    assert h.epoch == [0, 1, 2] and es.stopped_epoch == 2
    plateau = [0.5, 0.4] + [0.4] * 8
    es = C.EarlyStopping(monitor="loss", patience=3, baseline=0.01)
    h = m.fit(X, Y, batch_size=32, epochs=10, verbose=0, callbacks=[Scripted("loss", plateau), es])
    assert h.epoch == [0, 1, 2]  # never beats the baseline, so `wait` is never reset
    es = C.EarlyStopping(monitor="loss", patience=3)
    h = m.fit(X, Y, batch_size=32, epochs=10, verbose=0, callbacks=[Scripted("loss", plateau), es])
    assert h.epoch == [0, 1, 2, 3, 4]


def test_reduce_lr_on_plateau_and_lr_scheduler_change_the_live_learning_rate():
    m = _model(lr=0.1)
    seen = []
    rl = C.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_lr=0.03)
    rec = C.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(m.optimizer.learning_rate))
    h = m.fit(X, Y, batch_size=32, epochs=5, verbose=0, callbacks=[rec, Scripted("loss", [1.0] * 5), rl])
    # epoch 0 sets best; each later epoch without improvement (patience 1) halves, floored at min_lr
    np.testing.assert_allclose(seen, [0.1, 0.1, 0.05, 0.03, 0.03], rtol=1e-6)
    np.testing.assert_allclose(h.history["learning_rate"], seen, rtol=1e-6)  # logged before the change
    assert m._engine.trace_counts["train"] == 1  # LR changes never recompile

    m = _model(lr=0.1)
    sched = C.LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr * 0.1)
    h = m.fit(X, Y, batch_size=32, epochs=4, verbose=0, callbacks=[sched])
    np.testing.assert_allclose(h.history["learning_rate"], [0.1, 0.1, 0.01, 0.001], rtol=1e-5)
    with pytest.raises(ValueError, match="should be a float"):
        m.fit(X, Y, epochs=1, verbose=0, callbacks=[C.LearningRateScheduler(lambda e: "fast")])


def test_csv_logger_content(tmp_path):
    path = tmp_path / "log.csv"
    m = _model()
    h = m.fit(X, Y, batch_size=32, epochs=3, verbose=0, validation_data=(X, Y), callbacks=[C.CSVLogger(path)])
    rows = list(csv.DictReader(open(path)))
    assert list(rows[0]) == ["epoch", "acc", "loss", "val_acc", "val_loss"]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    np.testing.assert_allclose([float(r["val_loss"]) for r in rows], h.history["val_loss"], rtol=1e-6)
    m.fit(X, Y, batch_size=32, epochs=1, verbose=0, callbacks=[C.CSVLogger(path, append=True, separator=",")])
    assert len(list(csv.DictReader(open(path)))) == 4


def test_terminate_on_nan_stops_at_the_first_bad_batch():
    m = _model()
    x = X.copy()
    x[20, 0] = np.nan  # in batch 2 (batch_size 8)
    seen = []
    h = m.fit(x, Y, batch_size=8, epochs=3, shuffle=False, verbose=0,
              callbacks=[C.TerminateOnNaN(), C.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))])
    assert h.epoch == [0] and seen == [0, 1, 2] and np.isnan(h.history["loss"][0])


def test_hook_order_and_batch_logs_are_running_averages():
    events = []

    class Rec(C.Callback):
        def on_train_begin(self, logs=None): events.append("train_begin")
        def on_epoch_begin(self, epoch, logs=None): events.append(f"epoch_begin{epoch}")
        def on_train_batch_end(self, batch, logs=None): events.append(f"batch{batch}:{sorted(logs)}")
        def on_test_begin(self, logs=None): events.append("test_begin")
        def on_epoch_end(self, epoch, logs=None): events.append(f"epoch_end{epoch}:{sorted(logs)}")
        def on_train_end(self, logs=None): events.append("train_end")

    m = _model()
    m.fit(X, Y, batch_size=32, epochs=1, verbose=0, validation_data=(X[:8], Y[:8]), callbacks=[Rec()])
    assert events == ["train_begin", "epoch_begin0", "batch0:['acc', 'loss']", "batch1:['acc', 'loss']",
                      "test_begin", "epoch_end0:['acc', 'loss', 'val_acc', 'val_loss']", "train_end"]


def test_callback_list_validation():
    with pytest.raises(TypeError, match="Callback"):
        C.CallbackList([object()])
    with pytest.raises(ValueError, match="factor"):
        C.ReduceLROnPlateau(factor=1.5)


def test_namespace_names_every_keras_callback_and_train_never_imports_it():
    import subprocess
    import sys

    import keras

    import fkeras.callbacks as fc

    want = {n for n in dir(keras.callbacks) if not n.startswith("_")}
    assert set(fc.__all__) == want and want <= set(dir(fc))
    assert all(issubclass(getattr(fc, n), fc.Callback) for n in fc.__all__)
    namespace = {}
    exec("from fkeras.callbacks import *", namespace)
    assert want <= set(namespace)
    import fkeras.train

    assert not hasattr(fkeras.train, "History") and not hasattr(fkeras.train, "Callback")  # callbacks live above train
    code = ("import sys, fkeras.train, fkeras.train.trainer; "
            "print(sorted(m for m in sys.modules if m.startswith('fkeras.callbacks')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().splitlines()[-1] == "[]", out.stderr[-2000:]
