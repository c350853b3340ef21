"""`MultiOptimizer` and `OptimizerMap` (Keras 3.15's): each variable is updated by the optimizer its path
picks.

    opt = MultiOptimizer(OptimizerMap(default_optimizer=SGD(0.1), optimizer_map={".*encoder/.*": Adam()}))

Which optimizer a variable gets is decided from the variables (their `path`) when the optimizer is
built: `build(var_list)` in the stateful face, `set_variable_names(...)` from the Trainer inside `fit`.
The state is a `MultiState`: the wrapper's own `iterations` and `learning_rate` (kept at 0, as Keras),
then one state per inner optimizer, each shaped like the params with None where a leaf belongs to
another optimizer, so every inner optimizer runs its own rule (over `fkeras.ops`: JAX or torch) on
its own leaves. `variables` is Keras's list: the wrapper's two, then each inner optimizer's
`variables` (an inner optimizer that got no variable keeps only its iterations and learning rate).
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any, NamedTuple

import jax

from fkeras import ops
from fkeras.nn import registration
from fkeras.train.optimizers.base import Optimizer, register, registered
from fkeras.train.optimizers.loss_scale import LossScaleOptimizer, _serialize_inner
from fkeras.train.state import StateCell


class MultiState(NamedTuple):
    """A `MultiOptimizer`'s state: `iterations` (int32, `apply` calls), `learning_rate` (float32, always 0:
    Keras's unused variable), `inner` (a tuple: each inner optimizer's state, in `optimizers` order)."""

    iterations: Any
    learning_rate: Any
    inner: Any


def _check_inner(opt, where):
    """`opt` if it can serve inside a MultiOptimizer, else the error Keras raises (clearer)."""
    if isinstance(opt, LossScaleOptimizer):
        raise ValueError(f"{where}: a LossScaleOptimizer cannot be used inside a MultiOptimizer.")
    if isinstance(opt, MultiOptimizer):
        raise ValueError(f"{where}: a MultiOptimizer cannot be used inside a MultiOptimizer.")
    if not isinstance(opt, Optimizer):
        raise ValueError(f"{where}: expected an fkeras optimizer instance, got {type(opt).__name__}: {opt!r:.80}.")
    return opt


class _Named:
    """A variable known only by its path (the pure API's `set_variable_names(["dense/kernel", ...])`)."""

    def __init__(self, path):
        self.path = path
        self.name = path.rsplit("/", 1)[-1]

    def __repr__(self):
        return f"<variable path={self.path}>"


def _deserialize(config, custom_objects, what):
    """An optimizer, OptimizerMap or registered function from its Keras-serialized dict."""
    if not isinstance(config, dict) or "class_name" not in config:
        return config
    name, reg_name = config.get("class_name"), config.get("registered_name")
    if name == "function":
        for key in (reg_name, config.get("config")):
            fn = registration.get_registered_object(key, custom_objects) if key else None
            if fn is not None:
                return fn
        raise ValueError(f"{what}: cannot find the function {config.get('config')!r}; register it with "
                         "`register_keras_serializable` or pass it in `custom_objects`.")
    if name == "OptimizerMap" and reg_name in (None, name):
        return OptimizerMap.from_config(config.get("config", {}), custom_objects=custom_objects)
    cls = registered().get(name) if reg_name in (None, name) else None
    for key in (reg_name, name):
        if cls is None and key:
            cls = registration.get_registered_object(key, custom_objects)
    if cls is None:
        raise ValueError(f"{what}: unknown optimizer class {name!r}; expected one of {sorted(registered())} "
                         "or a class passed in `custom_objects`.")
    return cls.from_config(config.get("config", {}))


class OptimizerMap(MutableMapping):
    """Variable path (exact, else a `re.fullmatch` pattern) -> optimizer; `default_optimizer` for the rest.

    `optimizer_map["encoder/.*"] = SGD()`; `optimizer_map(variable)` is `optimizer_map[variable.path]`.
    A path matched by more than one pattern is an error.
    """

    def __init__(self, default_optimizer, optimizer_map=None):
        if not isinstance(default_optimizer, Optimizer):
            raise TypeError(f"OptimizerMap: expected `default_optimizer` to be an fkeras optimizer instance, got "
                            f"{type(default_optimizer).__name__}: {default_optimizer!r:.80}.")
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise TypeError(f"OptimizerMap: expected `optimizer_map` to be a dict (path pattern -> optimizer), got "
                            f"{type(optimizer_map).__name__}.")
        for key, opt in (optimizer_map or {}).items():
            if not isinstance(key, str):
                raise ValueError(f"OptimizerMap: expected string keys (paths or patterns), got {key!r}.")
            _check_inner(opt, f"OptimizerMap[{key!r}]")
        self._default_optimizer = default_optimizer
        self._optimizer_map = dict(optimizer_map or {})

    @property
    def default_optimizer(self):
        return self._default_optimizer

    def __getitem__(self, key):
        if key in self._optimizer_map:
            return self._optimizer_map[key]
        matching = [p for p in self._optimizer_map if re.fullmatch(p, key)]
        if len(matching) > 1:
            raise ValueError(f"Multiple optimizers assigned to variable {key}: patterns {matching} all match.")
        return self._optimizer_map[matching[0]] if matching else self._default_optimizer

    def __setitem__(self, key, optimizer):
        if key in self._optimizer_map:
            raise ValueError(f"'{key}' already exists in the OptimizerMap with value {self._optimizer_map[key]}. "
                             "Please make sure to not use duplicated keys.")
        if not isinstance(key, str):
            raise ValueError(f"key must be a string. Received: {key!r}")
        self._optimizer_map[key] = _check_inner(optimizer, f"OptimizerMap[{key!r}]")

    def __delitem__(self, key):
        del self._optimizer_map[key]

    def __len__(self):
        return len(self._optimizer_map)

    def __iter__(self):
        return iter(self._optimizer_map)

    def __call__(self, variable):
        return self[variable if isinstance(variable, str) else variable.path]

    def get_config(self):
        return {"default_optimizer": _serialize_inner(self._default_optimizer),
                "optimizer_map": {k: _serialize_inner(v) for k, v in self._optimizer_map.items()}}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if not isinstance(config, dict) or "default_optimizer" not in config:
            raise ValueError(f"OptimizerMap.from_config: expected a dict with 'default_optimizer', got "
                             f"{config!r:.120}.")
        default = _deserialize(config["default_optimizer"], custom_objects, "OptimizerMap.from_config")
        mapping = {k: _deserialize(v, custom_objects, "OptimizerMap.from_config")
                   for k, v in (config.get("optimizer_map") or {}).items()}
        return cls(default, mapping)


def _serialize_map(optimizer_map):
    """The `optimizer_map` argument as Keras's `serialize_keras_object` writes it."""
    if isinstance(optimizer_map, OptimizerMap):
        return {"module": "keras.optimizers", "class_name": "OptimizerMap", "config": optimizer_map.get_config(),
                "registered_name": None}
    name = registration.get_registered_name(optimizer_map)
    return {"module": getattr(optimizer_map, "__module__", None), "class_name": "function",
            "config": getattr(optimizer_map, "__name__", name), "registered_name": name}


@register
class MultiOptimizer(Optimizer):
    """Delegates each variable to the optimizer `optimizer_map` picks for it (an `OptimizerMap`, or a
    callable `variable -> optimizer`). `loss_scale_factor` overrides the inner optimizers' own.
    `optimizers` lists the inner optimizers: the map's values, then its default, then any new one a
    callable returns at build. `learning_rate` is not defined here: read it on an inner optimizer."""

    _state_type = MultiState

    def __init__(self, optimizer_map, loss_scale_factor=None, name=None):
        if not (isinstance(optimizer_map, OptimizerMap) or callable(optimizer_map)):
            raise TypeError(f"MultiOptimizer: expected `optimizer_map` to be an OptimizerMap or a callable "
                            f"(variable -> optimizer), got {type(optimizer_map).__name__}: {optimizer_map!r:.80}.")
        self._optimizer_map = optimizer_map
        self._inner_optimizers = []
        self._assign = None
        candidates = list(optimizer_map.values()) if isinstance(optimizer_map, OptimizerMap) else []
        default = getattr(optimizer_map, "default_optimizer", None)
        for opt in candidates + ([default] if default is not None else []):
            if not any(opt is o for o in self._inner_optimizers):
                self._inner_optimizers.append(_check_inner(opt, "MultiOptimizer"))
        super().__init__(0.0, loss_scale_factor=loss_scale_factor, name=name)  # (its setter sets the inner ones')

    # -- what Keras exposes ---------------------------------------------------------------------
    @property
    def optimizers(self):
        return self._inner_optimizers

    @property
    def optimizer_map(self):
        return self._optimizer_map

    @property
    def loss_scale_factor(self):
        return self.__dict__.get("_loss_scale_factor")

    @loss_scale_factor.setter
    def loss_scale_factor(self, value):
        self.__dict__["_loss_scale_factor"] = value
        for opt in self.__dict__.get("_inner_optimizers", ()):
            opt.loss_scale_factor = value

    @property
    def learning_rate(self):
        raise AttributeError("Learning rate cannot be accessed on a MultiOptimizer. Access the learning rate on "
                             "the individual sub-optimizers instead (`optimizer.optimizers`).")

    @learning_rate.setter
    def learning_rate(self, value):
        raise AttributeError("Learning rate cannot be set on a MultiOptimizer. Set the learning rate on the "
                             "individual sub-optimizers instead (`optimizer.optimizers`).")

    lr = learning_rate

    @property
    def use_ema(self):
        """True when an inner optimizer keeps moving averages (the Trainer then finalizes them)."""
        return any(o.use_ema for o in self.__dict__.get("_inner_optimizers", ()))

    @use_ema.setter
    def use_ema(self, value):
        if value:
            raise ValueError("MultiOptimizer: set `use_ema` on the inner optimizers.")

    # -- which optimizer each leaf belongs to ----------------------------------------------------
    def set_variable_names(self, variables, keras_order=None):
        """Pick each variable's optimizer (by `optimizer_map(variable)`) and tell every inner optimizer its
        own variables, in the same flat order and in Keras's order among themselves."""
        super().set_variable_names(variables, keras_order)
        variables = [_Named(v) if isinstance(v, str) else v for v in variables]
        assign = []
        for v in variables:
            if getattr(v, "path", None) is None:
                raise ValueError(f"MultiOptimizer: cannot pick an optimizer for {v!r}: it has no `path`. Build it "
                                 "on variables (`build(model.trainable_variables)`) or pass their paths.")
            opt = _check_inner(self._optimizer_map(v), f"MultiOptimizer (the optimizer for {v.path!r})")
            if not any(opt is o for o in self._inner_optimizers):
                opt.loss_scale_factor = self.loss_scale_factor
                self._inner_optimizers.append(opt)
            assign.append(next(k for k, o in enumerate(self._inner_optimizers) if o is opt))
        order = self._keras_order if self._keras_order is not None else list(range(len(variables)))
        for k, opt in enumerate(self._inner_optimizers):
            mine = [i for i, a in enumerate(assign) if a == k]
            rank = {i: r for r, i in enumerate(mine)}
            opt.set_variable_names([variables[i] for i in mine], [rank[i] for i in order if assign[i] == k])
        self._assign = tuple(assign)
        owns = self._owns_cell
        self.bind_state(self._cell, self._path)  # optimizers a callable added get their place in the state
        self._owns_cell = owns

    def _assignment(self, n):
        if self._assign is None or len(self._assign) != n:
            raise ValueError(f"MultiOptimizer: it knows the optimizer of {0 if self._assign is None else len(self._assign)}"
                             f" variables, got {n} params. Build it on the variables (`build(var_list)`), or call "
                             "`set_variable_names(paths)` with one path per params leaf first.")
        return self._assign

    @staticmethod
    def _only(leaves, treedef, assign, k):
        return jax.tree.unflatten(treedef, [x if a == k else None for x, a in zip(leaves, assign)])

    # -- pure API ---------------------------------------------------------------------------
    def bind_state(self, cell: StateCell, path: tuple = ()):
        super().bind_state(cell, path)
        for k, opt in enumerate(self.__dict__.get("_inner_optimizers", ())):
            opt.bind_state(cell, tuple(path) + ("inner", k))

    def init(self, params) -> MultiState:
        leaves, treedef = jax.tree.flatten(params)
        assign = self._assignment(len(leaves))
        inner = tuple(opt.init(self._only(leaves, treedef, assign, k)) for k, opt in enumerate(self._inner_optimizers))
        return MultiState(ops.zeros((), "int32"), ops.zeros((), "float32"), inner)

    def _apply_pure(self, grads, state: MultiState, params):
        """Each inner optimizer's own update on its own leaves (one that owns none is left as it is)."""
        leaves_p, treedef = jax.tree.flatten(params)
        leaves_g = treedef.flatten_up_to(grads)
        assign = self._assignment(len(leaves_p))
        if len(state.inner) != len(self._inner_optimizers):
            raise ValueError(f"MultiOptimizer: the state holds {len(state.inner)} optimizer states, the optimizer "
                             f"has {len(self._inner_optimizers)} inner optimizers.")
        new, inner = list(leaves_p), list(state.inner)
        for k, opt in enumerate(self._inner_optimizers):
            mine = [i for i, a in enumerate(assign) if a == k]
            if not mine:
                continue
            sub, inner[k] = opt._apply_pure(self._only(leaves_g, treedef, assign, k), state.inner[k],
                                            self._only(leaves_p, treedef, assign, k))
            for i, v in zip(mine, jax.tree.leaves(sub)):
                new[i] = v
        return jax.tree.unflatten(treedef, new), MultiState(state.iterations + 1, state.learning_rate, tuple(inner))

    def finalize_params(self, state, params):
        """The params with every `use_ema` inner optimizer's variables replaced by their moving averages."""
        if state is None or not self.use_ema:
            return params
        leaves, treedef = jax.tree.flatten(params)
        assign = self._assignment(len(leaves))
        out = list(leaves)
        for k, opt in enumerate(self._inner_optimizers):
            mine = [i for i, a in enumerate(assign) if a == k]
            if mine and opt.use_ema:
                avg = opt.finalize_params(state.inner[k], self._only(leaves, treedef, assign, k))
                for i, v in zip(mine, jax.tree.leaves(avg)):
                    out[i] = v
        return jax.tree.unflatten(treedef, out)

    def finalize_variable_values(self, var_list):
        var_list = list(var_list)
        for opt in self._inner_optimizers:
            mine = [v for v in var_list if self._optimizer_map(v) is opt]
            if mine:
                opt.finalize_variable_values(mine)

    # -- Keras's variable list ----------------------------------------------------------------
    def state_to_list(self, state) -> list:
        """The wrapper's iterations and learning rate, then each inner optimizer's `variables`."""
        out = [state.iterations, state.learning_rate]
        for opt, st in zip(self._inner_optimizers, state.inner):
            out += opt.state_to_list(st)
        return out

    def variable_paths(self, state) -> list:
        """Keras's paths: the wrapper's iteration and learning rate, then each inner optimizer's."""
        out = [f"{self.name}/iteration", f"{self.name}/learning_rate"]
        for opt, st in zip(self._inner_optimizers, state.inner):
            out += opt.variable_paths(st)
        return out

    def state_from_list(self, values, template):
        values = list(values)
        sizes = [len(opt._list_layout(st)) for opt, st in zip(self._inner_optimizers, template.inner)]
        if len(values) != 2 + sum(sizes):
            raise ValueError(f"MultiOptimizer: expected {2 + sum(sizes)} optimizer variables, got {len(values)}.")
        inner, at = [], 2
        for opt, st, n in zip(self._inner_optimizers, template.inner, sizes):
            inner.append(opt.state_from_list(values[at:at + n], st))
            at += n
        return MultiState(values[0], values[1], tuple(inner))

    def set_weights(self, weights):
        """Keras's `set_weights`: the values of `variables`, in that order (the optimizer must be built)."""
        st = self._state()
        if st is None:
            raise ValueError("You are calling `set_weights()` on an optimizer that has not yet been built. Please "
                             "call `optimizer.build(trainable_variables)` to create the optimizer weights first.")
        new = self.state_from_list([ops.convert_to_tensor(w) for w in weights], st)
        for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(st)):
            if tuple(ops.shape(a)) != tuple(ops.shape(b)):
                raise ValueError(f"MultiOptimizer.set_weights: expected an array of shape {tuple(ops.shape(b))}, "
                                 f"got {tuple(ops.shape(a))}.")
        self._set_state(jax.tree.map(lambda a, b: ops.cast(a, ops.dtype(b)), new, st))

    # -- config --------------------------------------------------------------------------
    def get_config(self):
        return {"optimizer_map": _serialize_map(self._optimizer_map), "loss_scale_factor": self.loss_scale_factor,
                "name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if "optimizer_map" not in config:
            raise ValueError(f"MultiOptimizer.from_config: the config has no 'optimizer_map'; got keys "
                             f"{sorted(config)}.")
        config["optimizer_map"] = _deserialize(config["optimizer_map"], custom_objects, "MultiOptimizer.from_config")
        return cls(**config)

    def __repr__(self):
        return f"<MultiOptimizer name={self.name} optimizers={self._inner_optimizers!r}>"
