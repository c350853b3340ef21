"""SwapEMAWeights and RemoteMonitor vs Keras 3.15 (RemoteMonitor against a local HTTP server)."""

import http.server
import inspect
import json
import threading
import urllib.parse

import numpy as np
import pytest

import fkeras

X = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
Y = (X @ np.array([[1.0], [-2.0], [0.5]], "float32")).astype("float32")


def _pair():
    import keras

    keras.backend.clear_session(free_memory=False)
    km = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
    fm = fkeras.Sequential([fkeras.Input((3,)), fkeras.layers.Dense(4, activation="tanh"), fkeras.layers.Dense(1)])
    fm.set_weights(km.get_weights())
    for m, k in ((km, keras), (fm, fkeras)):
        m.compile(k.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.9), "mse")
    return km, fm


def _averages(model):
    """The optimizer's moving averages in `model.get_weights()` order (all weights are trainable here)."""
    avg = model.train_state.opt_state.slots["average"]  # like the params: {layer name: {weight name: array}}
    return [np.asarray(avg[w.path.split("/")[-2]][w.path.split("/")[-1]]) for w in model.weights]


@pytest.mark.parametrize("swap_on_epoch", [False, True])
def test_swap_ema_weights_matches_keras(swap_on_epoch):
    import keras

    km, fm = _pair()
    kwargs = dict(batch_size=8, epochs=3, validation_split=0.25, shuffle=False, verbose=0)
    kh = km.fit(X, Y, callbacks=[keras.callbacks.SwapEMAWeights(swap_on_epoch)], **kwargs).history
    fh = fm.fit(X, Y, callbacks=[fkeras.callbacks.SwapEMAWeights(swap_on_epoch)], **kwargs).history
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(fh[key], kh[key], rtol=1e-5)
    for a, b in zip(fm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_swap_ema_weights_in_predict_and_between_epochs():
    """Inside fit (where weights and averages differ): predict with the callback uses the averages and gives
    the training weights back; with swap_on_epoch the averages sit in the model between epochs."""
    import keras

    km, fm = _pair()
    seen = []

    def check(epoch, logs):
        weights, averages = fm.get_weights(), _averages(fm)
        assert not all(np.array_equal(a, b) for a, b in zip(weights, averages))
        pred = fm.predict(X, verbose=0, callbacks=[fkeras.callbacks.SwapEMAWeights()])
        for a, b in zip(fm.get_weights(), weights):
            np.testing.assert_array_equal(a, b)
        clone = fkeras.models.clone_model(fm)
        clone.set_weights(averages)
        np.testing.assert_allclose(pred, clone.predict(X, verbose=0), rtol=1e-6)
        seen.append(epoch)

    fm.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0,
           callbacks=[fkeras.callbacks.LambdaCallback(on_epoch_end=check)])
    assert seen == [0, 1]

    km, fm = _pair()
    snap = {}

    def record(m, key):
        return lambda epoch, logs: snap.setdefault(key, []).append([np.array(w) for w in m.get_weights()])

    for m, k, key in ((km, keras, "k"), (fm, fkeras, "f")):
        m.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0,
              callbacks=[k.callbacks.SwapEMAWeights(swap_on_epoch=True), k.callbacks.LambdaCallback(
                  on_epoch_end=record(m, key))])
    for ours, theirs in zip(snap["f"], snap["k"]):  # EMA weights in the model at each epoch end, as in Keras
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(fm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_swap_ema_weights_needs_use_ema():
    m = fkeras.Sequential([fkeras.Input((3,)), fkeras.layers.Dense(1)])
    m.compile("sgd", "mse")
    with pytest.raises(ValueError, match="use_ema=True"):
        m.fit(X, Y, epochs=1, validation_split=0.25, verbose=0, callbacks=[fkeras.callbacks.SwapEMAWeights()])


@pytest.fixture
def receiver():
    """A local server recording each POST as (path, headers, body)."""
    posts = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            posts.append((self.path, self.headers.get("Content-Type"), self.headers.get("X-Run"), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", posts
    httpd.shutdown()


@pytest.mark.parametrize("send_as_json", [False, True])
def test_remote_monitor_posts_like_keras(receiver, send_as_json):
    pytest.importorskip("requests")  # Keras's RemoteMonitor needs it
    import keras

    root, posts = receiver
    logs = {"loss": np.float32(0.5), "acc": 0.25, "val_loss": np.array(1.5)}
    for k in (fkeras, keras):
        cb = k.callbacks.RemoteMonitor(root=root, path="/hook/", headers={"X-Run": "r1"}, send_as_json=send_as_json)
        cb.on_epoch_end(3, dict(logs))
    ours, theirs = posts
    assert ours[0] == theirs[0] == "/hook/" and ours[2] == theirs[2] == "r1"
    assert ours[1] == theirs[1]
    if send_as_json:
        assert json.loads(ours[3]) == json.loads(theirs[3]) == {"epoch": 3, "loss": 0.5, "acc": 0.25, "val_loss": 1.5}
    else:
        assert urllib.parse.parse_qs(ours[3].decode()) == urllib.parse.parse_qs(theirs[3].decode())


def test_remote_monitor_in_fit_and_unreachable(receiver):
    root, posts = receiver
    m = fkeras.Sequential([fkeras.Input((3,)), fkeras.layers.Dense(1)])
    m.compile("sgd", "mse")
    m.fit(X, Y, epochs=2, verbose=0, callbacks=[fkeras.callbacks.RemoteMonitor(root=root)])
    sent = [json.loads(urllib.parse.parse_qs(p[3].decode())["data"][0]) for p in posts]
    assert [s["epoch"] for s in sent] == [0, 1] and all(isinstance(s["loss"], float) for s in sent)
    with pytest.warns(UserWarning, match="Could not reach RemoteMonitor"):
        fkeras.callbacks.RemoteMonitor(root="http://127.0.0.1:9").on_epoch_end(0, {"loss": 1.0})


@pytest.mark.parametrize("name", ["SwapEMAWeights", "RemoteMonitor", "TensorBoard"])
def test_signatures_match_keras(name):
    import keras

    assert str(inspect.signature(getattr(fkeras.callbacks, name))) == \
        str(inspect.signature(getattr(keras.callbacks, name)))


def test_every_keras_callback_exists():
    import keras

    names = {n for n in dir(keras.callbacks) if not n.startswith("_")}
    assert sorted(n for n in names if not hasattr(fkeras.callbacks, n)) == []
