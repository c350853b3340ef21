"""Boston housing prices (regression, 13 features), as Keras loads them.

    (x_train, y_train), (x_test, y_test) = fkeras.datasets.boston_housing.load_data()
    # x: float64 (404, 13) / (102, 13); y: float64 (N,)
"""

import numpy as np

from fkeras.datasets._npz import shuffle_split
from fkeras.utils.file_utils import get_file

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
SHA256 = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """Shuffled by `RandomState(seed)`; the last `test_split` is the test set."""
    if not 0 <= test_split < 1:
        raise ValueError(f"Invalid `test_split` argument: {test_split}. It must be between 0 and 1 (exclusive of 1).")
    path = get_file(path, origin=ORIGIN, file_hash=SHA256)
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    return shuffle_split(x, y, test_split, seed)
