"""A new user's first hour: the messages they meet.

- a missing optional dependency is one line naming the `fkeras[...]` extra, never a bare ModuleNotFoundError;
- importing TensorFlow for a shim prints no absl/oneDNN lines unless asked;
- `summary()` after `fit` shows Keras's "Optimizer params" line and totals;
- one-hot labels given to a sparse loss (or integer labels to a categorical one) name the loss, both shapes
  and the other loss, instead of JAX's "Incompatible shapes for broadcasting".
(The README's first command, run from a fresh clone offline, is tests/test_readme_offline_clone.py.)
"""

from __future__ import annotations

import os
import subprocess
import sys

import chex
import numpy as np
import pytest

import fkeras
import fkeras as keras
import fkeras.interop
from conftest import REPO
from fkeras.interop import _extras


# --- missing optional dependencies ----------------------------------------------------------------
@pytest.fixture
def without(monkeypatch):
    """`without("torch")`: the module cannot be imported (as if not installed) until the test ends."""
    def hide(*names):
        for name in names:
            monkeypatch.setitem(sys.modules, name, None)  # `import name` -> ModuleNotFoundError(name=name)
        for mod in ("fkeras.interop.torch", "fkeras.interop.tf"):
            if mod in sys.modules:
                monkeypatch.delitem(sys.modules, mod)
        for attr in ("torch", "tf"):  # the lazily imported submodules cached on the package
            if attr in vars(fkeras.interop):
                monkeypatch.delattr(fkeras.interop, attr)
    return hide


def test_to_torch_without_torch_names_the_extra(without):
    without("torch")
    with pytest.raises(ModuleNotFoundError) as e:
        from fkeras.interop.torch import to_torch  # noqa: F401
    assert isinstance(e.value, _extras.MissingExtraError)
    assert str(e.value) == ('fkeras.interop.torch (to_torch / to_variables) needs torch, which is not installed: '
                            'pip install "fkeras[torch]"')
    assert e.value.__cause__ is None and e.value.__suppress_context__  # one line, not a chained traceback
    from fkeras.interop import dlpack

    with pytest.raises(ImportError, match=r'^fkeras.interop.dlpack.to_torch needs torch.*"fkeras\[torch\]"$'):
        dlpack.to_torch(np.zeros(3))


def test_to_tf_without_tensorflow_names_the_extra(without):
    without("tensorflow")
    with pytest.raises(ImportError, match=r'^fkeras.interop.tf \(to_tf / to_variables\) needs tensorflow-cpu, which '
                                          r'is not installed: pip install "fkeras\[tf\]"$'):
        import fkeras.interop.tf  # noqa: F401
    from fkeras.interop import dlpack

    with pytest.raises(ImportError, match=r'^fkeras.interop.dlpack.to_tf needs tensorflow-cpu.*"fkeras\[tf\]"$'):
        dlpack.to_tf(np.zeros(3))


def test_require_names_every_extra_and_keeps_other_import_errors():
    assert _extras.missing_extra_message("sklearn.datasets", "X") == \
        'X needs scikit-learn, which is not installed: pip install "fkeras[digits]"'
    assert _extras.missing_extra_message("pandas", "X").endswith('pip install "fkeras[pandas]"')
    with pytest.raises(_extras.MissingExtraError, match="no_such_pkg_fk, which is not installed: pip install "
                                                        "no_such_pkg_fk"):
        _extras.require("no_such_pkg_fk", "X")
    assert _extras.require("numpy", "X") is np


def test_tensorflow_shim_imports_quietly(tmp_path):
    """A fresh interpreter importing the TF shim writes nothing on stderr (TF's absl/oneDNN lines hidden)."""
    pytest.importorskip("tensorflow")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(REPO)
    code = "import fkeras.interop.tf as t, numpy as np; print((t.tf.constant(np.ones(2)) + 1).numpy().tolist())"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                          cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "[2.0, 2.0]"
    assert proc.stderr == "", proc.stderr[-3000:]


# --- summary() totals ---------------------------------------------------------------------------------
def _readme_model(k):
    model = k.Sequential([
        k.layers.Input(shape=(28, 28, 1)),
        k.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        k.layers.GlobalAveragePooling2D(),
        k.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=k.optimizers.Adam(1e-3), metrics=["acc"])
    return model


def _param_lines(model):
    lines = []
    model.summary(print_fn=lines.append)
    return [line for line in "\n".join(lines).splitlines() if "params:" in line]


def test_summary_after_fit_shows_optimizer_params_as_keras_does():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 64)
    got, want = _readme_model(fkeras), _readme_model(keras)
    assert _param_lines(got) == _param_lines(want) == [  # compiled, not yet trained: no optimizer line
        " Total params: 650 (2.54 KB)", " Trainable params: 650 (2.54 KB)", " Non-trainable params: 0 (0.00 B)"]
    got.fit(x, y, batch_size=32, epochs=1, verbose=0)
    want.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert _param_lines(got) == _param_lines(want) == [
        " Total params: 1,952 (7.62 KB)", " Trainable params: 650 (2.54 KB)", " Non-trainable params: 0 (0.00 B)",
        " Optimizer params: 1,302 (5.09 KB)"]


