"""MNIST handwritten digits, as Keras loads them, plus an offline fallback made of real digits.

    (x_train, y_train), (x_test, y_test) = fkeras.datasets.mnist.load_data()
    # x: uint8 (60000, 28, 28) / (10000, 28, 28), values 0..255; y: uint8 (N,), values 0..9

`load_data` reuses the Keras cache (`$KERAS_HOME/datasets/mnist.npz`, else
`~/.keras/datasets/mnist.npz`; an absolute `path` is used as is), else downloads the
canonical Keras file, checks Keras's sha256 and writes it into the cache atomically, else
raises `FileNotFoundError` saying where to put the file.

`load_data_or_digits` is for machines without the file and without network: it falls back to
scikit-learn's bundled UCI handwritten digits (1,797 real 8x8 scans), resized to MNIST's
layout (digit in the central 20x20 box of a 28x28 uint8 image). Never random numbers.
"""

from __future__ import annotations

import os
import sys
import warnings
import zipfile

import numpy as np

from fkeras.datasets._files import cache_path, download, file_sha256

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"  # the hash Keras checks
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_data(path="mnist.npz"):
    """Load MNIST: `((x_train, y_train), (x_test, y_test))`, uint8 arrays as Keras returns them.

    Args:
        path: file name inside the Keras cache (`$KERAS_HOME/datasets/` or `~/.keras/datasets/`),
            or an absolute path used as is.

    Raises:
        FileNotFoundError: the file is not there and cannot be downloaded; the message says where
            to put it.
        ValueError: the file is not a valid MNIST `.npz`.
    """
    return _read_npz(_locate(path))


def _locate(path) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"mnist.load_data: expected `path` to be a str or os.PathLike, got {type(path).__name__}.")
    given_absolute = os.path.isabs(os.fspath(path))
    target = cache_path(path)
    if os.path.exists(target):
        if given_absolute or file_sha256(target) == SHA256:
            return target
        # A cached file with another hash: Keras re-downloads; offline we keep a structurally valid file.
        try:
            return download(ORIGIN, target, SHA256)
        except (OSError, ValueError) as e:
            warnings.warn(
                f"{target} does not have the sha256 Keras expects ({SHA256}) and a fresh copy could not be "
                f"downloaded ({e}); using the cached file as it is.",
                stacklevel=3,
            )
            return target
    try:
        return download(ORIGIN, target, SHA256)
    except (OSError, ValueError) as e:
        raise FileNotFoundError(
            f"MNIST is not at {target} and could not be downloaded from {ORIGIN} ({e}). "
            f"Put Keras's mnist.npz at {target} (or set KERAS_HOME, or pass an absolute `path`), "
            "or use fkeras.datasets.mnist.load_data_or_digits() for an offline fallback."
        ) from e


def _read_npz(file: str):
    try:
        with np.load(file, allow_pickle=False) as f:
            missing = [k for k in _KEYS if k not in f.files]
            if missing:
                raise ValueError(f"{file} is not an MNIST .npz: missing arrays {missing} (has {sorted(f.files)}).")
            x_train, y_train, x_test, y_test = (f[k] for k in _KEYS)
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise ValueError(f"{file} is not a readable .npz file ({e}).") from e
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(
                f"{file}: expected x_{split} of shape (N, 28, 28) and y_{split} of shape (N,), "
                f"got {x.shape} and {y.shape}."
            )
    return (x_train, y_train), (x_test, y_test)


# --- offline fallback: real digits shipped inside scikit-learn -----------------------------------
def _resize_matrix(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) bilinear interpolation weights (pixel centers aligned, edges clamped)."""
    src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), lo] += 1 - frac
    m[np.arange(n_out), hi] += frac
    return m


def load_digits_as_mnist(test_fraction: float = 0.2):
    """scikit-learn's 1,797 real handwritten digits in MNIST's layout.

    Each 8x8 scan (values 0..16) is resized bilinearly to 20x20, scaled to 0..255 and centered in
    28x28, like MNIST's digits. The last `test_fraction` of the samples (in the dataset's fixed
    order) is the test split. Returns `((x_train, y_train), (x_test, y_test))`, uint8.

    Needs scikit-learn (`pip install scikit-learn`), which ships the data; nothing is downloaded.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"load_digits_as_mnist: expected 0 < test_fraction < 1, got {test_fraction!r}.")
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ImportError(
            "The offline digits fallback needs scikit-learn, which ships the data: pip install scikit-learn."
        ) from e
    digits = load_digits()
    m = _resize_matrix(20, 8)
    small = np.einsum("ij,njk,lk->nil", m, digits.images, m)  # (N, 20, 20), values 0..16
    x = np.zeros((len(small), 28, 28), np.uint8)
    x[:, 4:24, 4:24] = np.clip(np.rint(small * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    y = digits.target.astype(np.uint8)
    n_test = int(round(len(x) * test_fraction))
    return (x[:-n_test], y[:-n_test]), (x[-n_test:], y[-n_test:])


def load_data_or_digits(path="mnist.npz", verbose: bool = True, return_source: bool = False):
    """MNIST when it can be had (see `load_data`), else the real-digits fallback (`load_digits_as_mnist`).

    With `verbose`, the fallback says so on stderr. With `return_source=True` returns
    `(data, source)` where `source` is `"mnist"` or `"digits"`.
    """
    try:
        data, source = load_data(path), "mnist"
    except FileNotFoundError as e:
        if verbose:
            print(f"{e}\nFalling back to scikit-learn's real 8x8 handwritten digits, resized to 28x28.",
                  file=sys.stderr)
        data, source = load_digits_as_mnist(), "digits"
    return (data, source) if return_source else data
