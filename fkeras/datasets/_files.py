"""Cached, checksummed, atomic file downloads into the Keras cache (`$KERAS_HOME/datasets`)."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request


def keras_home() -> str:
    """`$KERAS_HOME` if set, else `~/.keras` (Keras's rule)."""
    return os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))


def cache_path(fname: str, cache_subdir: str = "datasets") -> str:
    """Where `fname` lives: an absolute path as is, else `<keras_home>/<cache_subdir>/<fname>`."""
    fname = os.fspath(fname)
    if os.path.isabs(fname):
        return fname
    return os.path.join(keras_home(), cache_subdir, fname)


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def download(url: str, dest: str, sha256: str | None = None, timeout: float = 60.0) -> str:
    """Fetch `url` into `dest` atomically: a temp file in the same folder, checked, then `os.replace`.

    A checksum mismatch raises ValueError and leaves `dest` as it was.
    """
    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".download-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            while block := response.read(1 << 20):
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if sha256 is not None:
            got = file_sha256(tmp)
            if got != sha256:
                raise ValueError(f"Downloaded {url} has sha256 {got}, expected {sha256}; not saved to {dest}.")
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return dest
