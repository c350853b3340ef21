"""VGG16 / VGG19 vs Keras 3.15 (structure, numbers both ways through .weights.h5), and Keras's
published-weights path: a legacy `.h5` file (Keras's application weight layout) found in the Keras
cache for `weights="imagenet"`, or given as `weights=<path>`; no network."""

import hashlib
import shutil
import urllib.request

import h5py
import numpy as np
import pytest

keras = pytest.importorskip("keras")

import fkeras  # noqa: E402
from applications_common import TOL, check_against_keras, host_initial_values  # noqa: E402
from fkeras.applications import _base, vgg16  # noqa: E402

SMALL = dict(include_top=False, input_shape=(32, 32, 3))


def _no_network(*args, **kwargs):
    raise OSError("network disabled in tests")


def _save_legacy_h5(model, path):
    """Keras's legacy HDF5 weights layout, as in the files keras.applications downloads."""
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


@pytest.mark.slow
def test_vgg16_and_its_imagenet_weights_file(tmp_path, monkeypatch):
    km, fm = check_against_keras("VGG16", SMALL, tmp_path)
    x = np.random.default_rng(3).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    ref = km.predict(vgg16.preprocess_input(x.copy()), verbose=0)

    # weights="imagenet": the file Keras would have downloaded, already in the Keras cache.
    fname = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    (tmp_path / "models").mkdir()
    cached = tmp_path / "models" / fname
    _save_legacy_h5(km, cached)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    monkeypatch.setattr(vgg16, "WEIGHTS_HASHES", (vgg16.WEIGHTS_HASHES[0], hashlib.md5(cached.read_bytes()).hexdigest()))
    with host_initial_values():  # the files' weights replace them: no JAX compile per initial draw
        model = fkeras.applications.VGG16(weights="imagenet", **SMALL)
    np.testing.assert_allclose(model.predict(vgg16.preprocess_input(x.copy()), verbose=0), ref, rtol=TOL,
                               atol=TOL * max(1.0, np.abs(ref).max()))

    # weights=<path> of a legacy .h5 file.
    local = tmp_path / "mine.h5"
    shutil.copy(cached, local)
    with host_initial_values():
        model = fkeras.applications.VGG16(weights=str(local), **SMALL)
    np.testing.assert_allclose(model.predict(vgg16.preprocess_input(x.copy()), verbose=0), ref, rtol=TOL,
                               atol=TOL * max(1.0, np.abs(ref).max()))

    # weights=<path> of a .weights.h5 file (the one same_numbers saved from fkeras and Keras loaded).
    with host_initial_values():
        model = fkeras.applications.VGG16(weights=str(tmp_path / "fkeras.weights.h5"), **SMALL)
    np.testing.assert_allclose(model.predict(vgg16.preprocess_input(x.copy()), verbose=0), ref, rtol=TOL,
                               atol=TOL * max(1.0, np.abs(ref).max()))

    # A file for another architecture fails before any weight is written, naming the layer.
    other = tmp_path / "other.h5"
    keras.backend.clear_session(free_memory=False)
    with host_initial_values():
        _save_legacy_h5(keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 1)), other)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="block1_conv1"):
        _base.load_weights_file(model, str(other))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))

    # Offline, with no cached file: the error names the file and where to put it.
    cached.unlink()
    with pytest.raises(OSError, match=fname):
        fkeras.applications.VGG16(weights="imagenet", **SMALL)


@pytest.mark.slow
def test_vgg19_with_a_small_top(tmp_path):
    check_against_keras("VGG19", dict(include_top=True, classes=10, input_shape=(32, 32, 3)), tmp_path)
