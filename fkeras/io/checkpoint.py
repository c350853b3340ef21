"""Orbax checkpoints of a whole TrainState (or any pytree) as plain nested dicts of arrays.

    ckpt = CheckpointManager("/tmp/run", max_to_keep=3)        # async, atomic (orbax)
    ckpt.save(step, train_state)
    train_state = ckpt.restore(train_state)                     # latest step, same structure as the target

What lands on disk is `to_plain(tree)`: nested dicts keyed by the pytree path (`params/dense/kernel`,
`opt_state/0/mu/dense/kernel`, `step`, `rng`), typed PRNG keys stored as their uint32 key data. Any
JAX program restores it with plain orbax, without importing fkeras:

    orbax.checkpoint.CheckpointManager(directory).restore(step)   # -> {"params": {...}, ...}

`load_params` goes the other way: a plain-dict checkpoint written by another JAX project (Flax,
Equinox, ...) with matching shapes is mapped by name onto an fkeras params pytree.
"""

from __future__ import annotations

import os
from typing import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from fkeras.nn.base import Variables
from fkeras.saving import optimizer_state

__all__ = ["to_plain", "from_plain", "flatten_plain", "CheckpointManager", "restore_plain", "load_params",
           "load_params_into_model", "restore_into_model"]


def _key_str(k) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


