"""`fkeras.distribution`: Keras 3's distribution API over `jax.sharding`.

A `DeviceMesh` is a `jax.sharding.Mesh`; a `TensorLayout` is a `PartitionSpec` on it;
a `Distribution` says how variables (by path: a facade model's Keras variable paths, e.g.
``"sequential/dense/kernel"``, else the pytree path ``"dense/kernel"``) and data
batches (split on the first axis) are placed. The functional core needs none of this:
it takes sharded pytrees as they are and `jax.jit` follows the data. The facade's fit
uses the active distribution (`set_distribution` or `with dist.scope():`) to place the
TrainState and every batch.
"""

from __future__ import annotations

import collections.abc
import contextlib
import os
import re
import threading

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from fkeras.data.py_dataset import PyDataset

__all__ = [
    "DataParallel", "DeviceMesh", "Distribution", "LayoutMap", "ModelParallel", "TensorLayout",
    "distribute_tensor", "distribution", "get_device_count", "initialize", "list_devices",
    "set_distribution", "path_of",
]


# --- devices and processes ----------------------------------------------------
def _default_type():
    return jax.default_backend()


def list_devices(device_type=None):
    """All (global) devices of one type as strings like ``"cpu:0"``; accelerators first by default."""
    device_type = (device_type or _default_type()).lower()
    return [f"{device_type}:{d.id}" for d in jax.devices(device_type)]


def get_device_count(device_type=None):
    return len(jax.devices((device_type or _default_type()).lower()))


def _to_device(d):
    if isinstance(d, str):
        kind, _, idx = d.partition(":")
        matches = [x for x in jax.devices(kind.lower()) if x.id == int(idx or 0)]
        if not matches:
            raise ValueError(f"Unknown device {d!r}; available: {list_devices(kind)}.")
        return matches[0]
    return d


def initialize(job_addresses=None, num_processes=None, process_id=None):
    """Start JAX's multi-process runtime (`jax.distributed.initialize`), Keras-style.

    `job_addresses` is a comma-separated list of ``host:port``; the first one is the
    coordinator. Unset arguments come from ``KERAS_DISTRIBUTION_JOB_ADDRESSES``,
    ``KERAS_DISTRIBUTION_NUM_PROCESSES`` and ``KERAS_DISTRIBUTION_PROCESS_ID``, then from
    JAX's own cluster detection.
    """
    job_addresses = job_addresses or os.environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES")
    if num_processes is None and "KERAS_DISTRIBUTION_NUM_PROCESSES" in os.environ:
        num_processes = int(os.environ["KERAS_DISTRIBUTION_NUM_PROCESSES"])
    if process_id is None and "KERAS_DISTRIBUTION_PROCESS_ID" in os.environ:
        process_id = int(os.environ["KERAS_DISTRIBUTION_PROCESS_ID"])
    coordinator = job_addresses.split(",")[0].strip() if job_addresses else None
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes, process_id=process_id)


# --- mesh and layouts ----------------------------------------------------------
class DeviceMesh:
    """A named grid of devices. shape: e.g. ``(8,)`` or ``(2, 4)``; axis_names: one name per axis."""

    def __init__(self, shape, axis_names, devices=None):
        shape, axis_names = tuple(shape or ()), tuple(axis_names or ())
        if not shape or not axis_names:
            raise ValueError(f"DeviceMesh: shape and axis_names must be non-empty, got shape={shape}, "
                             f"axis_names={axis_names}.")
        if len(shape) != len(axis_names):
            raise ValueError(f"DeviceMesh: shape and axis_names must have the same length, got shape={shape}, "
                             f"axis_names={axis_names}.")
        if len(set(axis_names)) != len(axis_names):
            raise ValueError(f"DeviceMesh: axis_names must be unique, got {axis_names}.")
        devices = [_to_device(d) for d in (jax.devices() if devices is None else list(np.ravel(devices)))]
        if int(np.prod(shape)) != len(devices):
            raise ValueError(f"DeviceMesh: shape {shape} needs {int(np.prod(shape))} devices, got {len(devices)}.")
        self._shape, self._axis_names = shape, axis_names
        self._devices = np.array(devices, dtype=object).reshape(shape)
        self._mesh = Mesh(self._devices, axis_names)

    shape = property(lambda self: self._shape)
    axis_names = property(lambda self: self._axis_names)
    devices = property(lambda self: self._devices)
    backend_mesh = property(lambda self: self._mesh, doc="The `jax.sharding.Mesh`.")

    def __repr__(self):
        return f"<DeviceMesh shape={self.shape}, axis_names={self.axis_names}>"


