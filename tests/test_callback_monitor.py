"""The one monitor helper (`fkeras.callbacks.monitor`): Keras 3.15's "auto" rule, checked against Keras on the
same compiled model; min_delta and baseline; every monitoring callback uses it."""

import warnings

import keras
import numpy as np
import pytest

import fkeras as fk
from fkeras.callbacks.monitor import MonitorCallback

X = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
Y = (X.sum(1) > 0).astype("float32")[:, None]


def my_metric(y_true, y_pred):  # a plain function: no direction known
    return y_pred[..., 0] * 0.0


def _compiled(lib, fit=True):
    m = lib.Sequential([lib.Input((4,)), lib.layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer="sgd", loss="binary_crossentropy",
              metrics=["acc", lib.metrics.AUC(name="auc"), "mae", lib.metrics.Precision(name="precision"), my_metric])
    if fit:
        m.fit(X, Y, batch_size=16, epochs=1, verbose=0, validation_data=(X, Y))
    return m


def _rule(model, cls, monitor):
    cb = cls(monitor=monitor)
    cb.set_model(model)
    try:
        cb._set_monitor_op()
    except ValueError:
        return "error"
    return cb.monitor_op.__name__, float(cb.min_delta)


NAMES = ["loss", "val_loss", "acc", "val_acc", "auc", "val_auc", "mae", "val_mae", "precision", "my_metric",
         "val_my_metric", "accuracy", "foo"]


@pytest.mark.parametrize("cls", ["EarlyStopping", "ReduceLROnPlateau", "ModelCheckpoint"])
def test_auto_rule_matches_keras(cls, tmp_path):
    km, fm = _compiled(keras), _compiled(fk)
    kw = {"filepath": str(tmp_path / "m.keras")} if cls == "ModelCheckpoint" else {}
    kcls = lambda monitor: getattr(keras.callbacks, cls)(monitor=monitor, **kw)  # noqa: E731
    fcls = lambda monitor: getattr(fk.callbacks, cls)(monitor=monitor, **kw)  # noqa: E731
    got = {n: _rule(fm, fcls, n) for n in NAMES}
    want = {n: _rule(km, kcls, n) for n in NAMES}
    assert got == want
    # the rule itself: loss down; accuracy, AUC, precision up; MAE down; unknown names are an error
    assert [got[n][0] for n in ("val_loss", "acc", "val_auc", "mae", "precision")] == \
           ["less", "greater", "greater", "less", "greater"]
    assert got["foo"] == got["my_metric"] == "error"


def test_unresolvable_monitor_error_names_the_callback_and_the_fix():
    m = _compiled(fk)
    with pytest.raises(ValueError, match=r"EarlyStopping callback received monitor='val_foo'.*mode='max'"):
        m.fit(X, Y, epochs=1, verbose=0, callbacks=[fk.callbacks.EarlyStopping(monitor="val_foo")])


def test_multi_output_names_resolve_where_keras_cannot():
    """fkeras's documented superset: per-output log names (Keras 3.15 rejects them in "auto" mode)."""
    def build(lib):
        inp = lib.Input((4,))
        a = lib.layers.Dense(2, activation="softmax", name="a")(inp)
        b = lib.layers.Dense(1, name="b")(inp)
        m = lib.Model(inp, [a, b])
        m.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"], metrics=[["acc"], ["mae"]])
        y = [(X[:, 0] > 0).astype("int32"), X[:, :1]]
        m.fit(X, y, batch_size=16, epochs=1, verbose=0)
        return m

    fm, km = build(fk), build(keras)
    for name, op in [("val_a_acc", "greater"), ("b_mae", "less"), ("val_b_loss", "less"), ("acc", "greater")]:
        assert _rule(fm, fk.callbacks.EarlyStopping, name)[0] == op
    assert _rule(km, keras.callbacks.EarlyStopping, "val_a_acc") == "error"
    assert _rule(km, keras.callbacks.EarlyStopping, "acc")[0] == "greater"


def test_is_improvement_min_delta_and_baseline():
    lo = MonitorCallback("loss", mode="min", min_delta=0.1)
    lo._set_monitor_op()
    assert lo.min_delta == -0.1 and lo.monitor_op is np.less  # Keras: negative in "min" mode
    assert lo._is_improvement(1.0, None)  # no reference yet: anything improves
    assert lo._is_improvement(0.85, 1.0) and not lo._is_improvement(0.95, 1.0) and not lo._is_improvement(0.9, 1.0)
    hi = MonitorCallback("val_acc", mode="max", min_delta=-0.1, baseline=0.5)  # sign of min_delta ignored
    hi._set_monitor_op()
    assert hi.min_delta == 0.1 and hi.best == 0.5
    assert hi._is_improvement(0.65, hi.best) and not hi._is_improvement(0.6, hi.best)
    with pytest.warns(UserWarning, match="mode 'up' is unknown, fallback to auto mode"):
        cb = MonitorCallback("loss", mode="up")
    assert cb.mode == "auto"


def _scripted(key, values):
    class Scripted(fk.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs[key] = values[epoch]

    return Scripted()


def test_reduce_lr_on_plateau_auto_mode_follows_the_metric_direction():
    """Before this helper, ReduceLROnPlateau's "auto" minimized everything without "acc" in its name,
    so a rising AUC counted as getting worse. Keras: AUC goes up."""
    m = _compiled(fk, fit=False)
    m.optimizer.learning_rate = 0.1
    rl = fk.callbacks.ReduceLROnPlateau(monitor="auc", factor=0.5, patience=1, min_delta=0.01)
    auc = [0.6, 0.7, 0.8, 0.8, 0.805]
    h = m.fit(X, Y, batch_size=16, epochs=5, verbose=0, callbacks=[_scripted("auc", auc), rl])
    # improves at epochs 1, 2; not by > min_delta at 3 (wait 1 -> reduce) and 4 (reduce again)
    np.testing.assert_allclose(h.history["learning_rate"], [0.1, 0.1, 0.1, 0.1, 0.05], rtol=1e-6)
    assert float(m.optimizer.learning_rate) == pytest.approx(0.025)
    assert rl.best == 0.8 and rl.monitor_op is np.greater


def test_early_stopping_baseline_and_min_delta_in_fit():
    m = _compiled(fk, fit=False)
    es = fk.callbacks.EarlyStopping(monitor="val_acc", patience=2, baseline=0.9, min_delta=0.05)
    acc = [0.5, 0.8, 0.84, 0.95, 0.96, 0.97]
    h = m.fit(X, Y, batch_size=16, epochs=6, verbose=0, validation_data=(X, Y),
              callbacks=[_scripted("val_acc", acc), es])
    # 0.8 improves but never beats the baseline, so `wait` is never reset; 0.84 is not > 0.8 + 0.05: stop
    assert h.epoch == [0, 1, 2] and es.best == 0.8 and es.stopped_epoch == 2 and es.wait == 3
    # Keras's EarlyStopping driven by the same logs ends in the same state
    km = _compiled(keras)  # Keras resolves the direction from built metrics
    kes = keras.callbacks.EarlyStopping(monitor="val_acc", patience=2, baseline=0.9, min_delta=0.05)
    kes.set_model(km)
    kes.on_train_begin()
    for epoch, v in enumerate(acc):
        kes.on_epoch_end(epoch, {"val_acc": v})
        if km.stop_training:
            break
    assert (epoch, float(kes.best), kes.stopped_epoch, kes.wait) == (2, es.best, es.stopped_epoch, es.wait)


def test_model_checkpoint_best_only_uses_the_helper(tmp_path):
    m = _compiled(fk, fit=False)
    saved = []

    class Spy(fk.callbacks.ModelCheckpoint):
        def _save_model(self, epoch, batch, logs):
            before = self.best
            super()._save_model(epoch, batch, logs)
            saved.append(self.best != before or before is None)

    cb = Spy(str(tmp_path / "best.keras"), monitor="val_auc", save_best_only=True, initial_value_threshold=0.75)
    m.fit(X, Y, batch_size=16, epochs=4, verbose=0, validation_data=(X, Y),
          callbacks=[_scripted("val_auc", [0.7, 0.8, 0.79, 0.9]), cb])
    assert saved == [False, True, False, True] and cb.best == 0.9 and (tmp_path / "best.keras").exists()
    # a missing monitor warns and saves anyway (Keras 3.15)
    cb = fk.callbacks.ModelCheckpoint(str(tmp_path / "x.keras"), monitor="val_loss", save_best_only=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        m.fit(X, Y, batch_size=16, epochs=1, verbose=0, callbacks=[cb])
    assert any("Can save best model only with val_loss available" in str(x.message) for x in w)
    assert (tmp_path / "x.keras").exists()
