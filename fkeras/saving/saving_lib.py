"""`.keras` archives and `.weights.h5` files, laid out exactly as Keras 3.15 writes them.

Weights are found by walking the model like Keras's `saving_lib`: a Sequential/Functional model
first saves `layers` (a list: each layer under `layers/<snake_case_class>[_N]`), then every public
attribute in sorted order (private ones last); a layer reached twice is saved once, at its first
path. Each object saves its OWN variables under `<path>/vars/<i>`; the compiled optimizer saves
under `optimizer/vars` (iterations, learning rate, then its slots).

The walk is duck-typed: objects that are instances of the root model's `Layer` base class are
layers; an object's own variables come from `save_own_variables(store)` when it has one (Keras's
protocol), else from its `weights` minus its sub-layers' weights. Loading reads and checks the whole
file first and only then assigns (`load_own_variables`, or one `set_weights` on the model), so a
bad file leaves the model untouched.

Assets (Keras's `save_assets(dir)` / `load_assets(dir)`, e.g. a lookup layer's `vocabulary.txt`) are
stored as `assets/<path>/<file>`; they are loaded after the variables (a "tf_idf" lookup reads its
idf weights first), from a private temporary folder the archive's bounded members are written to.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
import warnings

import numpy as np

from fkeras.nn import base
from fkeras.nn.base import allocation_limit, snake_case
from fkeras.nn.registration import custom_object_scope
from fkeras.saving import archive, optimizer_state
from fkeras.saving import serialization_lib as sl

KERAS_VERSION = "3.15.1"  # the Keras file format these archives follow


# --- the walk --------------------------------------------------------------------------------------
def _snake(name: str) -> str:

    return snake_case(name)


def _class_in_mro(obj, name: str):
    for cls in type(obj).__mro__:
        if cls.__name__ == name:
            return cls
    return None


_SKIP_CACHE: dict = {}


def _skipset(layer_base, obj) -> set:
    """Attributes of a bare base Layer (not walked), like Keras's `get_attr_skipset`."""
    key = (layer_base, _class_in_mro(obj, "Sequential") is not None, _class_in_mro(obj, "Functional") is not None)
    if key not in _SKIP_CACHE:
        try:
            skip = set(dir(_bare_instance(layer_base)))
        except Exception:  # noqa: BLE001 - a base that cannot be built bare: skip its class attributes
            skip = set(dir(layer_base))
        skip |= {"_self_unconditional_dependency_names", "_functional", "operations", "_operations",
                 "_layers_by_name", "_tracker"}
        _SKIP_CACHE[key] = skip
    skip = _SKIP_CACHE[key]
    if "layers" in skip and _class_in_mro(obj, "Model") is not None:
        skip = skip - {"layers"}  # a model's `layers` list is walked (Keras's Model.layers; not on its Layer)
    return skip


def _bare_instance(cls):
    """`cls()` without using up an fkeras auto name (`layer`, `layer_1`, ...) of the session."""

    counters = base._counters()
    saved = dict(counters)
    try:
        return cls()
    finally:
        counters.clear()
        counters.update(saved)


