"""model.export / keras.export.ExportArchive: artifacts that serve the fkeras predictions without fkeras.

SavedModel: loaded in a fresh process in which `import fkeras` and `import jax` fail, at two batch sizes
(its batch dimension is free), equal to `model.predict` to 1e-5. ONNX: run by onnxruntime, same bar.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import chex
import numpy as np
import pytest

import fkeras as keras

tf = pytest.importorskip("tensorflow")
ATOL = 1e-5


def _convnet():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.layers.Input((6, 6, 2)),
        keras.layers.Conv2D(3, 3, activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.Flatten(),
        keras.layers.Dense(4, activation="softmax"),
    ])
    x = np.random.default_rng(0).random((16, 6, 6, 2), dtype=np.float32)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, np.arange(16) % 4, epochs=1, verbose=0)  # moving statistics are no longer the initial ones
    return model, x


def _two_inputs():
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    h = keras.layers.Concatenate()([keras.layers.Dense(4, activation="tanh")(a), b])
    return keras.Model([a, b], keras.layers.Dense(2)(h))


def test_saved_model_serves_without_fkeras_or_jax(tmp_path, capsys):
    model, x = _convnet()
    path = tmp_path / "served"
    model.export(str(path))
    assert f"Saved artifact at '{path}'. The following endpoints are available:" in capsys.readouterr().out
    np.save(tmp_path / "x.npy", x)
    code = textwrap.dedent(f"""
        import sys
        sys.modules["fkeras"] = None  # an import of either fails: the artifact must not need them
        sys.modules["jax"] = None
        import numpy as np, tensorflow as tf
        m = tf.saved_model.load({str(path)!r})
        x = np.load({str(tmp_path / "x.npy")!r})
        np.save({str(tmp_path / "y5.npy")!r}, m.serve(x[:5]).numpy())
        out = m.signatures["serving_default"](tf.constant(x[:3]))
        np.save({str(tmp_path / "y3.npy")!r}, list(out.values())[0].numpy())
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    want = np.asarray(model.predict(x, verbose=0))
    chex.assert_trees_all_close(np.load(tmp_path / "y5.npy"), want[:5], atol=ATOL)
    chex.assert_trees_all_close(np.load(tmp_path / "y3.npy"), want[:3], atol=ATOL)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".fkeras-export-")]


def test_onnx_runs_in_onnxruntime_with_a_dynamic_batch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")
    model, x = _convnet()
    path = tmp_path / "model.onnx"
    model.export(str(path), format="onnx", verbose=False)
    session = ort.InferenceSession(str(path))
    (inp,) = session.get_inputs()
    assert inp.shape[0] == "batch" and inp.shape[1:] == [6, 6, 2]
    want = np.asarray(model.predict(x, verbose=0))
    for n in (1, 7):
        chex.assert_trees_all_close(session.run(None, {inp.name: x[:n]})[0], want[:n], atol=ATOL)


