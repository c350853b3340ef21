"""`to_categorical` and `normalize`, as in `keras.utils`."""

from __future__ import annotations

import numpy as np

from fkeras import ops


def to_categorical(x, num_classes=None):
    """One-hot encode integer class ids `x` of shape `s` (or `s + (1,)`) into `s + (num_classes,)`.

    Returns a float64 NumPy array (as Keras does for array-like input); class ids must lie
    in `[0, num_classes)`. `num_classes=None` uses `max(x) + 1`.
    """
    x = np.asarray(x.numpy() if hasattr(x, "numpy") and not isinstance(x, np.ndarray) else x)
    if x.dtype.kind == "f":
        if not np.all(np.equal(np.mod(x, 1), 0)):
            raise ValueError("to_categorical: expected integer class ids; got non-integer values.")
    elif x.dtype.kind not in "iub":
        raise ValueError(f"to_categorical: expected integer class ids; got dtype {x.dtype}.")
    x = x.astype(np.int64)
    shape = x.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = x.reshape(-1)
    if num_classes is None:
        if flat.size == 0:
            raise ValueError("to_categorical: cannot infer `num_classes` from an empty array.")
        num_classes = int(flat.max()) + 1
    num_classes = int(num_classes)
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        raise ValueError(
            f"to_categorical: class ids must be in [0, {num_classes}); got values in "
            f"[{flat.min()}, {flat.max()}]."
        )
    out = np.zeros((flat.size, num_classes))
    out[np.arange(flat.size), flat] = 1
    return out.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """`x` divided by its `order`-norm along `axis` (zero norms left as 1). NumPy in, NumPy
    out; other arrays go through `fkeras.ops`."""
    if isinstance(x, np.ndarray):
        norm = np.atleast_1d(np.linalg.norm(x, order, axis))
        norm[norm == 0] = 1
        return x / np.expand_dims(norm, axis if axis is not None else -1)
    return ops.normalize(x, axis=axis, order=order)
