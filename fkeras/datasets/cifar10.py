"""CIFAR-10: 32x32 colour images in 10 classes, as Keras loads them.

    (x_train, y_train), (x_test, y_test) = fkeras.datasets.cifar10.load_data()
    # x: uint8 (50000, 32, 32, 3) / (10000, 32, 32, 3) (channels last); y: uint8 (N, 1), values 0..9

File: Keras's `cifar-10-python.tar.gz`, cached as `$KERAS_HOME/datasets/cifar-10-batches-py-target_archive`
and extracted beside it (the same paths Keras uses, so either library reuses the other's download).
"""

import os

import numpy as np

from fkeras.backend import image_data_format
from fkeras.datasets._npz import load_cifar_batch
from fkeras.utils.file_utils import get_file

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
DIRNAME = "cifar-10-batches-py-target"


def load_data():
    """`((x_train, y_train), (x_test, y_test))`: uint8 images and `(N, 1)` uint8 labels."""
    path = os.path.join(get_file(fname=DIRNAME, origin=ORIGIN, extract=True, file_hash=SHA256), "cifar-10-batches-py")
    parts = [load_cifar_batch(os.path.join(path, f"data_batch_{i}")) for i in range(1, 6)]
    x_train = np.concatenate([np.asarray(x, dtype="uint8") for x, _ in parts])
    y_train = np.concatenate([np.asarray(y, dtype="uint8") for _, y in parts])
    x_test, y_test = load_cifar_batch(os.path.join(path, "test_batch"))
    y_train = y_train.reshape(len(y_train), 1)
    y_test = np.reshape(y_test, (len(y_test), 1))
    if image_data_format() == "channels_last":
        x_train, x_test = x_train.transpose(0, 2, 3, 1), x_test.transpose(0, 2, 3, 1)
    return (x_train, y_train), (x_test.astype(x_train.dtype), y_test.astype(y_train.dtype))
