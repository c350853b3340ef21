"""`get_file`: Keras's cached download with hash check and safe archive extraction.

The cache is Keras's (`$KERAS_HOME`, else `~/.keras`; `cache_subdir="datasets"`), laid out as Keras lays
it out, so a file Keras downloaded is found here and the other way round. Downloads go to a temporary
file beside the target and are moved into place only once complete and hash-checked (atomic), and a
failed download names the file and where to place it by hand.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile

from fkeras.runtime import io_utils
from fkeras.runtime.files import atomic_write
from fkeras.runtime.progbar import Progbar


def keras_home() -> str:
    """`$KERAS_HOME` if set, else `~/.keras` (Keras's rule)."""
    return os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))


def path_to_string(path):
    return os.fspath(path) if isinstance(path, os.PathLike) else path


# --- hashes ---------------------------------------------------------------------------------------
def resolve_hasher(algorithm, file_hash=None):
    """hashlib object for "sha256", "md5" or "auto" (a 64-hex-digit hash is sha256, else md5: Keras's rule)."""
    if algorithm not in ("auto", "sha256", "md5"):
        raise ValueError(f'hash_algorithm must be "auto", "sha256" or "md5"; got {algorithm!r}.')
    if algorithm == "sha256" or (algorithm == "auto" and file_hash is not None and len(file_hash) == 64):
        return hashlib.sha256()
    return hashlib.md5()


def hash_file(fpath, algorithm="sha256", chunk_size=65535):
    """Hex digest of the file at `fpath` ("sha256", "md5", "auto" or a hashlib object)."""
    hasher = resolve_hasher(algorithm) if isinstance(algorithm, str) else algorithm
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=65535) -> bool:
    """True when the file's sha256/md5 (per `algorithm`, "auto" by hash length) equals `file_hash`."""
    return str(hash_file(fpath, resolve_hasher(algorithm, file_hash), chunk_size)) == str(file_hash)


# --- archives -------------------------------------------------------------------------------------
def _inside(base_dir, relative):
    """The resolved path of `relative` under `base_dir` if it stays there, else None."""
    path = os.path.realpath(os.path.join(base_dir, relative))
    try:
        return path if os.path.commonpath([path, base_dir]) == base_dir else None
    except ValueError:
        return None


def _safe_members(members, base_dir, name_of):
    """Members whose paths (and link targets) stay inside `base_dir`; the others are skipped with a warning."""
    base_dir = os.path.realpath(base_dir)
    for m in members:
        name = name_of(m)
        ok = _inside(base_dir, name) is not None
        if ok and isinstance(m, tarfile.TarInfo) and (m.issym() or m.islnk()):
            if m.islnk():
                ok = _inside(base_dir, m.linkname) is not None
            else:
                dest = _inside(base_dir, name)
                ok = _inside(base_dir, os.path.join(os.path.dirname(os.path.relpath(dest, base_dir)), m.linkname)) \
                    is not None
        if ok and isinstance(m, tarfile.TarInfo) and (m.isdev() or m.isfifo()):
            ok = False
        if ok:
            yield m
        else:
            warnings.warn(f"Skipping invalid path during archive extraction: '{name}'.", stacklevel=3)


def extract_archive(file_path, path=".", archive_format="auto") -> bool:
    """Extract a tar (.tar, .tar.gz, .tar.bz2, ...) or zip archive into `path`, skipping members whose
    paths or links would land outside it. Returns True if the file was an archive of an accepted format.

    `archive_format`: "auto" (= ["tar", "zip"]), "tar", "zip", a list of them, or None (nothing).
    """
    if archive_format is None:
        return False
    if archive_format == "auto":
        archive_format = ["tar", "zip"]
    if isinstance(archive_format, str):
        archive_format = [archive_format]
    file_path, path = path_to_string(file_path), path_to_string(path)
    for kind in archive_format:
        if kind == "tar":
            is_match, opener = tarfile.is_tarfile, tarfile.open
        elif kind == "zip":
            is_match, opener = zipfile.is_zipfile, zipfile.ZipFile
        else:
            raise ValueError(f'archive_format entries must be "tar" or "zip"; got {kind!r}.')
        if not is_match(file_path):
            continue
        os.makedirs(path, exist_ok=True)
        with opener(file_path) as archive:
            try:
                if isinstance(archive, zipfile.ZipFile):
                    archive.extractall(path, members=list(_safe_members(archive.infolist(), path,
                                                                         lambda m: m.filename)))
                else:
                    kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                    archive.extractall(path, members=list(_safe_members(archive.getmembers(), path,
                                                                         lambda m: m.name)), **kwargs)
            except (tarfile.TarError, zipfile.BadZipFile, RuntimeError, KeyboardInterrupt):
                if os.path.isfile(path):
                    os.remove(path)
                elif os.path.isdir(path):
                    shutil.rmtree(path)
                raise
        return True
    return False


