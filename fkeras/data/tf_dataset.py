"""Adapter for `tf.data.Dataset`: eager iteration, tensors cross to JAX by DLPack.

Each epoch is one pass over the dataset (`iter(dataset)` restarts it, reshuffling if the
dataset shuffles); with `steps_per_epoch` epochs continue the same pass, so an infinite
`.repeat()` dataset works as in Keras.
"""

from __future__ import annotations

from fkeras.data.generator import BatchedSourceAdapter


class TFDatasetAdapter(BatchedSourceAdapter):
    """Epochs of batches from a batched `tf.data.Dataset`."""

    _name = "The tf.data.Dataset"

    def __init__(self, dataset, *, steps_per_epoch=None, class_weight=None):
        super().__init__(steps_per_epoch=steps_per_epoch, class_weight=class_weight)
        import tensorflow as tf

        self._dataset = dataset
        n = None
        if isinstance(dataset, tf.data.Dataset):
            card = int(dataset.cardinality())
            if card == 0:
                raise ValueError("The tf.data.Dataset is empty: its cardinality is 0.")
            n = card if card > 0 else None  # INFINITE (-1) and UNKNOWN (-2) -> None
            if card == tf.data.INFINITE_CARDINALITY and steps_per_epoch is None:
                # Keras runs such an epoch forever; say so up front instead.
                import warnings

                warnings.warn(
                    "The tf.data.Dataset is infinite and `steps_per_epoch` is None: an epoch will "
                    "never end. Pass `steps_per_epoch`.",
                    stacklevel=3,
                )
            first = tf.nest.flatten(dataset.element_spec)
            if first and getattr(first[0], "shape", None) is not None and first[0].shape.rank:
                self._batch_size = first[0].shape[0]  # None unless the batch size is static
        self._source_num_batches = n

    def _raw_batches(self):
        return iter(self._dataset)


__all__ = ["TFDatasetAdapter"]
