"""The `.keras` zip container and `.weights.h5` files: safe reading, atomic writing.

A `.keras` file is a zip (entries stored, not compressed, like Keras 3) holding `metadata.json`,
`config.json` and `model.weights.h5`, plus `assets/<path>/<file>` for objects that save assets (the
vocabulary of a lookup layer). The weights file has one group per saved object, `<path>/vars`
(attribute `name`), holding datasets `"0"`, `"1"`, ... in the object's weight order, or named
datasets (`idf_weights`) for objects whose `save_own_variables` names them; the model's own
variables sit in the top-level `vars` group.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import re
import time
import zipfile

import numpy as np

from fkeras.runtime.files import atomic_write

CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"
MEMBERS = (CONFIG, METADATA, WEIGHTS)  # the entries a `.keras` file is always read for; and assets:
ASSETS = "assets/"  # `assets/<object path>/<file>`: only those the model's objects load, bounded by max_assets_bytes
# a named dataset of a `vars` group: a variable name (`idf_weights`) or a torch state_dict key (`0.weight`,
# TorchModuleWrapper): dot-separated words, no empty segment (so no `..`), no `/`, no control characters, <= 255
_KEY_NAME = re.compile(r"(?=.{1,255}\Z)[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*\Z")


class KeyedArrays(list):
    """The arrays of a `vars` group whose datasets are named (`store["idf_weights"]`), with `keys`."""

    def __init__(self, arrays, keys):
        super().__init__(arrays)
        self.keys = list(keys)


class LoadLimits:
    """Bounds on what reading an untrusted `.keras` / `.weights.h5` file may make fkeras allocate.

    - `max_json_bytes`: size of `config.json` / `metadata.json` (default 64 MiB).
    - `max_json_depth`: nesting depth of those JSON documents (default 200).
    - `max_weights_bytes`: size of the weights file and, summed, of the arrays it declares (default 64 GiB).
    - `max_assets_bytes`: the `assets/` members of a `.keras` file, summed (default 1 GiB).
    - `max_compression_ratio`: a zip member's size over its compressed size, and an HDF5 dataset's
      size over the bytes it stores (default 100; Keras stores members uncompressed, ratio 1).
      Members and datasets under `ratio_exempt_bytes` (default 1 MiB) are not ratio-checked.

    Raise them for a file you trust: `fkeras.saving.set_load_limits(max_weights_bytes=2**40)` (returns the
    previous limits) or, for one block, `with fkeras.saving.load_limits(max_compression_ratio=1000): ...`.
    """

    __slots__ = ("max_json_bytes", "max_json_depth", "max_weights_bytes", "max_compression_ratio",
                 "ratio_exempt_bytes", "max_assets_bytes")

    def __init__(self, max_json_bytes=64 * 2**20, max_json_depth=200, max_weights_bytes=64 * 2**30,
                 max_compression_ratio=100.0, ratio_exempt_bytes=2**20, max_assets_bytes=2**30):
        self.max_assets_bytes = int(max_assets_bytes)
        self.max_json_bytes = int(max_json_bytes)
        self.max_json_depth = int(max_json_depth)
        self.max_weights_bytes = int(max_weights_bytes)
        self.max_compression_ratio = float(max_compression_ratio)
        self.ratio_exempt_bytes = int(ratio_exempt_bytes)
        for name in self.__slots__:
            if getattr(self, name) <= 0:
                raise ValueError(f"LoadLimits: expected {name} > 0, got {getattr(self, name)}.")

    def replace(self, **changes) -> "LoadLimits":
        unknown = set(changes) - set(self.__slots__)
        if unknown:
            raise TypeError(f"LoadLimits: unknown limit(s) {sorted(unknown)}; expected some of {list(self.__slots__)}.")
        values = {k: getattr(self, k) for k in self.__slots__}
        values.update({k: v for k, v in changes.items() if v is not None})
        return LoadLimits(**values)

    def __repr__(self):
        return "LoadLimits(" + ", ".join(f"{k}={getattr(self, k)}" for k in self.__slots__) + ")"


_limits = [LoadLimits()]


def get_load_limits() -> LoadLimits:
    """The limits in force (see `LoadLimits`)."""
    return _limits[-1]


def set_load_limits(**changes) -> LoadLimits:
    """Change the limits in force for every later load; returns the previous `LoadLimits`."""
    previous = _limits[-1]
    _limits[-1] = previous.replace(**changes)
    return previous


class load_limits:  # noqa: N801 - used as a context manager, like a function
    """`with load_limits(max_weights_bytes=...)`: other limits for the loads inside the block."""

    def __init__(self, **changes):
        self._limits = get_load_limits().replace(**changes)

    def __enter__(self):
        _limits.append(self._limits)
        return self._limits

    def __exit__(self, *exc):
        _limits.pop()
        return False


def _too_big(what: str, size: int, limit: int, name: str) -> ValueError:
    return ValueError(f"{what} is {size:,} bytes, over the limit of {limit:,} bytes ({name}); if you trust the "
                      f"file, raise it with fkeras.saving.set_load_limits({name}=...).")


def atomic_write_bytes(path, data: bytes) -> None:
    """Write `data` to `path` via a temp file in the same folder + fsync + `os.replace`.

    A crash at any point leaves either the old file or the new one, never a partial file; the
    temporary files a killed earlier save left beside `path` are removed by the next save to it.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    _check_folder(folder, path)
    os.makedirs(folder, exist_ok=True)
    prefix = f".{os.path.basename(path)}."
    _remove_orphans(folder, prefix)
    with atomic_write(path, prefix, ".tmp") as f:
        f.write(data)


