"""fkeras optimizer state <-> Keras 3's `optimizer/vars` list.

Keras's order: `iterations`, `learning_rate` (absent when it is a schedule), then the slot
variables created by each `add_optimizer_variables` call: one call with several names interleaves
them per variable (Adam: m0, v0, m1, v1, ...), separate calls follow each other (RMSprop: all
velocities, then all momentums); Nadam's `u_product` comes last. The groups are read from the
optimizer's own definition (`Optimizer.slot_groups()`), never from a table here. Slots cover the trainable
variables only, in `model.trainable_weights` order. The fkeras side is
`model.train_state.opt_state` (`fkeras.train.optimizers.OptState`: iterations, learning_rate,
slots name -> params-like pytree, extra).

A `LossScaleOptimizer` (state `LossScaleState`) writes, as Keras 3.15 does, `optimizer/vars` =
its own iterations and learning rate (Keras keeps both at 0), `step_counter`, `dynamic_scale`, then
the inner optimizer's list; and the inner list once more under `optimizer/inner_optimizer/vars`.
Unbuilt (no state yet) it writes its own two then the inner's iterations and learning rate.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from fkeras.nn.paths import find_path, set_path
from fkeras.train.optimizers import is_schedule
from fkeras.train.steps import full_mask, split_optimized

def _slot_get(tree, key):
    """A slot's array: `key` a path into a params-like dict, or an index into the list a custom train_step's
    state holds (its leaves in Keras's `trainable_variables` order)."""
    if isinstance(key, int):
        return tree[key] if isinstance(tree, (list, tuple)) and key < len(tree) else None
    return find_path(tree, key)


def _slot_set(tree, key, value):
    if isinstance(key, int):
        out = list(tree)
        out[key] = value
        return type(tree)(out) if isinstance(tree, tuple) else out
    return set_path(tree, key, value)


def _slot_groups(opt) -> list:
    """The optimizer definition's slot names, grouped as Keras's `add_optimizer_variables` calls create
    them (`Optimizer.slot_groups()`): names in one group interleave per variable, groups follow each other."""
    groups = getattr(opt, "all_slot_groups", None) or getattr(opt, "slot_groups", None)
    return [tuple(name for name, _ in grp) for grp in groups()] if callable(groups) else []


def _is_schedule(opt) -> bool:
    lr = getattr(opt, "_learning_rate", None)
    return lr is not None and is_schedule(lr)


def _is_loss_scale(opt) -> bool:
    return getattr(opt, "inner_optimizer", None) is not None


def _is_multi(opt) -> bool:
    return isinstance(getattr(opt, "_inner_optimizers", None), list)


def base_count(opt) -> int:
    """How many variables `opt` writes before it is built (iterations and learning rate only)."""
    if _is_multi(opt):  # its own two, then each inner optimizer's
        return 2 + sum(base_count(o) for o in opt.optimizers)
    own = 1 if _is_schedule(opt) else 2
    return 2 + base_count(opt.inner_optimizer) if _is_loss_scale(opt) else own


def _opt_state(model):
    ts = getattr(model, "train_state", None)
    st = getattr(ts, "opt_state", None)
    if st is not None and hasattr(st, "inner") and hasattr(st, "iterations"):  # LossScale- or MultiOptimizer's
        return st
    return st if st is not None and hasattr(st, "slots") and hasattr(st, "iterations") else None


def _states(model, opt):
    """(the optimizer's whole state or None, the plain OptState its slots live in or None)."""
    st = _opt_state(model)
    if _is_loss_scale(opt):
        st = st if hasattr(st, "dynamic_scale") else None
        inner = getattr(st, "inner", None)
        return st, inner if hasattr(inner, "slots") else None
    st = st if hasattr(st, "slots") else None
    return st, st


def _layout(model, opt, st):
    """[(kind, slot_name, path)] in Keras order for the plain OptState `st` (kind: it/lr/slot/extra)."""
    out = [("it", None, None)]
    if not _is_schedule(opt):
        out.append(("lr", None, None))
    if st is None:
        return out
    paths = model._weight_paths(True) if hasattr(model, "_weight_paths") else []
    for grp in _slot_groups(opt):
        for path in paths:
            for name in grp:
                if name in st.slots and _slot_get(st.slots[name], _key(st, paths, path)) is not None:
                    out.append(("slot", name, _key(st, paths, path)))
    for k in (st.extra or {}):
        out.append(("extra", k, None))
    return out


def _key(st, paths, path):
    """Where `path`'s slot is in `st`: the path itself, or its index when the slots are lists."""
    lists = any(isinstance(t, (list, tuple)) for t in st.slots.values())
    return paths.index(path) if lists else tuple(path)


def _plain_arrays(model, opt, st) -> list:
    out = []
    for kind, name, path in _layout(model, opt, st):
        if kind == "it":
            out.append(np.asarray(0 if st is None else st.iterations, np.int32))
        elif kind == "lr":
            lr = opt.learning_rate if st is None else st.learning_rate
            out.append(np.asarray(lr, np.float32))
        elif kind == "slot":
            out.append(np.asarray(_slot_get(st.slots[name], path)))
        else:
            out.append(np.asarray(st.extra[name]))
    return out


def _multi_state(model, opt):
    st = getattr(getattr(model, "train_state", None), "opt_state", None)
    return st if st is not None and hasattr(st, "inner") and not hasattr(st, "dynamic_scale") else None


def _unbuilt_arrays(opt) -> list:
    """An unbuilt optimizer's variables: iterations (0) and, unless a schedule, the learning rate."""
    return [np.asarray(0, np.int32)] + ([] if _is_schedule(opt) else [np.asarray(opt.learning_rate, np.float32)])


def _save_multi(model, opt) -> list:
    """A MultiOptimizer's `variables` (its own iterations and learning rate, then each inner optimizer's)."""
    st = _multi_state(model, opt)
    if st is None:
        return [np.asarray(0, np.int32), np.asarray(0.0, np.float32)] + [
            a for o in opt.optimizers for a in _unbuilt_arrays(o)]
    return [np.asarray(a) for a in opt.state_to_list(st)]


def save_sub_optimizer_arrays(model, opt, sub) -> list:
    """One inner optimizer's `variables` of the MultiOptimizer `opt` (Keras also writes each under
    `optimizer/optimizers/<snake class name>/vars`; they repeat the tail of `optimizer/vars`)."""
    st = _multi_state(model, opt)
    k = next(i for i, o in enumerate(opt.optimizers) if o is sub)
    if st is None or k >= len(st.inner):
        return _unbuilt_arrays(sub)
    return [np.asarray(a) for a in sub.state_to_list(st.inner[k])]


def _load_multi(model, opt, arrays) -> None:
    """Write a MultiOptimizer's Keras-ordered variables into the model's state (every shape checked first)."""
    name = getattr(opt, "name", type(opt).__name__)
    if len(arrays) <= base_count(opt):  # the file's optimizer was never built: iterations and learning rates
        sizes = [base_count(o) for o in opt.optimizers]
        if len(arrays) != 2 + sum(sizes):
            raise ValueError(f"Optimizer '{name}' has {2 + sum(sizes)} variables before it is built, the file has "
                             f"{len(arrays)}. The model was left unchanged.")
        at = 2
        for o, n in zip(opt.optimizers, sizes):
            if n == 2:
                o._learning_rate = float(np.asarray(arrays[at + 1]))
            at += n
        return
    ensure_opt_state(model)
    st = _multi_state(model, opt)
    if st is None:
        raise _no_opt_state(model)
    try:
        new = opt.state_from_list([np.asarray(a) for a in arrays], st)
    except ValueError as e:
        raise ValueError(f"Optimizer '{name}': {e} The model was left unchanged.") from None
    import jax

    for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(st)):
        if tuple(np.shape(a)) != tuple(np.shape(b)):
            raise ValueError(f"Optimizer '{name}': expected a variable of shape {tuple(np.shape(b))}, the file has "
                             f"{tuple(np.shape(a))}. The model was left unchanged.")
    new = jax.tree.map(lambda a, b: jnp.array(np.asarray(a), jnp.asarray(b).dtype), new, st)
    _install_opt_state(model, new, new.iterations)
    for o, inner in zip(opt.optimizers, new.inner):
        if not _is_schedule(o):
            o._learning_rate = float(np.asarray(inner.learning_rate))


