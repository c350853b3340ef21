"""fkeras.datasets loaders vs Keras 3.15's on small fake files in Keras's formats (never the network)."""

import gzip
import io
import json
import os
import pickle
import tarfile
import urllib.error
import urllib.request

import numpy as np
import pytest

import fkeras
from fkeras.utils import file_utils

KERAS_NAMES = {
    "mnist": {"load_data"}, "fashion_mnist": {"load_data"}, "cifar10": {"load_data"}, "cifar100": {"load_data"},
    "imdb": {"load_data", "get_word_index"}, "reuters": {"load_data", "get_word_index", "get_label_names"},
    "boston_housing": {"load_data"}, "california_housing": {"load_data"},
}


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh KERAS_HOME; any download attempt fails as it would offline."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def offline(*a, **k):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    return tmp_path


def _keras_with_file(monkeypatch, module, path):
    """Keras's loader `module` reading `path` (its get_file short-circuited: no network, no hash)."""
    import importlib

    mod = importlib.import_module(f"keras.src.datasets.{module}")
    monkeypatch.setattr(mod, "get_file", lambda *a, **k: str(path))
    return mod


def _pin_hash(monkeypatch, module, path, attr="SHA256"):
    """Tell fkeras's loader that the fake file is the genuine one (its cache check then passes)."""
    monkeypatch.setattr(module, attr, file_utils.hash_file(path, "sha256" if attr == "SHA256" else "md5"))


def test_names_match_keras():
    import keras

    assert set(KERAS_NAMES) == {n for n in dir(keras.datasets) if not n.startswith("_")}
    for name, funcs in KERAS_NAMES.items():
        mod = getattr(fkeras.datasets, name)
        assert funcs == {n for n in dir(getattr(keras.datasets, name)) if not n.startswith("_")}
        for f in funcs:
            assert callable(getattr(mod, f))


def _ragged(rng, n, vocab=30):
    out = np.empty(n, dtype=object)  # Keras's files hold lists of Python ints
    for i in range(n):
        out[i] = [int(v) for v in rng.integers(1, vocab, rng.integers(2, 9))]
    return out


@pytest.mark.parametrize("kwargs", [{}, dict(num_words=12, skip_top=2, maxlen=7),
                                    dict(start_char=None, oov_char=None, index_from=0, num_words=15)])
def test_imdb_matches_keras(home, monkeypatch, kwargs):
    rng = np.random.default_rng(0)
    path = home / "datasets" / "imdb.npz"
    path.parent.mkdir(parents=True)
    np.savez(path, x_train=_ragged(rng, 12), y_train=rng.integers(0, 2, 12), x_test=_ragged(rng, 9),
             y_test=rng.integers(0, 2, 9))
    from fkeras.datasets import imdb

    _pin_hash(monkeypatch, imdb, path)
    got = imdb.load_data(**kwargs)
    want = _keras_with_file(monkeypatch, "imdb", path).load_data(**kwargs)
    for g, w in zip(got, want):
        assert [list(s) for s in g[0]] == [list(s) for s in w[0]]
        np.testing.assert_array_equal(g[1], w[1])
        assert g[0].dtype == w[0].dtype and g[1].dtype == w[1].dtype


def test_reuters_and_word_indexes(home, monkeypatch):
    rng = np.random.default_rng(1)
    data = home / "datasets"
    data.mkdir()
    np.savez(data / "reuters.npz", x=_ragged(rng, 15), y=rng.integers(0, 46, 15))
    (data / "reuters_word_index.json").write_text(json.dumps({"the": 1, "of": 2}))
    (data / "imdb_word_index.json").write_text(json.dumps({"film": 1}))
    from fkeras.datasets import imdb, reuters

    _pin_hash(monkeypatch, reuters, data / "reuters.npz")
    _pin_hash(monkeypatch, reuters, data / "reuters_word_index.json", "WORD_INDEX_MD5")
    _pin_hash(monkeypatch, imdb, data / "imdb_word_index.json", "WORD_INDEX_MD5")
    keras_reuters = _keras_with_file(monkeypatch, "reuters", data / "reuters.npz")
    for kwargs in ({}, dict(num_words=10, maxlen=6, test_split=0.4, seed=5)):
        for g, w in zip(reuters.load_data(**kwargs), keras_reuters.load_data(**kwargs)):
            assert [list(s) for s in g[0]] == [list(s) for s in w[0]]
            np.testing.assert_array_equal(g[1], w[1])
    assert reuters.get_word_index() == {"the": 1, "of": 2}
    assert imdb.get_word_index() == {"film": 1}
    assert reuters.get_label_names() == keras_reuters.get_label_names()


def test_pickle_globals_refused(home, monkeypatch):
    """An object array whose pickle names any other global is refused, not executed."""
    path = home / "datasets" / "reuters.npz"
    path.parent.mkdir(parents=True)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array([Evil()], dtype=object), allow_pickle=True)
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", buf.getvalue())
        z.writestr("y.npy", buf.getvalue())
    from fkeras.datasets import reuters

    _pin_hash(monkeypatch, reuters, path)
    with pytest.raises(pickle.UnpicklingError, match="Refusing to deserialize"):
        reuters.load_data()