def _check_folder(folder: str, path: str) -> None:
    """A clear error when a parent of `path` exists as a regular file (or `path` is a folder)."""
    probe = folder
    while probe and not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if probe and not os.path.isdir(probe):
        raise NotADirectoryError(f"Cannot save to {path}: {probe} is a file, not a folder.")
    if os.path.isdir(path):
        raise IsADirectoryError(f"Cannot save to {path}: it is a folder; give a file path.")


def _remove_orphans(folder: str, prefix: str) -> None:
    """Delete `<prefix>*.tmp` files (temporaries of killed saves to the same path) older than a minute,
    so a save running now in another process keeps its own."""
    now = time.time()
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name.startswith(prefix) and name.endswith(".tmp"):
            full = os.path.join(folder, name)
            try:
                if now - os.path.getmtime(full) > 60:
                    os.remove(full)
            except OSError:
                pass


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
    """The entries of a `.keras` archive that the format defines (`MEMBERS`), as name -> bytes.

    Every entry name is checked; other entries (assets, anything else) are not decompressed here (the
    assets a model asks for are read by `read_keras_assets`). Before a member is read, its declared
    size and compression ratio are checked against `get_load_limits()`, and reading stops at the
    declared size (CRCs verified).

    Raises ValueError for a file that is not a readable zip (truncated, corrupt), an unsafe entry
    name, a member over a limit, or a missing `config.json`.
    """
    entries, infos = _read_members(path, lambda name: name in MEMBERS)
    if CONFIG not in entries:
        raise ValueError(f"{path} is not a .keras archive: it has no {CONFIG} (entries: "
                         f"{sorted(i.filename for i in infos)[:20]}).")
    return entries


def read_keras_assets(path, prefixes) -> dict:
    """The files directly under the `assets/<path>/` folders in `prefixes` (e.g. `assets/layers/string_lookup/`),
    as name -> bytes: only those are decompressed, their sum bounded by `max_assets_bytes`, each one's
    compression ratio checked, every entry name of the archive checked first."""
    prefixes = tuple(prefixes)

    def wanted(name):
        return any(name.startswith(p) and "/" not in name[len(p):] for p in prefixes)

    return _read_members(path, wanted)[0]