class _Walker:
    """Collects `[(path, obj)]` for every saveable object reachable from the root, Keras's order."""

    def __init__(self, root):
        self.root = root
        self.layer_base = _class_in_mro(root, "Layer")
        if self.layer_base is None:
            raise TypeError(f"Expected a model (a Layer subclass), got {type(root).__name__}.")
        self.optimizer = getattr(root, "optimizer", None)
        # a LossScaleOptimizer's inner optimizer is saved again under `optimizer/inner_optimizer` (Keras)
        self.inner_optimizer = getattr(self.optimizer, "inner_optimizer", None)
        # a MultiOptimizer's inner optimizers are saved again under `optimizer/optimizers/<class>` (Keras)
        subs = getattr(self.optimizer, "_inner_optimizers", None)
        self.sub_optimizers = list(subs) if isinstance(subs, list) else []
        self.visited: set = set()
        self.entries: list = []

    def is_saveable(self, obj) -> bool:
        return isinstance(obj, self.layer_base) or (obj is not None and (obj is self.optimizer
                                                                         or obj is self.inner_optimizer
                                                                         or self.is_sub_optimizer(obj))
                                                   and not isinstance(obj, (str, dict, list, tuple)))

    def is_sub_optimizer(self, obj) -> bool:
        return any(obj is o for o in self.sub_optimizers)

    def walk(self):
        self._object(self.root, "")
        return self.entries

    def _children(self, obj):
        if _class_in_mro(obj, "Sequential") is not None or _class_in_mro(obj, "Functional") is not None:
            yield "layers", list(getattr(obj, "layers", []))
        if obj is self.optimizer and self.inner_optimizer is not None:
            yield "inner_optimizer", self.inner_optimizer
        if obj is self.optimizer and self.sub_optimizers:
            yield "optimizers", self.sub_optimizers
        if obj is self.optimizer or obj is self.inner_optimizer or self.is_sub_optimizer(obj):
            return
        skip = _skipset(self.layer_base, obj)
        for attr in sorted(dir(obj), key=lambda a: f"~{a}" if a.startswith("_") else a):
            if attr.startswith("__") or attr in skip:
                continue
            try:
                child = getattr(obj, attr)
            except Exception:  # noqa: BLE001 - like Keras: attributes that fail to read are skipped
                continue
            yield attr, child

    def _object(self, obj, path):
        if id(obj) in self.visited:
            return
        self.visited.add(id(obj))
        nested = _NestedVars.layout(obj)
        if nested is not None:  # an nn layer with sub-layers (RNN cell, Bidirectional, ...): Keras's sub-paths
            self.entries += [(f"{path}/{rel}" if rel and path else rel or path, _NestedVars(obj, leaves, rel))
                             for rel, leaves in nested]
            return
        self.entries.append((path, obj))
        nn_layer = obj.__dict__.get("_fk_nn") if hasattr(obj, "__dict__") else None
        children = getattr(nn_layer, "saving_children", None)
        if callable(children):  # nn sub-objects Keras walks as layers (TextVectorization's `_lookup_layer`)
            self.entries += [(f"{path}/{rel}" if path else rel, _NNChild(child)) for rel, child in children()]
        for attr, child in self._children(obj):
            child_path = f"{path}/{attr}" if path else attr
            if self.is_saveable(child):
                self._object(child, child_path)
            elif isinstance(child, (list, tuple, dict)):
                self._container(child, child_path, set())

    def _container(self, container, path, seen):
        if id(container) in seen:
            return
        seen.add(id(container))
        used: dict = {}
        items = list(container.values()) if isinstance(container, dict) else list(container)
        for item in items:
            if self.is_saveable(item):
                name = getattr(item, "saving_path_name", None)  # a Keras class exported under another name
                name = name if isinstance(name, str) else _snake(type(item).__name__)
                self._object(item, f"{path}/{_unique(name, used)}")
            elif isinstance(item, (list, tuple, dict)):
                self._container(item, f"{path}/{_unique('container', used)}", seen)


class _NestedVars:
    """The variables of a facade layer that its nn layer's `saving_layout(params, state)` places at one
    sub-path (`[(relative path, [leaf paths])]`, e.g. an LSTM's cell under `cell`), saved and loaded by
    Keras's `save_own_variables` / `load_own_variables` protocol."""

    def __init__(self, facade, leaves, rel):
        by_path = {tuple(getattr(v, "_fk_subpath", ())): v for v in getattr(facade, "weights", [])}
        self.variables = [by_path[tuple(p)] for p in leaves if tuple(p) in by_path]
        self.name = rel.rpartition("/")[2] if rel else _name_of(facade)

    @staticmethod
    def layout(obj):
        nn_layer = obj.__dict__.get("_fk_nn") if hasattr(obj, "__dict__") else None
        fn = getattr(nn_layer, "saving_layout", None)
        if fn is None or not callable(fn):
            return None
        tree = obj._fk_own_tree()
        return fn(tree.params, tree.state)

    def save_own_variables(self, store):
        for i, v in enumerate(self.variables):
            store[str(i)] = _value(v)

    def load_own_variables(self, store):
        for i, v in enumerate(self.variables):
            v.assign(store[str(i)])


class _NNChild:
    """An nn sub-layer saved at its own path as Keras saves it (`save_own_variables`, `save_assets`); its
    parent loads the same state, so loading it does nothing."""

    def __init__(self, nn_layer):
        self.nn_layer = nn_layer
        self.name = nn_layer.name

    def save_own_variables(self, store):
        fn = getattr(self.nn_layer, "save_own_variables", None)
        if fn is not None:
            fn(store)

    def save_assets(self, dir_path):
        fn = getattr(self.nn_layer, "save_assets", None)
        if fn is not None:
            fn(dir_path)

    def load_own_variables(self, store):
        pass

    def load_assets(self, dir_path):
        pass


def _unique(name, used):
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


