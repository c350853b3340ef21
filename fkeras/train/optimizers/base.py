"""What every fkeras optimizer shares: `OptState`, the base `Optimizer` and the class registry.

An optimizer is a definition: its Keras arguments, its slots (declared in Keras's creation
order, which is what `.keras` saving reads) and its update rule `update_leaf`, written over
`fkeras.ops` so the same rule runs on JAX arrays (the jitted train step) and on torch
tensors (the torch engine). The base adds what Keras adds around every rule, in Keras's
order: the learning rate (a float kept in the state, or a schedule of the iteration count),
gradient clipping (`clipnorm` / `global_clipnorm` / `clipvalue`), then decoupled weight decay
`p -= p * weight_decay * lr`, then the rule; frozen parameters are None leaves (no slot, no
update).

    opt = Adam(1e-3)
    s = opt.init(params)                         # OptState
    params, s = opt.apply(grads, s, params)      # pure: new params directly
    updates, s = opt.update(grads, s, params)    # optax protocol: params + updates
    tx = opt.as_optax()                          # an optax.GradientTransformation

Keras's stateful face (`apply_gradients`, `variables`, `iterations`, `learning_rate`,
`build`, `stateless_apply`) is a view over a `StateCell`: the optimizer's own cell when used
alone, or the cell of the TrainState it was compiled into (`bind_state`, called by the
Trainer). The optimizer holds no reference to a Trainer or to a wrapping optimizer.
"""

from __future__ import annotations

import numbers
import re
from typing import Any, NamedTuple

import jax
import numpy as np
import optax

from fkeras import ops
from fkeras.ops._array_face import ArrayFace
from fkeras.train import schedules as _schedules
from fkeras.train.state import StateCell
from fkeras.nn.base import snake_case

_REGISTRY: dict = {}  # class name -> class: `get`, `serialize`/`deserialize` and saving resolve names here


def register(cls):
    """Class decorator: make `cls` known to `get("name")`, `deserialize` and `.keras` loading by its name."""
    _REGISTRY[cls.__name__] = cls
    return cls


def registered() -> dict:
    """A copy of the registry: class name -> optimizer class."""
    return dict(_REGISTRY)


class OptState(NamedTuple):
    """An optimizer's state: `iterations` (int32, updates done), `learning_rate` (float32, the rate of
    the last/next update), `slots` (dict name -> pytree like the params), `extra` (dict of scalars)."""

    iterations: Any
    learning_rate: Any
    slots: Any
    extra: Any


def is_schedule(lr) -> bool:
    """True for a learning-rate schedule (a `LearningRateSchedule` or any callable of the step)."""
    return isinstance(lr, _schedules.LearningRateSchedule) or (callable(lr) and not isinstance(lr, (int, float)))


_is_schedule = is_schedule  # the name the torch engine and saving used


def _clip_by_norm(g, clipnorm):
    """Keras's `clip_by_norm`: `g * clipnorm / max(||g||, clipnorm)` with a safe sqrt at 0."""
    l2sum = ops.sum(ops.square(g))
    pred = l2sum > 0
    l2norm = ops.where(pred, ops.sqrt(ops.where(pred, l2sum, 1.0)), l2sum)
    return g * clipnorm / ops.maximum(l2norm, clipnorm)


def _global_scale(grads, clipnorm):
    """Keras's `clip_by_global_norm` factor: `clipnorm * min(1/||grads||, 1/clipnorm)`."""
    norm = ops.sqrt(sum(ops.sum(ops.square(g)) for g in grads))
    # `+ (norm - norm)`: a no-op for a finite norm, NaN for inf/NaN (as Keras)
    return clipnorm * ops.minimum(1.0 / norm, 1.0 / clipnorm) + (norm - norm)


def _get_in(node, path):
    for name in path:
        if node is None:
            return None
        if isinstance(name, int):  # an index into a tuple field (a MultiOptimizer's inner states)
            node = node[name] if isinstance(node, tuple) and name < len(node) else None
        else:
            node = getattr(node, name, None)
    return node


