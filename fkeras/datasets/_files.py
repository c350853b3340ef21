"""Cached, checksummed, atomic file downloads into the Keras cache (`$KERAS_HOME/datasets`)."""

from __future__ import annotations

import os
import urllib.request

from fkeras.runtime.files import atomic_write
from fkeras.utils.file_utils import hash_file, keras_home


def cache_path(fname: str, cache_subdir: str = "datasets") -> str:
    """Where `fname` lives: an absolute path as is, else `<keras_home>/<cache_subdir>/<fname>`."""
    fname = os.fspath(fname)
    if os.path.isabs(fname):
        return fname
    return os.path.join(keras_home(), cache_subdir, fname)


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    return hash_file(path, "sha256", chunk)


def download(url: str, dest: str, sha256: str | None = None, timeout: float = 60.0) -> str:
    """Fetch `url` into `dest` atomically: a temp file in the same folder, checked, then `os.replace`.

    A checksum mismatch raises ValueError and leaves `dest` as it was.
    """
    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)

    def verify(tmp):
        if sha256 is not None:
            got = file_sha256(tmp)
            if got != sha256:
                raise ValueError(f"Downloaded {url} has sha256 {got}, expected {sha256}; not saved to {dest}.")

    with atomic_write(dest, ".download-", verify=verify) as out, \
            urllib.request.urlopen(url, timeout=timeout) as response:
        while block := response.read(1 << 20):
            out.write(block)
    return dest