class TensorLayout:
    """How one tensor is split: one mesh axis name (or None = replicated) per tensor dimension."""

    def __init__(self, axes, device_mesh=None):
        self._axes = tuple(axes)
        self._mesh = None
        self.device_mesh = device_mesh

    axes = property(lambda self: self._axes)

    @property
    def device_mesh(self):
        return self._mesh

    @device_mesh.setter
    def device_mesh(self, mesh):
        if mesh is not None:
            unknown = [a for a in self._axes if a is not None and a not in mesh.axis_names]
            if unknown:
                raise ValueError(f"TensorLayout {self._axes}: axis names {unknown} are not in the mesh's "
                                 f"axis_names {mesh.axis_names}.")
        self._mesh = mesh

    @property
    def backend_layout(self):
        """The `jax.sharding.NamedSharding` of this layout."""
        if self._mesh is None:
            raise ValueError(f"TensorLayout {self._axes} has no device_mesh yet.")
        return NamedSharding(self._mesh.backend_mesh, PartitionSpec(*self._axes))

    def check_shape(self, shape, what="tensor"):
        """Raise ValueError when this layout cannot split an array of `shape`."""
        if len(self._axes) != len(shape):
            raise ValueError(f"Layout {self._axes} for {what} has {len(self._axes)} axes, but the {what} has shape "
                             f"{tuple(shape)} (rank {len(shape)}).")
        for dim, axis in zip(shape, self._axes):
            if axis is None:
                continue
            size = self._mesh.shape[self._mesh.axis_names.index(axis)]
            if dim % size:
                raise ValueError(f"Layout {self._axes} for {what} of shape {tuple(shape)}: dimension {dim} is not "
                                 f"divisible by mesh axis {axis!r} of size {size}.")

    def __repr__(self):
        return f"<TensorLayout axes={self._axes}>"


class LayoutMap(collections.abc.MutableMapping):
    """Regex (full match) over variable paths like ``"dense/kernel"`` → `TensorLayout` (or a tuple of axes)."""

    def __init__(self, device_mesh):
        self._map = collections.OrderedDict()
        self._mesh = device_mesh

    device_mesh = property(lambda self: self._mesh)

    def __getitem__(self, key):
        if key in self._map:
            return self._map[key]
        hits = [p for p in self._map if re.fullmatch(p, key)]
        if len(hits) > 1:
            raise ValueError(f"Path {key!r} matches several LayoutMap keys: {hits}; each path may match one at most.")
        return self._map[hits[0]] if hits else None

    def __setitem__(self, key, layout):
        if key in self._map:
            raise ValueError(f"LayoutMap already has {key!r} (layout {self._map[key]}).")
        if isinstance(layout, (tuple, list)):
            layout = TensorLayout(layout)
        if not isinstance(layout, TensorLayout):
            raise ValueError(f"LayoutMap values must be TensorLayouts or tuples of axis names, got {layout!r}.")
        if layout.device_mesh is None and self._mesh is not None:
            layout.device_mesh = self._mesh
        self._map[key] = layout

    def __delitem__(self, key):
        del self._map[key]

    def __len__(self):
        return len(self._map)

    def __iter__(self):
        return iter(self._map)


def path_of(keypath) -> str:
    """``("dense", "kernel")`` (a pytree key path) → ``"dense/kernel"``."""
    parts = []
    for k in keypath:
        parts.append(str(getattr(k, "key", getattr(k, "idx", getattr(k, "name", k)))))
    return "/".join(parts)


