"""The pure layer protocol: immutable hyperparameters, `init` and `apply` over explicit pytrees.

    variables = layer.init(rng, *input_specs)            # Variables(params, state)
    outputs, new_state = layer.apply(variables, *inputs, training=False, rng=None)

A leaf layer's `params`/`state` are flat dicts of its own leaves with Keras names
(`kernel`, `bias`, `gamma`, `moving_mean`, ...). Containers nest their children's
dicts under the children's names (`{"conv2d": {"kernel": ..., "bias": ...}}`) and
leave out children that own nothing. An input spec is an array, a
`jax.ShapeDtypeStruct`, anything with `.shape` and `.dtype`, or a bare shape tuple
(float32); a list of those for layers with several inputs (merge layers). Dimensions
given as None (unknown batch) are taken as 1 for shape inference.

Dtype policies: every layer has a `dtype_policy` (`fkeras.nn.dtype_policies`). Variables are
created in `variable_dtype`; `apply` casts floating inputs and (when the two differ) floating
params to `compute_dtype`, once, here, so layer math never deals with it.

Losses and constraints, for the train engine:
    layer.regularization_losses(params)   -> scalar: weight penalties (kernel_regularizer, ...)
    layer.apply_with_losses(variables, *inputs, training=..., rng=...)
                                          -> (outputs, new_state, aux_loss), aux_loss = activity
                                             regularization + weight penalties (Keras's sum(model.losses))
    layer.apply_constraints(params)       -> params projected by kernel_constraint, ... (after an update)
"""

from __future__ import annotations

import itertools
import re
import threading
import zlib
from collections import defaultdict
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from fkeras import backend, ops
from fkeras.nn import dtype_policies, regularizers


class Variables(NamedTuple):
    """A layer's arrays: trainable `params` and non-trainable `state`, both nested dicts."""

    params: dict
    state: dict


def as_variables(variables) -> Variables:
    """Accept a Variables, a `(params, state)` pair or a `{"params", "state"}` dict."""
    if isinstance(variables, Variables):
        return variables
    if isinstance(variables, dict) and set(variables) <= {"params", "state"}:
        return Variables(variables.get("params", {}), variables.get("state", {}))
    if isinstance(variables, (tuple, list)) and len(variables) == 2:
        return Variables(*variables)
    raise TypeError(f"Expected Variables(params, state) (or a (params, state) pair), got {type(variables).__name__}.")


# --- Keras-style automatic names ---------------------------------------------
_names = threading.local()


def _counters() -> defaultdict:
    if not hasattr(_names, "counters"):
        _names.counters = defaultdict(itertools.count)
    return _names.counters


def snake_case(name: str) -> str:
    """`Conv2D` -> `conv2d`, `GlobalAveragePooling2D` -> `global_average_pooling2d` (Keras's rule)."""
    s = re.sub(r"\W+", "", name)
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", s)
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", s)
    return s.lower()


def unique_name(prefix: str) -> str:
    """`prefix`, then `prefix_1`, `prefix_2`, ... for the session (like Keras)."""
    n = next(_counters()[prefix])
    return prefix if n == 0 else f"{prefix}_{n}"


@backend.on_clear_session
def clear_session() -> None:
    """Reset automatic layer names, as `keras.backend.clear_session()` does."""
    _counters().clear()


# --- specs --------------------------------------------------------------------
def _is_shape(x) -> bool:
    return isinstance(x, (tuple, list)) and all(d is None or isinstance(d, (int, np.integer)) for d in x) \
        and not (isinstance(x, list) and len(x) == 0)


