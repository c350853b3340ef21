"""fkeras optimizer state <-> Keras 3's `optimizer/vars` list.

Keras's order: `iterations`, `learning_rate` (absent when it is a schedule), then the slot
variables created by each `add_optimizer_variables` call: one call with several names interleaves
them per variable (Adam: m0, v0, m1, v1, ...), separate calls follow each other (RMSprop: all
velocities, then all momentums); Nadam's `u_product` comes last. Slots cover the trainable
variables only, in `model.trainable_weights` order. The fkeras side is
`model.train_state.opt_state` (`fkeras.train.optimizers.OptState`: iterations, learning_rate,
slots name -> params-like pytree, extra).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

# Slot names Keras creates in one `add_optimizer_variables` call (so interleaved per variable).
_INTERLEAVED = {"Adam": ("momentum", "velocity"), "AdamW": ("momentum", "velocity"), "Nadam": ("momentum", "velocity")}


def _slot_groups(opt) -> list:
    names = list(getattr(opt, "_slots", {}) or {})
    joint = _INTERLEAVED.get(type(opt).__name__, ())
    groups, used = [], set()
    for n in names:
        if n in used:
            continue
        grp = joint if n in joint and all(j in names for j in joint) else (n,)
        groups.append(grp)
        used |= set(grp)
    return groups


def _get(tree, path):
    for k in path:
        if not isinstance(tree, dict) or k not in tree:
            return None
        tree = tree[k]
    return tree


def _set(tree, path, value):
    if not path:
        return value
    out = dict(tree)
    out[path[0]] = _set(tree[path[0]], path[1:], value)
    return out


def _is_schedule(opt) -> bool:
    lr = getattr(opt, "_learning_rate", None)
    return lr is not None and not isinstance(lr, (int, float))


def _opt_state(model):
    ts = getattr(model, "train_state", None)
    st = getattr(ts, "opt_state", None)
    return st if st is not None and hasattr(st, "slots") and hasattr(st, "iterations") else None


def _layout(model, opt):
    """[(kind, slot_name, path)] in Keras order for the current opt_state (kind: it/lr/slot/extra)."""
    st = _opt_state(model)
    out = [("it", None, None)]
    if not _is_schedule(opt):
        out.append(("lr", None, None))
    if st is None:
        return out, None
    paths = model._weight_paths(True) if hasattr(model, "_weight_paths") else []
    for grp in _slot_groups(opt):
        for path in paths:
            for name in grp:
                if name in st.slots and _get(st.slots[name], tuple(path)) is not None:
                    out.append(("slot", name, tuple(path)))
    for k in (st.extra or {}):
        out.append(("extra", k, None))
    return out, st


def save_optimizer_arrays(model, opt) -> list:
    """The optimizer's variables in Keras's order, as NumPy arrays."""
    layout, st = _layout(model, opt)
    out = []
    for kind, name, path in layout:
        if kind == "it":
            out.append(np.asarray(0 if st is None else st.iterations, np.int32))
        elif kind == "lr":
            lr = opt.learning_rate if st is None else st.learning_rate
            out.append(np.asarray(lr, np.float32))
        elif kind == "slot":
            out.append(np.asarray(_get(st.slots[name], path)))
        else:
            out.append(np.asarray(st.extra[name]))
    return out


def ensure_opt_state(model) -> None:
    """Create the Trainer's TrainState and optimizer state if fit has not yet (as `Trainer._ready` does)."""
    if _opt_state(model) is not None or getattr(model, "optimizer", None) is None:
        return
    if getattr(model, "train_state", None) is None:
        if not getattr(model, "built", False) or not hasattr(model, "_create_train_state"):
            return
        model._create_train_state()
    from fkeras.train.steps import full_mask, split_trainable

    ts = model.train_state
    mask = full_mask(model._trainable_mask() if hasattr(model, "_trainable_mask") else None, ts.params)
    model.train_state = ts.replace(opt_state=model.optimizer.init(split_trainable(ts.params, mask)))
    _mark_opt_state_current(model, mask)


def _mark_opt_state_current(model, mask=None):
    """Tell the Trainer the optimizer state matches (else its first fit step re-initializes it)."""
    import jax

    from fkeras.train.steps import full_mask

    if mask is None:
        mask = full_mask(model._trainable_mask() if hasattr(model, "_trainable_mask") else None,
                         model.train_state.params)
    if hasattr(model, "_opt_key"):
        model._opt_key = (id(model.optimizer), tuple(jax.tree.leaves(mask)))


def load_optimizer_arrays(model, opt, arrays) -> None:
    """Write Keras-ordered optimizer variables into `model.train_state.opt_state` (checked first)."""
    base = 1 if _is_schedule(opt) else 2
    if len(arrays) <= base:  # the file's optimizer was never built: iterations (and learning rate) only
        _load_base(model, opt, arrays)
        return
    ensure_opt_state(model)
    layout, st = _layout(model, opt)
    if st is None:
        raise ValueError(f"Cannot load optimizer state into {type(model).__name__}: it has no optimizer state yet "
                         "(compile and build the model first).")
    if len(arrays) != len(layout):
        raise ValueError(f"Optimizer '{getattr(opt, 'name', type(opt).__name__)}' has {len(layout)} variables, the "
                         f"file has {len(arrays)}. The model was left unchanged.")
    slots, extra = dict(st.slots), dict(st.extra or {})
    iterations, lr = st.iterations, st.learning_rate
    for (kind, name, path), a in zip(layout, arrays):
        if kind == "slot":
            cur = _get(slots[name], path)
            if tuple(cur.shape) != tuple(a.shape):
                raise ValueError(f"Optimizer slot {name} for {'/'.join(path)}: expected shape {tuple(cur.shape)}, "
                                 f"the file has {tuple(a.shape)}. The model was left unchanged.")
    for (kind, name, path), a in zip(layout, arrays):
        if kind == "it":
            iterations = jnp.asarray(a, jnp.asarray(st.iterations).dtype)
        elif kind == "lr":
            lr = jnp.asarray(a, jnp.float32)
        elif kind == "slot":
            cur = _get(slots[name], path)
            slots[name] = _set(slots[name], path, jnp.asarray(a, cur.dtype))
        else:
            extra[name] = jnp.asarray(a, jnp.asarray(st.extra[name]).dtype)
    new = st._replace(iterations=iterations, learning_rate=lr, slots=slots, extra=extra)
    ts = model.train_state
    changes = {"opt_state": new}
    if hasattr(ts, "step"):
        changes["step"] = jnp.array(np.asarray(iterations), jnp.asarray(ts.step).dtype)  # own buffer: steps donate
    model.train_state = ts.replace(**changes)
    _mark_opt_state_current(model)
    if not _is_schedule(opt):
        opt._learning_rate = float(np.asarray(lr))


def _load_base(model, opt, arrays) -> None:
    st = _opt_state(model)
    lr = arrays[1] if len(arrays) > 1 and not _is_schedule(opt) else None
    if lr is not None:
        opt._learning_rate = float(np.asarray(lr))
    if st is not None:
        new = st._replace(iterations=jnp.array(np.asarray(arrays[0]), jnp.asarray(st.iterations).dtype),
                          learning_rate=st.learning_rate if lr is None else jnp.array(np.asarray(lr), jnp.float32))
        model.train_state = model.train_state.replace(opt_state=new)
