"""fkeras.datasets.mnist: Keras cache reuse, checked atomic download (monkeypatched, no network), the
repository's copy when offline, errors, and the last-resort real-digits fallback."""

import hashlib
import io
import os
import urllib.error

import numpy as np
import pytest

from fkeras.datasets import _files, mnist
from tests.conftest import SHARED_MNIST


def _tiny_mnist_bytes(n=5):
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    np.savez(buf, x_train=rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), y_train=np.arange(n, dtype=np.uint8),
             x_test=rng.integers(0, 256, (2, 28, 28), dtype=np.uint8), y_test=np.arange(2, dtype=np.uint8))
    return buf.getvalue()


class _FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    return tmp_path / "kh"


@pytest.fixture
def no_repo_copy(tmp_path, monkeypatch):
    """As in a wheel install: no `data/mnist.npz` beside the package."""
    monkeypatch.setattr(mnist, "REPO_COPY", str(tmp_path / "no-clone" / "data" / "mnist.npz"))


def _serve(monkeypatch, payload, calls):
    def fake_urlopen(url, timeout=None):
        calls.append(url)
        if payload is None:
            raise urllib.error.URLError("network unreachable")
        return _FakeResponse(payload)
    monkeypatch.setattr(_files.urllib.request, "urlopen", fake_urlopen)


def test_reuses_keras_cache_without_network(keras_home, monkeypatch):
    payload = _tiny_mnist_bytes()
    (keras_home / "datasets").mkdir(parents=True)
    (keras_home / "datasets" / "mnist.npz").write_bytes(payload)
    monkeypatch.setattr(mnist, "SHA256", hashlib.sha256(payload).hexdigest())
    calls = []
    _serve(monkeypatch, None, calls)
    (x, y), (xt, yt) = mnist.load_data()
    assert calls == []
    assert x.shape == (5, 28, 28) and x.dtype == np.uint8 and y.dtype == np.uint8 and xt.shape == (2, 28, 28)
    np.testing.assert_array_equal(y, np.arange(5))