def as_spec(x, default_dtype="float32"):
    """Turn an array, a ShapeDtypeStruct or a shape tuple into a concrete ShapeDtypeStruct.

    A list/tuple/dict of those (several inputs) gives the same structure of ShapeDtypeStructs.
    """
    if _is_shape(x):
        shape, dtype = tuple(x), default_dtype
    elif hasattr(x, "shape") and hasattr(x, "dtype"):
        shape = tuple(x.shape)
        try:
            dtype = jnp.dtype(x.dtype)
        except TypeError:  # a torch/TF dtype: go through its standard name
            dtype = ops.dtype(x)
    elif isinstance(x, (list, tuple)):
        return type(x)(as_spec(s, default_dtype) for s in x)
    elif isinstance(x, dict):
        return {k: as_spec(v, default_dtype) for k, v in x.items()}
    else:
        raise TypeError(f"Expected an array, a ShapeDtypeStruct or a shape tuple as input spec, got {type(x).__name__}.")
    shape = tuple(1 if d is None else int(d) for d in shape)
    return jax.ShapeDtypeStruct(shape, jnp.dtype(dtype))


def fold_name(rng, name: str):
    """A key for the child `name` derived from `rng` (stable across runs and processes)."""
    if rng is None:
        return None
    return jax.random.fold_in(rng, zlib.crc32(name.encode()) & 0x7FFFFFFF)


def init_child(child, rng, specs, params: dict, state: dict, name: str | None = None):
    """`child.init(fold_name(rng, name), *specs)` (`name`: the child's own by default), its params and state put
    under `name` in the container's `params`/`state` dicts where it owns any (Keras's nesting: a child owning
    nothing is left out). Returns the child's Variables."""
    name = child.name if name is None else name
    v = child.init(fold_name(rng, name), *specs)
    if v.params:
        params[name] = v.params
    if v.state:
        state[name] = v.state
    return v


def child_variables(variables, name: str):
    """The child `name`'s part of its container's variables (empty dicts where it owns nothing)."""
    return Variables(variables.params.get(name, {}), variables.state.get(name, {}))


def _dtype_name(x) -> str | None:
    """The standard name ("float32", ...) of an array's dtype on any framework, without raising
    (torch.compile cannot trace try/except around `np.dtype(torch_dtype)`)."""
    dt = getattr(x, "dtype", None)
    if dt is None:
        return None
    mod = type(dt).__module__
    if mod.startswith("torch"):
        return str(dt).rpartition(".")[2]
    if mod.startswith("tensorflow"):
        return dt.name
    return np.dtype(dt).name


def _map_leaves(fn, tree):
    """`fn` over the leaves of nested dicts/lists/tuples in plain Python (torch.compile can trace it)."""
    if isinstance(tree, dict):
        return {k: _map_leaves(fn, v) for k, v in tree.items()}
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*(_map_leaves(fn, v) for v in tree))
    if isinstance(tree, (list, tuple)):
        return type(tree)(_map_leaves(fn, v) for v in tree)
    return fn(tree)


def cast_floats(tree, dtype: str):
    """Cast every floating array leaf of `tree` whose dtype is not `dtype`; others pass through."""
    def cast(x):
        name = _dtype_name(x)
        if name is not None and dtype_policies.is_float(name) and name != dtype:
            return ops.cast(x, dtype)
        return x

    return _map_leaves(cast, tree)


# --- the layer base class ------------------------------------------------------
class _Frozen(type):
    def __call__(cls, *args, **kwargs):
        obj = super().__call__(*args, **kwargs)
        object.__setattr__(obj, "_frozen", True)
        return obj


_INPUT_KWARGS = ("input_shape", "input_dim", "batch_size", "batch_input_shape")


_allocation_limits: list = []  # (max bytes, why) while building from an untrusted config


class allocation_limit:  # noqa: N801 - a context manager
    """`with allocation_limit(max_bytes, why)`: every layer `init` inside the block first computes its
    weights' size abstractly and raises a ValueError naming the layer when it passes `max_bytes` (how
    `load_model` refuses a config declaring a 10^12-unit Dense before allocating anything)."""

    def __init__(self, max_bytes: int, why: str):
        self._limit = (int(max_bytes), why)

    def __enter__(self):
        _allocation_limits.append(self._limit)

    def __exit__(self, *exc):
        _allocation_limits.pop()
        return False