def _replace_in(node, path, value):
    """`node` with the field at `path` (attribute names, or int indexes into tuples) replaced by `value`
    (NamedTuples and eqx Modules)."""
    if not path:
        return value
    if isinstance(path[0], int):
        i = path[0]
        return node[:i] + (_replace_in(node[i], path[1:], value),) + node[i + 1:]
    child = _replace_in(getattr(node, path[0]), path[1:], value)
    replace = getattr(node, "_replace", None) or node.replace
    return replace(**{path[0]: child})


def _value_of(v):
    """A variable's current array (`fkeras.Variable` and Keras variables have `.value`)."""
    return getattr(v, "value", v)


class OptimizerVariable(ArrayFace):
    """One of an optimizer's state arrays as Keras's optimizer `Variable` (an entry of `variables`,
    or `iterations`): `value` reads the optimizer's current state (its model's TrainState once
    compiled), `assign` writes there. `name` and `path` as Keras gives them (`adam/iteration`,
    `adam/sequential_dense_kernel_momentum`)."""

    trainable = False

    def __init__(self, optimizer, index, path):
        self._optimizer, self._index, self.path = optimizer, index, path
        self.name = path.rsplit("/", 1)[-1]

    @property
    def value(self):
        return self._optimizer._variable_values()[self._index]

    @property
    def shape(self):
        return tuple(self.value.shape)

    @property
    def dtype(self):
        return ops.dtype(self.value)

    def assign(self, value):
        self._optimizer._assign_variable(self._index, value)
        return self.value

    def __eq__(self, o):
        return ops.equal(self.value, _value_of(o))

    def __ne__(self, o):
        return ops.not_equal(self.value, _value_of(o))

    __hash__ = ArrayFace.__hash__

    def __int__(self):
        return int(np.asarray(self.value))

    __index__ = __int__

    def __float__(self):
        return float(np.asarray(self.value))

    def __bool__(self):
        return bool(np.asarray(self.value))

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, value={np.asarray(self.value)}>"


# As a layer's Variable: handed to a jitted function, an optimizer variable flattens to its current value.
jax.tree_util.register_pytree_node(OptimizerVariable, lambda v: ((v.value,), None), lambda aux, children: children[0])


class VariableViews:
    """Keras's `optimizer.variables` for an optimizer class that defines `_state()`, `_set_state()`,
    `state_to_list`/`state_from_list` and `variable_paths(state)`."""

    @property
    def variables(self):
        """The optimizer's state as Keras's list of optimizer Variables (iteration, learning rate, the
        slots, ...), in Keras's order: views (`OptimizerVariable`) that read and assign the current state."""
        st = self._state()
        if st is None:
            return []
        paths = self.variable_paths(st)
        views = self.__dict__.get("_variable_views")
        if views is None or [v.path for v in views] != paths:
            views = self._variable_views = [OptimizerVariable(self, j, p) for j, p in enumerate(paths)]
        return list(views)

    def _variable_values(self):
        st = self._state()
        if st is None:
            raise ValueError(f"{type(self).__name__} '{self.name}' holds no state: build it "
                             "(`build(var_list)`, `apply_gradients`, or compile and fit its model) first.")
        return self.state_to_list(st)

    def _assign_variable(self, index, value):
        """Write `value` as the `index`-th entry of `variables` (shape and dtype checked before writing)."""
        st = self._state()
        values = self._variable_values()
        old = values[index]
        value = _value_of(value)
        if tuple(np.shape(value)) != tuple(old.shape):
            raise ValueError(f"Variable '{self.variable_paths(st)[index]}': expected a value of "
                             f"shape {tuple(old.shape)}, got shape {tuple(np.shape(value))}.")
        values[index] = ops.cast(ops.convert_to_tensor(value), ops.dtype(old))
        self._set_state(self.state_from_list(values, st))