def _read_members(path, wanted):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path}")
    limits = get_load_limits()
    try:
        with zipfile.ZipFile(path, "r") as zf:
            infos = zf.infolist()
            for info in infos:
                check_entry_name(info.filename)
            entries = {}
            assets_total = 0
            for info in infos:
                if info.is_dir() or not wanted(info.filename):
                    continue
                if info.filename in entries:
                    raise ValueError(f"{path} holds two entries named {info.filename!r}.")
                if info.filename.startswith(ASSETS):
                    assets_total += info.file_size
                    if assets_total > limits.max_assets_bytes:
                        raise _too_big(f"{path}: its assets", assets_total, limits.max_assets_bytes,
                                       "max_assets_bytes")
                _check_member(path, info, limits)
                with zf.open(info) as f:
                    data = f.read(info.file_size + 1)
                if len(data) != info.file_size:
                    raise ValueError(f"{path}:{info.filename} holds {len(data):,} bytes but declares "
                                     f"{info.file_size:,}.")
                entries[info.filename] = data
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError) as e:
        raise ValueError(f"{path} is not a valid .keras archive (truncated or corrupt zip: {e}).") from e
    return entries, infos


def _check_member(path, info, limits: LoadLimits) -> None:
    what = f"{path}:{info.filename}"
    if info.filename == WEIGHTS:
        if info.file_size > limits.max_weights_bytes:
            raise _too_big(what, info.file_size, limits.max_weights_bytes, "max_weights_bytes")
    elif info.filename.startswith(ASSETS):
        pass  # bounded by max_assets_bytes, summed by the caller
    elif info.file_size > limits.max_json_bytes:
        raise _too_big(what, info.file_size, limits.max_json_bytes, "max_json_bytes")
    if info.file_size > limits.ratio_exempt_bytes:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_compression_ratio:
            raise ValueError(f"{what} expands {ratio:,.0f}x ({info.compress_size:,} -> {info.file_size:,} bytes), over "
                             f"the limit of {limits.max_compression_ratio:g}x (max_compression_ratio): it looks like "
                             "a zip bomb. If you trust the file, raise it with "
                             "fkeras.saving.set_load_limits(max_compression_ratio=...).")


def parse_json(data: bytes, what: str):
    """Parse a JSON document of the archive; ValueError when it is not JSON or nests deeper than
    `max_json_depth`."""
    limits = get_load_limits()
    if len(data) > limits.max_json_bytes:
        raise _too_big(what, len(data), limits.max_json_bytes, "max_json_bytes")
    try:
        value = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ValueError(f"{what} nests too deeply to parse (limit max_json_depth={limits.max_json_depth}).") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{what} is not valid JSON ({e}).") from e
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.max_json_depth:
            raise ValueError(f"{what} nests deeper than {limits.max_json_depth} levels (max_json_depth); if you "
                             "trust the file, raise it with fkeras.saving.set_load_limits(max_json_depth=...).")
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return value


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
            keys = arrays.keys if isinstance(arrays, KeyedArrays) else [str(i) for i in range(len(arrays))]
            for i, a in zip(keys, arrays):
                a = np.asarray(a)
                if a.dtype.name == "bfloat16":
                    ds = g.create_dataset(str(i), data=a)
                    ds.attrs["dtype"] = "bfloat16"
                else:
                    g[str(i)] = a
    return buf.getvalue()