# --- own variables -----------------------------------------------------------------------------------
def _value(v) -> np.ndarray:
    if hasattr(v, "numpy"):
        return np.asarray(v.numpy())
    return np.asarray(v)


def _var_key(v):
    return id(v)


class _DictStore(dict):
    """The `store` handed to `save_own_variables` / `load_own_variables` (keys "0", "1", ...)."""


def _own_variables(obj, walker) -> list | None:
    """Own variable objects of a layer when it has no save_own_variables (weights minus sub-layers')."""
    weights = list(getattr(obj, "weights", []) or [])
    child_keys = set()
    for _, child in walker._children(obj):
        for c in (child if isinstance(child, (list, tuple)) else list(child.values()) if isinstance(child, dict) else [child]):
            if c is not obj and walker.is_saveable(c) and c is not walker.optimizer:
                child_keys |= {_var_key(w) for w in (getattr(c, "weights", []) or [])}
    return [w for w in weights if _var_key(w) not in child_keys]


def _save_arrays(obj, walker) -> list:
    if hasattr(obj, "save_own_variables"):
        store = _DictStore()
        obj.save_own_variables(store)
        if all(k.isdigit() for k in store):
            return [np.asarray(_value(store[str(i)])) for i in range(len(store))]
        return archive.KeyedArrays([np.asarray(_value(v)) for v in store.values()], store.keys())
    if obj is walker.optimizer or obj is walker.inner_optimizer:

        if obj is walker.inner_optimizer:
            return optimizer_state.save_inner_optimizer_arrays(walker.root, walker.optimizer)
        return optimizer_state.save_optimizer_arrays(walker.root, obj)
    if walker.is_sub_optimizer(obj):

        return optimizer_state.save_sub_optimizer_arrays(walker.root, walker.optimizer, obj)
    return [_value(v) for v in _own_variables(obj, walker)]


def _name_of(obj):
    name = getattr(obj, "name", None)
    return name if isinstance(name, str) else None


def weight_groups(model) -> list:
    """`[(path, name, [arrays])]` for `model` in Keras's file order."""
    walker = _Walker(model)
    return [(path, _name_of(obj), _save_arrays(obj, walker)) for path, obj in walker.walk()]


def _assign(model, file_groups: dict, where: str, skip_optimizer: bool = False) -> None:
    """Check every object's arrays against the file, then assign all of them."""

    opt = getattr(model, "optimizer", None)
    own = opt is not None and not hasattr(opt, "load_own_variables")  # an fkeras optimizer (state in the model)
    n_base = optimizer_state.base_count(opt) if own else 2  # how many variables an unbuilt optimizer has
    if not skip_optimizer and own and len(file_groups.get("optimizer", [])) > n_base:
        optimizer_state.ensure_opt_state(model)  # so its slots exist to be checked and filled
    walker = _Walker(model)
    plan, problems, assigned = [], [], {}
    entries = walker.walk()
    for path, obj in entries:
        if skip_optimizer and obj is walker.optimizer:
            continue
        if (obj is walker.inner_optimizer and obj is not None) or walker.is_sub_optimizer(obj):
            continue  # its variables are also the tail of `optimizer/vars`, loaded from there
        current = _save_arrays(obj, walker)
        label = f"'{path or '<model>'}' ({type(obj).__name__} {_name_of(obj)!r})"
        if path not in file_groups:
            if obj is walker.optimizer:
                if current and len(current) > n_base:
                    warnings.warn(f"The file {where} has no optimizer state; the optimizer of "
                                  f"'{_name_of(model)}' keeps its current state.", stacklevel=3)
            elif current:
                problems.append(f"{label}: not in the file (expected {len(current)} variables)")
            continue
        stored = file_groups[path]
        if _has_assets(obj):  # its tables come with the file (a lookup's vocabulary, idf weights): no shape to match
            plan.append((obj, stored))
            continue
        if obj is walker.optimizer and (not current or len(stored) <= n_base):
            plan.append((obj, stored))  # one side's optimizer is not built: only iterations/learning rate carry over
            continue
        if len(stored) != len(current):
            problems.append(f"{label}: expected {len(current)} variables, the file has {len(stored)}")
            continue
        for i, (s, c) in enumerate(zip(stored, current)):
            if s.shape != c.shape:
                problems.append(f"{label} variable {i}: expected shape {c.shape}, the file has {s.shape}")
        plan.append((obj, stored))
    extra = sorted(p for p in set(file_groups) - {p for p, _ in entries}
                   if not (skip_optimizer and (p == "optimizer" or p.startswith("optimizer/"))))
    extra = [p for p in extra if file_groups[p]]
    if extra:
        problems.append(f"the file has weights for objects this model lacks: {extra}")
    if problems:
        raise ValueError(f"Cannot load weights from {where} into {type(model).__name__} "
                         f"'{_name_of(model)}': " + "; ".join(problems) + ". The model was left unchanged.")
    deferred_opt = None
    for obj, stored in plan:
        if hasattr(obj, "load_own_variables"):
            keys = stored.keys if isinstance(stored, archive.KeyedArrays) else [str(i) for i in range(len(stored))]
            obj.load_own_variables(_DictStore(zip(keys, stored)))
        elif obj is walker.optimizer:
            deferred_opt = (obj, stored)
        else:
            for v, a in zip(_own_variables(obj, walker), stored):
                assigned[_var_key(v)] = a
    if assigned:
        model.set_weights([assigned.get(_var_key(v), _value(v)) for v in model.weights])
    if deferred_opt is not None:

        optimizer_state.load_optimizer_arrays(model, *deferred_opt)


