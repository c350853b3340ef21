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
        return iter(self._loader)


__all__ = ["TorchDataLoaderAdapter"]
