"""The `.keras` zip container and `.weights.h5` files: safe reading, atomic writing.

A `.keras` file is a zip (entries stored, not compressed, like Keras 3) holding `metadata.json`,
`config.json` and `model.weights.h5`. The weights file has one group per saved object,
`<path>/vars` (attribute `name`), holding datasets `"0"`, `"1"`, ... in the object's weight order;
the model's own variables sit in the top-level `vars` group.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import tempfile
import zipfile

import numpy as np

CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"


def atomic_write_bytes(path, data: bytes) -> None:
    """Write `data` to `path` via a temp file in the same folder + fsync + `os.replace`.

    A crash at any point leaves either the old file or the new one, never a partial file.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_keras_zip(path, entries: dict) -> None:
    """Atomically write a zip with `entries` (name -> bytes), in order, stored uncompressed."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in entries.items():
            check_entry_name(name)
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    atomic_write_bytes(path, buf.getvalue())


def check_entry_name(name: str) -> None:
    """Refuse zip entry names that could escape an extraction folder."""
    if (not name or name.startswith(("/", "\\")) or "\\" in name or (len(name) > 1 and name[1] == ":")
            or any(part == ".." for part in name.split("/")) or "\x00" in name):
        raise ValueError(f"Refusing unsafe entry name {name!r} in the archive (absolute path or '..').")
    if posixpath.normpath(name).startswith(".."):
        raise ValueError(f"Refusing unsafe entry name {name!r} in the archive.")


def read_keras_zip(path) -> dict:
    """Entries of a `.keras` archive as name -> bytes; every name checked, CRCs verified.

    Raises ValueError for a file that is not a readable zip (truncated, corrupt), an unsafe
    entry name, or a missing `config.json`.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path}")
    try:
        with zipfile.ZipFile(path, "r") as zf:
            infos = zf.infolist()
            for info in infos:
                check_entry_name(info.filename)
            entries = {info.filename: zf.read(info) for info in infos if not info.is_dir()}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError) as e:
        raise ValueError(f"{path} is not a valid .keras archive (truncated or corrupt zip: {e}).") from e
    if CONFIG not in entries:
        raise ValueError(f"{path} is not a .keras archive: it has no {CONFIG} (entries: {sorted(entries)}).")
    return entries


def parse_json(data: bytes, what: str):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{what} is not valid JSON ({e}).") from e


# --- weights.h5 -------------------------------------------------------------------------------------
def write_weights_h5(groups) -> bytes:
    """HDF5 bytes for `groups`: an iterable of (path, name, [arrays]) in Keras's layout.

    `path` "" is the model itself (top-level `vars`); others get `<path>/vars`.
    """
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for path, name, arrays in groups:
            g = f.create_group(f"{path}/vars" if path else "vars")
            if name is not None:
                g.attrs["name"] = name
            for i, a in enumerate(arrays):
                a = np.asarray(a)
                if a.dtype.name == "bfloat16":
                    ds = g.create_dataset(str(i), data=a)
                    ds.attrs["dtype"] = "bfloat16"
                else:
                    g[str(i)] = a
    return buf.getvalue()


def read_weights_h5(source) -> dict:
    """`{path: [arrays]}` for every `vars` group of a weights file (bytes or path); path "" is the root.

    Raises ValueError when the file is not a readable HDF5 file or the layout is not Keras's.
    """
    import h5py

    where = "weights file" if isinstance(source, (bytes, bytearray)) else os.fspath(source)
    fileobj = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else os.fspath(source)
    out: dict = {}
    try:
        with h5py.File(fileobj, "r") as f:
            def visit(name, obj):
                if isinstance(obj, h5py.Group) and posixpath.basename(name) == "vars":
                    keys = list(obj.keys())
                    if not all(k.isdigit() for k in keys):
                        raise ValueError(f"{where}: group {name!r} holds non-indexed entries {keys}.")
                    arrays = []
                    for k in sorted(keys, key=int):
                        ds = obj[k]
                        if not isinstance(ds, h5py.Dataset):
                            raise ValueError(f"{where}: {name}/{k} is not a dataset.")
                        arr = ds[()]
                        if ds.attrs.get("dtype") == "bfloat16":
                            import ml_dtypes

                            arr = np.asarray(arr).view(ml_dtypes.bfloat16) if arr.dtype == np.uint16 else np.asarray(arr, ml_dtypes.bfloat16)
                        arrays.append(np.asarray(arr))
                    out[posixpath.dirname(name)] = arrays

            f.visititems(visit)
    except ValueError:
        raise
    except (OSError, KeyError, RuntimeError) as e:
        raise ValueError(f"{where} is not a readable Keras weights file (truncated or corrupt HDF5: {e}).") from e
    return out
