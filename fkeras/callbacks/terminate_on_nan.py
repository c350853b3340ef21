"""`TerminateOnNaN`: stop (or fail) as soon as a batch's loss is NaN or infinite."""

from __future__ import annotations

import numpy as np

from fkeras.callbacks.callback import Callback, print_msg


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN/Inf; `raise_error=True` raises a
    RuntimeError instead. Reads the loss every batch (one host sync per step)."""

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(np.asarray(loss))
        if np.isnan(loss) or np.isinf(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                                   "Terminating training immediately.")
            print_msg(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