def _is_prng_key(x) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _path_leaves(tree):
    """[(tuple_of_str_keys, leaf)] in pytree order."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [(tuple(_key_str(k) for k in path), leaf) for path, leaf in leaves]


def to_plain(tree) -> dict:
    """A pytree (eqx.Module, NamedTuples, optax states, dicts) as nested dicts of arrays.

    Keys are the pytree path entries as strings; typed PRNG keys become `jax.random.key_data`.
    """
    out: dict = {}
    for path, leaf in _path_leaves(tree):
        if not path:
            raise TypeError(f"to_plain: expected a container pytree, got a single leaf {type(leaf).__name__}.")
        if _is_prng_key(leaf):
            leaf = jax.random.key_data(leaf)
        elif not hasattr(leaf, "shape"):
            leaf = np.asarray(leaf)
        node = out
        for k in path[:-1]:
            node = node.setdefault(k, {})
        if path[-1] in node:
            raise ValueError(f"to_plain: two leaves map to the same path {'/'.join(path)!r}.")
        node[path[-1]] = leaf
    return out


def flatten_plain(plain: Mapping, sep: str = "/") -> dict:
    """`{"a": {"b": x}}` -> `{"a/b": x}`."""
    flat = {}

    def walk(node, prefix):
        if isinstance(node, Mapping):
            for k, v in node.items():
                walk(v, f"{prefix}{sep}{k}" if prefix else str(k))
        else:
            flat[prefix] = node

    walk(plain, "")
    return flat


def from_plain(plain: Mapping, target):
    """Inverse of `to_plain`: the arrays of `plain` in the structure of `target`.

    Every leaf must be present with the target's shape; dtypes are cast to the target's.
    Raises ValueError listing all missing/mismatched paths before building anything.
    """
    flat = flatten_plain(plain)
    leaves, treedef = jax.tree_util.tree_flatten(target)
    paths = _path_leaves(target)
    problems, new_leaves = [], []
    for (path, tleaf) in paths:
        key = "/".join(path)
        if key not in flat:
            problems.append(f"missing {key}")
            continue
        value = flat[key]
        if _is_prng_key(tleaf):
            want_shape = jax.random.key_data(tleaf).shape
        else:
            want_shape = tuple(np.shape(tleaf))
        if tuple(np.shape(value)) != want_shape:
            problems.append(f"{key}: expected shape {want_shape}, got {tuple(np.shape(value))}")
            continue
        if _is_prng_key(tleaf):
            new_leaves.append(jax.random.wrap_key_data(jnp.asarray(value), impl=jax.random.key_impl(tleaf)))
        elif isinstance(tleaf, (jax.Array, np.ndarray, np.generic)):
            new_leaves.append(jnp.asarray(value, dtype=tleaf.dtype))
        else:  # a Python scalar leaf stays a Python scalar
            new_leaves.append(type(tleaf)(np.asarray(value).item()))
    if problems:
        raise ValueError("Checkpoint does not match the target structure: " + "; ".join(problems[:20])
                         + (f"; ... and {len(problems) - 20} more" if len(problems) > 20 else ""))
    return jax.tree_util.tree_unflatten(treedef, new_leaves)


def _ocp():
    import orbax.checkpoint as ocp  # imported on first use: orbax is slow to import

    return ocp


class CheckpointManager:
    """Numbered orbax checkpoints of a pytree (typically the TrainState) in `directory`.

    Args:
        directory: folder holding one subfolder per step.
        max_to_keep: keep only the newest N checkpoints (None keeps all).
        async_save: write in a background thread; `save` returns once arrays are copied off device.
        save_interval_steps: `save(step, ...)` only writes when `step % save_interval_steps == 0`
            (unless `force=True`).

    Each save is atomic (orbax writes to a temporary folder and renames it when complete), so a
    crash mid-save leaves the previous checkpoints readable.
    """

    def __init__(self, directory, max_to_keep: int | None = None, async_save: bool = True,
                 save_interval_steps: int = 1):
        if max_to_keep is not None and (not isinstance(max_to_keep, int) or max_to_keep < 1):
            raise ValueError(f"CheckpointManager: expected max_to_keep to be a positive int or None, got {max_to_keep!r}.")
        ocp = _ocp()
        self.directory = os.path.abspath(os.fspath(directory))
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, enable_async_checkpointing=async_save,
            save_interval_steps=save_interval_steps, create=True,
        )
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def save(self, step: int, tree, force: bool = False) -> bool:
        """Save `tree` as checkpoint `step` (asynchronously if enabled). Returns whether it saved."""
        step = int(step)
        if step < 0:
            raise ValueError(f"CheckpointManager.save: expected a step >= 0, got {step}.")
        return bool(self._manager.save(step, args=_ocp().args.StandardSave(to_plain(tree)), force=force))

    def restore(self, target, step: int | None = None):
        """The checkpoint `step` (default: latest) in the structure of `target`."""
        return from_plain(self.restore_plain(step), target)

    def restore_plain(self, step: int | None = None) -> dict:
        """The checkpoint `step` (default: latest) as nested dicts of NumPy arrays."""
        self.wait_until_finished()
        step = self._resolve(step)
        return self._manager.restore(step, args=_ocp().args.StandardRestore())

    def _resolve(self, step):
        steps = self.all_steps()
        if step is None:
            if not steps:
                raise FileNotFoundError(f"No checkpoint in {self.directory}.")
            return steps[-1]
        if int(step) not in steps:
            raise FileNotFoundError(f"No checkpoint for step {step} in {self.directory}; steps: {steps}.")
        return int(step)

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def wait_until_finished(self) -> None:
        """Block until pending async saves are on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def restore_plain(directory, step: int | None = None) -> dict:
    """Read checkpoint `step` (default: latest) of a CheckpointManager `directory` as nested dicts."""
    with CheckpointManager(directory, async_save=False) as m:
        return m.restore_plain(step)


def _rename(path: str, mapping) -> str | None:
    if mapping is None:
        return path
    if callable(mapping):
        return mapping(path)
    for src, dst in sorted(mapping.items(), key=lambda kv: -len(kv[0])):  # longest prefix wins
        if path == src or path.startswith(src + "/"):
            return (dst + path[len(src):]).strip("/") if dst is not None else None
    return path


