"""The Trainer mixin (compile/fit/evaluate/predict/...) over a tiny host class that implements the host
protocol around `fkeras.nn.Sequential`. Numbers vs closed forms at 1e-5 (float32)."""

import chex
import jax
import numpy as np
import pytest

from fkeras import nn
from fkeras.callbacks import CallbackList
from fkeras.nn.base import Variables
from fkeras.train import Trainer, forward_of
from fkeras.train import losses, optimizers


class Host(Trainer):
    """Minimal host: variables live in `train_state` (the Trainer's, kept in its state cell) once it exists
    (like the facade Model)."""

    def __init__(self, layer, frozen=()):
        self.layer, self.frozen, self.built, self._vt = layer, set(frozen), False, None
        self._fwd = forward_of(layer)
        self._init_trainer()

    @property
    def variables_tree(self):
        ts = self.train_state
        return Variables(ts.params, ts.state) if ts is not None else self._vt

    @variables_tree.setter
    def variables_tree(self, v):
        ts = self.train_state
        if ts is not None:
            self.train_state = ts.replace(params=v[0], state=v[1])
        else:
            self._vt = Variables(*v)

    def _forward(self, params, state, x, training, rng):
        return self._fwd(params, state, x, training, rng)

    def _build_from_data(self, x):
        if not self.built:
            self._vt = self.layer.init(jax.random.key(0), x)
            self.built = True

    def _trainable_mask(self):
        return {k: k not in self.frozen for k in self.variables_tree.params}

    def _callback_list(self, callbacks, **params):
        return CallbackList(callbacks, model=self, **params)

    def _weight_paths(self, trainable):
        p, s = self.variables_tree
        if trainable:
            return [(k, n) for k in p if k not in self.frozen for n in p[k]]
        return [(k, n) for k in p if k in self.frozen for n in p[k]] + [(k, n) for k in s for n in s[k]]


def _data(n=400, d=8, seed=0):
    r = np.random.default_rng(seed)
    x = r.normal(size=(n, d)).astype("float32")
    w = r.normal(size=(d,))
    return x, (x @ w > 0).astype("int32")


def _model(**kw):
    return Host(nn.Sequential([nn.Dense(16, activation="relu"), nn.Dense(2, activation="softmax")]), **kw)


def test_fit_learns_separable_problem_and_history_keys():
    x, y = _data()
    m = _model()
    m.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["acc"])
    h = m.fit(x, y, batch_size=32, epochs=8, validation_split=0.2, verbose=0)
    assert set(h.history) == {"acc", "loss", "val_acc", "val_loss"} and h.epoch == list(range(8))
    assert h.history["acc"][-1] >= 0.95, h.history  # stated target: >= 95% train accuracy after 8 epochs
    assert h.history["val_acc"][-1] >= 0.9
    assert m.history is h
    assert m._engine.trace_counts["train"] == 1  # 320 train rows = 10 full batches of 32: one shape
    loss, acc = m.evaluate(x, y, verbose=0)
    assert acc >= 0.9 and m.metrics_names == ["loss", "acc"]


def test_validation_split_uses_the_last_rows():
    x, y = _data(100)
    m = _model()
    m.compile(optimizer=optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["acc"])
    h = m.fit(x, y, batch_size=16, epochs=1, validation_split=0.3, shuffle=True, verbose=0)
    d = m.evaluate(x[70:], y[70:], batch_size=16, verbose=0, return_dict=True)
    chex.assert_trees_all_close(h.history["val_loss"][0], d["loss"], atol=1e-5)
    chex.assert_trees_all_close(h.history["val_acc"][0], d["acc"], atol=1e-6)
    assert int(m.train_state.step) == 5  # 70 train rows in batches of 16


def test_ragged_last_batch_compiles_once_across_epochs_and_fits():
    x, y = _data(70)
    m = _model()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    m.fit(x, y, batch_size=32, epochs=3, verbose=0)
    m.fit(x, y, batch_size=32, epochs=2, verbose=0)
    assert m._engine.trace_counts["train"] == 2  # (32, 8) and (6, 8), once each
    assert int(m.train_state.step) == 15


def test_steps_per_execution_gives_the_same_weights():
    x, y = _data(96)
    ws = []
    for spe in (1, 4):
        nn.clear_session()
        m = _model()
        m.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", steps_per_execution=spe)
        m.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        ws.append(m.train_state.params)
    chex.assert_trees_all_close(ws[0], ws[1], atol=1e-5)
    assert m._engine.trace_counts["train_multi"] == 1


