"""Reliability fixes checked the way a Keras user meets them, against Keras 3.15 where it applies:
weights a callback swaps in at `on_test_begin` are the ones evaluated (JAX, torch, custom test_step);
fitting twice with `use_ema=True`; `config.set_max_epochs`/`set_max_steps_per_epoch`; the image data
format setting; `utils.Progbar`; SpectralNormalization's weight order."""

import numpy as np
import pytest

import fkeras

X = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
Y = (X @ np.array([[1.0], [-2.0], [0.5]], "float32")).astype("float32")


def _keras():
    import keras

    keras.backend.clear_session(free_memory=False)  # names only: a gc pass per call costs ~0.3 s
    return keras


def _pair(keras):
    km = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
    fm = fkeras.Sequential([fkeras.Input((3,)), fkeras.layers.Dense(4, activation="tanh"), fkeras.layers.Dense(1)])
    fm.set_weights(km.get_weights())
    return km, fm


def _zeroing_callback(k):
    class ZeroAtTestBegin(k.callbacks.Callback):
        """Sets every weight to 0 when evaluation starts and puts them back when it ends."""

        def on_test_begin(self, logs=None):
            self.saved = self.model.get_weights()
            self.model.set_weights([np.zeros_like(w) for w in self.saved])

        def on_test_end(self, logs=None):
            self.model.set_weights(self.saved)

    return ZeroAtTestBegin()


class _CustomTestStep(fkeras.Sequential):
    def test_step(self, state, data):
        return super().test_step(state, data)


# --- 1. weights swapped in at on_test_begin are the ones evaluated ----------------------------------
@pytest.fixture(scope="module")
def keras_evaluations():
    """Keras's side, the same for every engine: its weights, its loss with the zeroing callback and without."""
    keras = _keras()
    km, _ = _pair(keras)
    km.compile("sgd", "mse")
    k_loss = km.evaluate(X, Y, batch_size=8, verbose=0, callbacks=[_zeroing_callback(keras)])
    return km.get_weights(), k_loss, km.evaluate(X, Y, batch_size=8, verbose=0)