_LAYER_CLASSES: dict = {}  # class name -> nn layer class, filled as classes are defined


def layer_class(name: str):
    """The nn layer class called `name` (None if there is none): how configs name layers."""
    return _LAYER_CLASSES.get(name) if isinstance(name, str) else None


class Layer(metaclass=_Frozen):
    """Base of all pure layers. Subclasses set hyperparameters in `__init__` and implement
    `build` (returns Variables for given input specs) and `call` (the math).

    After `__init__` the object is immutable; it holds no arrays.
    Keras's `input_shape=` / `input_dim=` / `batch_size=` keywords are accepted, so a first
    layer can tell a container its input (then `Sequential.init(rng)` needs no spec).
    """

    stateful = False  # True when `call` returns (outputs, new_state)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _LAYER_CLASSES.setdefault(cls.__name__, cls)  # the first class of a name (fkeras's own) keeps it

    autocast = True  # cast floating inputs to the policy's compute dtype in `apply`
    cast_variables = True  # ... and floating params too (BatchNormalization keeps float32 gamma/beta)
    # leaf name -> attribute holding its regularizer / constraint (set by subclasses)
    weight_regularizers: dict = {}
    weight_constraints: dict = {}

    def __init__(self, name: str | None = None, dtype=None, trainable: bool = True, activity_regularizer=None,
                 **kwargs):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}: expected `name` to be a string, got {name!r}.")
        self.name = name or unique_name(snake_case(type(self).__name__))
        unknown = set(kwargs) - set(_INPUT_KWARGS)
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) {sorted(unknown)}.")
        try:
            self.dtype_policy = dtype_policies.get(dtype)
        except (ValueError, TypeError) as e:
            raise self.error(f"invalid `dtype`: {e}") from None
        self.trainable = bool(trainable)
        self.activity_regularizer = self.lookup(regularizers.get, activity_regularizer, "activity_regularizer")
        self._batch_input_shape = self._input_kwargs(kwargs)

    @staticmethod
    def _input_kwargs(kwargs):
        if kwargs.get("batch_input_shape") is not None:
            return tuple(kwargs["batch_input_shape"])
        shape = kwargs.get("input_shape")
        if shape is None and kwargs.get("input_dim") is not None:
            shape = (kwargs["input_dim"],)
        if shape is None:
            return None
        return (kwargs.get("batch_size"),) + tuple(shape)

    def __setattr__(self, key, value):
        if getattr(self, "_frozen", False):
            raise AttributeError(
                f"{type(self).__name__} '{self.name}' is immutable; build a new layer instead of setting `{key}`."
            )
        object.__setattr__(self, key, value)

    # -- dtypes ----------------------------------------------------------------
    @property
    def dtype(self) -> str:
        """The variable dtype (Keras: `layer.dtype` is an alias of `variable_dtype`)."""
        return self.dtype_policy.variable_dtype

    @property
    def variable_dtype(self) -> str:
        return self.dtype_policy.variable_dtype

    @property
    def compute_dtype(self) -> str:
        return self.dtype_policy.compute_dtype

    # -- to implement ------------------------------------------------------
    def build(self, rng, *input_specs: jax.ShapeDtypeStruct) -> Variables:
        """Create this layer's variables for the given input specs. Default: none."""
        return Variables({}, {})

    def call(self, variables: Variables, *inputs, training: bool = False, rng=None):
        """The math: return `outputs` or `(outputs, new_state)`."""
        raise NotImplementedError

    # -- the public pure API ------------------------------------------------
    def init(self, rng, *input_specs) -> Variables:
        """Variables for inputs shaped like `input_specs` (arrays, ShapeDtypeStructs or shapes).

        With no spec, the `input_shape=` given at construction is used."""
        if not input_specs:
            if self._batch_input_shape is None:
                raise self.error("init needs an input spec (an array, a ShapeDtypeStruct or a shape tuple); "
                                 "got none, and no `input_shape` was given to the layer.")
            input_specs = (self._batch_input_shape,)
        specs = [as_spec(s) for s in input_specs]
        self.check_input(*specs)
        if _allocation_limits:
            self._check_allocation(rng, specs, _allocation_limits[-1])
        return self.build(rng, *specs)

    def _check_allocation(self, rng, specs, limit):
        """Refuse, before anything is allocated, weights whose total size passes `limit` = (bytes, why)."""
        max_bytes, why = limit
        shapes = jax.eval_shape(lambda r: self.build(r, *specs), rng)
        nbytes = sum(int(np.prod(s.shape, dtype=np.float64)) * np.dtype(s.dtype).itemsize
                     for s in jax.tree.leaves(shapes))
        if nbytes > max_bytes:
            raise self.error(f"its weights would take {nbytes:,} bytes, over the limit of {max_bytes:,} bytes ({why}).")

    def apply(self, variables, *inputs, training: bool = False, rng=None):
        """Run the layer: returns `(outputs, new_state)`; never mutates anything.

        `training` is a Python bool (static under `jax.jit`: use `static_argnames="training"`);
        `rng` is a JAX key, needed by Dropout-like layers when training."""
        variables = as_variables(variables)
        self.check_input(*inputs)
        run_vars, inputs = self.autocast_args(variables, inputs)
        out = self.call(run_vars, *inputs, training=training, rng=rng)
        return out if self.stateful else (out, variables.state)

    def autocast_args(self, variables, inputs):
        """`(variables, inputs)` as `call` gets them under the dtype policy: with `autocast`, floating inputs in
        the compute dtype, and the params too where `cast_variables` (mixed precision casts once, here)."""
        if not self.autocast:
            return variables, inputs
        if self.cast_variables and self.compute_dtype != self.variable_dtype:
            variables = Variables(cast_floats(variables.params, self.compute_dtype), variables.state)
        return variables, cast_floats(inputs, self.compute_dtype)

    def output_spec(self, variables, *input_specs):
        """Shape/dtype of the output for `input_specs`, without computing anything."""
        specs = [as_spec(s) for s in input_specs]
        return jax.eval_shape(lambda v, *x: self.apply(v, *x)[0], variables, *specs)

    # -- losses and constraints -------------------------------------------------
    def regularization_losses(self, params):
        """Sum of this layer's weight penalties (`kernel_regularizer`, ...) on `params` (or Variables).

        A scalar (0.0 when the layer has no regularizer), computed in the variables' dtype."""
        if isinstance(params, Variables):
            params = params.params
        total = 0.0
        for leaf, attr in self.weight_regularizers.items():
            reg = getattr(self, attr, None)
            if reg is not None and leaf in params:
                total = total + reg(params[leaf])
        return total

    def activity_loss(self, outputs):
        """`activity_regularizer` of each output divided by its batch size (as Keras 3); 0.0 without one."""
        if self.activity_regularizer is None:
            return 0.0
        total = 0.0
        for y in jax.tree.leaves(outputs):
            loss = ops.cast(self.activity_regularizer(y), "float32")  # losses add up in float32
            if len(y.shape) > 0 and y.shape[0]:
                loss = loss / y.shape[0]
            total = total + loss
        return total

    def apply_with_losses(self, variables, *inputs, training: bool = False, rng=None):
        """`apply` plus the Keras `sum(model.losses)`: returns `(outputs, new_state, aux_loss)` where
        aux_loss = activity regularization of every (nested) layer's outputs + all weight penalties."""
        variables = as_variables(variables)
        out, state, act = self._apply_collect(variables, *inputs, training=training, rng=rng)
        return out, state, act + self.regularization_losses(variables.params)

    def _apply_collect(self, variables, *inputs, training=False, rng=None):
        """(outputs, new_state, activity loss); containers override to collect from children."""
        out, state = self.apply(variables, *inputs, training=training, rng=rng)
        return out, state, self.activity_loss(out)

    def apply_constraints(self, params):
        """New params with each constrained leaf projected (`kernel_constraint`, ...); pure."""
        if isinstance(params, Variables):
            return Variables(self.apply_constraints(params.params), params.state)
        out = dict(params)
        for leaf, attr in self.weight_constraints.items():
            c = getattr(self, attr, None)
            if c is not None and leaf in out:
                out[leaf] = c(out[leaf])
        return out

    # -- helpers ------------------------------------------------------------
    def check_input(self, *inputs) -> None:
        """Raise ValueError (naming the layer) when inputs do not fit. Default: accept all."""

    def error(self, message: str) -> ValueError:
        return ValueError(f"Layer '{self.name}' ({type(self).__name__}): {message}")

    def lookup(self, getter, value, argument: str):
        """`getter(value)` (an activations/initializers/regularizers/constraints `get`), with a
        failure reported as a ValueError naming this layer and `argument`."""
        try:
            return getter(value)
        except (ValueError, TypeError) as e:
            raise self.error(f"invalid `{argument}`: {e}") from None

    def get_config(self) -> dict:
        """Keras-compatible config of the hyperparameters (same keys and values as Keras 3.15)."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": dtype_policies.serialize(self.dtype_policy)}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class Container(Layer):
    """Base of layers that hold child layers (`children()`: `self.layers` here; a wrapper's one layer, an RNN's
    cell), each owning `params[child.name]`: weight penalties and constraints are the children's, gathered once here."""

    def children(self):
        return self.layers

    def regularization_losses(self, params):
        if isinstance(params, Variables):
            params = params.params
        total = 0.0
        for layer in self.children():
            total = total + layer.regularization_losses(params.get(layer.name, {}))
        return total

    def apply_constraints(self, params):
        if isinstance(params, Variables):
            return Variables(self.apply_constraints(params.params), params.state)
        out = dict(params)
        for layer in self.children():
            if layer.name in out:
                out[layer.name] = layer.apply_constraints(out[layer.name])
        return out


