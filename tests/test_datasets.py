"""fkeras.datasets.mnist: Keras cache reuse, checked atomic download (monkeypatched, no network), errors,
and the real-digits offline fallback."""

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


def test_download_with_wrong_checksum_is_not_saved(keras_home, monkeypatch):
    calls = []
    _serve(monkeypatch, _tiny_mnist_bytes(), calls)  # real SHA256 kept: the payload does not match it
    with pytest.raises(FileNotFoundError, match="sha256"):
        mnist.load_data()
    assert list((keras_home / "datasets").iterdir()) == []


def test_offline_error_says_where_to_put_the_file(keras_home, monkeypatch):
    _serve(monkeypatch, None, [])
    with pytest.raises(FileNotFoundError) as e:
        mnist.load_data("mnist.npz")
    assert str(keras_home / "datasets" / "mnist.npz") in str(e.value)
    assert "load_data_or_digits" in str(e.value)


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


@pytest.mark.skipif(not SHARED_MNIST.exists(), reason="shared MNIST not present")
def test_real_mnist_by_absolute_path():
    (x, y), (xt, yt) = mnist.load_data(str(SHARED_MNIST))
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert x.dtype == y.dtype == np.uint8
    assert list(y[:5]) == [5, 0, 4, 1, 9]  # MNIST's first training labels
    assert set(np.unique(yt)) == set(range(10))


def test_digits_fallback_is_real_digits_in_mnist_layout(keras_home, monkeypatch):
    pytest.importorskip("sklearn")
    _serve(monkeypatch, None, [])
    ((x, y), (xt, yt)), source = mnist.load_data_or_digits(verbose=False, return_source=True)
    assert source == "digits"
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
