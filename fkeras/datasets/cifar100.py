"""CIFAR-100: 32x32 colour images in 100 fine / 20 coarse classes, as Keras loads them.

    (x_train, y_train), (x_test, y_test) = fkeras.datasets.cifar100.load_data(label_mode="fine")
    # x: uint8 (50000, 32, 32, 3) / (10000, 32, 32, 3); y: (N, 1) ints

File: Keras's `cifar-100-python.tar.gz`, cached as `$KERAS_HOME/datasets/cifar-100-python-target_archive`.
"""

import os

import numpy as np

from fkeras.backend import image_data_format
from fkeras.datasets._npz import load_cifar_batch
from fkeras.utils.file_utils import get_file

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
SHA256 = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
DIRNAME = "cifar-100-python-target"


def load_data(label_mode="fine"):
    """`((x_train, y_train), (x_test, y_test))`; `label_mode` "fine" (100 classes) or "coarse" (20)."""
    if label_mode not in ["fine", "coarse"]:
        raise ValueError(f'`label_mode` must be one of `"fine"`, `"coarse"`. Received: label_mode={label_mode}.')
    path = os.path.join(get_file(fname=DIRNAME, origin=ORIGIN, extract=True, file_hash=SHA256), "cifar-100-python")
    x_train, y_train = load_cifar_batch(os.path.join(path, "train"), label_key=f"{label_mode}_labels")
    x_test, y_test = load_cifar_batch(os.path.join(path, "test"), label_key=f"{label_mode}_labels")
    y_train, y_test = np.reshape(y_train, (len(y_train), 1)), np.reshape(y_test, (len(y_test), 1))
    if image_data_format() == "channels_last":
        x_train, x_test = x_train.transpose(0, 2, 3, 1), x_test.transpose(0, 2, 3, 1)
    return (x_train, y_train), (x_test, y_test)
