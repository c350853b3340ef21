"""`History`: the callback `fit` returns; it records every epoch's logs."""

from __future__ import annotations

from fkeras.callbacks.callback import Callback


class History(Callback):
    """Records epoch logs: `history.history["loss"]` is a list of floats, `history.epoch` the epochs."""

    # reads only the logs, never the model's weights (engines need not sync weights for it)
    _reads_logs_only = True

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self