class Forwarding(Layer):
    """A layer that runs `inner` another way (frozen in inference, recomputed in the backward pass, ...): its
    variables, penalties, constraints and config are `inner`'s. Subclasses define `apply`/`_apply_collect`."""

    stateful = True
    autocast = False  # the inner layer casts

    def __init__(self, inner, trainable=None):
        super().__init__(name=inner.name, dtype=inner.dtype_policy,
                         trainable=inner.trainable if trainable is None else trainable)
        self.inner = inner

    def init(self, rng, *input_specs):
        return self.inner.init(rng, *input_specs)

    def activity_loss(self, outputs):
        return self.inner.activity_loss(outputs)

    def regularization_losses(self, params):
        return self.inner.regularization_losses(params)

    def apply_constraints(self, params):
        return self.inner.apply_constraints(params)

    def get_config(self):
        return self.inner.get_config()


def expect_rank(layer: Layer, x, rank, what: str = "input") -> None:
    """Raise a clear ValueError when `x` does not have `rank` (an int or a collection of allowed ranks)."""
    ranks = (rank,) if isinstance(rank, int) else tuple(rank)
    nd = len(x.shape)
    if nd not in ranks:
        if isinstance(rank, range) and rank.stop >= 32:
            allowed = f">= {rank.start}"
        else:
            allowed = " or ".join(str(r) for r in ranks)
        raise layer.error(f"expected {what} of rank {allowed}, got shape {tuple(x.shape)} (rank {nd}).")


def count_params(params) -> int:
    """Number of scalars in a params (or any) pytree."""
    return int(sum(np.prod(np.shape(x)) for x in jax.tree.leaves(params)))
