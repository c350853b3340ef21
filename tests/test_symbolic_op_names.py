"""Ops on KerasTensors are saved as Keras names them: every `keras.src.ops.<group>` operation class that
has an fkeras op maps to that op and back, and image ops (which live only in `fkeras.ops.image`) build
graph nodes whose `.keras` files Keras 3.15 loads (and the reverse)."""

from __future__ import annotations

import importlib
import inspect
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402  (the oracle)
from keras.src.ops import operation  # noqa: E402

import fkeras  # noqa: E402
from fkeras.layers import symbolic  # noqa: E402
from fkeras.nn.base import snake_case  # noqa: E402

GROUPS = ["numpy", "nn", "math", "linalg", "image", "core"]
SAME_OP = {("absolute", "abs"), ("true_divide", "divide")}  # Keras's two names for one operation


def _keras_op_classes(group):
    km = importlib.import_module(f"keras.src.ops.{group}")
    return {n for n, c in vars(km).items()
            if inspect.isclass(c) and issubclass(c, operation.Operation) and c.__module__ == km.__name__}


@pytest.mark.parametrize("group", GROUPS)
def test_op_functions_name_keras_operation_classes(group):
    km = importlib.import_module(f"keras.src.ops.{group}")
    classes = _keras_op_classes(group)
    wrong = []
    for fname, fn in vars(km).items():
        if not (inspect.isfunction(fn) and fn.__module__ == km.__name__ and not fname.startswith("_")):
            continue
        if symbolic._op_function(fname) is None:
            continue
        ours = symbolic._CLASS_OF_OP.get(fname) or "".join(p.capitalize() for p in fname.split("_"))
        if ours not in classes:
            candidates = [c for c in classes if c.lower() == fname.replace("_", "").lower()]
            if candidates:  # Keras has the operation under another spelling: we must use it
                wrong.append(f"{fname}: fkeras writes {ours}, Keras has {candidates[0]}")
            continue
        back = symbolic._OP_OF_CLASS.get(snake_case(ours), snake_case(ours))
        if back != fname and (fname, back) not in SAME_OP:
            wrong.append(f"{ours} reads back as {back}, not {fname}")
        if symbolic._op_module(fname) != f"keras.src.ops.{group}":
            wrong.append(f"{fname}: module {symbolic._op_module(fname)}, Keras keras.src.ops.{group}")
    assert not wrong, "\n".join(wrong)


def _image_model(lib):
    x = lib.Input((8, 8, 3))
    y = lib.ops.image.rgb_to_grayscale(lib.ops.image.resize(x, (4, 4), interpolation="nearest"))
    return lib.Model(x, y)


def test_image_ops_on_keras_tensors_cross_both_ways(tmp_path):
    data = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    model = _image_model(fkeras)
    assert model.output_shape == (None, 4, 4, 1)
    model.save(tmp_path / "f.keras")
    theirs = keras.saving.load_model(tmp_path / "f.keras")
    np.testing.assert_allclose(np.asarray(theirs.predict(data, verbose=0)), model.predict(data, verbose=0), atol=1e-6)
    _image_model(keras).save(tmp_path / "k.keras")
    ours = fkeras.saving.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(ours.predict(data, verbose=0), model.predict(data, verbose=0), atol=1e-6)


def _operator_model(lib):
    x = lib.Input((4,))
    a = lib.ops.cast(x > 0, "float32") + lib.ops.cast(x <= -1, "float32") * 2
    b = lib.ops.cast((x >= 0.5) & (x != 1.0), "float32") + lib.ops.cast(~(x < 0) | (x > 1), "float32")
    c = (x // 0.7) + (x % 0.7) + 2 ** x + round(x, 1)
    d = lib.ops.get_item(x, (slice(None), slice(0, 2)))
    return lib.Model(x, [a, b, c, d])


def test_python_operators_and_get_item_on_keras_tensors_equal_keras(tmp_path):
    """Comparisons, logical operators, //, %, reflected ** and round() build nodes as Keras's do, and
    ops.get_item(x, key) is the same node as x[key]; the graphs cross both ways."""
    data = np.linspace(-2, 2, 8, dtype="float32").reshape(2, 4)
    ours, theirs = _operator_model(fkeras), _operator_model(keras)
    expected = theirs.predict(data, verbose=0)
    for got, want in zip(ours.predict(data, verbose=0), expected):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-6)
    ours.save(tmp_path / "f.keras")
    for got, want in zip(keras.saving.load_model(tmp_path / "f.keras").predict(data, verbose=0), expected):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-6)
    theirs.save(tmp_path / "k.keras")
    for got, want in zip(fkeras.saving.load_model(tmp_path / "k.keras").predict(data, verbose=0), expected):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-6)
    x = fkeras.Input((4,))
    assert len({x, x}) == 1  # `==` stays identity: KerasTensors remain hashable
