"""`CallbackList`: calls each hook on every callback, adding History and ProgbarLogger as Keras does.

The fit/evaluate/predict loops (`fkeras.train.trainer`) drive it through Keras's hook names and
read `_batch[hook]` (the callbacks that implement a batch hook) to skip batch calls nobody listens
to, so an epoch with no batch-level callbacks costs nothing per step.
"""

from __future__ import annotations

from fkeras.callbacks.callback import HOOKS, Callback, overrides
from fkeras.callbacks.history import History
from fkeras.callbacks.progbar import ProgbarLogger


class CallbackList(Callback):
    """Container of callbacks (Keras's signature): `CallbackList(callbacks, add_history, add_progbar,
    model, **params)`; `params` (verbose, epochs, steps) reach every callback's `set_params`.

    Every hook passes a dict to each callback (empty where there is nothing to report), one copy per
    hook call shared by the callbacks in list order, so a callback may add keys (ReduceLROnPlateau's
    `learning_rate`) that later callbacks (History, the progress bar) see, as in Keras.
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        super().__init__()
        if callbacks is not None and not isinstance(callbacks, (list, tuple, CallbackList)):
            raise TypeError(f"Expected `callbacks` to be a list of Callback objects, got {type(callbacks).__name__}.")
        self.callbacks = list(callbacks.callbacks if isinstance(callbacks, CallbackList) else callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"Expected Callback objects in `callbacks`, got {type(cb).__name__}: {cb!r}.")
        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        if add_history and self._history is None:
            self._history = History()
            self.callbacks.append(self._history)
        self._progbar = next((c for c in self.callbacks if isinstance(c, ProgbarLogger)), None)
        if add_progbar and self._progbar is None:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)
        self._refresh()

    def _refresh(self):
        self._batch = {h: [c for c in self.callbacks if overrides(c, h)] for h in HOOKS if "batch" in h}

    def append(self, callback):
        self.callbacks.append(callback)
        self._refresh()

    def set_params(self, params):
        self.params = params
        for c in self.callbacks:
            c.set_params(params)

    def set_model(self, model):
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for c in self.callbacks:
            c.set_model(model)

    def _call(self, hook, *args, logs):
        logs = {} if logs is None else dict(logs)
        for c in self.callbacks:
            getattr(c, hook)(*args, logs)

    def _call_batch(self, hook, batch, logs):
        logs = {} if logs is None else dict(logs)
        for c in self._batch[hook]:
            getattr(c, hook)(batch, logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs=logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs=logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs=logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs=logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs=logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs=logs)

    def on_batch_begin(self, batch, logs=None):
        self._call("on_batch_begin", batch, logs=logs)

    def on_batch_end(self, batch, logs=None):
        self._call("on_batch_end", batch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call_batch("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call_batch("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call_batch("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call_batch("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call_batch("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call_batch("on_predict_batch_end", batch, logs)

    def __iter__(self):
        return iter(self.callbacks)
