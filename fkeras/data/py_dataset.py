"""`PyDataset`: Keras's batch-indexed dataset (`__len__` + `__getitem__`), read in parallel.

This module imports neither JAX nor fkeras's heavier parts, so the worker processes of
`use_multiprocessing=True` (spawned, not forked: JAX's threads make `fork` unsafe) start
quickly.
"""

from __future__ import annotations

import itertools
import pickle
import warnings


def _after_super_init(name):
    """A property over `_<name>` whose read first warns when the subclass skipped `super().__init__()`."""

    def get(self):
        self._warn_if_super_not_called()
        return getattr(self, "_" + name)

    def set(self, value):
        setattr(self, "_" + name, value)

    return property(get, set)


class PyDataset:
    """Base class for a dataset of batches written in Python.

    Implement `__getitem__(index)` (returns a whole batch: `x`, `(x,)`, `(x, y)` or
    `(x, y, sample_weight)`) and `__len__()` (the number of batches), or a `num_batches`
    property returning None for an infinite dataset. Override `on_epoch_begin` /
    `on_epoch_end` to change the data between epochs.

    Args:
        workers: number of threads (or processes) reading batches in parallel during `fit`.
        use_multiprocessing: read batches in worker processes (the dataset must pickle).
            Gives CPU parallelism for Python-heavy `__getitem__`.
        max_queue_size: batches read ahead at most (bounds memory). Defaults to 10.

    Iterating a `PyDataset` directly yields its batches in order, without parallelism.
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self):
        missing = [a for a in ("_workers", "_use_multiprocessing", "_max_queue_size") if not hasattr(self, a)]
        if missing:
            self._workers = getattr(self, "_workers", 1)
            self._use_multiprocessing = getattr(self, "_use_multiprocessing", False)
            self._max_queue_size = getattr(self, "_max_queue_size", 10)
            warnings.warn(
                "Your `PyDataset` class should call `super().__init__(**kwargs)` in its "
                "constructor. `**kwargs` can include `workers`, `use_multiprocessing`, "
                "`max_queue_size`. Do not pass these arguments to `fit()`, as they will be ignored.",
                stacklevel=3,
            )

    workers = _after_super_init("workers")
    use_multiprocessing = _after_super_init("use_multiprocessing")
    max_queue_size = _after_super_init("max_queue_size")

    def __getitem__(self, index):
        """The batch at position `index`."""
        raise NotImplementedError(f"{type(self).__name__} must implement `__getitem__(self, index)`.")

    @property
    def num_batches(self):
        """Number of batches, or None for an infinite dataset (defaults to `len(self)`)."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            f"{type(self).__name__} must implement `__len__` or the `num_batches` property "
            "(return None for an infinite dataset)."
        )

    def __iter__(self):
        n = self.num_batches
        for index in range(n) if n is not None else itertools.count():
            yield self[index]

    def on_epoch_begin(self):
        """Called at the beginning of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch."""


Sequence = PyDataset  # Keras 2 name, kept by Keras 3

# --------------------------------------------------------------------------- worker processes

_WORKER_DATASET = None


def _init_worker(blob):
    global _WORKER_DATASET
    _WORKER_DATASET = pickle.loads(blob)


def _get_item(index):
    return _WORKER_DATASET[index]