def save_optimizer_arrays(model, opt) -> list:
    """The optimizer's variables in Keras's order, as NumPy arrays."""
    if _is_multi(opt):
        return _save_multi(model, opt)
    st, plain = _states(model, opt)
    if not _is_loss_scale(opt):
        return _plain_arrays(model, opt, plain)
    head = [np.asarray(0, np.int32), np.asarray(0.0, np.float32)]
    if st is not None:
        head = [np.asarray(st.iterations, np.int32), np.asarray(st.learning_rate, np.float32),
                np.asarray(st.step_counter, np.int32), np.asarray(st.dynamic_scale, np.float32)]
    return head + _plain_arrays(model, opt.inner_optimizer, plain)


def save_inner_optimizer_arrays(model, opt) -> list:
    """A LossScaleOptimizer's inner optimizer's variables (Keras's `optimizer/inner_optimizer/vars`)."""
    return _plain_arrays(model, opt.inner_optimizer, _states(model, opt)[1])


def ensure_opt_state(model) -> None:
    """Create the Trainer's TrainState and optimizer state if fit has not yet (as `Trainer._ready` does)."""
    if _opt_state(model) is not None or getattr(model, "optimizer", None) is None:
        return
    if getattr(model, "train_state", None) is None:
        if not getattr(model, "built", False) or not hasattr(model, "_create_train_state"):
            return
        model._create_train_state()

    ts = model.train_state
    mask = full_mask(model._trainable_mask() if hasattr(model, "_trainable_mask") else None, ts.params)
    if hasattr(model, "_name_optimizer_leaves"):  # which variable each leaf is, as fit tells it
        model._name_optimizer_leaves(ts.params, mask)
    model.train_state = ts.replace(opt_state=model.optimizer.init(split_optimized(ts.params, mask)))
    _mark_opt_state_current(model, mask)


