"""Shared pieces of tests/test_quantize_*.py (quantization against Keras 3.15).

`keras_quantizes_without_gc`: Keras's `Layer.__delattr__` runs a full `gc.collect()` for every variable that
quantizing replaces (the float kernel, embeddings); with JAX, TensorFlow and torch loaded that is ~0.3 s a
layer run alone, more in a worker that ran other files first: about 40% of these files' time. It only frees
device buffers sooner, so these modules skip it.

`check_predictions_and_files`: a quantized Keras model and its fkeras twin predict the same, fkeras's `.keras`
file loads in Keras and Keras's in fkeras, each predicting what its writer did.
"""

import gc

import chex
import keras  # (the oracle)
import numpy as np
import pytest

import fkeras


@pytest.fixture(scope="module", autouse=True)
def keras_quantizes_without_gc():
    """While the importing module's tests run (import this name to use it), `gc.collect()` is a no-op (the
    objects alive before them are already frozen by conftest's `_freeze_the_heap`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gc, "collect", lambda generation=2: 0)
        yield


def policies(model):
    """Each layer's dtype policy name (`int8_from_float32`, ...), in `model.layers` order."""
    return [layer.dtype_policy.name for layer in model.layers]


def check_predictions_and_files(km, fm, x, tmp_path, rtol=1e-5, atol=1e-6):
    """Keras model `km` and fkeras model `fm` predict the same for `x` (to rtol/atol); `fm`'s `.keras` file
    loaded by Keras and `km`'s loaded by fkeras (same dtype policies) predict what `fm`/`km` did (to 1e-6).
    Returns (fkeras's predictions, Keras's)."""
    want = np.asarray(km.predict(x, verbose=0))
    ours = np.asarray(fm.predict(x, verbose=0))
    chex.assert_trees_all_close(ours, want, rtol=rtol, atol=atol)
    fm.save(tmp_path / "f.keras")
    chex.assert_trees_all_close(np.asarray(keras.saving.load_model(tmp_path / "f.keras").predict(x, verbose=0)),
                                ours, rtol=1e-6, atol=1e-6)
    km.save(tmp_path / "k.keras")
    back = fkeras.saving.load_model(tmp_path / "k.keras")
    assert policies(back) == policies(km)
    chex.assert_trees_all_close(np.asarray(back.predict(x, verbose=0)), want, rtol=1e-6, atol=1e-6)
    return ours, want