def test_default_cache_is_home_dot_keras(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _files.cache_path("mnist.npz") == os.path.join(str(tmp_path), ".keras", "datasets", "mnist.npz")
    assert _files.cache_path("/abs/m.npz") == "/abs/m.npz"


def test_download_checks_sha_and_writes_atomically(keras_home, monkeypatch):
    payload = _tiny_mnist_bytes()
    monkeypatch.setattr(mnist, "SHA256", hashlib.sha256(payload).hexdigest())
    calls = []
    _serve(monkeypatch, payload, calls)
    (x, _), _ = mnist.load_data()
    assert calls == [mnist.ORIGIN]
    assert (keras_home / "datasets" / "mnist.npz").read_bytes() == payload
    assert [p.name for p in (keras_home / "datasets").iterdir()] == ["mnist.npz"]  # no temp file left
    assert x.shape == (5, 28, 28)


def test_download_with_wrong_checksum_is_not_saved(keras_home, no_repo_copy, monkeypatch):
    calls = []
    _serve(monkeypatch, _tiny_mnist_bytes(), calls)  # real SHA256 kept: the payload does not match it
    with pytest.raises(FileNotFoundError, match="sha256"):
        mnist.load_data()
    assert list((keras_home / "datasets").iterdir()) == []


def test_offline_error_says_where_to_put_the_file(keras_home, no_repo_copy, monkeypatch):
    _serve(monkeypatch, None, [])
    with pytest.raises(FileNotFoundError) as e:
        mnist.load_data("mnist.npz")
    assert str(keras_home / "datasets" / "mnist.npz") in str(e.value)
    assert mnist.REPO_COPY in str(e.value) and "only in a clone" in str(e.value)
    assert "load_data_or_digits" in str(e.value) and "fkeras[digits]" in str(e.value)


def test_repository_copy_is_keras_mnist():
    """data/mnist.npz is committed: Keras's arrays (re-compressed, so its own sha256; data/README.md)."""
    assert mnist.REPO_COPY == str(SHARED_MNIST)
    assert _files.file_sha256(mnist.REPO_COPY) == "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"
    (x, y), (xt, yt) = mnist.load_data(mnist.REPO_COPY)
    np.testing.assert_array_equal(np.bincount(y), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    np.testing.assert_array_equal(np.bincount(yt), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    assert int(x.sum()) == 1567298545 and int(xt.sum()) == 264923200


def test_offline_in_a_clone_uses_the_repository_copy_and_says_so(keras_home, monkeypatch, capsys):
    calls = []
    _serve(monkeypatch, None, calls)
    (x, y), (xt, yt) = mnist.load_data()
    assert calls == [mnist.ORIGIN]  # the cache first, then the download, then the clone's copy
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28) and list(y[:5]) == [5, 0, 4, 1, 9]
    err = capsys.readouterr().err
    assert "using the repository's copy" in err and mnist.REPO_COPY in err and "network unreachable" in err
    assert not (keras_home / "datasets" / "mnist.npz").exists()  # other bytes than Keras's: never cached
    file, source = mnist.locate(verbose=False)
    assert file == mnist.REPO_COPY and source.startswith("the repository's copy")
    assert capsys.readouterr().err == ""


def test_an_absolute_path_never_falls_back_to_the_repository_copy(tmp_path, monkeypatch):
    _serve(monkeypatch, None, [])
    with pytest.raises(FileNotFoundError, match="could not be downloaded"):
        mnist.load_data(str(tmp_path / "elsewhere.npz"))


def test_corrupt_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "m.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        mnist.load_data(str(bad))
    other = tmp_path / "o.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(ValueError, match="missing arrays"):
        mnist.load_data(str(other))
    with pytest.raises(TypeError, match="str or os.PathLike"):
        mnist.load_data(3)


def test_real_mnist_by_absolute_path():
    (x, y), (xt, yt) = mnist.load_data(str(SHARED_MNIST))
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert x.dtype == y.dtype == np.uint8
    assert list(y[:5]) == [5, 0, 4, 1, 9]  # MNIST's first training labels
    assert set(np.unique(yt)) == set(range(10))


def test_digits_fallback_is_real_digits_in_mnist_layout(keras_home, no_repo_copy, monkeypatch, capsys):
    _serve(monkeypatch, None, [])
    ((x, y), (xt, yt)), source = mnist.load_data_or_digits(return_source=True)
    assert source == "digits"
    assert "LAST RESORT, NOT MNIST" in capsys.readouterr().err
    assert x.shape == (1438, 28, 28) and xt.shape == (359, 28, 28) and x.dtype == np.uint8 and y.dtype == np.uint8
    assert x[:, :4].max() == 0 and x[:, 24:].max() == 0  # digit in the central 20x20 box, like MNIST
    assert set(np.unique(y)) == set(range(10))
    from sklearn.datasets import load_digits
    raw = load_digits()
    np.testing.assert_array_equal(y, raw.target[:1438])
    # the resize keeps the scan: block means of the 20x20 image track the 8x8 original closely
    img = x[0, 4:24, 4:24].astype(float) / 255 * 16
    m = mnist._resize_matrix(20, 8)
    np.testing.assert_allclose(img, m @ raw.images[0] @ m.T, atol=16 / 255)
    # deterministic
    (x2, _), _ = mnist.load_digits_as_mnist()
    np.testing.assert_array_equal(x, x2)


def test_digits_fallback_without_scikit_learn_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_sklearn(name, *a, **k):
        if name == "sklearn" or name.startswith("sklearn."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(ImportError, match=r'pip install "fkeras\[digits\]"'):
        mnist.load_digits_as_mnist()


def test_digits_fallback_is_not_used_when_mnist_can_be_had(keras_home, monkeypatch):
    _serve(monkeypatch, None, [])
    (x, _), _ = mnist.load_data_or_digits(verbose=False)
    assert x.shape == (60000, 28, 28)  # the repository's copy, not the 8x8 digits