# --- assets --------------------------------------------------------------------------------------------
def _has_assets(obj) -> bool:
    try:
        return callable(getattr(obj, "load_assets", None)) and callable(getattr(obj, "save_assets", None))
    except Exception:  # noqa: BLE001 - an attribute that fails to read: no assets
        return False


def asset_entries(model) -> dict:
    """`{"assets/<path>/<file>": bytes}` of every object of `model` that saves assets (Keras's layout)."""
    out = {}
    for path, obj in _Walker(model).walk():
        if not _has_assets(obj):
            continue
        folder = tempfile.mkdtemp(prefix="fkeras_assets_")
        try:
            obj.save_assets(folder)
            for root, _, files in os.walk(folder):
                for name in sorted(files):
                    rel = os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/")
                    with open(os.path.join(root, name), "rb") as f:
                        out[f"{archive.ASSETS}{path}/{rel}" if path else f"{archive.ASSETS}{rel}"] = f.read()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return out


def _asset_prefix(path):
    return f"{archive.ASSETS}{path}/" if path else archive.ASSETS


def load_assets_from(model, filepath) -> None:
    """Read from the archive only the assets of `model`'s objects that load assets (bounded), and hand
    them over (`load_asset_entries`)."""
    prefixes = [_asset_prefix(path) for path, obj in _Walker(model).walk() if _has_assets(obj)]
    if prefixes:
        load_asset_entries(model, archive.read_keras_assets(filepath, prefixes), filepath)