# --- distributions ----------------------------------------------------------------
class Distribution:
    """Base: a mesh, the mesh axis that splits batches, and rules for variable layouts."""

    def __init__(self, device_mesh, batch_dim_name=None, auto_shard_dataset=True):
        self._mesh = device_mesh
        self._batch_dim_name = batch_dim_name
        self.auto_shard_dataset = auto_shard_dataset

    device_mesh = property(lambda self: self._mesh)
    batch_dim_name = property(lambda self: self._batch_dim_name)

    @property
    def num_processes(self):
        return jax.process_count()

    @property
    def num_model_replicas(self):
        return self._mesh.shape[self._mesh.axis_names.index(self._batch_dim_name)]

    def get_data_layout(self, data_shape):
        """Batches are split on their first axis along the batch mesh axis."""
        axes = [None] * len(data_shape)
        if axes:
            axes[0] = self._batch_dim_name
        return TensorLayout(axes, self._mesh)

    def get_variable_layout(self, path, shape):
        """The layout of the variable at `path` (e.g. ``"dense/kernel"``); replicated by default."""
        return TensorLayout([None] * len(shape), self._mesh)

    def get_tensor_layout(self, path):
        return None

    # -- placing pytrees ------------------------------------------------------
    def variable_shardings(self, tree, paths=None):
        """A pytree of `NamedSharding`s for a params/state tree (checked against each leaf's shape).

        `paths`: {pytree path: variable path} (a facade model's Keras paths, which a LayoutMap is
        matched against as in Keras); a leaf not in it is known by its pytree path."""
        paths = paths or {}

        def one(keypath, leaf):
            path = path_of(keypath)
            path = paths.get(path, path)
            layout = self.get_variable_layout(path, leaf.shape)
            layout.check_shape(leaf.shape, f"variable {path!r}")
            return layout.backend_layout

        return jax.tree_util.tree_map_with_path(one, tree)

    def distribute_variables(self, tree, paths=None):
        """Place a params/state tree on the mesh by this distribution's layouts (`paths`: see
        `variable_shardings`)."""
        return jax.tree.map(jax.device_put, tree, self.variable_shardings(tree, paths))

    def replicate(self, tree):
        """Place a tree (optimizer steps, rng, metric state) fully replicated on the mesh."""
        sharding = NamedSharding(self._mesh.backend_mesh, PartitionSpec())
        return jax.tree.map(lambda x: jax.device_put(x, sharding), tree)

    def distribute_train_state(self, ts, paths=None):
        """Place a `fkeras.train.TrainState`: params and state by their layouts (`paths`: see
        `variable_shardings`); optimizer slots like the params they belong to (same path suffix and
        shape); everything else replicated."""
        param_sh = self.variable_shardings(ts.params, paths)
        state_sh = self.variable_shardings(ts.state, paths)
        by_path = {}
        for tree, sh in ((ts.params, param_sh), (ts.state, state_sh)):
            for (kp, leaf), s in zip(jax.tree_util.tree_leaves_with_path(tree), jax.tree.leaves(sh)):
                by_path[path_of(kp)] = (tuple(leaf.shape), s)
        replicated = NamedSharding(self._mesh.backend_mesh, PartitionSpec())

        def follow(kp, leaf):
            if leaf is None or not hasattr(leaf, "shape"):
                return leaf
            parts = path_of(kp).split("/")
            for i in range(len(parts)):  # the path itself, then ever shorter suffixes
                hit = by_path.get("/".join(parts[i:]))
                if hit is not None and hit[0] == tuple(leaf.shape):
                    return jax.device_put(leaf, hit[1])
            return jax.device_put(leaf, replicated)

        place = lambda tree: jax.tree_util.tree_map_with_path(follow, tree, is_leaf=lambda x: x is None)  # noqa: E731
        return ts.replace(params=jax.tree.map(jax.device_put, ts.params, param_sh),
                          state=jax.tree.map(jax.device_put, ts.state, state_sh),
                          opt_state=place(ts.opt_state), metrics=place(ts.metrics),
                          rng=jax.device_put(ts.rng, replicated), step=jax.device_put(ts.step, replicated))

    def distribute_batch(self, batch):
        """Split a batch pytree on its first axis across the batch mesh axis.

        Single process: `batch` is the global batch; a ragged last batch whose size the batch
        axis does not divide is replicated instead (same values, computed on every device).
        Several processes: `batch` is this process's part and the global array is assembled
        with `jax.make_array_from_process_local_data`.
        """
        multi = jax.process_count() > 1

        def one(x):
            x = np.asarray(x) if not isinstance(x, jax.Array) else x
            sharding = self._data_sharding(tuple(x.shape), multi)
            if multi:
                return jax.make_array_from_process_local_data(sharding, np.asarray(x))
            return jax.device_put(x, sharding)

        return jax.tree.map(one, batch)

    def _data_sharding(self, shape, multi):
        """The batch sharding for `shape`, cached: batches of one shape recur every step."""
        cache = self.__dict__.setdefault("_data_shardings", {})
        sharding = cache.get(shape)
        if sharding is None:
            sharding = self.get_data_layout(shape).backend_layout
            n_shards = self._mesh.shape[self._mesh.axis_names.index(self._batch_dim_name)]
            if not multi and shape and shape[0] % n_shards:
                sharding = NamedSharding(self._mesh.backend_mesh, PartitionSpec())
            cache[shape] = sharding
        return sharding

    def shard_source(self, x, y=None, sample_weight=None, batch_size=None):
        """This process's share of a data source and its per-process batch size.

        One process: everything unchanged. Several: arrays keep this process's contiguous rows
        (`process_slice`), a `tf.data.Dataset` is `.shard`ed, a PyDataset keeps every n-th batch;
        `batch_size` (global) is divided by the number of processes.
        """
        k = jax.process_count()
        if k == 1 or not self.auto_shard_dataset:
            return x, y, sample_weight, batch_size
        if batch_size is not None:
            if batch_size % k:
                raise ValueError(f"batch_size {batch_size} is the global batch; it must be divisible by the "
                                 f"{k} processes.")
            batch_size //= k
        if type(x).__module__.startswith("tensorflow"):
            return x.shard(k, jax.process_index()), y, sample_weight, batch_size
        if hasattr(x, "__getitem__") and hasattr(x, "__len__") and hasattr(x, "on_epoch_end"):
            return _process_shard(x, k, jax.process_index()), y, sample_weight, batch_size
        leaves = [a for a in jax.tree.leaves(x) if hasattr(a, "shape")]
        if not leaves:
            raise ValueError(f"Cannot split {type(x).__name__} across {k} processes; give each process its own "
                             "data and set auto_shard_dataset=False.")
        rows = self.process_slice(leaves[0].shape[0])
        cut = lambda t: None if t is None else jax.tree.map(lambda a: a[rows], t)  # noqa: E731
        return cut(x), cut(y), cut(sample_weight), batch_size

    def process_slice(self, n):
        """The rows `[start, stop)` of an n-row array source this process reads."""
        p, k = jax.process_index(), jax.process_count()
        per = n // k
        return slice(p * per, (p + 1) * per)

    def for_variable_paths(self, paths):
        """This distribution, placing TrainStates by `paths` ({pytree path: variable path}): what a
        facade model hands its engine, so LayoutMap keys written for Keras's paths pick the same
        variables."""
        return _WithPaths(self, dict(paths))

    @contextlib.contextmanager
    def scope(self):
        """`with dist.scope():` makes this the active distribution inside the block."""
        prev = getattr(_active, "value", None)
        _active.value = self
        try:
            yield self
        finally:
            _active.value = prev

    def __repr__(self):
        return f"<{type(self).__name__} mesh={self._mesh}, batch_dim_name={self._batch_dim_name!r}>"


