"""`KerasFileEditor` (Keras 3.15's `keras.saving.KerasFileEditor`): inspect, edit and resave the weights of
a `.keras` or `.weights.h5` file, e.g. to adapt an old file after changing a model's architecture.

    editor = KerasFileEditor("model.keras")
    editor.summary()                                  # the weights tree
    editor.compare(model)                             # {'status', 'error_count', 'match_count'}
    editor.delete_object("layers/dense_2")
    editor.add_object("layers/einsum_dense", weights={"0": kernel, "1": bias})
    editor.save("edited.weights.h5")

The file is untrusted input: it is read by `fkeras.saving.archive` (zip entry names, sizes, compression
ratios and JSON depth bounded; HDF5 links, external storage and non-numeric datasets refused), so the
editor holds only what a load would read. `weights_dict` is Keras's view of the file: nested dicts by
path, an object's own variables as `{"0": array, ...}` (an object that has its own `vars` is shown with
those only, as Keras shows it).
"""

from __future__ import annotations

import io
import os
import posixpath

import numpy as np

from fkeras.saving import archive
from fkeras.saving import saving_lib

_MAX_NAME_ATTR = 1024  # longest object name read from a group's attributes


def _sorted_keys(d):
    return sorted(d, key=lambda k: k.encode("utf-8"))  # HDF5's order for groups without creation order


def _check_weights_arg(weights):
    if not isinstance(weights, dict):
        raise ValueError("Argument `weights` should be a dict where keys are weight names (usually '0', '1', etc.) "
                         f"and values are NumPy arrays. Received: type(weights)={type(weights)}")
    out = {}
    for name, value in weights.items():
        if not isinstance(name, str) or not name or "/" in name or name == "vars":
            raise ValueError(f"Weight names must be non-empty strings without '/' (e.g. '0', '1'); got {name!r}.")
        arr = np.asarray(value)
        if arr.dtype.kind not in "biufc":
            raise ValueError(f"Weight {name!r} must be a numeric array; got dtype {arr.dtype}.")
        out[name] = arr
    return out


