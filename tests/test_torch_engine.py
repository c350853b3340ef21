"""compile(engine="torch"): the same TrainState trained by PyTorch eager gives the JAX engine's numbers.

Tolerances (float32; torch and XLA sum in different orders): weights and optimizer slots
rtol 1e-4 / atol 1e-6 after 3 epochs; logs, evaluate and predict rtol 1e-5 / atol 1e-6;
one optimizer update from identical inputs rtol 1e-6 / atol 1e-7. (Each optimizer's one
definition on torch tensors vs Keras 3: tests/test_optimizer_rules.py.)
"""

import chex
import jax
import numpy as np
import optax
import pytest

torch = pytest.importorskip("torch")

import fkeras as keras  # noqa: E402
from fkeras.interop import torch_engine  # noqa: E402
from fkeras.train import optimizers as O  # noqa: E402

# Weights after several Adam(1e-2) steps: Adam divides each gradient by its running RMS, so float-order noise in
# near-zero gradients (torch and XLA sum convolutions in different orders, differently per CPU) reaches ~1e-4.
W_TOL = dict(rtol=1e-4, atol=2e-4)
LOG_TOL = dict(rtol=1e-5, atol=1e-6)


def _data(n=32, shape=(8, 8, 1), classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, *shape), dtype=np.float32)
    y = rng.integers(0, classes, size=(n,)).astype("int32")
    return x, y


def _convnet(**dense_kw):
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax", **dense_kw),
    ])


def _mlp(**dense_kw):
    return keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(8, activation="relu", name="hidden", **dense_kw),
        keras.layers.Dense(3, activation="softmax", name="out"),
    ])


def _twins(build, engines=("jax", "torch"), optimizer=lambda: keras.optimizers.Adam(1e-2), **compile_kw):
    """One model per engine, same names and same initial weights."""
    models, w0 = [], None
    # the same start whatever ran before: some starts put ReLU/max-pool ties where torch and XLA break them
    # differently (a conv bias 0.016 apart after 12 steps when another test file ran first in the process)
    keras.utils.set_random_seed(0)
    for eng in engines:
        keras.nn.clear_session()
        m = build()
        if w0 is None:
            w0 = m.get_weights()
        else:
            m.set_weights(w0)
        m.compile(optimizer=optimizer(), loss=compile_kw.get("loss", "sparse_categorical_crossentropy"),
                  metrics=compile_kw.get("metrics", ["accuracy"]), engine=eng)
        models.append(m)
    return models


def _same_weights(a, b):
    chex.assert_trees_all_close(a.get_weights(), b.get_weights(), **W_TOL)


def test_three_epochs_equal_jax_weights_logs_evaluate_predict():
    x, y = _data()
    mj, mt = _twins(_convnet)
    kw = dict(batch_size=8, epochs=3, shuffle=False, verbose=0, validation_data=(x[:16], y[:16]))
    hj, ht = mj.fit(x, y, **kw), mt.fit(x, y, **kw)
    _same_weights(mj, mt)  # includes BatchNormalization's moving statistics
    assert sorted(hj.history) == sorted(ht.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    chex.assert_trees_all_close(ht.history, hj.history, **LOG_TOL)
    # the optimizer state written back: same slots, same iteration count
    sj, st = mj.train_state.opt_state, mt.train_state.opt_state
    assert int(st.iterations) == int(sj.iterations) == 12 and int(mt.train_state.step) == 12
    chex.assert_trees_all_close(st.slots, sj.slots, **W_TOL)
    chex.assert_trees_all_close(mt.evaluate(x, y, verbose=0, return_dict=True),
                                mj.evaluate(x, y, verbose=0, return_dict=True), **LOG_TOL)
    chex.assert_trees_all_close(mt.predict(x, verbose=0), mj.predict(x, verbose=0), **LOG_TOL)
    chex.assert_trees_all_close(mt.test_on_batch(x, y), mj.test_on_batch(x, y), **LOG_TOL)
    chex.assert_trees_all_close(mt.train_on_batch(x, y), mj.train_on_batch(x, y), **LOG_TOL)
    _same_weights(mj, mt)


@pytest.mark.parametrize("opt", [
    lambda: O.SGD(0.1),
    lambda: O.SGD(0.1, momentum=0.9, nesterov=True, clipnorm=0.5),
    lambda: O.SGD(0.1, momentum=0.5, global_clipnorm=0.3),
    lambda: O.Adam(0.01, amsgrad=True, clipvalue=0.05),
    lambda: O.AdamW(0.01, weight_decay=0.1),
    lambda: O.RMSprop(0.01, momentum=0.5, centered=True),
    lambda: O.RMSprop(0.01, weight_decay=0.01),
    lambda: O.Adagrad(0.1),
    lambda: O.Nadam(0.01),
    lambda: O.Lion(0.01),
])
def test_each_optimizer_update_equals_the_fkeras_formula(opt):
    """The engine's optimizer state on torch (`_opt_state_to_torch`) and the same rule give the JAX updates."""
    opt = opt()
    rng = np.random.default_rng(1)
    params = [rng.normal(size=s).astype("float32") for s in [(3, 4), (4,), (2, 2, 3)]]
    st = opt.init(params)
    tst = torch_engine._opt_state_to_torch(st, list)
    tp = [torch.from_numpy(p.copy()) for p in params]
    jp = params
    for _ in range(3):
        grads = [rng.normal(size=p.shape).astype("float32") for p in params]
        jp, st = opt.apply(grads, st, jp)
        with torch.no_grad():
            tp, tst = opt.apply([torch.from_numpy(g) for g in grads], tst, tp)
    chex.assert_trees_all_close([t.numpy() for t in tp], [np.asarray(p) for p in jp], rtol=1e-6, atol=1e-7)
    chex.assert_trees_all_close({n: [t.numpy() for t in v] for n, v in tst.slots.items()},
                                {n: [np.asarray(a) for a in v] for n, v in st.slots.items()}, rtol=1e-6, atol=1e-7)
    assert int(tst.iterations) == int(st.iterations) == 3
    back = torch_engine._opt_state_to_jax(tst, list)
    chex.assert_trees_all_close(back, st, rtol=1e-6, atol=1e-7)


def test_learning_rate_callbacks_and_schedules_are_followed():
    x, y = _data(32, (4,))
    sched = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5)
    mj, mt = _twins(_mlp, optimizer=lambda: keras.optimizers.SGD(sched, momentum=0.9))
    for m in (mj, mt):
        m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    _same_weights(mj, mt)
    assert mt.optimizer.iterations == 8
    assert mt.optimizer.learning_rate == pytest.approx(mj.optimizer.learning_rate)

    mj, mt = _twins(_mlp, optimizer=lambda: keras.optimizers.Adam(0.02))
    for m in (mj, mt):
        m.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
              callbacks=[keras.callbacks.LearningRateScheduler(lambda e, lr: 0.02 / (1 + e))])
    _same_weights(mj, mt)
    assert mt.optimizer.learning_rate == pytest.approx(0.02 / 3)


