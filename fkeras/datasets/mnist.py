"""MNIST handwritten digits, as Keras loads them, found offline too in a clone of fkeras.

    (x_train, y_train), (x_test, y_test) = fkeras.datasets.mnist.load_data()
    # x: uint8 (60000, 28, 28) / (10000, 28, 28), values 0..255; y: uint8 (N,), values 0..9

`load_data` looks, in order, in
  1. the Keras cache (`$KERAS_HOME/datasets/mnist.npz`, else `~/.keras/datasets/mnist.npz`; an
     absolute `path` is used as is) — silently, as Keras does;
  2. the download: Keras's URL, checked against Keras's sha256, written into the cache atomically
     (prints "Downloading data from ...", as Keras does);
  3. the repository's copy `data/mnist.npz` beside the `fkeras` package — there only in a clone
     (e.g. after `pip install -e .`), not in a wheel; it says so when it uses it.
With none of them it raises `FileNotFoundError` saying where to put the file. `locate` returns the
file and a sentence naming which of the three it is, for programs that print their data source.

`load_data_or_digits` is a clearly labelled last resort for a wheel install with no file and no
network: scikit-learn's 1,797 real 8x8 digits resized to 28x28 (`pip install "fkeras[digits]"`).
It is not MNIST, and models trained on it are not comparable with MNIST results.
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
# The clone's copy: same arrays as the download, re-compressed (so another sha256; see data/README.md).
REPO_COPY = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "data", "mnist.npz")
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_data(path="mnist.npz"):
    """Load MNIST: `((x_train, y_train), (x_test, y_test))`, uint8 arrays as Keras returns them.

    Args:
        path: file name inside the Keras cache (`$KERAS_HOME/datasets/` or `~/.keras/datasets/`),
            or an absolute path used as is.

    Raises:
        FileNotFoundError: not cached, not downloadable and no repository copy; the message says
            where to put the file.
        ValueError: the file is not a valid MNIST `.npz`.
    """
    file, source = locate(path)
    if file == REPO_COPY and not os.path.isabs(os.fspath(path)):
        print(f"mnist.load_data: using {source}.", file=sys.stderr, flush=True)
    return _read_npz(file)


def locate(path="mnist.npz", verbose: bool = True):
    """`(file, source)`: the MNIST file `load_data(path)` reads and a sentence saying where it came from.

    Downloads into the Keras cache when needed; with `verbose` it prints "Downloading data from ...",
    as Keras does. `load_data` also says when it reads the repository's copy; a cache hit is silent.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"mnist.load_data: expected `path` to be a str or os.PathLike, got {type(path).__name__}.")
    given_absolute = os.path.isabs(os.fspath(path))
    target = cache_path(path)
    if os.path.exists(target):
        if given_absolute:
            return target, f"the file {target}"
        if file_sha256(target) == SHA256:
            return target, f"the Keras cache ({target})"
        # A cached file with another hash: Keras re-downloads; offline we keep a structurally valid file.
        try:
            return _download(target, verbose)
        except (OSError, ValueError) as e:
            warnings.warn(
                f"{target} does not have the sha256 Keras expects ({SHA256}) and a fresh copy could not be "
                f"downloaded ({e}); using the cached file as it is.",
                stacklevel=3,
            )
            return target, f"the Keras cache ({target}; its sha256 differs from Keras's)"
    try:
        return _download(target, verbose)
    except (OSError, ValueError) as e:
        reason = f"{type(e).__name__}: {e}"
        if not given_absolute and os.path.isfile(REPO_COPY):
            return REPO_COPY, (f"the repository's copy ({REPO_COPY}), because MNIST is not in the Keras cache "
                               f"({target}) and the download failed ({reason})")
        raise FileNotFoundError(
            f"MNIST is not at {target} and could not be downloaded from {ORIGIN} ({reason}); "
            f"there is no repository copy at {REPO_COPY} either (it exists only in a clone of fkeras). "
            f"Put Keras's mnist.npz at {target} (or set KERAS_HOME, or pass an absolute `path`). "
            "Last resort without MNIST: fkeras.datasets.mnist.load_data_or_digits() (scikit-learn's 8x8 digits, "
            'pip install "fkeras[digits]").'
        ) from e


def _download(target, verbose):
    if verbose:
        print(f"Downloading data from {ORIGIN}", flush=True)
    return download(ORIGIN, target, SHA256), f"a download from {ORIGIN} (now cached at {target})"


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
    """scikit-learn's 1,797 real handwritten digits in MNIST's layout (NOT MNIST: a last resort).

    Each 8x8 scan (values 0..16) is resized bilinearly to 20x20, scaled to 0..255 and centered in
    28x28, like MNIST's digits. The last `test_fraction` of the samples (in the dataset's fixed
    order) is the test split. Returns `((x_train, y_train), (x_test, y_test))`, uint8.

    Needs scikit-learn (`pip install "fkeras[digits]"`), which ships the data; nothing is downloaded.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"load_digits_as_mnist: expected 0 < test_fraction < 1, got {test_fraction!r}.")
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ImportError(
            'The offline digits fallback needs scikit-learn, which ships the data: pip install "fkeras[digits]" '
            "(or pip install scikit-learn)."
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
    """MNIST when it can be had (see `load_data`), else, as a LAST RESORT, scikit-learn's 8x8 digits.

    The fallback is not MNIST (1,438 train / 359 test images, upscaled from 8x8); with `verbose` it
    says so on stderr. With `return_source=True` returns `(data, source)`, `source` being
    `"mnist"` or `"digits"`.
    """
    try:
        data, source = load_data(path), "mnist"
    except FileNotFoundError as e:
        if verbose:
            print(f"{e}\nLAST RESORT, NOT MNIST: falling back to scikit-learn's 1,797 real 8x8 handwritten digits, "
                  "resized to 28x28.", file=sys.stderr)
        data, source = load_digits_as_mnist(), "digits"
    return (data, source) if return_source else data
