"""Safe readers for Keras's dataset files: `.npz` members and CIFAR batches, unpickling only NumPy arrays.

IMDB and Reuters store ragged sequences as object arrays (pickled); CIFAR batches are pickled dicts.
A file is untrusted input, so the unpickler accepts only `numpy.ndarray`/`dtype` reconstruction and
refuses every other global (a crafted file cannot run code).
"""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np

_ALLOWED = frozenset({("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
                      ("numpy._core.multiarray", "_reconstruct")})


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays (and plain containers) only."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"Refusing to deserialize `{module}.{name}` while loading a Keras dataset. "
                                     "The file may be corrupted or malicious.")


def _read_member(fp):
    try:
        return np.lib.format.read_array(fp, allow_pickle=False)
    except ValueError:  # an object array: its payload is a pickle
        fp.seek(0)
        version = np.lib.format.read_magic(fp)
        if version[0] == 1:
            np.lib.format.read_array_header_1_0(fp)
        elif version[0] in (2, 3):
            np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"Unsupported `.npy` file version: {version}.")
        return RestrictedUnpickler(fp).load()


def load_npz(path) -> dict:
    """`{name: array}` of an `.npz` file; object arrays through the restricted unpickler."""
    try:
        with zipfile.ZipFile(path) as archive:
            out = {}
            for member in archive.namelist():
                if member.endswith(".npy"):
                    with archive.open(member) as raw:
                        out[member[: -len(".npy")]] = _read_member(io.BytesIO(raw.read()))
            return out
    except zipfile.BadZipFile as e:
        raise ValueError(f"{path} is not a readable .npz file ({e}).") from e


def require(arrays: dict, keys, path):
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise ValueError(f"{path}: expected arrays {list(keys)}, missing {missing} (has {sorted(arrays)}).")
    return [arrays[k] for k in keys]


def load_cifar_batch(fpath, label_key="labels"):
    """`(data (n, 3, 32, 32) uint8, labels list)` of one pickled CIFAR batch file."""
    with open(fpath, "rb") as f:
        d = RestrictedUnpickler(f, encoding="bytes").load()
    d = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in d.items()}
    if "data" not in d or label_key not in d:
        raise ValueError(f"{fpath}: expected a CIFAR batch with 'data' and '{label_key}', got keys {sorted(d)}.")
    data = d["data"]
    return data.reshape(data.shape[0], 3, 32, 32), d[label_key]


def remove_long_seq(maxlen, seq, label):
    """Keep the sequences shorter than `maxlen` (strictly, as Keras) and their labels."""
    kept = [(x, y) for x, y in zip(seq, label) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def shuffle_split(x, y, test_split, seed):
    """Keras's regression-dataset split: `RandomState(seed)` permutation, first `1 - test_split` for training."""
    if not 0 <= test_split < 1:
        raise ValueError(f"Invalid `test_split` argument: {test_split}. It must be between 0 and 1 (exclusive of 1).")
    idx = np.arange(len(x))
    np.random.RandomState(seed).shuffle(idx)
    x, y = x[idx], y[idx]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))