def load_params(source, target_params, mapping: Mapping[str, str | None] | Callable | None = None,
                strict: bool = True, step: int | None = None):
    """Map a foreign plain-dict checkpoint onto an fkeras params pytree, by name.

    Args:
        source: nested dicts of arrays, or a CheckpointManager directory (latest `step` by default).
        target_params: the fkeras params (e.g. `model.init(...).params`); gives structure, shapes, dtypes.
        mapping: renames source paths (`/`-joined) to target paths: a dict of prefix -> prefix
            (longest prefix first; a None value drops that subtree), or a callable path -> path/None.
            E.g. `{"params/Conv_0": "conv2d", "params/Dense_0": "dense", "opt_state": None}`.
        strict: when False, target leaves absent from the source keep their values and unmatched
            source leaves are ignored.

    Returns a new params pytree; raises ValueError listing every missing, unexpected or mis-shaped
    leaf (nothing is partially applied).
    """
    plain = restore_plain(source, step) if isinstance(source, (str, os.PathLike)) else source
    if not isinstance(plain, Mapping):
        raise TypeError(f"load_params: expected a dict checkpoint or a directory, got {type(plain).__name__}.")
    renamed = {}
    for path, value in flatten_plain(plain).items():
        new = _rename(path, mapping)
        if new is not None:
            renamed[new] = value
    target_flat = {"/".join(p): leaf for p, leaf in _path_leaves(target_params)}
    problems = []
    if strict:
        problems += [f"missing {k}" for k in target_flat if k not in renamed]
        problems += [f"unexpected {k}" for k in renamed if k not in target_flat]
    for k, leaf in target_flat.items():
        if k in renamed and tuple(np.shape(renamed[k])) != tuple(np.shape(leaf)):
            problems.append(f"{k}: expected shape {tuple(np.shape(leaf))}, got {tuple(np.shape(renamed[k]))}")
    if problems:
        raise ValueError("load_params: checkpoint does not match the model: " + "; ".join(problems))
    merged = {k: renamed.get(k, leaf) for k, leaf in target_flat.items()}
    nested: dict = {}
    for k, v in merged.items():
        node = nested
        *head, last = k.split("/")
        for h in head:
            node = node.setdefault(h, {})
        node[last] = v
    return from_plain(nested, target_params)


def restore_into_model(model, directory, step: int | None = None):
    """Load an OrbaxCheckpoint / CheckpointManager checkpoint into a compiled fkeras model's TrainState.

    A full TrainState checkpoint restores everything (params, state, optimizer, metrics, rng, step); a
    weights-only one (`{"params", "state"}`) restores the weights. Shapes are checked before anything
    changes. Returns the restored step.
    """

    optimizer_state.ensure_opt_state(model)
    ts = getattr(model, "train_state", None)
    if ts is None:
        raise ValueError(f"{type(model).__name__} has no TrainState: build and compile it before restoring.")
    with CheckpointManager(directory, async_save=False) as m:
        step = m._resolve(step)
        plain = m.restore_plain(step)
    if "params" in plain and "opt_state" not in plain and "step" not in plain:  # weights-only checkpoint
        params, state = from_plain(plain, {"params": ts.params, "state": ts.state}).values()
        model.train_state = ts.replace(params=params, state=state)
    else:
        if not plain.get("metrics"):
            ts = ts.replace(metrics={})
        model.train_state = from_plain(plain, ts)
        optimizer_state._mark_opt_state_current(model)
    return step


def load_params_into_model(model, source, mapping=None, strict: bool = True, step: int | None = None):
    """`load_params` onto an fkeras model's trainable params (`model.variables_tree`), by name mapping.

    The model must be built. Non-trainable state (e.g. BatchNorm statistics) is kept. Returns the model.
    """

    if not getattr(model, "built", False):
        raise ValueError(f"{type(model).__name__} '{getattr(model, 'name', '')}' is not built; build it (call it on "
                         "data or `model.build(input_shape)`) before loading parameters into it.")
    params, state = model.variables_tree
    model.variables_tree = Variables(load_params(source, params, mapping=mapping, strict=strict, step=step), state)
    return model
