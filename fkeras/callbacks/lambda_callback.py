"""`LambdaCallback`: a callback made of plain functions."""

from __future__ import annotations

from fkeras.callbacks.callback import HOOKS, Callback


class LambdaCallback(Callback):
    """`LambdaCallback(on_epoch_end=lambda epoch, logs: ...)`: each given function becomes that hook.

    Epoch hooks take `(epoch, logs)`, batch hooks `(batch, logs)`, begin/end hooks `(logs)`. Any of
    Keras's hook names may be given as a keyword; an unknown name is a TypeError.
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                     on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end) | kwargs
        for name, fn in given.items():
            if fn is None:
                continue
            if name not in HOOKS and name not in ("on_batch_begin", "on_batch_end"):
                raise TypeError(f"LambdaCallback: unknown hook {name!r}; expected one of {HOOKS}.")
            setattr(self, name, fn)
