"""`Callback`: the base class, with Keras 3's hooks, arguments and defaults.

Every hook receives a `logs` dict (empty when there is nothing to report) from the `CallbackList`
that the fit/evaluate/predict loops drive, as in Keras. `self.model` is the model being
trained; its `train_state` is always current.
"""

from __future__ import annotations

import numpy as np

from fkeras.runtime import io_utils

HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
         "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
         "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end")


def print_msg(message, line_break=True):
    """Keras's `io_utils.print_msg`: to stdout, or to `absl.logging` after `disable_interactive_logging()`."""
    io_utils.print_msg(message, line_break=line_break)


def current_learning_rate(model) -> float:
    """The model's optimizer's learning rate now, as a Python float (reads the live TrainState)."""
    return float(np.asarray(model.optimizer.learning_rate))


class Callback:
    """Base class: override any of Keras's hooks (`on_epoch_end(epoch, logs)`, ...)."""

    def __init__(self):
        self.params = {}
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    def on_batch_begin(self, batch, logs=None):
        """Same as `on_train_batch_begin` (Keras's legacy name)."""

    def on_batch_end(self, batch, logs=None):
        """Same as `on_train_batch_end` (Keras's legacy name)."""

    def on_epoch_begin(self, epoch, logs=None):
        """At the start of epoch `epoch` (0-based); `logs` is empty."""

    def on_epoch_end(self, epoch, logs=None):
        """At the end of an epoch; `logs` holds the epoch's metrics (floats), `val_` ones included."""

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """`logs` holds the running epoch averages so far (device scalars; `float()` reads one)."""
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        """`logs["outputs"]` holds the batch's predictions."""

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        """`logs` holds the last epoch's logs."""

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        """`logs` holds the evaluation's results (floats)."""

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass


def overrides(callback, hook) -> bool:
    """Whether `callback` implements `hook` (in its class or, like LambdaCallback, on the instance)."""
    names = {"on_train_batch_begin": ("on_train_batch_begin", "on_batch_begin"),
             "on_train_batch_end": ("on_train_batch_end", "on_batch_end")}.get(hook, (hook,))
    return any(h in vars(callback) or getattr(type(callback), h, None) is not getattr(Callback, h) for h in names)
