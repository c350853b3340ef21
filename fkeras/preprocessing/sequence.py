"""`fkeras.preprocessing.sequence`: Keras's `pad_sequences`."""

from fkeras.utils.sequence_utils import pad_sequences  # noqa: F401

__all__ = ["pad_sequences"]