def read_weights_h5(source) -> dict:
    """`{path: [arrays]}` for every `vars` group of a weights file (bytes or path); path "" is the root.

    The file is untrusted input: only hard-linked groups and numeric datasets stored inside the file
    are read. Soft and external links, datasets with external storage, virtual datasets and any other
    HDF5 object are refused before anything is read, and so is a dataset that declares more bytes
    than it stores (by more than `max_compression_ratio`) or a file whose arrays sum past
    `max_weights_bytes`.

    Raises ValueError when the file is not a readable HDF5 file, holds such an object, or the layout
    is not Keras's.
    """
    import h5py

    where = "weights file" if isinstance(source, (bytes, bytearray)) else os.fspath(source)
    fileobj = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else os.fspath(source)
    limits = get_load_limits()
    out: dict = {}
    try:
        with h5py.File(fileobj, "r") as f:
            datasets = _checked_tree(f, where, limits, h5py)
            for name, keys in datasets.items():
                named = not all(k.isdigit() for k in keys)
                if named and not all(_KEY_NAME.match(k) for k in keys):
                    raise ValueError(f"{where}: group {name!r} holds entries {sorted(keys)[:20]}; expected indices "
                                     "('0', '1', ...) or variable names.")
                arrays = []
                order = list(keys) if named else sorted(keys, key=int)
                for k in order:
                    ds = f[f"{name}/{k}"]
                    arr = ds[()]
                    if ds.attrs.get("dtype") == "bfloat16":
                        import ml_dtypes

                        arr = np.asarray(arr).view(ml_dtypes.bfloat16) if arr.dtype == np.uint16 else np.asarray(arr, ml_dtypes.bfloat16)
                    arrays.append(np.asarray(arr))
                out[posixpath.dirname(name)] = KeyedArrays(arrays, order) if named else arrays
    except ValueError:
        raise
    except (OSError, KeyError, RuntimeError) as e:
        raise ValueError(f"{where} is not a readable Keras weights file (truncated or corrupt HDF5: {e}).") from e
    return out


def _checked_tree(f, where, limits: LoadLimits, h5py) -> dict:
    """`{vars group path: [dataset keys]}`, after checking every link and object of the file."""
    found: dict = {}
    total = 0
    pending = [("", f)]
    while pending:
        prefix, group = pending.pop()
        for key in group.keys():
            name = f"{prefix}/{key}" if prefix else key
            link = group.get(key, getlink=True)
            if not isinstance(link, h5py.HardLink):
                kind = "an external link" if isinstance(link, h5py.ExternalLink) else "a soft link"
                raise ValueError(f"{where}: {name!r} is {kind}; a weights file may only hold its own groups and "
                                 "datasets (links could read other files on this machine), so it is refused.")
            obj = group[key]
            if isinstance(obj, h5py.Group):
                pending.append((name, obj))
                continue
            if not isinstance(obj, h5py.Dataset):
                raise ValueError(f"{where}: {name!r} is a {type(obj).__name__}, not a group or dataset; refused.")
            if obj.external:
                raise ValueError(f"{where}: dataset {name!r} keeps its data in an external file "
                                 f"({obj.external[0][0]!r}); refused (it would read a file of this machine).")
            if obj.is_virtual:
                raise ValueError(f"{where}: dataset {name!r} is a virtual dataset (it maps other files); refused.")
            if obj.dtype.kind not in "biufc":
                raise ValueError(f"{where}: dataset {name!r} has dtype {obj.dtype}; expected numbers.")
            nbytes = int(np.prod(obj.shape, dtype=np.float64)) * obj.dtype.itemsize if obj.shape is not None else 0
            stored = obj.id.get_storage_size()
            if nbytes > limits.ratio_exempt_bytes and nbytes > stored * limits.max_compression_ratio:
                raise ValueError(f"{where}: dataset {name!r} declares shape {obj.shape} ({nbytes:,} bytes) but stores "
                                 f"{stored:,} bytes, over the max_compression_ratio of "
                                 f"{limits.max_compression_ratio:g}; refused. If you trust the file, raise it with "
                                 "fkeras.saving.set_load_limits(max_compression_ratio=...).")
            total += nbytes
            if total > limits.max_weights_bytes:
                raise _too_big(f"{where}: its arrays", total, limits.max_weights_bytes, "max_weights_bytes")
        if posixpath.basename(prefix) == "vars":
            keys = list(group.keys())
            for key in keys:
                if not isinstance(group[key], h5py.Dataset):
                    raise ValueError(f"{where}: {prefix}/{key} is not a dataset.")
            found[prefix] = keys
    return found
