"""Adapter for `fkeras.utils.PyDataset`, with Keras's parallel reading.

With `workers > 1` (threads) or `use_multiprocessing=True` (spawned processes), batches are
read ahead by a pool, at most `max_queue_size` in flight, and delivered in index order. An
exception in a worker is re-raised in the training loop as the original exception (a crashed
worker process raises `BrokenProcessPool`), never a hang. The pool lives across epochs; for
processes it is rebuilt only when the dataset's pickled state changed (e.g. `on_epoch_end`
reshuffled it), so workers always read the current dataset.
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import itertools
import multiprocessing
import pickle
import weakref
from collections import deque

import numpy as np

from fkeras.data.generator import BatchedSourceAdapter
from fkeras.data import py_dataset as _pyd


def _shutdown(pool):
    pool.shutdown(wait=False, cancel_futures=True)


class PyDatasetAdapter(BatchedSourceAdapter):
    """Epochs of batches from a `PyDataset`; `shuffle` permutes the batch order each epoch."""

    _name = "The PyDataset"

    def __init__(self, dataset, *, steps_per_epoch=None, shuffle=False, class_weight=None, seed=None):
        super().__init__(steps_per_epoch=steps_per_epoch, class_weight=class_weight)
        self._dataset = dataset
        n = dataset.num_batches
        if n is not None:
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
                raise ValueError(f"PyDataset length / num_batches must be a non-negative int or None; got {n!r}.")
            if n == 0:
                raise ValueError(f"The PyDataset is empty: {type(dataset).__name__} has 0 batches.")
            n = int(n)
        self._source_num_batches = n
        if shuffle not in (True, False) and shuffle != "batch":
            raise ValueError(f"`shuffle` must be True, False or 'batch'; got {shuffle!r}.")
        self._shuffle = bool(shuffle) and n is not None
        self._rng = np.random.default_rng(seed) if seed is not None else None
        workers = dataset.workers
        self._multiprocessing = bool(dataset.use_multiprocessing) and workers > 0
        self._parallel = workers > 1 or self._multiprocessing
        self._workers = max(1, int(workers))
        self._queue_size = max(1, int(dataset.max_queue_size))
        self._pool = None
        self._pool_blob = None
        self._finalizer = None

    # ---- pool

    def _get_pool(self):
        if not self._multiprocessing:
            if self._pool is None:
                self._set_pool(concurrent.futures.ThreadPoolExecutor(self._workers, "fkeras-pydataset"), None)
            return self._pool
        try:
            blob = pickle.dumps(self._dataset)
        except Exception as e:  # noqa: BLE001 - any pickling failure means the same thing
            raise ValueError(
                f"use_multiprocessing=True needs a picklable PyDataset, but {type(self._dataset).__name__} "
                f"could not be pickled ({type(e).__name__}: {e}). Use threads (use_multiprocessing=False) "
                "or make the dataset picklable."
            ) from e
        if self._pool is None or blob != self._pool_blob:
            pool = concurrent.futures.ProcessPoolExecutor(
                self._workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_pyd._init_worker, initargs=(blob,),
            )
            self._set_pool(pool, blob)
        return self._pool

    def _set_pool(self, pool, blob):
        self.close()
        self._pool, self._pool_blob = pool, blob
        self._finalizer = weakref.finalize(self, _shutdown, pool)

    def close(self):
        """Stop the worker pool (also done when the adapter is garbage-collected)."""
        if self._finalizer is not None:
            self._finalizer()
        self._pool = self._pool_blob = self._finalizer = None

    # ---- batches

    def _indices(self):
        n = self._source_num_batches
        if n is None:
            return itertools.count()
        if self._shuffle:
            return (self._rng.permutation(n) if self._rng is not None else np.random.permutation(n)).tolist()
        return range(n)

    def _raw_batches(self):
        self._dataset.on_epoch_begin()
        if self._parallel:
            yield from self._parallel_batches()
        else:
            for i in self._indices():
                yield self._dataset[i]
        self._dataset.on_epoch_end()

    def _parallel_batches(self):
        pool = self._get_pool()
        fetch = _pyd._get_item if self._multiprocessing else self._dataset.__getitem__
        indices = iter(self._indices())
        pending = deque()
        try:
            for i in itertools.islice(indices, self._queue_size):
                pending.append(pool.submit(fetch, i))
            while pending:
                fut = pending.popleft()
                try:
                    batch = fut.result()
                except concurrent.futures.process.BrokenProcessPool:
                    self.close()
                    raise
                for i in itertools.islice(indices, 1):
                    pending.append(pool.submit(fetch, i))
                yield batch
        finally:
            for fut in pending:
                fut.cancel()


__all__ = ["PyDatasetAdapter"]
