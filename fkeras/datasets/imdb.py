"""IMDB movie reviews (sentiment), as word-index sequences, as Keras loads them.

    (x_train, y_train), (x_test, y_test) = fkeras.datasets.imdb.load_data(num_words=10000)
    # x: object arrays of int lists (25000,); y: int (25000,), 0/1

Word `i` of `get_word_index()` appears as `i + index_from`; 0 is padding, `start_char` starts each
review, `oov_char` replaces words outside `[skip_top, num_words)`.
"""

import json

import numpy as np

from fkeras.datasets import _npz, _sequences
from fkeras.utils.file_utils import get_file

ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
              index_from=3, **kwargs):
    """`((x_train, y_train), (x_test, y_test))`, each split shuffled by `RandomState(seed)`.

    `maxlen` drops reviews of `maxlen` words or more (counting the start character), as Keras does.
    """
    if kwargs:
        raise TypeError(f"Unrecognized keyword arguments: {sorted(kwargs)}.")
    path = get_file(fname=path, origin=f"{ORIGIN_FOLDER}imdb.npz", file_hash=SHA256)
    arrays = _npz.load_npz(path)
    x_train, labels_train, x_test, labels_test = _npz.require(arrays, ("x_train", "y_train", "x_test", "y_test"), path)
    rng = np.random.RandomState(seed)
    idx = np.arange(len(x_train))
    rng.shuffle(idx)
    x_train, labels_train = x_train[idx], labels_train[idx]
    idx = np.arange(len(x_test))
    rng.shuffle(idx)
    x_test, labels_test = x_test[idx], labels_test[idx]
    x_train = _sequences.encode(x_train, start_char, index_from)
    x_test = _sequences.encode(x_test, start_char, index_from)
    if maxlen:
        x_train, labels_train = _sequences.remove_long_seq(maxlen, x_train, labels_train)
        x_test, labels_test = _sequences.remove_long_seq(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. "
                             "Increase maxlen.")
    xs = _sequences.limit_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([labels_train, labels_test])
    n = len(x_train)
    return (np.array(xs[:n], dtype="object"), labels[:n]), (np.array(xs[n:], dtype="object"), labels[n:])


def get_word_index(path="imdb_word_index.json"):
    """`{word: index}` (index 1 is the most frequent word)."""
    path = get_file(fname=path, origin=f"{ORIGIN_FOLDER}imdb_word_index.json", file_hash=WORD_INDEX_MD5)
    with open(path) as f:
        return json.load(f)