def test_learning_rate_setter_writes_train_state_without_recompiling():
    x, y = _data(64)
    m = _model()
    m.compile(optimizer=optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    m.fit(x, y, batch_size=32, epochs=1, verbose=0)
    m.optimizer.learning_rate = 0.0
    assert m.optimizer.learning_rate == 0.0 and float(m.train_state.opt_state.learning_rate) == 0.0
    before = jax.tree.map(np.array, m.train_state.params)
    m.fit(x, y, batch_size=32, epochs=1, verbose=0)
    chex.assert_trees_all_close(m.train_state.params, before, atol=0)
    assert m._engine.trace_counts["train"] == 1 and m.optimizer.iterations == 4


def test_class_weight_closed_form_and_on_batch_methods():
    x, y = _data(32)
    m = _model()
    m.compile(optimizer=optimizers.SGD(0.0), loss="sparse_categorical_crossentropy", metrics=["acc"])
    p = m.predict_on_batch(x)
    ce = -np.log(p[np.arange(32), y])
    w = np.where(y == 1, 3.0, 0.5)
    loss, _ = m.train_on_batch(x, y, class_weight={0: 0.5, 1: 3.0})
    chex.assert_trees_all_close(loss, float(np.sum(w * ce) / 32), atol=1e-5)
    d = m.test_on_batch(x, y, return_dict=True)
    chex.assert_trees_all_close(d["loss"], float(ce.mean()), atol=1e-5)
    chex.assert_trees_all_close(m.predict(x, batch_size=10, verbose=0), p, atol=1e-6)


def test_evaluate_forms_and_loss_only():
    x, y = _data(40)
    m = _model()
    m.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy())
    assert isinstance(m.evaluate(x, y, verbose=0), float)
    assert set(m.evaluate(x, y, verbose=0, return_dict=True)) == {"loss"}


def test_frozen_layer_is_not_trained():
    x, y = _data(64)
    m = _model(frozen=("dense",))
    m.compile(optimizer=optimizers.AdamW(0.05), loss="sparse_categorical_crossentropy")
    m._build_from_data(x[:2])
    before = jax.tree.map(np.array, m.variables_tree.params)
    m.fit(x, y, batch_size=16, epochs=1, verbose=0)
    after = m.train_state.params
    chex.assert_trees_all_close(after["dense"], before["dense"], atol=0)
    assert not np.allclose(after["dense_1"]["kernel"], before["dense_1"]["kernel"])


def test_stateless_call_and_compute_loss():
    x, y = _data(16)
    m = _model()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    p = m.predict(x, verbose=0)
    vt = m.variables_tree
    tv = [vt.params[k][n] for k, n in m._weight_paths(True)]
    out, ntv = m.stateless_call(tv, [], x)
    chex.assert_trees_all_close(np.asarray(out), p, atol=1e-6)
    assert ntv == []
    chex.assert_trees_all_close(float(m.compute_loss(x, y, out)),
                                float(losses.SparseCategoricalCrossentropy()(y, out)), atol=1e-6)


def test_clear_errors_before_any_state_change():
    x, y = _data(40)
    m = _model()
    with pytest.raises(ValueError, match="compile"):
        m.fit(x, y, verbose=0)
    for bad in (dict(loss="sparse_categorical_crossentropi"), dict(loss="mse", optimizer="adamm"),
                dict(loss="mse", metrics=["acuracy"])):
        with pytest.raises(ValueError, match="Unknown"):
            m.compile(**bad)
    assert not m.compiled
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acc"])
    with pytest.raises(ValueError):  # x/y length mismatch
        m.fit(x, y[:30], verbose=0)
    with pytest.raises(ValueError, match="class_weight"):
        m.fit(x, y, class_weight={0: 1.0, 1: 2.0}, sample_weight=np.ones(40), verbose=0)
    with pytest.raises(ValueError, match="label value of 2"):
        m.fit(x, np.where(y == 1, 2, 0), verbose=0)
    step0 = int(m.train_state.step)
    with pytest.raises(ValueError, match="last dimension"):
        m.fit(x[:, :5], y, verbose=0)
    assert int(m.train_state.step) == step0 == 0
    m.fit(x, y, epochs=1, verbose=0)  # still trains after the errors
    assert int(m.train_state.step) == 2


def test_progress_bar_output(capsys):
    x, y = _data(64)
    m = _model()
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acc"])
    m.fit(x, y, batch_size=32, epochs=2, verbose=1, validation_data=(x[:16], y[:16]))
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "2/2 ━━━━━━━━━━━━━━━━━━━━" in out and "/step - acc: " in out and " - val_loss: " in out
    m.fit(x, y, batch_size=32, epochs=1, verbose=2)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("2/2 - ") and "- loss: " in line


class KerasJaxStyle(Host):
    """A Keras-3-JAX-style custom train_step (the keras.io guide's code)."""

    def compute_loss_and_updates(self, tv, ntv, x, y, training=False):
        y_pred, ntv = self.stateless_call(tv, ntv, x, training=training)
        return self.compute_loss(x, y, y_pred), (y_pred, ntv)

    def train_step(self, state, data):
        tv, ntv, ov, mv = state
        x, y = data
        grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
        (loss, (y_pred, ntv)), grads = grad_fn(tv, ntv, x, y, training=True)
        tv, ov = self.optimizer.stateless_apply(ov, grads, tv)
        new_mv, logs = [], {}
        for metric in self.metrics:
            this = mv[len(new_mv): len(new_mv) + len(metric.variables)]
            if metric.name == "loss":
                this = metric.stateless_update_state(this, loss)
            else:
                this = metric.stateless_update_state(this, y, y_pred)
            logs[metric.name] = metric.stateless_result(this)
            new_mv += this
        return logs, (tv, ntv, ov, new_mv)

    def test_step(self, state, data):
        logs, state = super().test_step(state, data)
        return {**logs, "doubled_acc": 2 * logs["acc"]}, state


