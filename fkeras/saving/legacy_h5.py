"""Keras's legacy HDF5 weights (`.h5` / `.hdf5`): the layout of Keras 2's `save_weights` and of the
weight files `keras.applications` downloads, which Keras 3.15's `load_weights` still reads.

Layout: the root (or its `model_weights` group, in a whole-model `.h5`) lists `layer_names` (an
attribute, split into `layer_names0`, `layer_names1`, ... when long); each layer's group lists its
`weight_names` in legacy order (`trainable_weights + non_trainable_weights`), one dataset each.

    load_weights(model, "resnet50_weights_tf_dim_ordering_tf_kernels.h5")       # by layer order
    load_weights(model, "old.h5", by_name=True, skip_mismatch=True)             # by layer name
    save_weights(model, "for_keras2.h5")                                        # the same layout

Loading matches Keras 3.15's rules (`keras.src.legacy.saving.legacy_h5_format`): by order, the
model's layers with weights pair with the file's layers that list weights; by name, every model
layer of a name in the file takes that group and the other layers are left alone. A weight of the
wrong shape is an error, or a warning and left as it is with `skip_mismatch=True`. Every count and
shape is checked before any weight is written. The file is untrusted input and is checked as a
`.weights.h5` file is (no links, no external storage, sizes bounded: `fkeras.saving.LoadLimits`).
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from fkeras import __version__
from fkeras.saving import archive

__all__ = ["is_legacy_h5_path", "load_weights", "save_weights"]

_TOP = "top_level_model_weights"
# HDF5 keeps an object's attributes in its 64 KiB header; Keras splits longer name lists in chunks.
_HEADER_LIMIT = 64512


def is_legacy_h5_path(filepath) -> bool:
    """True for a `.h5` / `.hdf5` path that is not a Keras 3 `.weights.h5` file."""
    path = os.fspath(filepath)
    return path.endswith((".h5", ".hdf5")) and not path.endswith(".weights.h5")


def _legacy_weights(layer):
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def _names(group, name):
    """The attribute `name` of `group` as a list of str (joined from `name0`, `name1`, ... if chunked)."""
    if name in group.attrs:
        raw = list(group.attrs[name])
    else:
        raw, i = [], 0
        while f"{name}{i}" in group.attrs:
            raw.extend(group.attrs[f"{name}{i}"])
            i += 1
    return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in raw]


def _read(filepath):
    """`[(layer name, [arrays])]` in the file's `layer_names` order, plus the top-level arrays (or None)."""
    import h5py

    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such weights file: {path}")
    try:
        with h5py.File(path, "r") as f:
            archive._checked_tree(f, path, archive.get_load_limits(), h5py)
            group = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f else f
            layer_names = _names(group, "layer_names")
            if not layer_names and "layer_names0" not in group.attrs and "layer_names" not in group.attrs:
                raise ValueError(
                    f"{path} is not a Keras legacy weights file: expected a 'layer_names' attribute at its root or "
                    f"in its 'model_weights' group; found attributes {sorted(group.attrs.keys())}.")

            def arrays(name):
                if name not in group or not isinstance(group[name], h5py.Group):
                    raise ValueError(f"{path}: 'layer_names' lists {name!r}, but the file has no such group.")
                g = group[name]
                return [np.asarray(g[w][()]) for w in _names(g, "weight_names")]

            layers = [(name, arrays(name)) for name in layer_names]
            top = arrays(_TOP) if _TOP in group else None
    except (OSError, KeyError) as e:
        raise ValueError(f"{path} is not a readable Keras legacy weights file ({e}).") from e
    return layers, top


def _plan(layer, arrays, where, skip_mismatch):
    """The layer's new arrays in `layer.weights` order; a mismatched shape raises or keeps the current value."""
    variables = _legacy_weights(layer)
    current = dict(zip(map(id, layer.weights), layer.get_weights()))
    new = dict(current)
    for v, a in zip(variables, arrays):
        if tuple(v.shape) != tuple(a.shape):
            message = (f"Shape mismatch in {where} for weight {v.path}. Weight expects shape {tuple(v.shape)}. "
                       f"Received saved weight with shape {tuple(a.shape)}")
            if not skip_mismatch:
                raise ValueError(message)
            warnings.warn("Skipping loading weights: " + message, stacklevel=3)
            continue
        new[id(v)] = a
    return [new[id(v)] for v in layer.weights]


