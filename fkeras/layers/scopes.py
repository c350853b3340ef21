"""Keras 3.15's top-level scopes: `StatelessScope`, `SymbolicScope`, `device`, `RematScope` and `remat`.

- `StatelessScope(state_mapping)`: Variables read the values mapped to them and `assign` is recorded
  in the scope (`get_current_value`), never written: Keras's `stateless_call` idiom. It is a binding
  scope of `fkeras.layers.variables`, so layers called inside run on the mapped values (jit-safe).
- `SymbolicScope()`: marks shape inference (`in_symbolic_scope()`); fkeras's `compute_output_spec`
  of layers and Operations runs inside one, as Keras's does.
- `device("cpu:0")`: a context placing new arrays on that JAX device.
- `RematScope(mode=...)`: layers created inside recompute their activations in the backward pass
  (`jax.checkpoint`), selected as Keras selects them; `remat(f)` is `jax.checkpoint(f)`.
"""

from __future__ import annotations

import collections
import copy
import math
import threading

import jax
import jax.numpy as jnp

from fkeras.layers import variables as _vars
from fkeras.layers.variables import Variable
from fkeras.nn.base import Forwarding


class _Local(threading.local):
    def __init__(self):
        self.symbolic = None
        self.remat = []


_local = _Local()


# --- StatelessScope -----------------------------------------------------------------------
class StatelessScope:
    """Run code on given variable values without changing any Variable.

    `state_mapping`: `[(variable, value), ...]`; inside the scope each such Variable reads `value`.
    Every `assign` inside (a BatchNormalization's moving statistics, your own) is kept in the scope:
    read it with `get_current_value(variable)` (None for a variable neither mapped nor assigned).
    `collect_losses`: keep the `add_loss` terms of the calls inside in `losses`.
    `initialize_variables` is accepted for Keras's signature (fkeras variables get values when made).
    """

    mode = "stateless"

    def __init__(self, state_mapping=None, collect_losses=False, initialize_variables=True):
        self.collect_losses = collect_losses
        self.initialize_variables = initialize_variables
        self.losses = []
        self.values = {}  # Variable id -> value (what `Variable.value` reads inside)
        self.assigned = set()
        self.keep = []  # the Variables whose ids key `values`
        self.training, self.rng = False, None
        self.frames, self.calls, self.created, self.built, self.seed_generators = [], {}, [], [], {}
        for k, v in state_mapping or ():
            if not isinstance(k, Variable):
                raise ValueError("Invalid reference variable in StatelessScope: all keys in argument `mapping` must "
                                 f"be Variable instances. Received instead: {k}")
            v = jnp.asarray(v.value if isinstance(v, Variable) else v, dtype=k.dtype)
            if tuple(v.shape) != tuple(k.shape):
                raise ValueError("Invalid variable value in StatelessScope: all values in argument `mapping` must be "
                                 "tensors with a shape that matches the corresponding variable shape. For variable "
                                 f"{k}, received invalid value with shape {tuple(v.shape)}.")
            self.values[id(k)] = v
            self.keep.append(k)

    @property
    def state_mapping(self):
        """{Variable id: current value} (Keras's attribute)."""
        return self.values

    def __enter__(self):
        _vars.scopes().append(self)
        return self

    def __exit__(self, *exc):
        stack = _vars.scopes()
        if stack and stack[-1] is self:
            stack.pop()
        elif self in stack:
            stack.remove(self)
        if not self.collect_losses:
            self.losses.clear()
        for sg, original in self.seed_generators.values():  # no state changes survive the scope
            sg.state = original
        self.seed_generators.clear()

    def add_loss(self, loss):
        self.losses.append(loss)

    def add_update(self, update):
        """Record `(variable, value)` as the variable's new value in this scope."""
        variable, value = update
        self.values[id(variable)] = value
        self.assigned.add(id(variable))
        self.keep.append(variable)

    def get_current_value(self, variable):
        """The variable's value in this scope (mapped or assigned inside), else None."""
        return self.values.get(id(variable))


def in_stateless_scope() -> bool:
    return any(getattr(s, "mode", None) == "stateless" for s in _vars.scopes())


def get_stateless_scope():
    for s in reversed(_vars.scopes()):
        if getattr(s, "mode", None) == "stateless":
            return s
    return None


# --- SymbolicScope ----------------------------------------------------------------------
class SymbolicScope:
    """Marks symbolic shape inference (Keras's `compute_output_spec` runs inside one)."""

    def __enter__(self):
        self.original_scope = _local.symbolic
        _local.symbolic = self
        return self

    def __exit__(self, *exc):
        _local.symbolic = self.original_scope