@pytest.mark.parametrize("name", ["boston_housing", "california_housing"])
def test_regression_sets_match_keras(home, monkeypatch, name):
    rng = np.random.default_rng(2)
    path = home / "datasets" / f"{name}.npz"
    path.parent.mkdir(parents=True)
    np.savez(path, x=rng.normal(size=(700, 3)), y=rng.normal(size=700))
    mod = getattr(fkeras.datasets, name)
    _pin_hash(monkeypatch, mod, path)
    keras_mod = _keras_with_file(monkeypatch, name, path)
    cases = [{}, dict(test_split=0.3, seed=7)] + ([dict(version="small")] if name == "california_housing" else [])
    for kwargs in cases:
        for g, w in zip(mod.load_data(**kwargs), keras_mod.load_data(**kwargs)):
            np.testing.assert_array_equal(g[0], w[0])
            np.testing.assert_array_equal(g[1], w[1])
    with pytest.raises(ValueError, match="test_split"):
        mod.load_data(test_split=1.0)


def test_fashion_mnist_matches_keras(home, monkeypatch):
    rng = np.random.default_rng(3)
    folder = home / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    from fkeras.datasets import fashion_mnist

    for fname, n in zip(fashion_mnist.FILES, (5, 5, 3, 3)):
        header = bytes(16) if "images" in fname else bytes(8)
        body = rng.integers(0, 256, n * 784 if "images" in fname else n, dtype=np.uint8).tobytes()
        with gzip.open(folder / fname, "wb") as f:
            f.write(header + body)
    got = fashion_mnist.load_data()
    import keras.src.datasets.fashion_mnist as kf

    monkeypatch.setattr(kf, "get_file", lambda fname, origin, cache_subdir: str(folder / fname))
    want = kf.load_data()
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g[0], w[0])
        np.testing.assert_array_equal(g[1], w[1])
    assert got[0][0].shape == (5, 28, 28) and got[0][0].dtype == np.uint8


def _cifar_archive(path, top, members, rng, label_key, n):
    with tarfile.open(path, "w:gz") as tar:
        for name in members:
            d = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 label_key.encode(): [int(v) for v in rng.integers(0, 10, n)]}
            blob = pickle.dumps(d)
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))


def test_cifar100_matches_keras(home, monkeypatch):
    rng = np.random.default_rng(4)
    from fkeras.datasets import cifar100

    archive = home / "datasets" / "cifar-100-python-target_archive"
    archive.parent.mkdir(parents=True)
    with tarfile.open(archive, "w:gz") as tar:
        for name, n in (("train", 6), ("test", 4)):
            blob = pickle.dumps({b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                                 b"fine_labels": [int(v) for v in rng.integers(0, 100, n)],
                                 b"coarse_labels": [int(v) for v in rng.integers(0, 20, n)]})
            info = tarfile.TarInfo(f"cifar-100-python/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    _pin_hash(monkeypatch, cifar100, archive)
    target = home / "datasets" / "cifar-100-python-target"
    keras_mod = _keras_with_file(monkeypatch, "cifar100", target)
    for mode in ("fine", "coarse"):
        got = cifar100.load_data(label_mode=mode)  # extracts into `target`, where Keras extracts too
        want = keras_mod.load_data(label_mode=mode)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g[0], w[0])
            np.testing.assert_array_equal(g[1], w[1])
    assert got[0][0].shape == (6, 32, 32, 3)
    with pytest.raises(ValueError, match="label_mode"):
        cifar100.load_data(label_mode="medium")


def test_cifar10_matches_keras_batches(home, monkeypatch):
    """Keras's cifar10 insists on 5 x 10,000 images, so compare its batch parser file by file."""
    rng = np.random.default_rng(5)
    from fkeras.datasets import cifar10

    archive = home / "datasets" / "cifar-10-batches-py-target_archive"
    archive.parent.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    _cifar_archive(archive, "cifar-10-batches-py", names, rng, "labels", 2)
    _pin_hash(monkeypatch, cifar10, archive)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    from keras.src.datasets.cifar import load_batch

    folder = home / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    parts = [load_batch(str(folder / n)) for n in names]
    np.testing.assert_array_equal(x_train, np.concatenate([p[0] for p in parts[:5]]).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(y_train[:, 0], np.concatenate([p[1] for p in parts[:5]]))
    np.testing.assert_array_equal(x_test, parts[5][0].transpose(0, 2, 3, 1))
    assert y_train.shape == (10, 1) and y_train.dtype == np.uint8 and y_test.dtype == np.uint8


def test_offline_error_names_file_and_place(home):
    from fkeras.datasets import boston_housing

    with pytest.raises(OSError) as e:
        boston_housing.load_data()
    msg = str(e.value)
    assert boston_housing.ORIGIN in msg and str(home / "datasets" / "boston_housing.npz") in msg
    assert not (home / "datasets" / "boston_housing.npz").exists()
