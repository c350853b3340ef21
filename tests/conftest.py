import os
import pathlib

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "jax")

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO / "data" / "mnist.npz"  # the repository's copy of Keras's MNIST (data/README.md)


def pytest_collection_modifyitems(config, items):
    """Tests marked slow first: under `-n auto` (one file per worker) they overlap the rest instead of trailing it."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def _fresh_names():
    """Each test starts with Keras-style auto names at `dense`, `conv2d`, ..."""
    import fkeras.nn

    fkeras.nn.clear_session()
    yield