def _no_opt_state(model) -> ValueError:
    return ValueError(f"Cannot load optimizer state into {type(model).__name__}: it has no optimizer state yet "
                      "(compile and build the model first).")


def _install_opt_state(model, opt_state, iterations) -> None:
    """Put a loaded `opt_state` into the model's TrainState, its `step` set from `iterations`, marked current."""
    ts = model.train_state
    changes = {"opt_state": opt_state}
    if hasattr(ts, "step"):  # own buffer: steps donate
        changes["step"] = jnp.array(np.asarray(iterations), jnp.asarray(ts.step).dtype)
    model.train_state = ts.replace(**changes)
    _mark_opt_state_current(model)


def _mark_opt_state_current(model, mask=None):
    """Tell the Trainer the optimizer state matches (else its first fit step re-initializes it)."""
    import jax

    if mask is None:
        mask = full_mask(model._trainable_mask() if hasattr(model, "_trainable_mask") else None,
                         model.train_state.params)
    if hasattr(model, "_opt_key"):
        model._opt_key = (id(model.optimizer), tuple(jax.tree.leaves(mask)))


def _plain_from_arrays(model, opt, st, arrays, where):
    """`st` (a plain OptState) with Keras-ordered `arrays` written in; every shape checked first."""
    layout = _layout(model, opt, st)
    if len(arrays) != len(layout):
        raise ValueError(f"Optimizer '{where}' has {len(layout)} variables, the file has {len(arrays)}. "
                         "The model was left unchanged.")
    slots, extra = dict(st.slots), dict(st.extra or {})
    iterations, lr = st.iterations, st.learning_rate
    for (kind, name, path), a in zip(layout, arrays):
        if kind == "slot":
            cur = _slot_get(slots[name], path)
            if tuple(cur.shape) != tuple(a.shape):
                where_ = path if isinstance(path, int) else "/".join(path)
                raise ValueError(f"Optimizer slot {name} for {where_}: expected shape {tuple(cur.shape)}, "
                                 f"the file has {tuple(a.shape)}. The model was left unchanged.")
    for (kind, name, path), a in zip(layout, arrays):
        if kind == "it":
            iterations = jnp.asarray(a, jnp.asarray(st.iterations).dtype)
        elif kind == "lr":
            lr = jnp.asarray(a, jnp.float32)
        elif kind == "slot":
            cur = _slot_get(slots[name], path)
            slots[name] = _slot_set(slots[name], path, jnp.asarray(a, cur.dtype))
        else:
            extra[name] = jnp.asarray(a, jnp.asarray(st.extra[name]).dtype)
    return st._replace(iterations=iterations, learning_rate=lr, slots=slots, extra=extra)


def load_optimizer_arrays(model, opt, arrays) -> None:
    """Write Keras-ordered optimizer variables into `model.train_state.opt_state` (checked first)."""
    if _is_multi(opt):
        return _load_multi(model, opt, arrays)
    if len(arrays) <= base_count(opt):  # the file's optimizer was never built: iterations (and learning rate) only
        _load_base(model, opt, arrays)
        return
    ensure_opt_state(model)
    st, plain = _states(model, opt)
    if plain is None:
        raise _no_opt_state(model)
    name = getattr(opt, "name", type(opt).__name__)
    if _is_loss_scale(opt):
        n_inner = len(_layout(model, opt.inner_optimizer, plain))
        if len(arrays) != 4 + n_inner:
            raise ValueError(f"Optimizer '{name}' has {4 + n_inner} variables, the file has {len(arrays)}. "
                             "The model was left unchanged.")
        inner = _plain_from_arrays(model, opt.inner_optimizer, plain, arrays[4:], name)
        own = ("iterations", "learning_rate", "step_counter", "dynamic_scale")
        new = st._replace(inner=inner, **{n: jnp.array(np.asarray(a), jnp.asarray(getattr(st, n)).dtype)
                                          for n, a in zip(own, arrays)})
        plain_opt = opt.inner_optimizer
    else:
        new = inner = _plain_from_arrays(model, opt, plain, arrays, name)
        plain_opt = opt
    _install_opt_state(model, new, inner.iterations)
    if not _is_schedule(plain_opt):
        plain_opt._learning_rate = float(np.asarray(inner.learning_rate))


def _load_base(model, opt, arrays) -> None:
    st, plain = _states(model, opt)
    plain_opt = opt
    if _is_loss_scale(opt):  # the wrapper's own two (always 0), then the inner's iterations and learning rate
        plain_opt, arrays = opt.inner_optimizer, arrays[2:]
    lr = arrays[1] if len(arrays) > 1 and not _is_schedule(plain_opt) else None
    if lr is not None:
        plain_opt._learning_rate = float(np.asarray(lr))
    if plain is not None and len(arrays):
        new = plain._replace(iterations=jnp.array(np.asarray(arrays[0]), jnp.asarray(plain.iterations).dtype),
                             learning_rate=plain.learning_rate if lr is None else jnp.array(np.asarray(lr),
                                                                                             jnp.float32))
        model.train_state = model.train_state.replace(opt_state=st._replace(inner=new) if st is not plain else new)
