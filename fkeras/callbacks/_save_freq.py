"""`save_freq` ("epoch" or every N batches), shared by the checkpoint callbacks."""

from __future__ import annotations


def check_save_freq(save_freq):
    if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1):
        raise ValueError(f"Unrecognized save_freq: {save_freq!r}. Expected 'epoch' or a positive int (batches).")


class BatchCounter:
    """Counts batches across epochs for an integer `save_freq` (Keras's rule; works when
    `steps_per_execution` makes the batch index jump)."""

    def __init__(self, save_freq):
        self.save_freq = save_freq
        self._since = 0
        self._last = None
        self.total = 0

    def should_save(self, batch) -> bool:
        if self.save_freq == "epoch":
            return False
        add = batch + 1 if self._last is None or batch <= self._last else batch - self._last
        self._last = batch
        self._since += add
        self.total += add
        if self._since >= self.save_freq:
            self._since = 0
            return True
        return False

    def new_epoch(self):
        self._last = None