# --- download -------------------------------------------------------------------------------------
def _download(origin, target, file_hash, hash_algorithm):
    """Fetch `origin` into `target` through a temporary file in the same folder; replace only when complete
    and (with `file_hash`) verified, so an interrupted or corrupt download never leaves a partial file."""

    def verify(tmp):
        if file_hash is not None and not validate_file(tmp, file_hash, algorithm=hash_algorithm):
            raise ValueError(
                f"Incomplete or corrupted file detected. The {hash_algorithm} file hash does not match the "
                f"provided value of {file_hash} (downloaded from {origin}; not saved to {target}).")

    with atomic_write(target, ".download-", verify=verify) as out, \
            urllib.request.urlopen(origin, timeout=60) as response:
        total = response.headers.get("Content-Length")
        total = int(total) if total and total.isdigit() else None
        bar, done = _progbar(total), 0
        while block := response.read(1 << 20):
            out.write(block)
            done += len(block)
            if bar is not None:
                bar.update(min(done, total) if total else done)


def _progbar(total):
    if not io_utils.is_interactive_logging_enabled():
        return None
    return Progbar(total)


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None, cache_subdir="datasets",
             hash_algorithm="auto", extract=False, archive_format="auto", cache_dir=None, force_download=False):
    """Download `origin` into the Keras cache unless it is there already; returns the local path.

    The file lands at `<cache_dir>/<cache_subdir>/<fname>` (`cache_dir` defaults to `$KERAS_HOME` or
    `~/.keras`; an absolute `cache_subdir` is used as is; a `cache_dir` that does not exist yet is created,
    where Keras would fall back to `/tmp/.keras`). With `file_hash` (sha256 or md5, chosen by
    `hash_algorithm`, "auto" by its length) a cached file that does not match is downloaded again and a
    download that does not match raises ValueError. With `extract=True` (or `untar=True`) the archive is
    extracted (tar or zip, members that would escape the folder skipped) and the folder is returned, named
    as Keras names it (`fname` without extension, or `<fname>_extracted` when `fname` has one).

    Raises:
        ValueError: no `origin`, a path in `fname`, or a hash mismatch after download.
        OSError: the download failed; the message names the file and where to place it by hand.
    """
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download).')
    if cache_dir is None:
        cache_dir = keras_home()
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    resolve_hasher(hash_algorithm)  # reject a bad name before anything is written
    base = os.path.expanduser(path_to_string(cache_dir))
    if not os.access(base, os.W_OK) and os.path.exists(base):
        base = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    datadir = os.path.join(base, path_to_string(cache_subdir))
    os.makedirs(datadir, exist_ok=True)

    provided = fname
    fname = path_to_string(fname)
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(f"Can't parse the file name from the origin provided: '{origin}'. "
                             "Please specify the `fname` argument.")
    elif os.sep in fname:
        raise ValueError("Paths are no longer accepted as the `fname` argument. To specify the file's parent "
                         f"directory, use the `cache_dir` argument. Received: fname={fname}")

    if extract or untar:
        if provided and "." in fname:
            target = os.path.join(datadir, fname)
            extraction_dir = os.path.join(datadir, f"{fname[: fname.find('.')]}_extracted")
        else:
            extraction_dir = os.path.join(datadir, fname)
            target = os.path.join(datadir, f"{fname}_archive")
    else:
        target = os.path.join(datadir, fname)

    download = force_download or not os.path.exists(target)
    if not download and file_hash is not None and not validate_file(target, file_hash, algorithm=hash_algorithm):
        io_utils.print_msg(
            f"A local file was found, but it seems to be incomplete or outdated because the {hash_algorithm} "
            f"file hash does not match the original value of {file_hash} so we will re-download the data.")
        download = True

    if download:
        io_utils.print_msg(f"Downloading data from {origin}")
        try:
            _download(origin, target, file_hash, hash_algorithm)
        except (urllib.error.URLError, OSError) as e:
            reason = e.reason if isinstance(e, urllib.error.URLError) else e
            code = f"{e.code} " if isinstance(e, urllib.error.HTTPError) else ""
            raise OSError(
                f"URL fetch failure on {origin}: {code}{reason}. Without network, download {origin} "
                f"elsewhere and place it at {target}"
                + (f" (its hash must be {file_hash})" if file_hash else "") + "."
            ) from e

    if extract or untar:
        if untar:
            archive_format = "tar"
        if not extract_archive(target, extraction_dir, archive_format):
            warnings.warn("Could not extract archive.", stacklevel=2)
        return extraction_dir
    return target

