"""What MobileNet, MobileNetV2 and MobileNetV3 share, written once: the channel axis they name
(-1, not 3, in Keras's configs), the input-size rules and the `input_tensor` checks.
Error and warning texts are the callers' (Keras's), so each family keeps its own."""

import warnings

from fkeras import backend
from fkeras.applications import _base


def channel_axis():
    """-1 (channels_last) or 1: the axis the MobileNets' BatchNormalization layers are configured with."""
    return 1 if backend.image_data_format() == "channels_first" else -1


def square_size(input_shape, sizes, default=224):
    """The input's side when it is square and one of `sizes` (Keras's default_size rule), else `default`."""
    if input_shape is None:
        return default
    rows, cols = _base.rows_cols(input_shape)
    return rows if rows == cols and rows in sizes else default


def weights_rows(rows, cols, sizes):
    """The side of the imagenet weights file to load: `rows` when the input is square and one of
    `sizes`, else 224 (with Keras's warning)."""
    if rows != cols or rows not in sizes:
        warnings.warn(f"`input_shape` is undefined or non-square, or `rows` is not in {list(sizes)}. "
                      "Weights for input shape (224, 224) will be loaded as the default.", stacklevel=3)
        return 224
    return rows


def check_input_tensor(input_tensor, input_shape, not_keras_tensor, mismatch):
    """Keras's checks of an `input_tensor` given with an `input_shape`: it must be a Keras tensor whose
    width (axis `axis` of its shape) equals `input_shape[1]`. The messages are `str.format` templates
    over `input_tensor`, `input_shape` and `axis`."""
    if input_tensor is not None and not backend.is_keras_tensor(input_tensor) and input_shape is not None:
        raise ValueError(not_keras_tensor.format(input_tensor=input_tensor))
    if input_shape is not None and input_tensor is not None:
        axis = 1 if backend.image_data_format() == "channels_first" else 2
        if input_tensor.shape[axis] != input_shape[1]:
            raise ValueError(mismatch.format(axis=axis, input_tensor=input_tensor, input_shape=input_shape))
