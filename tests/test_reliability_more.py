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

    keras.backend.clear_session()
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
@pytest.mark.parametrize("engine", ["jax", "torch", "custom_test_step"])
def test_evaluate_uses_weights_a_callback_swaps_in_at_test_begin(engine):
    keras = _keras()
    km, fm = _pair(keras)
    if engine == "custom_test_step":
        fm = _CustomTestStep(fm.layers)
        fm.set_weights(km.get_weights())
    km.compile("sgd", "mse")
    fm.compile("sgd", "mse", **({"engine": "torch"} if engine == "torch" else {}))
    before = fm.get_weights()
    k_loss = km.evaluate(X, Y, batch_size=8, verbose=0, callbacks=[_zeroing_callback(keras)])
    f_loss = fm.evaluate(X, Y, batch_size=8, verbose=0, callbacks=[_zeroing_callback(fkeras)])
    np.testing.assert_allclose(k_loss, float(np.mean(Y ** 2)), rtol=1e-5)  # the zero model predicts 0
    np.testing.assert_allclose(f_loss, k_loss, rtol=1e-5)
    for a, b in zip(fm.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    # and without the callback, the model's own weights again
    np.testing.assert_allclose(fm.evaluate(X, Y, batch_size=8, verbose=0), km.evaluate(X, Y, batch_size=8, verbose=0),
                               rtol=1e-5)


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