def load_asset_entries(model, entries: dict, where: str) -> None:
    """Hand each object that loads assets the files of `entries` under `assets/<its path>/` (not those of
    sub-folders, which belong to its sub-objects), written to a private temporary folder first."""
    for path, obj in _Walker(model).walk():
        if not _has_assets(obj):
            continue
        prefix = _asset_prefix(path)
        files = {name[len(prefix):]: data for name, data in entries.items()
                 if name.startswith(prefix) and "/" not in name[len(prefix):]}
        if not files:
            continue
        folder = tempfile.mkdtemp(prefix="fkeras_assets_")
        try:
            for name, data in files.items():
                if name in ("", ".", "..") or os.sep in name or (os.altsep and os.altsep in name):
                    raise ValueError(f"{where}: refusing the asset name {name!r} under {prefix!r}.")
                with open(os.path.join(folder, name), "wb") as f:
                    f.write(data)
            obj.load_assets(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


# --- public API ------------------------------------------------------------------------------------
def _check_suffix(path, suffix, what):
    path = os.fspath(path)
    if not str(path).endswith(suffix):
        raise ValueError(f"{what}: expected a path ending in {suffix!r}, got {path!r}.")
    return path


def serialize_model(model) -> dict:
    """The `config.json` dict of `model` (Keras's module/class_name/config/registered_name/build/compile)."""
    return sl.serialize_keras_object(model)


def save_model(model, filepath, overwrite: bool = True, zipped: bool | None = None) -> None:
    """Write `model` to a `.keras` archive (config, metadata, weights incl. optimizer), atomically."""
    if zipped is False:
        raise ValueError("save_model: only zipped `.keras` archives are supported (got zipped=False).")
    filepath = _check_suffix(filepath, ".keras", "save_model")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"save_model: {filepath} exists and overwrite=False.")
    config = serialize_model(model)
    config_json = json.dumps(config, default=json_default)
    metadata = {"keras_version": KERAS_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    weights = archive.write_weights_h5(weight_groups(model))
    archive.write_keras_zip(filepath, {archive.METADATA: json.dumps(metadata).encode(),
                                       archive.CONFIG: config_json.encode(),
                                       archive.WEIGHTS: weights, **asset_entries(model)})


def json_default(obj):
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "dtype") and hasattr(obj, "shape") and obj.shape == ():
        return np.asarray(obj).item()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable in a model config.")


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """Rebuild a model from a `.keras` archive (fkeras- or Keras-3-written).

    The whole archive is read and checked first (zip entry names, JSON, HDF5 layout, lambdas in safe
    mode); then the model is built from `config.json`, compiled from its `compile_config` when
    `compile=True`, and its weights (and optimizer state) assigned.
    """
    filepath = os.fspath(filepath)
    if not filepath.endswith(".keras"):
        raise ValueError(f"load_model: expected a path ending in '.keras', got {filepath!r}. "
                         "For weights only, use model.load_weights(path.weights.h5).")
    entries = archive.read_keras_zip(filepath)
    config = archive.parse_json(entries[archive.CONFIG], f"{filepath}:{archive.CONFIG}")
    if archive.METADATA in entries:
        archive.parse_json(entries[archive.METADATA], f"{filepath}:{archive.METADATA}")
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"{filepath}: config.json does not describe a model (no class_name).")
    if safe_mode and sl.contains_lambda(config):
        raise ValueError(
            f"{filepath} contains a Python lambda (e.g. a Lambda layer). Loading it would run code stored in "
            "the file, which safe mode refuses. If you trust the source, pass `safe_mode=False`."
        )
    file_groups = archive.read_weights_h5(entries[archive.WEIGHTS]) if archive.WEIGHTS in entries else {}
    compile_config = config.get("compile_config") if compile else None
    model_config = {k: v for k, v in config.items() if k != "compile_config"}
    limit = allocation_limit(archive.get_load_limits().max_weights_bytes,
                             "max_weights_bytes; raise it with fkeras.saving.set_load_limits if you trust the file")
    with custom_object_scope(custom_objects), limit:  # layers resolve your activations by name; sizes bounded
        model = sl.deserialize_keras_object(model_config, custom_objects=custom_objects, safe_mode=safe_mode)
        if compile_config:
            with sl.SafeModeScope(safe_mode):
                _compile_from_config(model, compile_config, custom_objects)
    _build_optimizer(model)
    _assign(model, file_groups, filepath, skip_optimizer=not compile_config)
    load_assets_from(model, filepath)
    return model


def _compile_from_config(model, compile_config, custom_objects):
    if hasattr(model, "compile_from_config"):
        model.compile_from_config(compile_config)
        return
    cfg = sl.deserialize_keras_object(compile_config, custom_objects=custom_objects)
    keys = ("optimizer", "loss", "metrics", "loss_weights", "weighted_metrics", "run_eagerly",
            "steps_per_execution", "jit_compile")
    model.compile(**{k: cfg[k] for k in keys if k in cfg})


def _build_optimizer(model):
    opt = getattr(model, "optimizer", None)
    if opt is not None and hasattr(opt, "build") and not getattr(opt, "built", True):
        opt.build(model.trainable_variables)


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """Write the model's weights (and optimizer state) to a `.weights.h5` file, atomically."""
    filepath = _check_suffix(filepath, ".weights.h5", "save_weights")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"save_weights: {filepath} exists and overwrite=False.")
    archive.atomic_write_bytes(filepath, archive.write_weights_h5(weight_groups(model)))


def load_weights(model, filepath, skip_optimizer: bool = False) -> None:
    """Load weights from a `.weights.h5` file or a `.keras` archive; checks everything before assigning."""
    filepath = os.fspath(filepath)
    if filepath.endswith(".keras"):
        entries = archive.read_keras_zip(filepath)
        if archive.WEIGHTS not in entries:
            raise ValueError(f"{filepath} holds no {archive.WEIGHTS}.")
        groups = archive.read_weights_h5(entries[archive.WEIGHTS])
    elif filepath.endswith(".weights.h5"):
        if not os.path.exists(filepath):
            raise FileNotFoundError(f"No such file: {filepath}")
        groups = archive.read_weights_h5(filepath)
    else:
        raise ValueError(f"load_weights: expected a path ending in '.weights.h5' or '.keras', got {filepath!r}.")
    _build_optimizer(model)
    _assign(model, groups, filepath, skip_optimizer=skip_optimizer or getattr(model, "optimizer", None) is None)