def load_weights(model, filepath, skip_mismatch=False, by_name=False):
    """Load a legacy `.h5` weights file into `model` (Keras 3.15's `load_weights` on a `.h5` path).

    By order (default): the i-th model layer with weights takes the i-th file layer that lists weights;
    the counts of layers and of each layer's weights must agree. `by_name=True`: each file layer goes
    to the model layers of the same name; layers the file does not name keep their weights, and a layer
    whose weight count differs is an error (a warning and skipped with `skip_mismatch=True`).
    """
    file_layers, top = _read(filepath)
    path = os.fspath(filepath)
    plan = []
    if by_name:
        index: dict = {}
        for layer in model.layers:
            index.setdefault(layer.name, []).append(layer)
        for k, (name, arrays) in enumerate(file_layers):
            for layer in index.get(name, []):
                expected = len(_legacy_weights(layer))
                if expected != len(arrays):
                    message = (f"Weight count mismatch for layer #{k} (named {layer.name}) in {path}. Layer "
                               f"expects {expected} weight(s). Received {len(arrays)} saved weight(s)")
                    if skip_mismatch:
                        warnings.warn("Skipping loading of weights: " + message, stacklevel=2)
                        continue
                    raise ValueError(message)
                plan.append((layer, _plan(layer, arrays, f"layer #{k} (named {layer.name})", skip_mismatch)))
    else:
        own = [layer for layer in model.layers if _legacy_weights(layer)]
        saved = [(name, arrays) for name, arrays in file_layers if arrays]
        if len(own) != len(saved):
            raise ValueError(
                f"Layer count mismatch when loading weights from {path}. Model '{model.name}' expected "
                f"{len(own)} layers with weights, found {len(saved)} saved layers with weights.")
        for k, (layer, (name, arrays)) in enumerate(zip(own, saved)):
            expected = len(_legacy_weights(layer))
            if expected != len(arrays):
                raise ValueError(
                    f"Weight count mismatch for layer #{k} (named {layer.name} in the current model, {name} in the "
                    f"save file {path}). Layer expects {expected} weight(s). Received {len(arrays)} saved weight(s)")
            plan.append((layer, _plan(layer, arrays, f"layer #{k} (named {layer.name})", skip_mismatch)))
    if top:  # a Functional/Sequential model owns no weights outside its layers
        message = (f"Weight count mismatch for top-level weights of model '{model.name}' in {path}. Model expects 0 "
                   f"top-level weight(s). Received {len(top)} saved top-level weight(s)")
        if not (by_name and skip_mismatch):
            raise ValueError(message)
        warnings.warn("Skipping loading top-level weights: " + message, stacklevel=2)
    for layer, arrays in plan:
        layer.set_weights(arrays)


def _write_names(group, name, names):
    encoded = [n.encode("utf8") for n in names]
    data = np.asarray(encoded)
    if data.nbytes <= _HEADER_LIMIT:
        group.attrs[name] = encoded
        return
    chunks = 1
    while any(c.nbytes > _HEADER_LIMIT for c in np.array_split(data, chunks)):
        chunks += 1
    for i, chunk in enumerate(np.array_split(data, chunks)):
        group.attrs[f"{name}{i}"] = chunk


def save_weights(model, filepath, overwrite=True):
    """Write `model`'s weights as a legacy `.h5` file (the layout Keras 2 wrote and Keras 3.15 reads:
    one group per layer, sorted by name, weights in `trainable + non_trainable` order)."""
    import h5py

    path = os.fspath(filepath)
    if not is_legacy_h5_path(path):
        raise ValueError(f"Expected a path ending in '.h5' or '.hdf5' (not '.weights.h5'); received {path!r}.")
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists and overwrite=False.")
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with h5py.File(tmp, "w") as f:
            _write_names(f, "layer_names", [layer.name for layer in model.layers])
            f.attrs["backend"] = b"jax"
            f.attrs["keras_version"] = str(__version__).encode("utf8")
            for layer in sorted(model.layers, key=lambda layer: layer.name):
                g = f.create_group(layer.name)
                variables = _legacy_weights(layer)
                names = [v.path for v in variables]
                _write_names(g, "weight_names", names)
                for name, v in zip(names, variables):
                    g.create_dataset(name, data=np.asarray(v))
            _write_names(f.create_group(_TOP), "weight_names", [])
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
