"""Adapter for `torch.utils.data.DataLoader`: its batches cross to JAX by DLPack.

The DataLoader does its own batching, shuffling and worker processes; each epoch is one
pass over it. Float tensors that are already float32 (and int32/uint8/bool tensors)
reach JAX without a copy; float64/int64 tensors are cast in torch first.
"""

from __future__ import annotations

import numpy as np

from fkeras.data.generator import BatchedSourceAdapter


class TorchDataLoaderAdapter(BatchedSourceAdapter):
    """Epochs of batches from a torch `DataLoader` (map-style or iterable dataset)."""

    _name = "The torch DataLoader"

    def __init__(self, loader, *, steps_per_epoch=None, class_weight=None):
        super().__init__(steps_per_epoch=steps_per_epoch, class_weight=class_weight)
        self._loader = loader
        try:
            n = len(loader)
        except TypeError:  # an IterableDataset without __len__
            n = None
        if n == 0:
            raise ValueError("The torch DataLoader is empty: len(loader) == 0.")
        self._source_num_batches = n
        self._batch_size = loader.batch_size
        sampler = getattr(loader, "sampler", None)
        try:
            n_samples = len(sampler) if sampler is not None and loader.batch_size else None
        except TypeError:
            n_samples = None
        if n_samples is not None and not loader.drop_last:
            self._partial_batch_size = n_samples % loader.batch_size

    def _raw_batches(self):
        it = iter(self._loader)
        if _can_gather(self._loader, it):
            return _gathered_batches(self._loader.dataset.tensors, it)
        return it


def _can_gather(loader, it) -> bool:
    """True for the common `DataLoader(TensorDataset(...), batch_size=...)` read in-process with
    the default collate: its batches can be gathered whole instead of per sample + stack."""
    import torch.utils.data as tud
    from torch.utils.data.dataloader import _SingleProcessDataLoaderIter

    return (
        type(loader.dataset) is tud.TensorDataset
        and isinstance(it, _SingleProcessDataLoaderIter)
        and hasattr(it, "_next_index")
        and loader.collate_fn is tud.default_collate
        and loader.batch_size is not None
        and not loader.pin_memory
    )


def _gathered_batches(tensors, it):
    """The loader's own batches (its sampler, its RNG draws, same order), each gathered with one
    index per tensor: the values `default_collate` would stack, without 2 x batch_size calls.
    CPU tensors are gathered through their NumPy view (much faster than torch indexing here)."""
    import torch

    views = []
    for t in tensors:
        try:
            views.append(t.detach().numpy() if t.device.type == "cpu" else None)
        except TypeError:  # bfloat16 and other dtypes without a NumPy view
            views.append(None)
    while True:
        try:
            index = it._next_index()
        except StopIteration:
            return
        np_index = np.asarray(index, dtype=np.int64)
        t_index = None
        batch = []
        run = _as_slice(np_index)
        for t, v in zip(tensors, views):
            if v is not None:
                # A sequential sampler's batch is a slice: a view, no copy (as for NumPy input).
                batch.append(v[run] if run is not None else np.take(v, np_index, axis=0))
            else:
                if t_index is None:
                    t_index = torch.as_tensor(np_index, device=t.device)
                batch.append(t.index_select(0, t_index.to(t.device)))
        yield batch


def _as_slice(index):
    """`index` as a slice if it is a run of consecutive ascending integers, else None."""
    n = index.shape[0]
    if n and index[-1] - index[0] == n - 1 and (n == 1 or bool(np.all(np.diff(index) == 1))):
        return slice(int(index[0]), int(index[-1]) + 1)
    return None