class KerasFileEditor:
    """Inspect, edit and resave the weights of a `.keras` or `.weights.h5` file (see the module docstring).

    Attributes: `filepath`, `config` and `metadata` (a `.keras` file's JSON documents, else None),
    `weights_dict` (the weights by path) and `object_metadata` (`{"/layers/dense": {"name": "dense"}}`).
    """

    def __init__(self, filepath):
        self.filepath = os.fspath(filepath)
        self.metadata = None
        self.config = None
        self.model = None
        path = str(self.filepath)
        if path.endswith(".keras"):
            entries = archive.read_keras_zip(path)
            self.config = archive.parse_json(entries[archive.CONFIG], f"{path}:{archive.CONFIG}")
            if archive.METADATA in entries:
                self.metadata = archive.parse_json(entries[archive.METADATA], f"{path}:{archive.METADATA}")
            if archive.WEIGHTS not in entries:
                raise ValueError(f"{path} holds no {archive.WEIGHTS}.")
            source = entries[archive.WEIGHTS]
        elif path.endswith(".weights.h5"):
            if not os.path.exists(path):
                raise FileNotFoundError(f"No such file: {path}")
            source = path
        else:
            raise ValueError(f"Invalid filename: expected a `.keras` `.weights.h5` extension. Received: filepath={path}")
        groups = archive.read_weights_h5(source)  # every check of a load happens here, before anything else
        names = self._group_names(source, groups)
        self.weights_dict, self.object_metadata = self._nest(groups, names)
        print(f"Keras model file '{self.filepath}'")
        if isinstance(self.metadata, dict) and "keras_version" in self.metadata:
            print(f"Saved with Keras {self.metadata['keras_version']} - date: {self.metadata.get('date_saved')}")

    # -- reading -------------------------------------------------------------------------------
    @staticmethod
    def _group_names(source, groups):
        """`{object path: name}` from the `name` attribute of each `vars` group (the file already passed
        `archive.read_weights_h5`'s checks, so only those groups are opened)."""
        import h5py

        fileobj = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
        names = {}
        with h5py.File(fileobj, "r") as f:
            for path in groups:
                attrs = f[f"{path}/vars" if path else "vars"].attrs
                name = attrs.get("name") if "name" in attrs else None
                if isinstance(name, bytes):
                    name = name.decode("utf-8", "replace")
                if isinstance(name, str) and len(name) <= _MAX_NAME_ATTR:
                    names[path] = name
        return names

    @staticmethod
    def _nest(groups, names):
        """Keras's `weights_dict` from `{object path: arrays}`: groups nest by path; an object's datasets are
        its entries; an object with a non-empty `vars` shows only those, one with an empty `vars` is
        left out (its sub-objects with it); the model's own variables appear under "vars"."""
        tree: dict = {}
        for path, arrays in groups.items():
            keys = arrays.keys if isinstance(arrays, archive.KeyedArrays) else [str(i) for i in range(len(arrays))]
            node = tree
            parts = ["vars"] if path == "" else path.split("/")
            for part in parts:
                node = node.setdefault(part, {})
            node["\0own"] = dict(zip(keys, arrays))
        metadata = {}

        def build(node, path):
            out = {}
            for key in _sorted_keys([k for k in node if k != "\0own"]):
                child, where = node[key], f"{path}/{key}"
                if "\0own" in child:  # an object: its own variables only
                    own = child["\0own"]
                    if own:
                        out[key] = {k: own[k] for k in _sorted_keys(own)}
                        name = names.get("" if where == "/vars" else where[1:])
                        if name is not None:
                            metadata[where] = {"name": name}
                    continue
                out[key] = build(child, where)
            return out

        return build(tree, ""), metadata

    # -- display -------------------------------------------------------------------------------
    def summary(self):
        """Print the weights structure of the opened file."""
        print("Weights structure")
        self._print_tree(self.weights_dict, prefix="  ")

    def weights_summary(self):
        """The same as `summary()` (the name Keras's error messages point to)."""
        self.summary()

    def _print_tree(self, node, prefix, first=True):
        items = list(node.items())
        for i, (key, value) in enumerate(items):
            last = i == len(items) - 1
            if first:
                connector, first = "> ", False
            else:
                connector = "└─ " if last else "├─ "
            if isinstance(value, dict):
                print(f"{prefix}{connector}{key}")
                first = self._print_tree(value, prefix + ("    " if last else "│   "), first)
            else:
                print(f"{prefix}{connector}{key}: shape={value.shape}, dtype={value.dtype}")
        return first

    # -- comparing with a model ---------------------------------------------------------------
    @staticmethod
    def _model_spec(model):
        """The weights a save of `model` writes, nested like `weights_dict` (shapes only)."""

        spec: dict = {}
        for path, _, arrays in saving_lib.weight_groups(model):
            if not len(arrays):
                continue
            keys = arrays.keys if isinstance(arrays, archive.KeyedArrays) else [str(i) for i in range(len(arrays))]
            node = spec
            for part in (["vars"] if path == "" else path.split("/")):
                node = node.setdefault(part, {})
            node.update({k: np.shape(a) for k, a in zip(keys, arrays)})
        return spec

    def compare(self, reference_model):
        """Compare the file with `reference_model` (what saving it would write): print each missing object,
        missing weight and shape mismatch, both ways. Returns `{"status": "success" | "error",
        "error_count", "match_count"}`; `match_count` counts each matching weight once (Keras 3.15
        counts weights under nested objects more than once)."""
        print("Running comparison")
        ref = self._model_spec(reference_model)
        checked: set = set()
        errors = [0]

        def walk(target, spec, path, target_name, ref_name):
            matches = 0
            for key, value in spec.items():
                where = f"{path}/{key}"
                if where in checked:
                    continue
                if key not in target:
                    errors[0] += 1
                    checked.add(where)
                    if isinstance(value, dict):
                        print(f"...Object {where} present in {ref_name}, missing from {target_name}")
                        print(f"    In {ref_name}, {where} contains the following keys: {list(value.keys())}")
                    else:
                        print(f"...Weight {where} present in {ref_name}, missing from {target_name}")
                elif isinstance(value, dict) or isinstance(target[key], dict):
                    if isinstance(value, dict) and isinstance(target[key], dict):
                        matches += walk(target[key], value, where, target_name, ref_name)
                    else:
                        errors[0] += 1
                        checked.add(where)
                        print(f"...{where} is an object in one and a weight in the other")
                else:
                    got, want = tuple(target[key]), tuple(value)  # both sides hold shapes
                    if got != want:
                        errors[0] += 1
                        checked.add(where)
                        print(f"...Weight shape mismatch for {where}\n    In {ref_name}: shape={want}\n"
                              f"    In {target_name}: shape={got}")
                    else:
                        matches += 1
            return matches

        shapes = _shapes(self.weights_dict)
        match_count = walk(shapes, ref, "", "saved file", "reference model")
        walk(ref, shapes, "", "reference model", "saved file")
        print("─────────────────────")
        if errors[0] == 0:
            print("Comparison successful: saved file is compatible with the reference model")
            print(f"    Found {match_count} matching weight{'' if match_count == 1 else 's'}")
        else:
            print(f"Found {errors[0]} error{'' if errors[0] == 1 else 's'}: saved file is not compatible with the "
                  "reference model")
        return {"status": "success" if errors[0] == 0 else "error", "error_count": errors[0],
                "match_count": match_count}

    # -- editing -------------------------------------------------------------------------------
    def _parent_of(self, parts, shown):
        """The dict of `weights_dict` reached by the path `parts[:-1]` (where `parts[-1]` lives); a missing
        step raises "Path '<shown>' not found in model."."""
        node = self.weights_dict
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ValueError(f"Path '{shown}' not found in model.")
            node = node[part]
        return node

    def _edit_object(self, edit_fn, source_name, target_name=None):
        if not isinstance(source_name, str) or not source_name:
            raise ValueError(f"Expected an object name or path (a non-empty string), got {source_name!r}.")
        if target_name is not None and (not isinstance(target_name, str) or "/" in target_name or not target_name):
            raise ValueError("Argument `target_name` should be a leaf name, not a full path name. "
                             f"Received: target_name={target_name!r}")
        if "/" in source_name:
            parts = source_name.split("/")
            node = self._parent_of(parts, source_name)
            if parts[-1] not in node:
                raise ValueError(f"Path '{source_name}' not found in model.")
            edit_fn(node, parts[-1], target_name)
            return
        owners = []

        def find(node):
            for value in node.values():
                if isinstance(value, dict):
                    find(value)
            if source_name in node:
                owners.append(node)

        find(self.weights_dict)
        if len(owners) > 1:
            raise ValueError(f"Name '{source_name}' occurs more than once in the model; try passing a complete path")
        if not owners:
            raise ValueError(f"Source name '{source_name}' does not appear in the model. Use "
                             "`editor.weights_summary()` to list all objects.")
        edit_fn(owners[0], source_name, target_name)

    def rename_object(self, object_name, new_name):
        """Rename an object (e.g. a layer): `object_name` a name (`"dense_2"`) or a path (`"layers/dense_2"`)."""

        def rename(node, source, target):
            if target in node and target != source:
                raise ValueError(f"Cannot rename '{object_name}' to '{target}': that name already exists there.")
            node[target] = node.pop(source)

        self._edit_object(rename, object_name, new_name)

    def delete_object(self, object_name):
        """Remove an object (e.g. a layer) by name or path."""
        self._edit_object(lambda node, source, target: node.pop(source), object_name)

    def add_object(self, object_path, weights):
        """Add a new object at `object_path` (e.g. `"layers/dense_2"`) with `weights` (`{"0": kernel, ...}`)."""
        weights = _check_weights_arg(weights)
        if not isinstance(object_path, str) or not object_path or object_path.startswith("/") \
                or "" in object_path.split("/"):
            raise ValueError(f"Expected an object path like 'layers/dense_2', got {object_path!r}.")
        parts = object_path.split("/")
        self._parent_of(parts, "/".join(parts[:-1]))[parts[-1]] = weights

    def delete_weight(self, object_name, weight_name):
        """Remove the weight `weight_name` (e.g. `"0"`) from an object (by name or path)."""

        def delete(node, source, target):
            if not isinstance(node[source], dict) or weight_name not in node[source]:
                found = list(node[source].keys()) if isinstance(node[source], dict) else []
                raise ValueError(f"Weight {weight_name} not found in object {object_name}. Weights found: {found}")
            node[source].pop(weight_name)

        self._edit_object(delete, object_name)

    def add_weights(self, object_name, weights):
        """Add weights (`{"2": array, ...}`) to an existing object (by name or path)."""
        weights = _check_weights_arg(weights)

        def add(node, source, target):
            if not isinstance(node[source], dict):
                raise ValueError(f"'{object_name}' is a weight, not an object.")
            node[source].update(weights)

        self._edit_object(add, object_name)

    # -- writing -------------------------------------------------------------------------------
    def save(self, filepath):
        """Write the edited weights to a `.weights.h5` file (atomically), laid out as Keras writes it."""
        filepath = str(os.fspath(filepath))
        if not filepath.endswith(".weights.h5"):
            raise ValueError(f"Invalid `filepath` argument: expected a `.weights.h5` extension. Received: "
                             f"filepath={filepath}")
        groups = []

        def collect(node, path):
            own = {k: v for k, v in node.items() if not isinstance(v, dict)}
            for key, value in node.items():
                if isinstance(value, dict) and value:
                    collect(value, posixpath.join(path, key))
            if own:
                groups.append((path, None, archive.KeyedArrays([np.asarray(v) for v in own.values()], list(own))))

        collect(self.weights_dict, "")
        archive.atomic_write_bytes(filepath, archive.write_weights_h5(groups))

    def resave_weights(self, filepath):
        """The same as `save(filepath)`."""
        self.save(filepath)


def _shapes(node):
    return {k: _shapes(v) if isinstance(v, dict) else tuple(np.shape(v)) for k, v in node.items()}