def test_batch_callbacks_see_current_weights_and_can_change_them():
    x, y = _data(32, (4,))
    seen = {}

    class Watch(keras.callbacks.Callback):
        def __init__(self, key):
            super().__init__()
            self.key = key

        def on_train_batch_end(self, batch, logs=None):
            seen.setdefault(self.key, []).append(float(np.sum(self.model.get_weights()[0])))
            if batch == 1:  # halve the learning rate mid-epoch
                self.model.optimizer.learning_rate = self.model.optimizer.learning_rate / 2

    mj, mt = _twins(_mlp)
    for key, m in (("jax", mj), ("torch", mt)):
        m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[Watch(key)])
    assert len(seen["torch"]) == 8
    chex.assert_trees_all_close(seen["torch"], seen["jax"], **W_TOL)
    _same_weights(mj, mt)


def test_weights_class_weights_frozen_layers_and_regularizers():
    x, y = _data(32, (4,))
    sw = np.linspace(0.1, 2.0, 32).astype("float32")

    def build():
        m = _mlp(kernel_regularizer=keras.regularizers.L2(0.01))
        m.get_layer("out").trainable = False
        return m

    mj, mt = _twins(build)
    frozen = mt.get_layer("out").get_weights()
    for m in (mj, mt):
        m.fit(x, y, sample_weight=sw, batch_size=8, epochs=2, shuffle=False, verbose=0)
    _same_weights(mj, mt)
    chex.assert_trees_all_close(mt.get_layer("out").get_weights(), frozen, rtol=0, atol=0)

    mj, mt = _twins(_mlp)
    hs = [m.fit(x, y, class_weight={0: 1.0, 1: 3.0, 2: 0.5}, batch_size=8, epochs=2, shuffle=False,
                verbose=0).history for m in (mj, mt)]
    _same_weights(mj, mt)
    chex.assert_trees_all_close(hs[1], hs[0], **LOG_TOL)


def test_weight_constraints_are_applied_after_each_update_as_on_jax():
    x, y = _data(32, (4,))

    def build():
        return keras.Sequential([keras.Input((4,)),
                                 keras.layers.Dense(8, activation="relu", name="hidden",
                                                    kernel_constraint=keras.constraints.NonNeg()),
                                 keras.layers.Dense(3, activation="softmax", name="out",
                                                    kernel_constraint=keras.constraints.MaxNorm(0.5))])

    mj, mt = _twins(build, optimizer=lambda: keras.optimizers.SGD(0.5))
    for m in (mj, mt):
        m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    _same_weights(mj, mt)
    assert np.min(mt.get_layer("hidden").get_weights()[0]) >= 0