class _WithPaths:
    """A distribution that knows a model's variable paths; everything else is the distribution's."""

    def __init__(self, dist, paths):
        self._dist, self._paths = dist, paths

    def variable_shardings(self, tree, paths=None):
        return self._dist.variable_shardings(tree, self._paths if paths is None else paths)

    def distribute_variables(self, tree, paths=None):
        return self._dist.distribute_variables(tree, self._paths if paths is None else paths)

    def distribute_train_state(self, ts, paths=None):
        return self._dist.distribute_train_state(ts, self._paths if paths is None else paths)

    def __getattr__(self, name):
        return getattr(self._dist, name)

    def __repr__(self):
        return repr(self._dist)


def _process_shard(ds, k, index):
    """A PyDataset of every `k`-th batch of `ds`, starting at this process's `index`."""
    class ProcessShard(PyDataset):
        def __init__(self):
            super().__init__(workers=getattr(ds, "workers", 1), use_multiprocessing=getattr(
                ds, "use_multiprocessing", False), max_queue_size=getattr(ds, "max_queue_size", 10))

        def __len__(self):
            return len(ds) // k

        def __getitem__(self, i):
            return ds[i * k + index]

        def on_epoch_end(self):
            ds.on_epoch_end()

    return ProcessShard()


class DataParallel(Distribution):
    """Replicate variables, split batches across all devices (a 1D mesh named ``"batch"``)."""

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True):
        if device_mesh is not None and devices is not None:
            raise ValueError("DataParallel: give device_mesh or devices, not both.")
        if device_mesh is None:
            devices = jax.devices() if devices is None else devices
            device_mesh = DeviceMesh((len(devices),), ("batch",), devices)
        super().__init__(device_mesh, device_mesh.axis_names[0], auto_shard_dataset)


