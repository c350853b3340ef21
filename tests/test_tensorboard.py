"""TensorBoard callback: the event files Keras 3.15 writes (same tags, steps and files), read back with
tensorboard's own loader and EventAccumulator."""

import glob
import json
import os

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.util import tensor_util

import fkeras

X = np.random.default_rng(0).normal(size=(20, 3)).astype("float32")
Y = X.sum(1, keepdims=True)


def _model(k, kind):
    k.backend.clear_session(free_memory=False)  # layer names from dense, dense_1 in both libraries
    if kind == "sequential":
        m = k.Sequential([k.Input((3,)), k.layers.Dense(4, activation="relu"), k.layers.Dense(1)])
    else:
        inp = k.Input((3,))
        m = k.Model(inp, k.layers.Dense(1)(k.layers.Dense(4, activation="relu")(inp)))
    m.compile("sgd", "mse", metrics=["mae"])
    return m


def _events(log_dir):
    """{subdir: [(tag, step), ...]} in file order."""
    out = {}
    for sub in ("train", "validation"):
        out[sub] = [(v.tag, e.step) for f in sorted(glob.glob(os.path.join(log_dir, sub, "events.out.tfevents.*")))
                    for e in EventFileLoader(f).Load() for v in e.summary.value]
    return out


def _accumulator(path):
    acc = ea.EventAccumulator(path, size_guidance={ea.TENSORS: 0})
    acc.Reload()
    return acc


@pytest.mark.parametrize("kind, kwargs", [("sequential", dict(histogram_freq=1)),
                                          ("functional", dict(update_freq=2, write_images=True, histogram_freq=1)),
                                          ("sequential", dict(update_freq="batch", write_images=True,
                                                              histogram_freq=2, write_graph=False))])
def test_events_match_keras(tmp_path, kind, kwargs):
    import keras

    runs = {}
    for name, k in (("ours", fkeras), ("keras", keras)):
        log_dir = str(tmp_path / name)
        # 2 training and 2 validation batches per epoch: with update_freq=2 Keras gates even its epoch and
        # evaluation scalars on the current batch step (it drops them on odd steps; fkeras always writes them).
        _model(k, kind).fit(X, Y, batch_size=5, epochs=2, validation_split=0.5, verbose=0,
                            callbacks=[k.callbacks.TensorBoard(log_dir, **kwargs)])
        runs[name] = _events(log_dir)
    assert runs["ours"] == runs["keras"]


def test_scalars_read_back(tmp_path):
    model = _model(fkeras, "functional")
    history = model.fit(X, Y, batch_size=5, epochs=3, validation_split=0.2, verbose=0,
                        callbacks=[fkeras.callbacks.TensorBoard(tmp_path, update_freq="batch", histogram_freq=1)])
    train, val = _accumulator(str(tmp_path / "train")), _accumulator(str(tmp_path / "validation"))

    def series(acc, tag):
        return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]

    for key in ("loss", "mae"):
        got = series(train, f"epoch_{key}")
        assert [s for s, _ in got] == [0, 1, 2]
        np.testing.assert_allclose([v for _, v in got], history.history[key], rtol=1e-6)
        np.testing.assert_allclose([v for _, v in series(val, f"epoch_{key}")], history.history[f"val_{key}"],
                                   rtol=1e-6)
    assert [v for _, v in series(train, "epoch_learning_rate")] == pytest.approx([0.01] * 3)
    assert [s for s, _ in series(train, "batch_loss")] == list(range(1, 13))
    assert [s for s, _ in series(val, "evaluation_loss_vs_iterations")] == [4, 8, 12]
    # Dense(1) is constructed first, so the (3, 4) hidden kernel is dense_1's
    hist = tensor_util.make_ndarray(train.Tensors("dense_1/kernel/histogram")[-1].tensor_proto)  # (buckets, 3)
    kernel = np.asarray(model.get_layer("dense_1").kernel)
    assert hist.shape[1] == 3 and hist[:, 2].sum() == 12
    np.testing.assert_allclose([hist[0, 0], hist[-1, 1]], [kernel.min(), kernel.max()], rtol=1e-6)
    graph = tensor_util.make_ndarray(train.Tensors("keras")[0].tensor_proto)
    assert json.loads(graph.item().decode()) == json.loads(model.to_json())
    assert train.summary_metadata["keras"].plugin_data.plugin_name == "graph_keras_model"


def test_standalone_evaluate_and_images(tmp_path):
    model = _model(fkeras, "sequential")
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[fkeras.callbacks.TensorBoard(tmp_path, histogram_freq=1,
                                                                                 write_images=True)])
    train = _accumulator(str(tmp_path / "train"))
    content = tensor_util.make_ndarray(train.Tensors("sequential/dense/kernel/image")[0].tensor_proto)
    assert content[0] == b"4" and content[1] == b"3" and content[2].startswith(b"\x89PNG")  # (3,4) -> 3 rows
    model.evaluate(X, Y, verbose=0, callbacks=[fkeras.callbacks.TensorBoard(tmp_path / "eval")])
    val = _accumulator(str(tmp_path / "eval" / "validation"))
    assert "evaluation_loss_vs_iterations" in val.Tags()["tensors"]


def test_profile_batch_writes_a_trace(tmp_path):
    _model(fkeras, "functional").fit(X, Y, batch_size=5, epochs=1, verbose=0,
                                     callbacks=[fkeras.callbacks.TensorBoard(tmp_path, profile_batch=(2, 3))])
    traces = glob.glob(str(tmp_path / "train" / "plugins" / "profile" / "*" / "*.xplane.pb"))
    assert len(traces) == 1 and os.path.getsize(traces[0]) > 0


@pytest.mark.parametrize("bad", [-1, (3, 2), "a,b", (1, 2, 3), 1.5])
def test_bad_profile_batch(bad):
    with pytest.raises(ValueError, match="profile_batch"):
        fkeras.callbacks.TensorBoard(profile_batch=bad)


def test_bad_update_freq():
    with pytest.raises(ValueError, match="update_freq"):
        fkeras.callbacks.TensorBoard(update_freq="step")


def test_signature_matches_keras():
    import inspect

    import keras

    assert str(inspect.signature(fkeras.callbacks.TensorBoard)) == str(inspect.signature(keras.callbacks.TensorBoard))