def in_symbolic_scope() -> bool:
    return _local.symbolic is not None


def get_symbolic_scope():
    return _local.symbolic


# --- device ------------------------------------------------------------------------------
def _to_device(device_name):
    if isinstance(device_name, jax.Device):
        return device_name
    if not isinstance(device_name, str):
        raise ValueError("Invalid value for argument `device_name`. Expected a string like 'gpu:0' or a "
                         f"`jax.Device` instance. Received: device_name='{device_name}'")
    name = device_name.lower()
    kind, _, index = name.partition(":")
    try:
        index = int(index or 0)
        found = jax.devices(kind)
    except (RuntimeError, ValueError):
        found = []
    for d in found:
        if d.id == index:
            return d
    raise ValueError(f"Device not found: {name} (available: {[f'{d.platform}:{d.id}' for d in jax.devices()]})")


def device(device_name):
    """`with fkeras.device("cpu:0"):` creates arrays on that JAX device (a name `"<kind>:<id>"` or a
    `jax.Device`); an unknown device is a ValueError before anything changes."""
    return jax.default_device(_to_device(device_name))


# --- rematerialization ----------------------------------------------------------------------
RematMode = collections.namedtuple("RematMode", ["mode", "output_size_threshold", "layer_names"])
_REMAT_MODES = ("full", "activations", "larger_than", "list_of_layers", None)


class RematScope:
    """Layers created inside recompute their forward pass during the backward pass (`jax.checkpoint`).

    `mode`: "full" (every layer), "activations" (only the activation of layers that have one),
    "larger_than" (layers whose output has more than `output_size_threshold` elements),
    "list_of_layers" (layers named in `layer_names`), None (off). Selected at layer creation, applied
    wherever the layer runs (`fit`'s jitted step included). Values and gradients are unchanged.
    """

    def __init__(self, mode="full", output_size_threshold=1024, layer_names=None):
        if mode not in _REMAT_MODES:
            raise ValueError(f"Invalid mode '{mode}'. Supported modes are: 'full', 'activations', 'larger_than', "
                             "'list_of_layers', or  None.")
        self.mode = mode
        self.output_size_threshold = output_size_threshold
        self.layer_names = layer_names or []

    def __enter__(self):
        _local.remat.append(self)
        return self

    def __exit__(self, *exc):
        if _local.remat and _local.remat[-1] is self:
            _local.remat.pop()


def get_current_remat_mode():
    """The innermost RematScope's `RematMode`, or None."""
    if not _local.remat:
        return None
    s = _local.remat[-1]
    return RematMode(s.mode, s.output_size_threshold, s.layer_names)


def remat(f):
    """`f` recomputed in the backward pass instead of keeping its intermediates (`jax.checkpoint`)."""
    if not callable(f):
        raise TypeError(f"remat expects a callable, got {type(f).__name__}.")
    return jax.checkpoint(f)


class Remat(Forwarding):
    """`inner` recomputed in the backward pass (`jax.checkpoint`) when a `RematScope` mode selects it:
    "full" (always), "list_of_layers" (its name listed), "larger_than" (more output elements than the
    threshold, batch included), "activations" (only its activation function). Same values and gradients."""

    def __init__(self, inner, mode):
        super().__init__(inner)
        self.mode = mode

    def apply(self, variables, *inputs, training=False, rng=None, **kwargs):
        return self._run(lambda layer, v, xs, r: layer.apply(v, *xs, training=training, rng=r, **kwargs),
                         variables, inputs, rng)

    def _apply_collect(self, variables, *inputs, training=False, rng=None):
        return self._run(lambda layer, v, xs, r: layer._apply_collect(v, *xs, training=training, rng=r),
                         variables, inputs, rng)

    def _run(self, fn, variables, inputs, rng):
        inner, mode = self.inner, self.mode
        if mode.mode == "activations":
            activation = getattr(inner, "activation", None)
            if activation is None:
                return fn(inner, variables, inputs, rng)
            inner = copy.copy(inner)
            object.__setattr__(inner, "activation", jax.checkpoint(activation))
            return fn(inner, variables, inputs, rng)
        if mode.mode == "list_of_layers" and inner.name not in mode.layer_names:
            return fn(inner, variables, inputs, rng)
        if mode.mode == "larger_than":
            out = jax.eval_shape(lambda v, xs, r: fn(inner, v, xs, r)[0], variables, inputs, rng)
            size = sum(math.prod(s.shape) for s in jax.tree.leaves(out))
            if not size > mode.output_size_threshold:
                return fn(inner, variables, inputs, rng)
        return jax.checkpoint(lambda v, xs, r: fn(inner, v, xs, r))(variables, inputs, rng)