@pytest.mark.parametrize("engine", ["jax", "torch", "custom_test_step"])
def test_evaluate_uses_weights_a_callback_swaps_in_at_test_begin(engine, keras_evaluations):
    k_weights, k_loss, k_plain_loss = keras_evaluations
    fm = fkeras.Sequential([fkeras.Input((3,)), fkeras.layers.Dense(4, activation="tanh"), fkeras.layers.Dense(1)])
    if engine == "custom_test_step":
        fm = _CustomTestStep(fm.layers)
    fm.set_weights(k_weights)
    fm.compile("sgd", "mse", **({"engine": "torch"} if engine == "torch" else {}))
    before = fm.get_weights()
    f_loss = fm.evaluate(X, Y, batch_size=8, verbose=0, callbacks=[_zeroing_callback(fkeras)])
    np.testing.assert_allclose(k_loss, float(np.mean(Y ** 2)), rtol=1e-5)  # the zero model predicts 0
    np.testing.assert_allclose(f_loss, k_loss, rtol=1e-5)
    for a, b in zip(fm.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    # and without the callback, the model's own weights again
    np.testing.assert_allclose(fm.evaluate(X, Y, batch_size=8, verbose=0), k_plain_loss, rtol=1e-5)


# --- 2. use_ema=True: the weights and the averages do not share buffers after fit -------------------
_KERAS_TF_EMA = """
import sys, numpy as np, keras
X = np.load(sys.argv[1] + "/x.npy"); Y = np.load(sys.argv[1] + "/y.npy")
m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
m.set_weights(list(np.load(sys.argv[1] + "/w0.npz").values()))
m.compile(keras.optimizers.Adam(0.01, use_ema=True, ema_momentum=0.9), "mse")
out = {}
for i in range(2):
    out[f"loss{i}"] = np.asarray(m.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"])
    for j, w in enumerate(m.get_weights()):
        out[f"w{i}_{j}"] = w
np.savez(sys.argv[1] + "/out.npz", **out)
"""


@pytest.fixture(scope="module")
def keras_ema_twice(tmp_path_factory):
    """Keras 3.15 fitting twice with Adam(use_ema=True). Its JAX backend fails the second fit itself (the
    variables lose their initializer), so the oracle runs on Keras's TensorFlow backend in a subprocess."""
    import os
    import subprocess
    import sys

    d = tmp_path_factory.mktemp("ema")
    w0 = fkeras.Sequential([fkeras.Input((3,)), fkeras.layers.Dense(4, activation="tanh"),
                            fkeras.layers.Dense(1)]).get_weights()
    np.save(d / "x.npy", X)
    np.save(d / "y.npy", Y)
    np.savez(d / "w0.npz", *w0)
    subprocess.run([sys.executable, "-c", _KERAS_TF_EMA, str(d)], check=True, timeout=120,
                   env={**os.environ, "KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": ""})
    return w0, dict(np.load(d / "out.npz"))


@pytest.mark.parametrize("engine", ["jax", "torch"])
def test_fit_twice_with_ema_optimizer_matches_keras(engine, keras_ema_twice):
    w0, ref = keras_ema_twice
    fm = fkeras.Sequential([fkeras.Input((3,)), fkeras.layers.Dense(4, activation="tanh"), fkeras.layers.Dense(1)])
    fm.set_weights(w0)
    fm.compile(fkeras.optimizers.Adam(0.01, use_ema=True, ema_momentum=0.9), "mse", engine=engine)
    for i in range(2):  # the second fit donated the same buffer twice (weights aliased the averages)
        fh = fm.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
        np.testing.assert_allclose(fh["loss"], ref[f"loss{i}"], rtol=1e-4, atol=1e-6)
        for j, a in enumerate(fm.get_weights()):
            np.testing.assert_allclose(a, ref[f"w{i}_{j}"], rtol=1e-4, atol=1e-6)


# --- 3. config.set_max_epochs / set_max_steps_per_epoch cap fit, evaluate and predict --------------
@pytest.fixture
def caps():
    """Sets the same caps on fkeras and Keras; both are cleared afterwards."""
    import keras

    def set_caps(epochs=None, steps=None):
        for k in (keras, fkeras):
            k.config.set_max_epochs(epochs)
            k.config.set_max_steps_per_epoch(steps)

    yield set_caps
    set_caps()


def test_max_epochs_and_steps_cap_fit_like_keras(caps):
    keras = _keras()
    km, fm = _pair(keras)
    km.compile(keras.optimizers.SGD(0.1), "mse")
    fm.compile(fkeras.optimizers.SGD(0.1), "mse")
    caps(epochs=2, steps=3)
    assert (fkeras.config.max_epochs(), fkeras.config.max_steps_per_epoch()) == (2, 3)

    def run(m):
        seen = []
        cb = (fkeras if isinstance(m, fkeras.Model) else keras).callbacks.LambdaCallback(
            on_train_batch_end=lambda b, logs: seen.append(b), on_test_batch_end=lambda b, logs: seen.append(-1 - b))
        with pytest.warns(UserWarning) as rec:
            h = m.fit(X, Y, batch_size=4, epochs=5, shuffle=False, verbose=0, callbacks=[cb],
                      validation_data=(X, Y)).history
        return h, seen, sorted({str(r.message) for r in rec if str(r.message).startswith("Limiting")})

    kh, kseen, kwarn = run(km)
    fh, fseen, fwarn = run(fm)
    assert fseen == kseen == [0, 1, 2, -1, -2, -3] * 2  # 2 epochs of 3 steps, validation 3 steps
    assert fwarn == kwarn == ["Limiting epochs to 2", "Limiting steps_per_epoch to 3"]
    assert sorted(fh) == sorted(kh)
    for key in kh:
        np.testing.assert_allclose(fh[key], kh[key], rtol=1e-5, atol=1e-7)
    for a, b in zip(fm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    # an explicit steps_per_epoch below the cap is kept, and does not warn about steps
    with pytest.warns(UserWarning, match="Limiting epochs to 2"):
        assert len(fm.fit(X, Y, batch_size=4, epochs=3, steps_per_epoch=1, verbose=0).history["loss"]) == 2


def test_max_steps_per_epoch_caps_evaluate_and_predict_like_keras(caps):
    keras = _keras()
    km, fm = _pair(keras)
    km.compile("sgd", "mse")
    fm.compile("sgd", "mse")
    caps(steps=2)
    with pytest.warns(UserWarning, match="Limiting steps_per_epoch to 2"):
        k_loss, k_pred = km.evaluate(X, Y, batch_size=4, verbose=0), km.predict(X, batch_size=4, verbose=0)
    with pytest.warns(UserWarning, match="Limiting steps_per_epoch to 2"):
        f_loss = fm.evaluate(X, Y, batch_size=4, verbose=0)
    with pytest.warns(UserWarning, match="Limiting steps_per_epoch to 2"):
        f_pred = fm.predict(X, batch_size=4, verbose=0)
    assert f_pred.shape == k_pred.shape == (8, 1)
    np.testing.assert_allclose(f_pred, k_pred, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(f_loss, k_loss, rtol=1e-5)
    caps()
    assert fm.predict(X, batch_size=4, verbose=0).shape == (32, 1)


def test_max_epochs_env_vars_are_read_at_import():
    import os
    import subprocess
    import sys

    code = ("import numpy as np, fkeras\n"
            "m = fkeras.Sequential([fkeras.Input((1,)), fkeras.layers.Dense(1)]); m.compile('sgd', 'mse')\n"
            "h = m.fit(np.ones((8, 1)), np.ones((8, 1)), batch_size=2, epochs=4, verbose=0)\n"
            "print(fkeras.config.max_epochs(), fkeras.config.max_steps_per_epoch(), len(h.history['loss']),"
            " int(m.optimizer.iterations))")
    env = {**os.environ, "KERAS_MAX_EPOCHS": "2", "KERAS_MAX_STEPS_PER_EPOCH": "3", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert out == ["2", "3", "2", "4"]  # 4 batches a pass: epoch 1 takes 3, epoch 2 the 1 left (as Keras)


@pytest.mark.parametrize("validation_steps", [None, 2])
def test_evaluate_steps_and_validation_steps_start_a_new_pass_like_keras(validation_steps):
    """`evaluate(steps=2)` evaluates the first 2 batches, and each validation in fit starts from the first batch."""
    keras = _keras()
    km, fm = _pair(keras)
    km.compile(keras.optimizers.SGD(0.1), "mse")
    fm.compile(fkeras.optimizers.SGD(0.1), "mse")
    np.testing.assert_allclose(fm.evaluate(X, Y, batch_size=4, steps=2, verbose=0),
                               km.evaluate(X, Y, batch_size=4, steps=2, verbose=0), rtol=1e-5)
    kw = dict(batch_size=4, epochs=3, shuffle=False, verbose=0, validation_data=(X, Y),
              validation_steps=validation_steps)
    kh, fh = km.fit(X, Y, **kw).history, fm.fit(X, Y, **kw).history
    np.testing.assert_allclose(fh["val_loss"], kh["val_loss"], rtol=1e-5, atol=1e-7)


# --- 4. set_image_data_format: layers built with data_format=None read it ------------------------
def _layers_with_data_format():
    import inspect

    import keras

    out = []
    for name in sorted(dir(keras.layers)):
        cls = getattr(keras.layers, name)
        if inspect.isclass(cls) and "data_format" in inspect.signature(cls.__init__).parameters:
            out.append(name)
    return out


_REQUIRED = {"output_size": 2, "pool_size": 2, "height": 2, "width": 2, "filters": 2, "kernel_size": 2,
             "factor": 0.5, "height_factor": 0.1, "width_factor": 0.1, "rate": 0.5}
_FACTOR = {"RandomPosterization": 4}


@pytest.fixture
def channels_first():
    import keras

    for k in (keras, fkeras):
        k.config.set_image_data_format("channels_first")
    yield
    for k in (keras, fkeras):
        k.config.set_image_data_format("channels_last")


@pytest.mark.parametrize("name", _layers_with_data_format())
def test_layers_read_the_image_data_format_at_construction_like_keras(name, channels_first):
    import inspect

    import keras

    assert fkeras.backend.image_data_format() == fkeras.config.image_data_format() == "channels_first"
    params = inspect.signature(getattr(keras.layers, name).__init__).parameters
    kwargs = {p: _FACTOR.get(name, v) if p == "factor" else v for p, v in _REQUIRED.items() if p in params
              and params[p].default is inspect.Parameter.empty}
    kl, fl = getattr(keras.layers, name)(**kwargs), getattr(fkeras.layers, name)(**kwargs)
    kcfg, fcfg = kl.get_config(), fl.get_config()
    if "data_format" in kcfg:
        assert fcfg["data_format"] == kcfg["data_format"]
    assert fl.data_format == kl.data_format
    # an explicit format still wins, and is what get_config records
    fl = getattr(fkeras.layers, name)(data_format="channels_last", **kwargs)
    assert fl.data_format == "channels_last"
    assert fl.get_config().get("data_format", "channels_last") == "channels_last"


def test_channels_first_conv_model_matches_keras(channels_first):
    keras = _keras()
    x = np.random.default_rng(1).normal(size=(2, 3, 6, 5)).astype("float32")  # (batch, channels, h, w)

    def build(k):
        return k.Sequential([k.Input((3, 6, 5)), k.layers.Conv2D(4, 3, padding="same"), k.layers.MaxPooling2D(),
                             k.layers.Conv2DTranspose(2, 2, strides=2), k.layers.GlobalAveragePooling2D()])

    km, fm = build(keras), build(fkeras)
    fm.set_weights(km.get_weights())
    assert [w.shape for w in fm.weights] == [tuple(w.shape) for w in km.weights]
    np.testing.assert_allclose(fm.predict(x, verbose=0), km.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    # the setting is read at construction: layers made before keep their format after it changes back
    fkeras.config.set_image_data_format("channels_last")
    np.testing.assert_allclose(fm(x), km(x), rtol=1e-5, atol=1e-6)
    assert fkeras.layers.Conv2D(4, 3).data_format == "channels_last"


# --- 5. utils.Progbar: Keras's API and printed text; disable_interactive_logging ---------------------
_PROGBAR_CASES = {
    "stateful_and_averaged": (dict(target=5, stateful_metrics=["acc"]),
                              [("update", 1, [("loss", 1.0), ("acc", 0.5)]), ("update", 3, [("loss", 2.0), ("acc", 0.7)]),
                               ("add", 2, [("loss", 4.0), ("acc", 0.9)])]),
    "stateless_list": (dict(target=4, stateless_metrics=["loss"], width=10, unit_name="sample"),
                       [("update", 2, [("loss", 3.0), ("acc", 0.25)]), ("add", 1, [("loss", 0.0), ("acc", 0.5)]),
                        ("update", 4, [("loss", 1e-4), ("acc", -2.0)], True)]),
    "unknown_target": (dict(target=None), [("update", 1, [("a", 0.5)]), ("add", 1, [("a", 1.5)]),
                                           ("update", 2, [("a", 1.0)], True)]),
    "verbose_2": (dict(target=12, verbose=2), [("update", 5, [("x", -0.5)]), ("update", 12, [("x", -0.25)])]),
    "beyond_target": (dict(target=2), [("update", 1, []), ("update", 3, [("m", 2)])]),
}


def _run_progbar(cls, kwargs, calls):
    bar = cls(**kwargs)
    bar._dynamic_display = True  # as on a terminal (Keras also counts any POSIX system as one)
    for name, *args in calls:
        getattr(bar, name)(*args)
    return bar


@pytest.fixture
def fixed_clock(monkeypatch):
    """time.time() advancing 0.25 s a call, so both bars print the same times."""
    import itertools
    import time

    def install():
        ticks = itertools.count()
        monkeypatch.setattr(time, "time", lambda: 1000.0 + 0.25 * next(ticks))

    return install


@pytest.mark.parametrize("case", sorted(_PROGBAR_CASES))
def test_progbar_prints_what_keras_prints(case, capsys, fixed_clock):
    import keras

    kwargs, calls = _PROGBAR_CASES[case]
    fixed_clock()
    kb = _run_progbar(keras.utils.Progbar, kwargs, calls)
    k_out = capsys.readouterr().out
    fixed_clock()
    fb = _run_progbar(fkeras.utils.Progbar, kwargs, calls)
    f_out = capsys.readouterr().out
    assert k_out  # the case prints something
    assert f_out == k_out
    assert fb._seen_so_far == kb._seen_so_far
    assert {k: [float(np.asarray(a)), c] for k, (a, c) in fb._values.items()} == \
        {k: [float(np.asarray(a)), c] for k, (a, c) in kb._values.items()}


def test_progbar_signature_and_errors_match_keras():
    import inspect

    import keras

    assert inspect.signature(fkeras.utils.Progbar.__init__) == inspect.signature(keras.utils.Progbar.__init__)
    assert inspect.signature(fkeras.utils.Progbar.update) == inspect.signature(keras.utils.Progbar.update)
    assert inspect.signature(fkeras.utils.Progbar.add) == inspect.signature(keras.utils.Progbar.add)
    with pytest.raises(ValueError, match="Only one of `stateful_metrics` or `stateless_metrics`"):
        fkeras.utils.Progbar(3, stateful_metrics=["a"], stateless_metrics=["b"])


@pytest.fixture
def no_interactive_logging():
    import keras

    for k in (keras, fkeras):
        k.config.disable_interactive_logging()
    yield
    for k in (keras, fkeras):
        k.config.enable_interactive_logging()


def test_disable_interactive_logging_routes_progbar_and_fit_to_absl_logging(no_interactive_logging, capsys, caplog,
                                                                          fixed_clock):
    import logging

    import keras

    assert not fkeras.config.is_interactive_logging_enabled()
    kwargs, calls = _PROGBAR_CASES["verbose_2"]
    with caplog.at_level(logging.INFO, logger="absl"):
        fixed_clock()
        _run_progbar(keras.utils.Progbar, kwargs, calls)
        k_logged = [r.getMessage() for r in caplog.records]
        caplog.clear()
        fixed_clock()
        _run_progbar(fkeras.utils.Progbar, kwargs, calls)
        f_logged = [r.getMessage() for r in caplog.records]
        caplog.clear()
        m = fkeras.Sequential([fkeras.Input((3,)), fkeras.layers.Dense(1)])
        m.compile("sgd", "mse")
        m.fit(X, Y, batch_size=16, epochs=2, verbose=2)
        fit_logged = [r.getMessage() for r in caplog.records]
    assert f_logged == k_logged and len(k_logged) == 1
    assert fit_logged[0] == "Epoch 1/2" and fit_logged[1].startswith("2/2 - ") and " - loss: " in fit_logged[1]
    assert capsys.readouterr().out == ""


# --- 6. SpectralNormalization lists its weights in Keras's order ---------------------------------------
@pytest.mark.parametrize("inner", ["dense", "dense_no_bias", "conv", "embedding"])
def test_spectral_normalization_weights_in_keras_order(inner, tmp_path):
    keras = _keras()
    x = np.random.default_rng(2).normal(size=(2, 4, 4, 2)).astype("float32")

    def build(k):
        layer, shape = {"dense": (lambda: k.layers.Dense(3), (4, 4, 2)),
                        "dense_no_bias": (lambda: k.layers.Dense(3, use_bias=False), (4, 4, 2)),
                        "conv": (lambda: k.layers.Conv2D(3, 2), (4, 4, 2)),
                        "embedding": (lambda: k.layers.Embedding(5, 3), (4,))}[inner]
        return k.Sequential([k.Input(shape), k.layers.SpectralNormalization(layer()), k.layers.Flatten(),
                             k.layers.Dense(1)])

    km, fm = build(keras), build(fkeras)
    assert [w.path.split("/")[-1] for w in fm.weights] == [w.path.split("/")[-1] for w in km.weights]
    assert [w.shape for w in fm.weights] == [tuple(w.shape) for w in km.weights]
    assert [w.trainable for w in fm.weights] == [w.trainable for w in km.weights]
    fm.set_weights(km.get_weights())
    for a, b in zip(fm.get_weights(), km.get_weights()):
        np.testing.assert_array_equal(a, b)
    xin = x if inner != "embedding" else np.array([[0, 1, 2, 4], [3, 3, 1, 0]], "float32")
    np.testing.assert_allclose(fm(xin, training=False), km(xin, training=False), rtol=1e-5, atol=1e-6)
    # a Keras weights file loads into the same weights
    km.save_weights(tmp_path / "k.weights.h5")
    fm2 = build(fkeras)
    fm2.load_weights(tmp_path / "k.weights.h5")
    for a, b in zip(fm2.get_weights(), km.get_weights()):
        np.testing.assert_array_equal(a, b)
