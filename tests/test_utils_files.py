"""get_file against Keras 3.15's on a local HTTP server: cache paths, hashes, extraction, traversal, offline."""

import functools
import hashlib
import http.server
import io
import os
import tarfile
import threading
import zipfile

import pytest

from fkeras.utils import file_utils, get_file


@pytest.fixture
def server(tmp_path):
    """Serves `tmp_path / "www"` on 127.0.0.1; yields (root folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def _tar(path, files):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_download_hash_and_cache_like_keras(server, tmp_path, capsys):
    import keras

    root, url = server
    (root / "data.bin").write_bytes(b"x" * 5000)
    (tmp_path / "b").mkdir()  # Keras falls back to /tmp/.keras for a cache_dir that does not exist yet
    sha = hashlib.sha256(b"x" * 5000).hexdigest()
    md5 = hashlib.md5(b"x" * 5000).hexdigest()
    mine = get_file("data.bin", url + "data.bin", file_hash=sha, cache_dir=tmp_path / "a")
    theirs = keras.utils.get_file("data.bin", url + "data.bin", file_hash=sha, cache_dir=str(tmp_path / "b"))
    assert os.path.relpath(mine, tmp_path / "a") == os.path.relpath(theirs, tmp_path / "b") == \
        os.path.join("datasets", "data.bin")
    assert open(mine, "rb").read() == b"x" * 5000
    assert "Downloading data from " + url + "data.bin" in capsys.readouterr().out
    (root / "data.bin").unlink()  # a cached file is used without the server
    assert get_file("data.bin", url + "data.bin", md5_hash=md5, cache_dir=tmp_path / "a") == mine
    assert file_utils.validate_file(mine, md5) and file_utils.validate_file(mine, sha)
    assert file_utils.hash_file(mine) == sha


def test_keras_home_and_origin_name(server, tmp_path, monkeypatch):
    root, url = server
    (root / "f.txt").write_text("hi")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    assert get_file(origin=url + "f.txt") == str(tmp_path / "home" / "datasets" / "f.txt")
    assert get_file(origin=url + "f.txt", cache_subdir=str(tmp_path / "abs")) == str(tmp_path / "abs" / "f.txt")


def test_hash_mismatch_leaves_nothing(server, tmp_path):
    root, url = server
    (root / "bad.bin").write_bytes(b"corrupt")
    with pytest.raises(ValueError, match="file hash does not match"):
        get_file("bad.bin", url + "bad.bin", file_hash="0" * 64, cache_dir=tmp_path)
    assert os.listdir(tmp_path / "datasets") == []


def test_cached_file_with_wrong_hash_is_fetched_again(server, tmp_path):
    root, url = server
    (root / "d.bin").write_bytes(b"new")
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "d.bin").write_bytes(b"old")
    path = get_file("d.bin", url + "d.bin", file_hash=hashlib.sha256(b"new").hexdigest(), cache_dir=tmp_path)
    assert open(path, "rb").read() == b"new"


@pytest.mark.parametrize("fname", ["pack", "pack.tar.gz", None])
def test_extract_paths_like_keras(server, tmp_path, fname):
    import keras

    root, url = server
    _tar(root / "pack.tar.gz", {"top/a.txt": b"A", "top/sub/b.txt": b"B"})
    (tmp_path / "b").mkdir()
    mine = get_file(fname, url + "pack.tar.gz", extract=True, cache_dir=tmp_path / "a")
    theirs = keras.utils.get_file(fname, url + "pack.tar.gz", extract=True, cache_dir=str(tmp_path / "b"))
    assert os.path.relpath(mine, tmp_path / "a") == os.path.relpath(theirs, tmp_path / "b")
    assert open(os.path.join(mine, "top", "sub", "b.txt")).read() == "B"
    listing = lambda d: sorted(os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs)  # noqa
    assert listing(mine) == listing(theirs)


def test_untar_and_zip(server, tmp_path):
    root, url = server
    _tar(root / "t.tgz", {"x.txt": b"X"})
    with zipfile.ZipFile(root / "z.zip", "w") as z:
        z.writestr("y.txt", "Y")
    out = get_file("t", url + "t.tgz", untar=True, cache_dir=tmp_path)
    assert open(os.path.join(out, "x.txt")).read() == "X"
    out = get_file("z", url + "z.zip", extract=True, cache_dir=tmp_path)
    assert open(os.path.join(out, "y.txt")).read() == "Y"


def test_path_traversal_is_skipped(server, tmp_path):
    root, url = server
    _tar(root / "evil.tar.gz", {"ok.txt": b"fine", "../escaped.txt": b"bad", "/abs.txt": b"bad"})
    with zipfile.ZipFile(root / "evil.zip", "w") as z:
        z.writestr("../zip_escaped.txt", "bad")
        z.writestr("good.txt", "ok")
    with pytest.warns(UserWarning, match="Skipping invalid path"):
        out = get_file("evil", url + "evil.tar.gz", extract=True, cache_dir=tmp_path)
    assert os.listdir(out) == ["ok.txt"]
    assert not (tmp_path / "datasets" / "escaped.txt").exists()
    with pytest.warns(UserWarning, match="Skipping invalid path"):
        out = get_file("evilz", url + "evil.zip", extract=True, cache_dir=tmp_path)
    assert os.listdir(out) == ["good.txt"] and not (tmp_path / "datasets" / "zip_escaped.txt").exists()


def test_symlink_out_of_archive_is_skipped(tmp_path):
    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("link")
        info.type, info.linkname = tarfile.SYMTYPE, "../../etc/passwd"
        tar.addfile(info)
    with pytest.warns(UserWarning, match="Skipping invalid path"):
        assert file_utils.extract_archive(archive, tmp_path / "out")
    assert os.listdir(tmp_path / "out") == []


def test_offline_error_names_target(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(OSError) as e:
        get_file("x.npz", f"http://127.0.0.1:{port}/x.npz", file_hash="a" * 64, cache_dir=tmp_path)
    msg = str(e.value)
    assert f"http://127.0.0.1:{port}/x.npz" in msg and str(tmp_path / "datasets" / "x.npz") in msg
    assert "a" * 64 in msg and os.listdir(tmp_path / "datasets") == []


@pytest.mark.parametrize("kwargs, err", [(dict(origin=None), "origin"), (dict(fname="a/b", origin="http://x/y"),
                                                                          "Paths are no longer accepted"),
                                         (dict(origin="http://x/y", hash_algorithm="sha1"), "hash_algorithm")])
def test_bad_arguments(tmp_path, kwargs, err):
    with pytest.raises(ValueError, match=err):
        get_file(cache_dir=tmp_path, **kwargs)


def test_signature_matches_keras():
    import inspect

    import keras

    assert str(inspect.signature(get_file)) == str(inspect.signature(keras.utils.get_file))