def test_custom_keras_jax_train_step_is_used_and_trains():
    x, y = _data(320)
    m = KerasJaxStyle(nn.Sequential([nn.Dense(16, activation="relu"), nn.Dense(2, activation="softmax")]))
    m.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["acc"])
    h = m.fit(x, y, batch_size=32, epochs=6, validation_data=(x[:64], y[:64]), verbose=0)
    assert m.__dict__["_custom_traces"]["train"] == 1
    assert h.history["acc"][-1] >= 0.9 and int(m.train_state.step) == 60
    assert int(m.train_state.opt_state.iterations) == 60
    chex.assert_trees_all_close(h.history["val_doubled_acc"][-1], 2 * h.history["val_acc"][-1], atol=1e-6)
    d = m.evaluate(x[:64], y[:64], verbose=0, return_dict=True)
    chex.assert_trees_all_close(d["acc"], h.history["val_acc"][-1], atol=1e-6)


def test_aux_loss_reaches_fit_logs_and_custom_compute_loss():
    """forward's aux_loss (add_loss/regularization) is part of the loss in both fit paths."""

    def aux_of(params):
        return 0.5 * sum((k**2).sum() for k in jax.tree.leaves(params))

    class WithAux(Host):
        def _forward(self, params, state, x, training, rng):
            y, s, _ = super()._forward(params, state, x, training, rng)
            return y, s, aux_of(params)

    class CustomWithAux(WithAux, KerasJaxStyle):
        pass

    x, y = _data(32)
    for cls in (WithAux, CustomWithAux):
        nn.clear_session()
        m = cls(nn.Sequential([nn.Dense(2, activation="softmax")]))
        m.compile(optimizer=optimizers.SGD(0.0), loss="sparse_categorical_crossentropy", metrics=["acc"])
        h = m.fit(x, y, batch_size=32, epochs=1, verbose=0)
        p = m.predict(x, verbose=0)
        expected = float(losses.SparseCategoricalCrossentropy()(y, p)) + float(aux_of(m.train_state.params))
        chex.assert_trees_all_close(h.history["loss"][0], expected, atol=1e-5)


def test_compile_with_a_raw_optax_transform():
    import optax

    x, y = _data(64)
    ws = []
    for opt in (optax.inject_hyperparams(optax.sgd)(learning_rate=0.1), optimizers.SGD(0.1)):
        nn.clear_session()
        m = _model()
        m.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
        m.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        ws.append(m.train_state.params)
    chex.assert_trees_all_close(ws[0], ws[1], atol=1e-6)
    nn.clear_session()
    m = _model()
    m.compile(optimizer=optax.inject_hyperparams(optax.sgd)(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    m.fit(x, y, batch_size=32, epochs=1, verbose=0)
    m.optimizer.learning_rate = 0.0
    before = jax.tree.map(np.array, m.train_state.params)
    m.fit(x, y, batch_size=32, epochs=1, verbose=0)
    chex.assert_trees_all_close(m.train_state.params, before, atol=0)
    assert m._engine.trace_counts["train"] == 1 and m.optimizer.iterations == 4


def test_fit_matches_keras_fit_end_to_end():
    """Same initial weights, data order and optimizer: fkeras fit == Keras 3 fit (weights 1e-5, logs 1e-5)."""
    keras = pytest.importorskip("keras")
    x, y = _data(100)  # 100 = 3 x 32 + a ragged batch of 4
    m = _model()
    m.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["acc"])
    m._build_from_data(x[:2])
    p = m.variables_tree.params
    init = [np.array(p["dense"]["kernel"]), np.array(p["dense"]["bias"]),
            np.array(p["dense_1"]["kernel"]), np.array(p["dense_1"]["bias"])]
    k = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(2, activation="softmax")])
    k.set_weights(init)
    k.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["acc"])
    h = m.fit(x, y, batch_size=32, epochs=2, shuffle=False, validation_split=0.2, verbose=0)
    hk = k.fit(x, y, batch_size=32, epochs=2, shuffle=False, validation_split=0.2, verbose=0)
    p = m.train_state.params
    ours = [p["dense"]["kernel"], p["dense"]["bias"], p["dense_1"]["kernel"], p["dense_1"]["bias"]]
    chex.assert_trees_all_close([np.asarray(a) for a in ours], k.get_weights(), atol=1e-5)
    for key in ("loss", "acc", "val_loss", "val_acc"):
        chex.assert_trees_all_close(h.history[key], hk.history[key], atol=1e-5)