class Optimizer(VariableViews):
    """Base of Keras's optimizers: arguments `learning_rate`, `weight_decay`, `clipnorm`, `clipvalue`,
    `global_clipnorm` (and Keras's other base arguments at their defaults).

    A subclass is one definition: `slot_groups()` (its slots with their initial values, grouped as
    Keras's `add_optimizer_variables` calls create them), optionally `init_extra()`/`update_extra()`
    (scalars shared by all leaves, e.g. Nadam's `u_product`), and `update_leaf`, the rule over
    `fkeras.ops`.
    """

    _state_type = OptState  # the pytree type `init` returns

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword arguments {sorted(kwargs)}.")
        owner = type(self).__name__
        if gradient_accumulation_steps:
            gradient_accumulation_steps = check_number(owner, "gradient_accumulation_steps",
                                                       gradient_accumulation_steps, low=2, integral=True)
        if use_ema:
            ema_momentum = check_number(owner, "ema_momentum", ema_momentum, low=0, high=1)
            if ema_overwrite_frequency is not None:
                ema_overwrite_frequency = check_number(owner, "ema_overwrite_frequency", ema_overwrite_frequency,
                                                       low=1, integral=True)
        if loss_scale_factor is not None:
            loss_scale_factor = check_number(owner, "loss_scale_factor", loss_scale_factor)
        self.use_ema, self.ema_momentum, self.ema_overwrite_frequency = bool(use_ema), ema_momentum, \
            ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps or None
        self._exclude_ids, self._exclude_pattern = frozenset(), None
        given = [n for n, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                                ("global_clipnorm", global_clipnorm)) if v is not None]
        if len(given) > 1:
            raise ValueError(f"{type(self).__name__}: only one of clipnorm, clipvalue and global_clipnorm can be "
                             f"set, got {given}.")
        if not is_schedule(learning_rate):
            try:
                learning_rate = float(learning_rate)
            except (TypeError, ValueError):
                raise TypeError(f"{type(self).__name__}: expected `learning_rate` to be a float or a "
                                f"LearningRateSchedule, got {learning_rate!r}.") from None
            if learning_rate < 0:
                raise ValueError(f"{type(self).__name__}: expected learning_rate >= 0, got {learning_rate}.")
        self._learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm

        self.name = name or snake_case(type(self).__name__)
        self._own_state()

    # -- the definition ---------------------------------------------------------------------
    def slot_groups(self) -> tuple:
        """The slots, as Keras creates them: a tuple of groups, one per `add_optimizer_variables` call,
        each a tuple of `(slot name, initial value)`. Names in one group are interleaved per variable
        in Keras's `optimizer.variables` (Adam: m0, v0, m1, v1, ...); groups follow each other."""
        return ()

    def common_slot_groups(self) -> tuple:
        """The base's own slots, created by Keras's `build` before the rule's: `average` (the EMA of each
        variable, if `use_ema`), then `gradient_accumulator` (if `gradient_accumulation_steps`)."""
        return (((("average", 0.0),),) if self.use_ema else ()) + (
            ((("gradient_accumulator", 0.0),),) if self.gradient_accumulation_steps else ())

    def all_slot_groups(self) -> tuple:
        """Every slot group in Keras's creation order: `common_slot_groups()` then `slot_groups()` (what
        `init` creates and `.keras` saving reads)."""
        return self.common_slot_groups() + tuple(self.slot_groups())

    def slot_names(self) -> tuple:
        """The slot names in Keras's creation order."""
        return tuple(n for grp in self.all_slot_groups() for n, _ in grp)

    def slot_init(self, name, value, p):
        """Slot `name`'s initial array for the variable `p`: `value` in `p`'s shape and dtype (Adafactor's
        factored slots override this)."""
        return ops.full(p.shape, value, dtype=p.dtype)

    def init_extra(self) -> dict:
        """Scalars shared by all leaves (name -> float32 scalar), kept after the slots in Keras's order."""
        return {}

    def update_extra(self, extra, t):
        """The shared scalars for the update that takes iteration count `t` to `t + 1`."""
        return extra

    def update_leaf(self, g, p, slots, lr, t, extra):
        """One variable's update over `fkeras.ops`: `(new_p, new_slots)`. `g`, `p`: the (clipped) gradient
        and the (weight-decayed) value, same shape and dtype; `slots`: name -> array like `p`; `lr`: the
        learning rate (a scalar in `p`'s dtype); `t`: iterations before this update (int32 scalar)."""
        raise NotImplementedError(f"{type(self).__name__} must implement `update_leaf(g, p, slots, lr, t, extra)`.")

    # -- the learning rate ----------------------------------------------------------------
    def lr_at(self, state: OptState):
        """The learning rate for the update that `state` is about to take (a float32 scalar)."""
        lr = self._learning_rate
        if not is_schedule(lr):
            return state.learning_rate
        it = state.iterations
        if ops.framework_of(it) == "jax":
            return ops.cast(lr(it), "float32")
        # another framework's state (the torch engine): schedules are JAX code, evaluated on the host
        value = float(np.float32(np.asarray(lr(int(ops.convert_to_numpy(it))))))
        return ops.zeros_like(state.learning_rate) + value

    # -- pure API ---------------------------------------------------------------------------
    def init(self, params) -> OptState:
        """A fresh state for `params` (a pytree; None leaves are frozen and get no slot)."""
        lr = 0.0 if is_schedule(self._learning_rate) else self._learning_rate
        common = {n for grp in self.common_slot_groups() for n, _ in grp}
        slots = {n: jax.tree.map(lambda p, n=n, v=v: (ops.full(p.shape, v, dtype=p.dtype) if n in common
                                                      else self.slot_init(n, v, p)), params)
                 for grp in self.all_slot_groups() for n, v in grp}
        return OptState(ops.zeros((), "int32"), ops.full((), lr, dtype="float32"), slots, self.init_extra())

    def clip(self, grads: list) -> list:
        """Keras's gradient clipping (one of clipnorm / global_clipnorm / clipvalue) on a list of arrays."""
        if self.clipnorm and self.clipnorm > 0:
            return [_clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            scale = _global_scale(grads, self.global_clipnorm)
            return [g * scale for g in grads]
        if self.clipvalue and self.clipvalue > 0:
            v = self.clipvalue
            return [ops.clip(g, -v, v) for g in grads]
        return grads

    # -- weight decay exclusions ------------------------------------------------------------
    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exclude variables from weight decay (Keras's method; call it before the optimizer is built):
        `var_list` variables themselves, or any variable whose name contains (`re.search`) one of
        `var_names` (e.g. `["bias"]`). The pure API reads names from `set_variable_names`."""
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be configured before the optimizer is built.")
        self._exclude_ids = frozenset(id(v) for v in var_list) if var_list else frozenset()
        self._exclude_pattern = re.compile("|".join(sorted(set(var_names)))) if var_names else None
        self._decay_mask = None

    def _use_weight_decay(self, variable) -> bool:
        """Keras's test for one variable (an object with a `name`, or a bare name string)."""
        if id(variable) in self._exclude_ids:
            return False
        name = variable if isinstance(variable, str) else getattr(variable, "name", None)
        return not (self._exclude_pattern is not None and name is not None and
                    self._exclude_pattern.search(name) is not None)

    def set_variable_names(self, variables, keras_order=None):
        """Tell the optimizer which variables (objects with `name`/`path`, or bare path strings) the
        params leaves stand for, in the flat order of the params pytree `init`/`apply` receive: it
        fixes the weight-decay mask (`exclude_from_weight_decay`) and the per-variable choices made
        from paths (Muon, MultiOptimizer). `keras_order`: the flat leaf index of each variable in
        Keras's `trainable_variables` order (default: the flat order is Keras's), which
        `variables`/`stateless_apply` lists follow. Used by the Trainer and the stateful face."""
        variables = list(variables)
        self._decay_mask = tuple(self._use_weight_decay(v) for v in variables)
        self._leaf_paths = tuple(v if isinstance(v, str) else getattr(v, "path", None) or getattr(v, "name", None)
                                 for v in variables)
        order = None if keras_order is None else [int(i) for i in keras_order]
        if order is not None and sorted(order) != list(range(len(variables))):
            raise ValueError(f"{type(self).__name__}.set_variable_names: `keras_order` must be a permutation of "
                             f"range({len(variables)}), got {order}.")
        self._keras_order = order

    def leaf_weight_decay(self, i, p):
        """The decoupled weight-decay rate of the `i`-th params leaf `p` (None: none): `weight_decay`
        (Muon picks per variable)."""
        return self.weight_decay

    # -- the update --------------------------------------------------------------------------
    def _apply_pure(self, grads, state: OptState, params):
        """Keras's update (its JAX backend's order): unscale by `loss_scale_factor`; with gradient
        accumulation, add to the accumulators and update only every N-th call with their mean; clip,
        decoupled weight decay, the rule; then the EMA of the new values (and, every
        `ema_overwrite_frequency` updates, the values set to it). Returns (params, state)."""
        raw = state.iterations
        n_acc = self.gradient_accumulation_steps
        t = raw // n_acc if n_acc else raw  # Keras's `optimizer.iterations`: updates taken so far
        lr = self.lr_at(state)
        leaves_g, treedef = jax.tree.flatten(grads)
        leaves_p = treedef.flatten_up_to(params)
        leaves_g = [ops.cast(g, ops.dtype(p)) for g, p in zip(leaves_g, leaves_p)]
        if self.loss_scale_factor is not None:
            leaves_g = [g / self.loss_scale_factor for g in leaves_g]
        slot_leaves = {n: treedef.flatten_up_to(s) for n, s in state.slots.items()}
        common = [n for grp in self.common_slot_groups() for n, _ in grp]
        if n_acc:
            is_update = (raw + 1) % n_acc == 0
            acc = slot_leaves["gradient_accumulator"]
            slot_leaves["gradient_accumulator"] = [ops.where(is_update, ops.zeros_like(a), g + a)
                                                   for g, a in zip(leaves_g, acc)]
            leaves_g = [(g + a) / n_acc for g, a in zip(leaves_g, acc)]
        leaves_g = self.clip(leaves_g)
        new_p = list(leaves_p)
        rates = [self.leaf_weight_decay(i, p) for i, p in enumerate(new_p)]
        if any(rates):
            mask = getattr(self, "_decay_mask", None)
            if mask is None and (self._exclude_ids or self._exclude_pattern is not None):
                raise ValueError(f"{type(self).__name__}: exclude_from_weight_decay() was set but the optimizer "
                                 "does not know which variables the params are; build it on the variables "
                                 "(`build(var_list)`) or call `set_variable_names(names)` first.")
            if mask is not None and len(mask) != len(new_p):
                raise ValueError(f"{type(self).__name__}: weight-decay exclusions were set for {len(mask)} "
                                 f"variables, got {len(new_p)}.")
            new_p = [p if (mask is not None and not mask[i]) or not rates[i]
                     else p - p * float(rates[i]) * ops.cast(lr, ops.dtype(p)) for i, p in enumerate(new_p)]
        extra = self.update_extra(state.extra, t)
        rule_slots = {n: v for n, v in slot_leaves.items() if n not in common}
        out_slots = {n: [] for n in rule_slots}
        for i, (g, p) in enumerate(zip(leaves_g, new_p)):
            s = {n: v[i] for n, v in rule_slots.items()}
            new_p[i], ns = self.update_leaf(g, p, s, ops.cast(lr, ops.dtype(p)), t, extra)
            for n in out_slots:
                out_slots[n].append(ns[n])
        if n_acc:  # only every N-th call keeps the update (the rule's slots and shared scalars too)
            new_p = [ops.where(is_update, a, b) for a, b in zip(new_p, leaves_p)]
            out_slots = {n: [a if a is None else ops.where(is_update, a, b) for a, b in zip(v, rule_slots[n])]
                         for n, v in out_slots.items()}
            extra = {k: ops.where(is_update, v, state.extra[k]) for k, v in extra.items()}
        out_slots.update({n: slot_leaves[n] for n in common})
        if self.use_ema:
            momentum = ops.cast(t != 0, "float32") * self.ema_momentum
            out_slots["average"] = [ops.cast(momentum, ops.dtype(p)) * a + (1 - ops.cast(momentum, ops.dtype(p))) * p
                                    for a, p in zip(slot_leaves["average"], new_p)]
            if self.ema_overwrite_frequency is not None:
                overwrite = (t + 1) % self.ema_overwrite_frequency == 0
                new_p = [ops.where(overwrite, a, p) for a, p in zip(out_slots["average"], new_p)]
        params = jax.tree.unflatten(treedef, new_p)
        slots = {n: jax.tree.unflatten(treedef, out_slots[n]) for n in state.slots}
        lr_next = lr if is_schedule(self._learning_rate) else state.learning_rate
        return params, OptState(raw + 1, lr_next, slots, extra)

    def finalize_params(self, state: OptState, params):
        """The params at the end of training: the moving averages with `use_ema` (Keras's
        `finalize_variable_values`), else `params` unchanged."""
        if not self.use_ema or state is None or "average" not in state.slots:
            return params
        return state.slots["average"]

    def update(self, grads, state: OptState, params=None):
        """optax's `update`: returns (updates, new_state) with `params + updates` = Keras's new params."""
        if params is None:
            raise ValueError(f"{type(self).__name__}.update needs `params` (Keras optimizers read the weights).")
        new_params, state = self._apply_pure(grads, state, params)
        return jax.tree.map(lambda n, p: n - p, new_params, params), state

    def as_optax(self) -> optax.GradientTransformation:
        return optax.GradientTransformation(self.init, self.update)

    # -- state as a flat variable list (Keras's `optimizer_variables`) ---------------------------
    def _list_layout(self, state):
        """Keras's `optimizer.variables` order for `state`: `[(kind, key, leaf index)]` with kind "it", "lr"
        (absent for a schedule, as Keras has no variable then), "slot" (key: slot name; groups follow
        each other, names in a group interleave per variable, variables in Keras's order) or "extra"."""
        out = [("it", None, None)] + ([] if is_schedule(self._learning_rate) else [("lr", None, None)])
        flat = {n: jax.tree.flatten(t, is_leaf=lambda x: x is None)[0] for n, t in state.slots.items()}
        n = max((len(v) for v in flat.values()), default=0)
        present = [i for i in range(n) if any(v[i] is not None for v in flat.values())]
        order = getattr(self, "_keras_order", None)
        positions = [present[j] for j in order] if order is not None and len(order) == len(present) else present
        for grp in self.all_slot_groups():
            names = [name for name, _ in grp if name in flat]
            out += [("slot", name, i) for i in positions for name in names if flat[name][i] is not None]
        return out + [("extra", k, None) for k in (state.extra or {})]

    def state_to_list(self, state) -> list:
        """The state's arrays as a flat list in Keras's `optimizer.variables` order (iterations, the
        learning rate unless it is a schedule, the slots, the shared scalars): `variables`, and the
        `optimizer_variables` of `stateless_apply`."""
        flat = {n: jax.tree.flatten(t, is_leaf=lambda x: x is None)[0] for n, t in state.slots.items()}
        out = []
        for kind, key, i in self._list_layout(state):
            out.append(state.iterations if kind == "it" else state.learning_rate if kind == "lr"
                       else flat[key][i] if kind == "slot" else state.extra[key])
        return out

    def state_from_list(self, values, template):
        """Inverse of `state_to_list`: `template`'s structure (a state, or its `eval_shape`) with `values`
        (a schedule's learning rate, which has no variable, is taken from `template`)."""
        layout = self._list_layout(template)
        values = list(values)
        if len(values) != len(layout):
            raise ValueError(f"{type(self).__name__}: expected {len(layout)} optimizer variables, got "
                             f"{len(values)}.")
        flat, defs = {}, {}
        for n, t in template.slots.items():
            flat[n], defs[n] = jax.tree.flatten(t, is_leaf=lambda x: x is None)
        iterations, lr, extra = template.iterations, template.learning_rate, dict(template.extra or {})
        for (kind, key, i), v in zip(layout, values):
            if kind == "it":
                iterations = v
            elif kind == "lr":
                lr = v
            elif kind == "slot":
                flat[key][i] = v
            else:
                extra[key] = v
        if isinstance(lr, jax.ShapeDtypeStruct):  # a schedule's rate under an abstract template: not read
            lr = ops.zeros((), "float32")
        slots = {n: jax.tree.unflatten(defs[n], flat[n]) for n in flat}
        return type(template)(iterations, lr, slots, extra)

    # -- where the Keras face reads its state ---------------------------------------------------
    def bind_state(self, cell: StateCell, path: tuple = ()):
        """Read and write this optimizer's state at `path` (attribute names) inside `cell.value`: the
        Trainer binds `(its cell, ("opt_state",))` at compile; alone, the optimizer owns a cell."""
        self._cell, self._path, self._owns_cell = cell, tuple(path), False

    def _own_state(self, value=None):
        """Own a fresh cell holding `value` (used alone: `build`, `apply_gradients`)."""
        self.bind_state(StateCell(value), ())
        self._owns_cell = True

    def _state(self):
        """This optimizer's current state, or None (not built, or the cell holds another optimizer's)."""
        st = _get_in(self._cell.value, self._path)
        return st if isinstance(st, self._state_type) else None

    def _set_state(self, new):
        self._cell.value = _replace_in(self._cell.value, self._path, new)

    @property
    def learning_rate(self):
        """Current learning rate (a float). Setting it writes into the bound state; no recompile."""
        st = self._state()
        if st is not None:
            return float(self.lr_at(st))
        if is_schedule(self._learning_rate):
            return float(self._learning_rate(0))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if is_schedule(self._learning_rate):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                            "`learning_rate`; its learning rate cannot be set directly.")
        value = float(value)
        self._learning_rate = value
        st = self._state()
        if st is not None:
            self._set_state(st._replace(learning_rate=ops.full((), value, dtype="float32")))

    lr = learning_rate

    @property
    def iterations(self):
        """Updates taken, as Keras's `optimizer.iterations`: the `iteration` variable (with gradient
        accumulation, its value // gradient_accumulation_steps, an array); 0 before the state exists."""
        variables = self.variables
        if not variables:
            return 0
        if self.gradient_accumulation_steps:
            return ops.floor_divide(variables[0].value, self.gradient_accumulation_steps)
        return variables[0]

    def variable_paths(self, state) -> list:
        """Keras's paths of `state_to_list(state)`'s entries: `<name>/iteration`, `<name>/learning_rate`,
        a slot as `<name>/<variable path with '_' for '/'>_<slot>` (Keras's `add_variable_from_reference`),
        a shared scalar by its key."""
        paths = getattr(self, "_leaf_paths", None) or ()

        def ref(i):
            return (paths[i] if i < len(paths) and paths[i] else f"variable_{i}").replace("/", "_")

        return [f"{self.name}/" + ("iteration" if kind == "it" else "learning_rate" if kind == "lr"
                                   else f"{ref(i)}_{key}" if kind == "slot" else key)
                for kind, key, i in self._list_layout(state)]

    @property
    def built(self):
        return self._state() is not None

    # -- Keras's stateful face (eager loops over fkeras.Variable objects) ------------------
    def build(self, var_list):
        """Create the state for `var_list` (variables or arrays) in this optimizer's own cell, as Keras's
        `optimizer.build(model.trainable_variables)`."""
        if not self._owns_cell:
            return  # compiled into a model (or wrapped): that owner creates the state where it keeps it
        values = [_value_of(v) for v in var_list]
        self.set_variable_names(var_list)
        self._own_state(self.init(values))

    def _built_for(self, values):
        """True when the current state has one slot entry per value, with matching shapes."""
        st = self._state()
        if st is None:
            return False
        want = jax.eval_shape(self.init, [jax.ShapeDtypeStruct(np.shape(v), ops.dtype(v)) for v in values])
        got, got_def = jax.tree.flatten(st)
        want, want_def = jax.tree.flatten(want)
        return got_def == want_def and [np.shape(a) for a in got] == [tuple(a.shape) for a in want]

    def apply_gradients(self, grads_and_vars):
        """Update variables in place from `(gradient, variable)` pairs; the optimizer keeps the state."""
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            return self.iterations
        grads, variables = [g for g, _ in pairs], [v for _, v in pairs]
        return self.apply(grads, variables)

    def apply(self, grads, trainable_variables=None, *more):
        """Two forms: the pure `apply(grads, opt_state, params) -> (params, opt_state)`, and Keras's
        stateful `apply(grads, variables)` that assigns new values to `variables` (objects with
        `.value`/`.assign`), building the state for them first if needed."""
        if more or isinstance(trainable_variables, self._state_type):
            return self._apply_pure(grads, trainable_variables, *more)
        variables = list(trainable_variables)
        if len(grads) != len(variables):
            raise ValueError(f"{type(self).__name__}.apply: got {len(grads)} gradients for {len(variables)} variables.")
        values = [ops.convert_to_tensor(_value_of(v)) for v in variables]
        if not self._built_for(values):
            self.set_variable_names(variables)
            self._own_state(self.init(values))
        new, opt_state = self._apply_pure([ops.convert_to_tensor(g) for g in grads], self._state(), values)
        self._set_state(opt_state)
        for v, w in zip(variables, new):
            v.assign(w)
        return opt_state.iterations

    # -- Keras-JAX custom train_step -------------------------------------------------------
    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """Keras's pure step on lists: `(new_trainable_variables, new_optimizer_variables)`, the optimizer
        variables in `variables` order."""
        values = [_value_of(v) for v in trainable_variables]
        template = jax.eval_shape(self.init, values)
        state = self.state_from_list([_value_of(v) for v in optimizer_variables], template)
        params, state = self._apply_pure(list(grads), state, values)
        return list(params), self.state_to_list(state)

    def finalize_variable_values(self, var_list):
        """Keras's end-of-training hook: with `use_ema`, assign each variable its moving average (the
        variables this optimizer was built for, in that order)."""
        st = self._state()
        if not self.use_ema or st is None:
            return
        averages = jax.tree.leaves(st.slots["average"])
        var_list = list(var_list)
        if len(averages) != len(var_list):
            raise ValueError(f"{type(self).__name__}.finalize_variable_values: the optimizer holds "
                             f"{len(averages)} moving averages, got {len(var_list)} variables.")
        for v, a in zip(var_list, averages):
            v.assign(a)

    def scale_loss(self, loss, state=None):
        """The loss to differentiate: times `loss_scale_factor` when set (gradients are divided back)."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    # -- config --------------------------------------------------------------------------
    def get_config(self):
        lr = self._learning_rate
        if isinstance(lr, _schedules.LearningRateSchedule):
            lr = _schedules.serialize(lr)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency, "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def check_number(owner, name, value, low=None, high=None, integral=False):
    """`value` as a float (int if `integral`), or a ValueError naming `owner`, `name` and the range."""
    bad = isinstance(value, bool) or not isinstance(value, numbers.Integral if integral else numbers.Real)
    if not bad:
        bad = (low is not None and value < low) or (high is not None and value > high)
    if bad:
        rng = f" in [{low}, {high}]" if low is not None and high is not None else (
            f" >= {low}" if low is not None else "")
        raise ValueError(f"{owner}: expected `{name}` {'an int' if integral else 'a number'}{rng}, got {value!r}.")
    return int(value) if integral else float(value)