def test_switching_engines_and_set_weights_continue_the_same_train_state():
    x, y = _data(32, (4,))
    runs, w0 = {}, _mlp().get_weights()
    for first, second in (("jax", "jax"), ("torch", "jax"), ("jax", "torch"), ("torch", "torch")):
        m, = _twins(_mlp, engines=(first,))
        m.set_weights(w0)
        m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        w = m.get_weights()
        m.set_weights([v * 0.5 for v in w])  # read back in by the next fit on either engine
        m.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", engine=second)
        m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        m.set_weights([v * 0.5 for v in m.get_weights()])
        m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        runs[first, second] = m.get_weights()
        assert int(m.train_state.step) == 12 and m.optimizer.iterations == 8
    ref = runs.pop(("jax", "jax"))
    for got in runs.values():
        chex.assert_trees_all_close(got, ref, **W_TOL)


def test_dropout_is_reproducible_from_the_train_state_seed():
    x, y = _data(32, (4,))

    def build():
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, name="a"), keras.layers.Dropout(0.5),
                                 keras.layers.Dense(3, activation="softmax", name="b")])

    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(3)
        m, = _twins(build, engines=("torch",))
        if runs:
            m.set_weights(runs[0][0])
        w0 = m.get_weights()
        m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        runs.append((w0, m.get_weights()))
    chex.assert_trees_all_close(runs[0][1], runs[1][1], rtol=0, atol=0)
    assert not np.allclose(runs[0][1][0], runs[0][0][0])


def test_bad_engine_and_unsupported_setups_are_clear_errors():
    m = _mlp()
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"engine.*'jax', 'torch'.*'tpu'"):
        m.compile(optimizer="adam", loss="mse", engine="tpu")
    assert m._compile_config["engine"] == "jax" and type(m.optimizer).__name__ == "SGD"  # unchanged

    class MyAdam(keras.optimizers.Adam):  # a rule written with jax.numpy cannot run on torch tensors
        def update_leaf(self, g, p, s, lr, t, extra):
            import jax.numpy as jnp

            new_p, new_s = super().update_leaf(g, p, s, lr, t, extra)
            return jnp.asarray(new_p), new_s

    with pytest.raises(ValueError, match="MyAdam"):
        m.compile(optimizer=MyAdam(), loss="mse", engine="torch")
    with pytest.raises(ValueError, match="OptaxOptimizer"):
        m.compile(optimizer=optax.sgd(0.1), loss="mse", engine="torch")
    assert m._compile_config["engine"] == "jax" and type(m.optimizer).__name__ == "SGD"  # unchanged

    class Custom(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(2)

        def call(self, x):
            return self.d(x)

        def train_step(self, state, data):
            return super().train_step(state, data)

    c = Custom()
    c.compile(optimizer="sgd", loss="mse", engine="torch")
    with pytest.raises(ValueError, match="train_step"):
        c.fit(np.zeros((4, 3), "float32"), np.zeros((4, 2), "float32"), verbose=0)


def test_missing_torch_is_an_import_error_naming_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)
    m = _mlp()
    with pytest.raises(ImportError, match=r"fkeras\[torch\]"):
        m.compile(optimizer="adam", loss="mse", engine="torch")


def test_engine_is_jax_by_default():
    m = _mlp()
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = _data(8, (4,))
    m.fit(x, y, verbose=0)
    assert m._compile_config["engine"] == "jax" and "_torch_engine" not in m.__dict__
    assert jax.tree.leaves(m.train_state.params)[0].__class__.__module__.startswith("jax")


def test_multi_output_model_and_torch_dataloader_match_jax():
    x, y = _data(32, (4,))
    targets = {"cls": y, "reg": x[:, :1] * 2.0}

    def build():
        inp = keras.Input((4,))
        h = keras.layers.Dense(6, activation="tanh", name="h")(inp)
        return keras.Model(inp, {"cls": keras.layers.Dense(3, activation="softmax", name="cls")(h),
                                 "reg": keras.layers.Dense(1, name="reg")(h)})

    models = []
    for eng in ("jax", "torch"):
        keras.nn.clear_session()
        m = build()
        if models:
            m.set_weights(models[0].get_weights())
        m.compile(optimizer=keras.optimizers.RMSprop(0.01),
                  loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"}, loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"], "reg": ["mae"]}, engine=eng)
        models.append(m)
    mj, mt = models
    hj = mj.fit(x, targets, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    ht = mt.fit(x, targets, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    assert sorted(ht) == sorted(hj) == ["cls_accuracy", "cls_loss", "loss", "reg_loss", "reg_mae"]
    chex.assert_trees_all_close(ht, hj, **LOG_TOL)
    _same_weights(mj, mt)
    chex.assert_trees_all_close(mt.predict(x, verbose=0), mj.predict(x, verbose=0), **LOG_TOL)

    # a torch DataLoader feeds the torch engine as NumPy arrays feed the JAX engine
    mj, mt = _twins(_mlp)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                         batch_size=8, shuffle=False)
    hj = mj.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    ht = mt.fit(loader, epochs=2, verbose=0).history
    chex.assert_trees_all_close(ht, hj, **LOG_TOL)
    _same_weights(mj, mt)