# --- label shape vs loss ------------------------------------------------------------------------------
def _tiny(loss):
    model = fkeras.Sequential([fkeras.layers.Input(shape=(4,)), fkeras.layers.Dense(3, activation="softmax")])
    model.compile(loss=loss, optimizer="adam")
    return model


X = np.random.default_rng(0).random((8, 4), dtype=np.float32)
Y = np.arange(8) % 3


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", fkeras.losses.SparseCategoricalCrossentropy()])
def test_one_hot_labels_to_a_sparse_loss_name_the_loss_shapes_and_the_fix(loss):
    with pytest.raises(ValueError) as e:
        _tiny(loss).fit(X, np.eye(3)[Y], batch_size=8, epochs=1, verbose=0)
    msg = str(e.value)
    assert msg.startswith("sparse_categorical_crossentropy expects integer class labels of shape (8,)")
    assert "output's shape (8, 3)" in msg and "targets have shape (8, 3)" in msg
    assert 'one-hot labels: use loss="categorical_crossentropy"' in msg
    assert "broadcast" not in msg


@pytest.mark.parametrize("labels", [Y, Y[:, None]], ids=["(8,)", "(8, 1)"])
def test_integer_labels_to_a_categorical_loss_name_the_loss_shapes_and_the_fix(labels):
    with pytest.raises(ValueError) as e:
        _tiny("categorical_crossentropy").fit(X, labels, batch_size=8, epochs=1, verbose=0)
    msg = str(e.value)
    assert msg.startswith("categorical_crossentropy expects one-hot targets of the output's shape (8, 3), but the "
                          f"targets have shape {labels.shape}.")
    assert 'use loss="sparse_categorical_crossentropy"' in msg and "to_categorical(y, 3)" in msg


def test_matching_labels_still_train_and_the_functions_check_too():
    # (8, 1) integer labels are fine for the sparse loss, as in Keras.
    for loss, y in (("sparse_categorical_crossentropy", Y), ("sparse_categorical_crossentropy", Y[:, None]),
                    ("categorical_crossentropy", np.eye(3)[Y])):
        history = _tiny(loss).fit(X, y, batch_size=8, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
    probs = np.full((8, 3), 1 / 3, np.float32)
    with pytest.raises(ValueError, match=r"categorical_crossentropy expects one-hot targets .*\(8, 3\).*\(8, 2\)"):
        fkeras.losses.categorical_crossentropy(np.zeros((8, 2)), probs)
    np.testing.assert_allclose(fkeras.losses.sparse_categorical_crossentropy(Y, probs), np.log(3.0), rtol=1e-6)


def _mnist_like(kind):
    keras.utils.set_random_seed(0)
    layers = [keras.layers.Conv2D(2, 3, activation="relu"), keras.layers.Flatten(),
              keras.layers.Dense(10, activation="softmax")]
    if kind == "sequential":
        return keras.Sequential([keras.layers.Input((28, 28, 1)), *layers])
    x = inputs = keras.Input((28, 28, 1))
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x)


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_images_without_the_channel_axis_feed_an_input_with_one_channel_as_in_keras(kind):
    """Keras fits (N, 28, 28) to Input((28, 28, 1)) (a trailing 1 added; one too many squeezed): so does fkeras,
    in fit, evaluate, predict and a direct call; other shapes still get the clear error."""
    model = _mnist_like(kind)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).random((8, 28, 28), dtype=np.float32)
    y = np.arange(8)
    model.fit(x, y, epochs=1, verbose=0)
    want = np.asarray(model.predict(x[..., None], verbose=0))
    chex.assert_trees_all_close(np.asarray(model.predict(x, verbose=0)), want, atol=1e-6)
    chex.assert_trees_all_close(np.asarray(model(x)), want, atol=1e-6)
    chex.assert_trees_all_close(np.asarray(model.predict(x[..., None, None], verbose=0)), want, atol=1e-6)
    assert np.isfinite(model.evaluate(x, y, verbose=0)[0])
    with pytest.raises(ValueError, match=r"\(8, 28, 27\)"):
        model.predict(np.zeros((8, 28, 27), "float32"), verbose=0)
