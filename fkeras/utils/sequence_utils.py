"""`pad_sequences`, as in `keras.utils`."""

from __future__ import annotations

import numpy as np


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (or truncate) a list of sequences into one array `(len(sequences), maxlen, *item_shape)`.

    `padding`/`truncating` ("pre" or "post") say at which end values are added/removed;
    `maxlen=None` uses the longest sequence. Keras's `keras.utils.pad_sequences`.
    """
    if padding not in ("pre", "post"):
        raise ValueError(f'Padding type "{padding}" not understood; expected "pre" or "post".')
    if truncating not in ("pre", "post"):
        raise ValueError(f'Truncating type "{truncating}" not understood; expected "pre" or "post".')
    if not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be a list of sequences.")
    lengths, item_shape = [], None
    for x in sequences:
        try:
            lengths.append(len(x))
        except TypeError as e:
            raise ValueError(f"`sequences` must be a list of iterables; found non-iterable {x!r}.") from e
        if item_shape is None and len(x):
            item_shape = np.asarray(x).shape[1:]
    item_shape = item_shape or ()
    if maxlen is None:
        maxlen = max(lengths) if lengths else 0
    maxlen = int(maxlen)
    is_str = np.issubdtype(np.dtype(dtype), np.str_) or np.issubdtype(np.dtype(dtype), np.bytes_)
    if isinstance(value, str) and np.dtype(dtype) != object and not is_str:
        raise ValueError(f"`dtype` {dtype} is not compatible with `value`'s type {type(value)}; "
                         "use dtype=object for variable-length strings.")
    out = np.full((len(sequences), maxlen) + tuple(item_shape), value, dtype=dtype)
    for i, s in enumerate(sequences):
        if not len(s) or maxlen == 0:
            continue
        trunc = np.asarray(s[-maxlen:] if truncating == "pre" else s[:maxlen], dtype=dtype)
        if trunc.shape[1:] != tuple(item_shape):
            raise ValueError(f"Shape of sample {trunc.shape[1:]} of sequence at position {i} is different "
                             f"from expected shape {tuple(item_shape)}.")
        if padding == "post":
            out[i, : len(trunc)] = trunc
        else:
            out[i, -len(trunc):] = trunc
    return out
