"""Fashion-MNIST: 28x28 grayscale clothing images in 10 classes, as Keras loads them.

    (x_train, y_train), (x_test, y_test) = fkeras.datasets.fashion_mnist.load_data()
    # x: uint8 (60000, 28, 28) / (10000, 28, 28); y: uint8 (N,), values 0..9

Files: Keras's four gzipped IDX files in `$KERAS_HOME/datasets/fashion-mnist/` (else `~/.keras/...`).
"""

import gzip
import os

import numpy as np

from fkeras.utils.file_utils import get_file

BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz")
CACHE_SUBDIR = os.path.join("datasets", "fashion-mnist")


def load_data():
    """`((x_train, y_train), (x_test, y_test))`: uint8 images `(N, 28, 28)` and labels `(N,)`."""
    paths = [get_file(f, origin=BASE + f, cache_subdir=CACHE_SUBDIR) for f in FILES]

    def labels(p):
        with gzip.open(p, "rb") as f:
            return np.frombuffer(f.read(), np.uint8, offset=8)

    def images(p, n):
        with gzip.open(p, "rb") as f:
            data = np.frombuffer(f.read(), np.uint8, offset=16)
        if data.size != n * 28 * 28:
            raise ValueError(f"{p}: expected {n} images of 28x28 after the 16-byte header, got {data.size} bytes.")
        return data.reshape(n, 28, 28)

    y_train, y_test = labels(paths[0]), labels(paths[2])
    return (images(paths[1], len(y_train)), y_train), (images(paths[3], len(y_test)), y_test)