class ModelParallel(Distribution):
    """Shard variables by a `LayoutMap` (regex over paths), split batches on `batch_dim_name`."""

    def __init__(self, *, layout_map=None, batch_dim_name=None, auto_shard_dataset=True, **kwargs):
        if not isinstance(layout_map, LayoutMap):
            raise ValueError(f"ModelParallel: layout_map must be a LayoutMap, got {layout_map!r}.")
        mesh = layout_map.device_mesh
        batch_dim_name = batch_dim_name or mesh.axis_names[0]
        if batch_dim_name not in mesh.axis_names:
            raise ValueError(f"ModelParallel: batch_dim_name {batch_dim_name!r} is not a mesh axis "
                             f"{mesh.axis_names}.")
        for key, layout in layout_map.items():
            if layout.device_mesh is None:
                layout.device_mesh = mesh
        super().__init__(mesh, batch_dim_name, auto_shard_dataset)
        self._layout_map = layout_map

    def get_variable_layout(self, path, shape):
        layout = self._layout_map[path]
        return layout if layout is not None else super().get_variable_layout(path, shape)

    def get_tensor_layout(self, path):
        return self._layout_map[path]


# --- the active distribution ---------------------------------------------------------
_active = threading.local()
_global = [None]


def distribution():
    """The active distribution (innermost `scope()`, else the global one), or None."""
    return getattr(_active, "value", None) or _global[0]


def set_distribution(value):
    """Set the global distribution (None to go back to a single device)."""
    if value is not None and not isinstance(value, Distribution):
        raise ValueError(f"set_distribution expects a Distribution or None, got {value!r}.")
    _global[0] = value


def distribute_tensor(tensor, layout):
    """Place `tensor` by `layout` (a TensorLayout or a jax Sharding); inside jit, a sharding constraint."""
    sharding = layout.backend_layout if isinstance(layout, TensorLayout) else layout
    if isinstance(layout, TensorLayout):
        layout.check_shape(tensor.shape)
    if isinstance(tensor, jax.core.Tracer):
        return jax.lax.with_sharding_constraint(tensor, sharding)
    return jax.device_put(tensor, sharding)
