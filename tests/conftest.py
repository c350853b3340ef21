import gc
import os
import pathlib

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "jax")
# The suite checks results, not speed: XLA:CPU compiles ~2x faster with LLVM at -O0 and the classic elemental
# emitters, and most test time is compilation of small programs (both Keras and fkeras run under the same flags).
# A user's own XLA_FLAGS (even empty: `XLA_FLAGS= pytest` for XLA's defaults) are kept; the README example test
# runs its subprocess with XLA's defaults, as a user does.
TEST_XLA_FLAGS = "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
os.environ.setdefault("XLA_FLAGS", TEST_XLA_FLAGS)

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO / "data" / "mnist.npz"  # the repository's copy of Keras's MNIST (data/README.md)


def pytest_collection_modifyitems(config, items):
    """Tests marked slow first: under `-n auto` (one file per worker) they overlap the rest instead of trailing it."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True, scope="module")
def _freeze_the_heap():
    """Before each test file: collect once, then freeze what is alive (`gc.freeze`: the imported libraries,
    earlier files' modules) so the garbage collector's full passes — Python's own and the explicit
    `gc.collect()` Keras runs when a layer drops a variable — scan only what this file creates. A worker
    running one file after another otherwise rescans its whole grown heap each time (~15% of the suite's CPU)."""
    gc.collect()
    gc.freeze()
    yield


@pytest.fixture(autouse=True)
def _fresh_names():
    """Each test starts with Keras-style auto names at `dense`, `conv2d`, ..."""
    import fkeras.nn

    fkeras.nn.clear_session()
    yield
