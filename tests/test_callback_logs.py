"""Every callback hook gets a `logs` dict where Keras 3.15 passes one (issue 21): the "writing your own
callbacks" guide's `keys = list(logs.keys())` runs in every hook under fit/evaluate/predict, and the
sequence of (hook, index, keys) fkeras produces equals Keras's on the same model and data."""

import keras
import numpy as np
import pytest

import fkeras as fk
from fkeras.callbacks import CallbackList

X = np.random.default_rng(0).normal(size=(48, 4)).astype("float32")
Y = X @ np.arange(1, 5, dtype="float32")


def _recorder(base):
    """The guide's CustomCallback, recording instead of printing."""

    class Recorder(base):
        def __init__(self):
            super().__init__()
            self.events = []

        def _rec(self, hook, logs, index=None):
            keys = list(logs.keys())  # the guide's line: raises if logs is None
            self.events.append((hook, index, sorted(keys)))

        def on_train_begin(self, logs=None): self._rec("train_begin", logs)
        def on_train_end(self, logs=None): self._rec("train_end", logs)
        def on_epoch_begin(self, epoch, logs=None): self._rec("epoch_begin", logs, epoch)
        def on_epoch_end(self, epoch, logs=None): self._rec("epoch_end", logs, epoch)
        def on_test_begin(self, logs=None): self._rec("test_begin", logs)
        def on_test_end(self, logs=None): self._rec("test_end", logs)
        def on_predict_begin(self, logs=None): self._rec("predict_begin", logs)
        def on_predict_end(self, logs=None): self._rec("predict_end", logs)
        def on_train_batch_begin(self, batch, logs=None): self._rec("train_batch_begin", logs, batch)
        def on_train_batch_end(self, batch, logs=None): self._rec("train_batch_end", logs, batch)
        def on_test_batch_begin(self, batch, logs=None): self._rec("test_batch_begin", logs, batch)
        def on_test_batch_end(self, batch, logs=None): self._rec("test_batch_end", logs, batch)
        def on_predict_batch_begin(self, batch, logs=None): self._rec("predict_batch_begin", logs, batch)
        def on_predict_batch_end(self, batch, logs=None): self._rec("predict_batch_end", logs, batch)

    return Recorder()


def _run(lib):
    model = lib.Sequential([lib.Input((4,)), lib.layers.Dense(1)])
    model.compile(optimizer=lib.optimizers.RMSprop(learning_rate=0.1), loss="mean_squared_error",
                  metrics=["mean_absolute_error"])
    rec = _recorder(lib.callbacks.Callback)
    model.fit(X, Y, batch_size=16, epochs=2, verbose=0, validation_split=1 / 3, callbacks=[rec])
    model.evaluate(X, Y, batch_size=16, verbose=0, callbacks=[rec])
    model.predict(X, batch_size=16, verbose=0, callbacks=[rec])
    return rec.events


def test_every_hook_gets_the_dict_keras_passes():
    got, want = _run(fk), _run(keras)
    assert got == want
    # the guide's keys: batch logs carry the running metrics, predict batches their outputs
    assert ("train_batch_end", 0, ["loss", "mean_absolute_error"]) in got
    assert ("predict_batch_end", 0, ["outputs"]) in got
    assert ("train_end", None, ["loss", "mean_absolute_error", "val_loss", "val_mean_absolute_error"]) in got


def test_callback_list_gives_each_hook_one_fresh_dict():
    seen = []

    class Add(fk.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["extra"] = 1.0

    class Read(fk.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(dict(logs))

        def on_train_begin(self, logs=None):
            seen.append(logs)

    cbs = CallbackList([Add(), Read()])
    mine = {"loss": 0.5}
    cbs.on_train_begin()
    cbs.on_epoch_end(0, mine)
    assert seen == [{}, {"loss": 0.5, "extra": 1.0}]  # later callbacks see earlier ones' keys, as in Keras
    assert mine == {"loss": 0.5}  # the caller's dict is not changed
    with pytest.raises(TypeError, match="Callback objects"):
        CallbackList([object()])