def test_export_archive_endpoints_and_variable_collections(tmp_path, capsys):
    model = _two_inputs()
    xa = np.random.default_rng(1).random((4, 3), dtype=np.float32)
    xb = np.random.default_rng(2).random((4, 2), dtype=np.float32)
    want = np.asarray(model.predict([xa, xb], verbose=0))

    archive = keras.export.ExportArchive()
    archive.track(model)
    specs = [tf.TensorSpec((None, 3), tf.float32), tf.TensorSpec((None, 2), tf.float32)]
    archive.add_endpoint("call", model.call, input_signature=specs)
    archive.add_endpoint("half", lambda a, b: model([a, b]) * 0.5, input_signature=specs)  # JAX code: jax2tf
    with pytest.raises(ValueError, match="Endpoint name 'call' is already taken"):
        archive.add_endpoint("call", model.call, input_signature=specs)
    with pytest.raises(ValueError, match="you must provide an `input_signature`"):
        archive.add_endpoint("other", lambda a: a)
    kernels = [layer.kernel for layer in model.layers if hasattr(layer, "kernel")]
    archive.add_variable_collection("kernels", kernels)
    with pytest.raises(ValueError, match="Expected `variables` to be a list/tuple/set"):
        archive.add_variable_collection("bad", kernels[0])
    assert len(archive.variables) == len(model.weights) + len(kernels)  # the collection holds copies
    assert len(archive.trainable_variables) == len(archive.variables)
    archive.write_out(str(tmp_path / "archive"))
    printed = capsys.readouterr().out
    assert "* Endpoint 'call'" in printed and "* Endpoint 'half'" in printed

    reloaded = tf.saved_model.load(str(tmp_path / "archive"))
    chex.assert_trees_all_close(reloaded.call(xa, xb).numpy(), want, atol=ATOL)
    chex.assert_trees_all_close(reloaded.half(xa, xb).numpy(), want * 0.5, atol=ATOL)
    assert sorted(reloaded.signatures) == ["call", "half", "serving_default"]
    chex.assert_trees_all_close([v.numpy() for v in reloaded.kernels], [np.asarray(k.value) for k in kernels])


def test_torch_and_litert_formats(tmp_path):
    torch = pytest.importorskip("torch")
    model = _two_inputs()
    xa = np.random.default_rng(1).random((1, 3), dtype=np.float32)
    xb = np.random.default_rng(2).random((1, 2), dtype=np.float32)
    want = np.asarray(model.predict([xa, xb], verbose=0))
    model.export(str(tmp_path / "m.pt2"), format="torch", verbose=False)
    program = torch.export.load(str(tmp_path / "m.pt2"))
    got = program.module()(torch.from_numpy(xa), torch.from_numpy(xb))
    chex.assert_trees_all_close(got.detach().numpy(), want, atol=ATOL)

    model.export(str(tmp_path / "m.tflite"), format="litert", verbose=False)
    interpreter = tf.lite.Interpreter(model_path=str(tmp_path / "m.tflite"))
    interpreter.allocate_tensors()
    details = sorted(interpreter.get_input_details(), key=lambda d: d["shape"][-1], reverse=True)  # a (.,3), b (.,2)
    for d, value in zip(details, (xa, xb)):
        interpreter.set_tensor(d["index"], value)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    chex.assert_trees_all_close(got, want, atol=ATOL)


def test_bad_requests_fail_before_writing(tmp_path):
    model = _two_inputs()
    with pytest.raises(ValueError, match="Unrecognized format='keras'"):
        model.export(str(tmp_path / "x"), format="keras")
    with pytest.raises(TypeError, match="unexpected keyword arguments"):
        model.export(str(tmp_path / "x"), format="onnx", opset=13)
    with pytest.raises(ValueError, match="No endpoints have been set yet"):
        keras.export.ExportArchive().write_out(str(tmp_path / "empty"))
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(FileExistsError, match="is a file, not a folder"):
        model.export(str(blocker / "model.onnx"), format="onnx", verbose=False)
    assert sorted(os.listdir(tmp_path)) == ["a_file"]


def test_a_failed_export_keeps_the_previous_artifact(tmp_path):
    from fkeras.export._atomic import atomic_path

    target = tmp_path / "artifact"
    atomic_path(target, lambda tmp: (os.mkdir(tmp), open(os.path.join(tmp, "v1"), "w").close()))

    def broken(tmp):
        os.mkdir(tmp)
        raise RuntimeError("exporter crashed halfway")

    with pytest.raises(RuntimeError, match="halfway"):
        atomic_path(target, broken)
    assert os.listdir(target) == ["v1"]
    with pytest.raises(FileExistsError, match="a folder of that name exists"):
        atomic_path(target, lambda tmp: open(tmp, "w").close())
    assert os.listdir(target) == ["v1"] and os.listdir(tmp_path) == ["artifact"]
