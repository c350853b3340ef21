"""Adapter for `torch.utils.data.DataLoader`: its batches cross to JAX by DLPack.

The DataLoader does its own batching, shuffling and worker processes; each epoch is one
pass over it. Float tensors that are already float32 (and int32/uint8/bool tensors)
reach JAX without a copy; float64/int64 tensors are cast in torch first.
"""

from __future__ import annotations

from fkeras.interop.data.generator import BatchedSourceAdapter


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
    index per tensor: the values `default_collate` would stack, without 2 x batch_size calls."""
    import torch

    while True:
        try:
            index = it._next_index()
        except StopIteration:
            return
        index = torch.as_tensor(index, dtype=torch.long)
        yield [t[index] for t in tensors]


__all__ = ["TorchDataLoaderAdapter"]
