"""`fkeras.layers.Layer`: Keras's stateful layer API over the pure init/apply core.

A facade layer is a tree: its own Variables (made by `add_weight`, or by the nn layer it
wraps), its SeedGenerators, and the sub-layers it holds in attributes, lists and dicts.
That tree maps one-to-one onto a pair of pytrees, `Variables(params, state)`, keyed by
layer name (children) and weight name (leaves):

    variables = layer.init(rng, *example_inputs)          # builds the layer if needed
    outputs, new_state = layer.apply(variables, *inputs, training=False, rng=None)

`apply` works the way Keras 3's `stateless_call` does: each Variable is bound to the array
given for it, the user's `call` runs, and the non-trainable values after the call (BatchNorm
statistics, SeedGenerator counters, anything `assign`ed) come back as `new_state`. Bindings
live in a scope that is dropped when `apply` returns, so nothing survives a call and both
methods pass under `jax.jit`, `jax.grad` and `jax.vmap`. An eager `layer(x)` is `apply` on the
layer's current values, with the new state written back.
"""

from __future__ import annotations

import inspect
import weakref

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from fkeras import constraints, regularizers
from fkeras import random as frandom
from fkeras import initializers as finit
from fkeras.layers import variables as _vars
from fkeras.layers.input_spec import assert_input_compatibility
from fkeras.layers.name_scope import current_path, join, name_scope
from fkeras.layers.scopes import get_current_remat_mode
from fkeras.layers.seeding import next_key, set_seed  # noqa: F401 - set_seed: fkeras.utils.set_random_seed
from fkeras.layers.symbolic import KerasTensor, inbound_nodes, symbolic_call
from fkeras.layers.variables import Variable, _call_initializer, _owner, get_path, put_leaf, set_path  # noqa: F401
from fkeras.ops import _dispatch
from fkeras.nn import dtype_policies, masking
from fkeras.nn.base import Variables, as_spec, cast_floats, fold_name, snake_case, unique_name
from fkeras.saving.serialization_lib import serialize_keras_object

# `fkeras.ops` unwraps facade Variables (and their SeedState views) to their values before dispatch.
_dispatch.register_variable_type(Variable)


def _as_key(rng):
    if rng is None:
        return None
    if isinstance(rng, (int, np.integer)):
        return jax.random.key(int(rng))
    return rng


# --- helpers -------------------------------------------------------------------------
def _is_keras_tensor(x) -> bool:
    return isinstance(x, KerasTensor)


def _leaves(x):
    """Leaves of nested lists/tuples/dicts (arrays, tensors, specs, anything else)."""
    if isinstance(x, dict):
        for v in x.values():
            yield from _leaves(v)
    elif isinstance(x, (list, tuple)) and not _is_shape(x):
        for v in x:
            yield from _leaves(v)
    else:
        yield x


def _map(fn, x):
    if isinstance(x, dict):
        return type(x)((k, _map(fn, v)) for k, v in x.items())
    if isinstance(x, (list, tuple)) and not _is_shape(x):
        return type(x)(_map(fn, v) for v in x)
    return fn(x)


def _is_shape(x) -> bool:
    return isinstance(x, tuple) and all(d is None or isinstance(d, (int, np.integer)) for d in x) and (
        len(x) > 0
    )


def _to_spec(x):
    """An example input (array, tensor, ShapeDtypeStruct, KerasTensor, shape tuple or Python scalar)
    as a concrete spec: `nn.base.as_spec`, the one input-shape parser, plus scalars."""
    if isinstance(x, (int, float, bool, np.number)):
        return jax.ShapeDtypeStruct((), jnp.asarray(x).dtype)
    try:
        return as_spec(x)
    except TypeError:
        raise TypeError(
            f"Expected example inputs as arrays, ShapeDtypeStructs or shape tuples, got {type(x).__name__}."
        ) from None


def _to_jax_input(x):
    if isinstance(x, np.ndarray) and x.dtype.kind in "USO":
        return x  # strings stay NumPy (the text preprocessing layers read them on the host)
    if isinstance(x, np.ndarray) or isinstance(x, (int, float, np.number)):
        return jnp.asarray(x)
    if isinstance(x, Variable):
        return x.value
    return x


def _check_output(layer, out):
    """Return `out` with Variables unwrapped; TypeError when a leaf is not an array."""

    def leaf(x):
        if isinstance(x, Variable):
            return x.value
        if x is None or (hasattr(x, "shape") and hasattr(x, "dtype")):
            return x
        raise TypeError(
            f"Layer '{layer.name}' ({type(layer).__name__}): `call` must return arrays (or a tuple/list/dict of "
            f"arrays), got {type(x).__name__}: {x!r:.80}."
        )

    if out is None:
        raise TypeError(
            f"Layer '{layer.name}' ({type(layer).__name__}): `call` returned None; it must return arrays."
        )
    return _map(leaf, out)


def _seed_generator_class():
    return frandom.SeedGenerator


def _call_params(cls):
    """(accepts_training, accepts_var_kwargs, accepts_mask) of `cls.call`, cached per class."""
    cache = cls.__dict__.get("_fk_call_sig")
    if cache is None:
        try:
            params = inspect.signature(cls.call).parameters
        except (TypeError, ValueError):
            params = {}
        var_kw = any(p.kind == p.VAR_KEYWORD for p in params.values())
        cache = ("training" in params, var_kw, "mask" in params)
        type.__setattr__(cls, "_fk_call_sig", cache)
    return cache


def _policy(dtype):
    """A `fkeras.nn` DTypePolicy from None (the global policy), a name, a dtype or a policy."""
    return dtype_policies.get(dtype)


class _Values:
    """What `_fk_regularization_losses(scope)` reads of a scope: `values` (Variable id -> array)."""

    __slots__ = ("values",)

    def __init__(self, values):
        self.values = values


class _Frame:
    __slots__ = ("layer", "rng", "training")

    def __init__(self, layer, rng, training):
        self.layer, self.rng, self.training = layer, rng, training


class Scope:
    """Bindings of one `init` trace or `apply` call: Variable id -> array, plus call context."""

    def __init__(self, mode, training=False, rng=None):
        self.mode = mode  # "init" or "apply"
        self.training = training
        self.rng = rng
        self.values = {}
        self.assigned = set()
        self.frames = []
        self.losses = []
        self.calls = {}
        self.created = []  # (layer, Variable) made in this scope
        self.built = []  # layers built in this scope
        self.seed_generators = {}  # id -> (sg, original state)
        self.keep = []  # objects whose ids key `values`


_INTERNAL = {"built", "name", "train_state"}


class Layer:
    """Base class of Keras-style layers (see the module docstring for the pure face).

    Subclass and implement `build(input_shape)` (create weights with `add_weight`) and
    `call(inputs, training=None)` (the math, with `fkeras.ops`). Sub-layers held in attributes,
    lists or dicts are tracked; their weights nest under their names.
    """

    _fk_note_errors = True  # add "raised while calling layer ..." to errors from `call`

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        d = obj.__dict__
        d["_fk_vars"] = []  # own Variables, creation order
        d["_fk_trainable"] = True
        d["_fk_losses"] = []
        d["_fk_output_shape"] = None
        d["_fk_build_shapes"] = None
        d["_fk_parent_path"] = None  # the name-scope path around the first build or call (Keras's `_parent_path`)
        d["_fk_remat_mode"] = get_current_remat_mode()  # a RematScope at creation (its pure counterpart remats)
        d["built"] = False
        d["_fk_auto_config"] = cls._fk_capture_args(args, kwargs)
        return obj

    @classmethod
    def _fk_capture_args(cls, args, kwargs):
        try:
            bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
        except (TypeError, ValueError):
            return None
        config = {}
        for k, v in list(bound.arguments.items())[1:]:
            p = inspect.signature(cls.__init__).parameters[k]
            if p.kind == p.VAR_KEYWORD:
                config.update(v)
            elif p.kind == p.VAR_POSITIONAL:
                if v:
                    return None
            else:
                config[k] = v
        return config

    def __init__(self, name=None, trainable=True, dtype=None, **kwargs):
        self._fk_input_shape_arg = None
        for key in ("input_shape", "batch_input_shape", "input_dim"):
            if key in kwargs:
                v = kwargs.pop(key)
                if key == "input_dim":
                    v = (v,)
                elif key == "batch_input_shape":
                    v = tuple(v)[1:]
                self._fk_input_shape_arg = tuple(v)
        for key in ("autocast", "activity_regularizer", "input_spec"):
            kwargs.pop(key, None)
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}: unexpected keyword argument(s) {sorted(kwargs)}; a Layer accepts "
                "name, trainable and dtype."
            )
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}: expected `name` to be a string, got {type(name).__name__}.")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self._fk_trainable = bool(trainable)
        self._fk_policy = _policy(dtype)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_fk_wrapped", False):

            def wrapped_build(self, *args, __build=build, **kw):
                with self._fk_name_scope():
                    out = __build(self, *args, **kw)
                self.__dict__["built"] = True
                if args and self.__dict__.get("_fk_build_shapes") is None:
                    self.__dict__["_fk_build_shapes"] = args[0]
                return out

            wrapped_build._fk_wrapped = True
            wrapped_build.__wrapped__ = build
            wrapped_build.__doc__ = build.__doc__
            cls.build = wrapped_build

    # -- name scopes (variable paths) --------------------------------------------------
    def _fk_name_scope(self):
        """This layer's name scope, under the path around its first build or call (Keras's rule)."""
        if self.__dict__.get("_fk_parent_path") is None:
            self.__dict__["_fk_parent_path"] = current_path()
        return name_scope(self.name, caller=self)

    def _fk_weight_path(self, name):
        """The `path` of a weight `name` created now: `<enclosing scopes>/<layer>/<name>`."""
        with self._fk_name_scope():
            return join(current_path(), name)

    def _fk_variable_paths(self):
        """{pytree path ("dense/kernel", as `variables_tree` keys it): the variable's Keras `path`}."""
        out = {}
        for var, _, path in self._fk_variables(with_seeds=True):
            out["/".join(path)] = var.path
        return out

    def _distribution(self):
        """A model's active distribution (the Trainer's choice), told the Keras paths of the model's
        variables: a LayoutMap written for Keras (`sequential/dense/kernel`) shards the same ones."""
        base = getattr(super(), "_distribution", None)
        if base is None:
            raise AttributeError(f"Layer '{self.name}' is not a model; only models run under a distribution.")
        dist = base()
        return None if dist is None else dist.for_variable_paths(self._fk_variable_paths())

    # -- attributes -----------------------------------------------------------------
    def __setattr__(self, name, value):
        if name == "train_state":
            self._fk_on_train_state(value)
        elif isinstance(value, Variable) and value._fk_subpath is None:
            self._fk_adopt(value)
        object.__setattr__(self, name, value)

    def _fk_adopt(self, var):
        """Track a `fkeras.Variable(...)` assigned to an attribute as one of this layer's weights."""
        if var.name in {v.name for v in self._fk_vars}:
            raise ValueError(
                f"Layer '{self.name}' already has a weight named {var.name!r}; name the Variable differently."
            )
        scope = _vars.current_scope()
        if scope is not None and scope.mode == "apply":
            raise ValueError(f"Layer '{self.name}': Variables must be created in `build`, not inside `apply`.")
        if scope is not None and scope.mode == "stateless":
            scope = None  # a StatelessScope binds values; the Variable keeps the value it was made with
        var._fk_subpath = (var.name,)
        if scope is not None:
            value = var.__dict__.pop("_fk_pending", None)
            scope.values[id(var)] = value if value is not None else jnp.zeros(var.shape, var.dtype)
            scope.keep.append(var)
            scope.created.append((self, var))
        self._fk_vars.append(var)

    def _fk_on_train_state(self, value):
        """Variables read through a model's TrainState; keep them consistent at its swaps."""
        old = getattr(self, "train_state", None)
        if old is None and value is not None:
            for var, kind, path in self._fk_variables():
                var._attach(self, kind, path)
                var._value = None
            for sg, path in self._fk_seed_states():
                sg.__dict__["_fk_source"] = (weakref.ref(self), "state", tuple(path))
        elif old is not None and value is None:
            for var, kind, path in self._fk_variables():
                src = var._source
                if src is not None and src[0]() is self:
                    try:
                        var._value = get_path(old.params if kind == "params" else old.state, path)
                    except (KeyError, TypeError):
                        pass
            for sg, path in self._fk_seed_states():
                try:
                    sg.state = get_path(old.state, path)
                except (KeyError, TypeError):
                    pass

    @property
    def trainable(self):
        return self._fk_trainable

    @trainable.setter
    def trainable(self, value):
        """Freeze/unfreeze this layer and all its sub-layers (Keras semantics)."""
        self._fk_trainable = bool(value)
        for child in self._fk_children():
            child.trainable = value

    @property
    def dtype_policy(self):
        """The layer's DTypePolicy (variables in `variable_dtype`, math in `compute_dtype`)."""
        return self._fk_policy

    @dtype_policy.setter
    def dtype_policy(self, value):
        self._fk_policy = _policy(value)

    @property
    def dtype(self):
        return self._fk_policy.variable_dtype

    @property
    def variable_dtype(self):
        return self._fk_policy.variable_dtype

    @property
    def compute_dtype(self):
        return self._fk_policy.compute_dtype

    # -- the tree ---------------------------------------------------------------------
    def _fk_children(self):
        """Sub-layers held in attributes (and in lists/tuples/dicts there), in assignment order."""
        found, seen = [], {id(self)}

        def visit(v, depth=0):
            if isinstance(v, Layer):
                if id(v) not in seen:
                    seen.add(id(v))
                    found.append(v)
            elif isinstance(v, (list, tuple)) and depth < 4:
                for x in v:
                    visit(x, depth + 1)
            elif isinstance(v, dict) and depth < 4:
                for x in v.values():
                    visit(x, depth + 1)

        for k, v in self.__dict__.items():
            if k.startswith("_fk_") or k in _INTERNAL:
                continue
            visit(v)
        return found

    def _fk_seed_generators(self):
        """[(key, SeedGenerator)] held in attributes, keyed by their names (deduplicated)."""
        cls = _seed_generator_class()
        if cls is None:
            return []
        out, seen, names = [], set(), set()
        for k, v in self.__dict__.items():
            if k.startswith("_fk_"):
                continue
            items = v if isinstance(v, (list, tuple)) else (v,)
            for sg in items:
                if isinstance(sg, cls) and id(sg) not in seen:
                    seen.add(id(sg))
                    key = getattr(sg, "name", None) or "seed_generator"
                    base, i = key, 1
                    while key in names:
                        key = f"{base}_{i}"
                        i += 1
                    names.add(key)
                    out.append((key, sg))
        return out

    def _fk_walk(self):
        """(layer, path) for this layer and every sub-layer, depth first, each layer once."""
        seen = set()

        def walk(layer, path):
            if id(layer) in seen:
                return
            seen.add(id(layer))
            yield layer, path
            names = {}
            for v in layer._fk_vars:
                names[v._fk_subpath[0]] = v
            for child in layer._fk_children():
                if id(child) in seen:
                    continue
                other = names.get(child.name)
                if other is not None and other is not child:
                    what = "a weight" if isinstance(other, Variable) else "another layer"
                    raise ValueError(
                        f"Layer '{layer.name}' holds {what} and the layer {type(child).__name__} both named "
                        f"{child.name!r}; names inside one layer must be unique (pass name=...)."
                    )
                names[child.name] = child
                yield from walk(child, path + (child.name,))

        yield from walk(self, ())

    def _fk_variables(self, with_frozen=False, with_seeds=False):
        """(Variable, 'params'|'state', path) for every weight of the tree in Keras order (own
        trainable, own non-trainable, [own SeedGenerator states,] then sub-layers). SeedGenerator
        states are views (`SeedState`) and only listed `with_seeds` (Keras's `variables`)."""
        out = []
        for layer, path, frozen in self._fk_walk_frozen():
            own = [v for v in layer._fk_vars if v.trainable] + [v for v in layer._fk_vars if not v.trainable]
            reorder = getattr(type(layer), "_fk_keras_weight_order", None)  # where Keras differs (layers/wrapped.py)
            if reorder is not None:
                own = reorder(layer, own)
            items = [(v, "params" if v.trainable else "state", path + v._fk_subpath) for v in own]
            if with_seeds:
                items += [(SeedState.of(sg), "state", path + (key,)) for key, sg in layer._fk_seed_generators()]
            for item in items:
                out.append(item + (frozen,) if with_frozen else item)
        return out

    def _fk_walk_frozen(self):
        frozen_of = {}
        for layer, path in self._fk_walk():
            parent_frozen = frozen_of.get(path[:-1], False) if path else False
            frozen = parent_frozen or not layer._fk_trainable
            frozen_of[path] = frozen
            yield layer, path, frozen

    def _fk_seed_states(self):
        """(SeedGenerator, path) for every SeedGenerator of the tree."""
        out = []
        for layer, path in self._fk_walk():
            for key, sg in layer._fk_seed_generators():
                out.append((sg, path + (key,)))
        return out

    # -- Keras weight API ---------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, autocast=True,
                   regularizer=None, constraint=None, aggregation="none", overwrite_with_gradient=False,
                   name=None):
        """Create a weight of this layer; returns its `Variable`.

        During `init` it becomes a leaf of the params (trainable) or state (non-trainable)
        pytree under `name`; during `apply` it is bound to the array given there.
        """
        shape = () if shape is None else shape
        if not isinstance(shape, (tuple, list)) or not all(isinstance(d, (int, np.integer)) for d in shape):
            raise ValueError(
                f"Layer '{self.name}': add_weight expects `shape` as a tuple of ints, got {shape!r}."
            )
        taken = {v.name for v in self._fk_vars}
        if name is None:
            name, i = "variable", 1
            while name in taken:
                name, i = f"variable_{i}", i + 1
        elif not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"Layer '{self.name}': add_weight expects `name` as a string without '/', got {name!r}.")
        if name in taken:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) already has a weight named {name!r}"
                + (" (the layer is already built)" if self.built else "")
                + "; weight names inside one layer must be unique."
            )
        scope = _vars.current_scope()
        if scope is not None and scope.mode == "apply":
            raise ValueError(
                f"Layer '{self.name}': add_weight called inside `apply`; weights must be created in `build` "
                "(during `init` or the first call)."
            )
        if scope is not None and scope.mode == "stateless":
            scope = None  # built eagerly: the weight gets its own initial value
        if initializer is None:
            initializer = "glorot_uniform" if jnp.issubdtype(jnp.dtype(dtype or "float32"), jnp.floating) else "zeros"
        if isinstance(initializer, (str, dict)):
            initializer = finit.get(initializer)
        if regularizer is not None and isinstance(regularizer, (str, dict)):
            regularizer = regularizers.get(regularizer)
        if constraint is not None and isinstance(constraint, (str, dict)):
            constraint = constraints.get(constraint)
        dtype = dtype or self._fk_policy.variable_dtype
        var = Variable._create(name, tuple(int(d) for d in shape), dtype, trainable, initializer, regularizer,
                               constraint, path=self._fk_weight_path(name))
        var.autocast = autocast
        var._fk_subpath = (name,)
        if scope is not None:  # init trace: an abstract value keeps the trace going
            scope.values[id(var)] = _call_initializer(initializer, var.shape, var.dtype, jax.random.key(0))
            scope.keep.append(var)
            scope.created.append((self, var))
        else:  # eager build (`layer.build(shape)` by hand)
            var._value = _call_initializer(initializer, var.shape, var.dtype, next_key())
        self._fk_vars.append(var)
        return var

    def _fk_public_variables(self, **kwargs):
        """`_fk_variables` without the carried states of stateful RNNs: they live in the state pytree (so
        they carry through fit/predict) but, as in Keras, are not weights (nor saved)."""
        return [item for item in self._fk_variables(**kwargs) if not _carried_state(item[0])]

    @property
    def weights(self):
        return [v for v, _, _ in self._fk_public_variables()]

    @property
    def trainable_weights(self):
        return [v for v, _, _, frozen in self._fk_public_variables(with_frozen=True) if v.trainable and not frozen]

    @property
    def non_trainable_weights(self):
        return [v for v, _, _, frozen in self._fk_public_variables(with_frozen=True) if not v.trainable or frozen]

    @property
    def variables(self):
        """All state: the weights plus SeedGenerator states (Keras order)."""
        return [v for v, _, _ in self._fk_public_variables(with_seeds=True)]

    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def non_trainable_variables(self):
        """Non-trainable weights plus SeedGenerator states (Keras order)."""
        return [v for v, _, _, frozen in self._fk_public_variables(with_frozen=True, with_seeds=True)
                if not v.trainable or frozen]

    def get_weights(self):
        """Weights as NumPy arrays, in Keras order (`self.weights`)."""
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        """Set weights from a list of arrays in Keras order; checks every shape before writing any."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(
                f"Layer '{self.name}': set_weights expected a list of {len(own)} arrays, got {len(weights)}."
            )
        new = []
        for v, w in zip(own, weights):
            w = jnp.asarray(w, dtype=v.dtype)
            if tuple(w.shape) != v.shape:
                raise ValueError(
                    f"Layer '{self.name}': weight '{v.path}' has shape {v.shape}, got an array of shape "
                    f"{tuple(w.shape)}."
                )
            new.append(w)
        tree = Variables(*self.variables_tree)
        for (v, kind, path), w in zip(self._fk_public_variables(), new):
            tree = put_leaf(tree, kind, path, w)
        self.variables_tree = tree

    # -- stateful recurrent layers ---------------------------------------------------------
    def _fk_recurrent_nn(self):
        """This layer's nn layer when it is a `stateful=True` recurrent one (carries `rnn_state`), else None."""
        nn_layer = self.__dict__.get("_fk_nn")
        if nn_layer is not None and getattr(nn_layer, "stateful", False) is True and \
                callable(getattr(nn_layer, "reset_states", None)):
            return nn_layer
        return None

    def _fk_carries_state(self) -> bool:
        """Whether this layer or one of its sub-layers is a stateful RNN (its states carry across calls)."""
        return any(layer._fk_recurrent_nn() is not None for layer, _ in self._fk_walk())

    def reset_states(self):
        """Zero the carried states of stateful recurrent layers: this layer's, and for a layer holding
        others (a model) every one of theirs, wherever the values live (the layer, or a model's TrainState)."""
        for layer, _ in self._fk_walk():
            nn_layer = layer._fk_recurrent_nn()
            if nn_layer is not None and layer.built:
                tree = layer.variables_tree
                layer.variables_tree = Variables(*nn_layer.reset_states(Variables(tree.params, tree.state)))

    def reset_state(self):
        """Keras 3's name for `reset_states` on recurrent layers."""
        self.reset_states()

    def count_params(self):
        if not self.built:
            raise ValueError(f"Layer '{self.name}' is not built yet; call it on data (or `init`) first.")
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    @property
    def layers(self):
        return list(self._fk_children())

    @property
    def losses(self):
        """`add_loss` terms (and weight regularization) of the last eager call."""
        return list(self._fk_losses)

    def add_loss(self, loss):
        """Add a scalar to the training loss (collected per call; see `apply`'s `_forward`)."""
        scope = _vars.current_scope()
        if scope is None:
            self._fk_losses.append(loss)
        else:
            scope.losses.append(loss)

    # -- the pytree face ------------------------------------------------------------------
    @property
    def variables_tree(self) -> Variables:
        """Current `Variables(params, state)` of this layer (exact round trip with the setter)."""
        ts = getattr(self, "train_state", None)
        if ts is not None:
            return Variables(ts.params, ts.state)
        tree = Variables({}, {})
        for var, kind, path in self._fk_variables():
            tree = put_leaf(tree, kind, path, var._stored())
        for sg, path in self._fk_seed_states():
            tree = put_leaf(tree, "state", path, _sg_value(sg))
        return tree

    @variables_tree.setter
    def variables_tree(self, variables):
        params, state = variables
        self._fk_check_tree(params, state)
        ts = getattr(self, "train_state", None)
        if ts is not None:
            # private copies: the train steps donate the TrainState's buffers, never the caller's arrays
            params, state = jax.tree_util.tree_map(_copy, (params, state))
            self.train_state = eqx.tree_at(lambda t: (t.params, t.state), ts, (params, state))
            return
        pairs = [(var, get_path(params if kind == "params" else state, path))
                 for var, kind, path in self._fk_variables()]
        pairs += [(sg, get_path(state, path)) for sg, path in self._fk_seed_states()]
        _write_values(pairs)

    def _fk_check_tree(self, params, state):
        """ValueError naming the first missing/extra/mis-shaped leaf."""
        expected = {}
        for var, kind, path in self._fk_variables():
            expected[(kind,) + path] = var.shape
        for sg, path in self._fk_seed_states():
            expected[("state",) + path] = tuple(np.shape(sg.state)) if sg.state is not None else None
        given = {}
        for kind, tree in (("params", params), ("state", state)):
            for path, leaf in _flatten_dict(tree):
                given[(kind,) + path] = tuple(getattr(leaf, "shape", np.shape(leaf)))
        missing = [k for k in expected if k not in given]
        extra = [k for k in given if k not in expected]
        if missing or extra:
            parts = []
            if missing:
                parts.append("missing " + ", ".join("/".join(k) for k in missing[:5]))
            if extra:
                parts.append("unexpected " + ", ".join("/".join(k) for k in extra[:5]))
            raise ValueError(f"Layer '{self.name}': the variables do not match the layer's weights: "
                             + "; ".join(parts) + ".")
        for k, shape in expected.items():
            if shape is not None and tuple(given[k]) != tuple(shape):
                raise ValueError(
                    f"Layer '{self.name}': weight '{'/'.join(k[1:])}' expected shape {shape}, got {given[k]}."
                )

    def _trainable_mask(self):
        """Bool pytree shaped like params: False where the weight is frozen (`trainable = False`)."""
        mask = {}
        for var, kind, path, frozen in self._fk_variables(with_frozen=True):
            if kind == "params":
                mask = set_path(mask, path, not frozen)
        return mask

    def _weight_paths(self, trainable: bool):
        """Paths (tuples into params or state) of the trainable (or the non-trainable) weights,
        in Keras's order of `trainable_variables` / `non_trainable_variables`."""
        out = []
        for var, kind, path, frozen in self._fk_variables(with_frozen=True, with_seeds=True):
            is_tr = kind == "params" and not frozen
            if is_tr == trainable:
                out.append(path)
        return out

    def _apply_constraints(self, params):
        """`params` with every weight constraint applied (`add_weight(constraint=)`, built-in layers'
        `kernel_constraint`, ...); pure, for the train step to call after each update as Keras does."""
        for layer, path in self._fk_walk():
            project = getattr(layer, "_fk_constrain_own", None)
            if project is not None:
                try:
                    own = get_path(params, path)
                except (KeyError, TypeError):
                    continue
                params = set_path(params, path, project(own)) if path else project(own)
                continue
            for var in layer._fk_vars:
                if var.trainable and var.constraint is not None:
                    p = path + var._fk_subpath
                    params = set_path(params, p, var.constraint(get_path(params, p)))
        return params

    # -- building -----------------------------------------------------------------------
    def build(self, input_shape):
        """Create weights for inputs of `input_shape` (override; default: none)."""
        self.__dict__["built"] = True

    def _fk_build_from_args(self, args, kwargs):
        """Called on the first call inside a scope: Keras's `build(input_shape)`."""
        if not args:
            shapes = None
        else:
            first = args[0]
            shapes = _map(lambda x: tuple(x.shape) if hasattr(x, "shape") else x, first)
        if not getattr(type(self).build, "_fk_default_build", False):
            self.build(shapes)
        self.__dict__["_fk_build_shapes"] = shapes
        self.__dict__["built"] = True

    def _fk_own_initial_values(self, rng):
        """{subpath: initial value} of this layer's own Variables drawn from `rng`."""
        return {v._fk_subpath: _call_initializer(v.initializer, v.shape, v.dtype, fold_name(rng, v.name))
                for v in self._fk_vars}

    def init(self, rng, *example_inputs, **kwargs) -> Variables:
        """Fresh `Variables(params, state)` for inputs like `example_inputs` (arrays, ShapeDtypeStructs
        or shape tuples; a None batch is taken as 1), drawn from the JAX key `rng`.

        Builds the layer first if needed (an abstract trace of `call`: nothing is computed); a
        layer built here takes the returned values as its current weights.
        """
        rng = _as_key(rng)
        if rng is None:
            raise ValueError(f"Layer '{self.name}': init needs a JAX key (jax.random.key(seed)), got None.")
        specs = [_map(_to_spec, x) for x in example_inputs]
        scope, _ = self._fk_trace(specs, kwargs)
        values = self._fk_initial_values(rng)
        if not any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(values)):
            created = {id(v) for _, v in scope.created}
            params, state = values
            for var, kind, path in self._fk_variables():
                if id(var) in created or _unset(var):
                    var._value = get_path(params if kind == "params" else state, path)
        return values

    def _fk_trace(self, specs, kwargs, dry=False):
        """Run `call` abstractly (jax.eval_shape) to build every unbuilt layer of the tree;
        `dry` undoes the builds afterwards (shape inference only). Returns (scope, output specs)."""
        scope = Scope("init", training=bool(kwargs.pop("training", False)), rng=None)
        # array-like keyword arguments (a `mask`, an `initial_state`) are traced with the inputs
        kw_leaves, kw_def = jax.tree_util.tree_flatten(kwargs)
        traced = [i for i, v in enumerate(kw_leaves) if hasattr(v, "shape") and hasattr(v, "dtype")]

        def run(kw_arrays, *xs):
            leaves = list(kw_leaves)
            for i, v in zip(traced, kw_arrays):
                leaves[i] = v
            kw = jax.tree_util.tree_unflatten(kw_def, leaves)
            for var, kind, path in self._fk_variables():
                scope.values[id(var)] = jnp.zeros(var.shape, var.dtype)
            for sg, _ in self._fk_seed_states():
                scope.seed_generators[id(sg)] = (sg, sg.state)
            _vars.scopes().append(scope)
            try:
                return self(*xs, **kw)
            finally:
                _vars.scopes().pop()
                _restore_seed_generators(scope)

        try:
            kw_specs = [jax.ShapeDtypeStruct(tuple(kw_leaves[i].shape), kw_leaves[i].dtype) for i in traced]
            out = jax.eval_shape(run, kw_specs, *specs)
        except BaseException:
            _rollback(scope)  # leave no half-built layer behind
            raise
        if dry:
            _rollback(scope)
        return scope, out

    def _fk_initial_values(self, rng) -> Variables:
        params, state = {}, {}
        for layer, path in self._fk_walk():
            lrng = rng
            for name in path:
                lrng = fold_name(lrng, name)
            own = layer._fk_own_initial_values(lrng)
            for v in layer._fk_vars:
                value = own[v._fk_subpath]
                if v.trainable:
                    params = set_path(params, path + v._fk_subpath, value)
                else:
                    state = set_path(state, path + v._fk_subpath, value)
            for key, sg in layer._fk_seed_generators():
                state = set_path(state, path + (key,), _initial_seed_state(sg))
        return Variables(params, state)

    # -- running ----------------------------------------------------------------------------
    def apply(self, variables, *inputs, training=False, rng=None, **kwargs):
        """Run the layer on explicit variables: returns `(outputs, new_state)`; mutates nothing.

        `variables` is `Variables(params, state)` (or a 2-tuple) shaped like `init`'s result;
        `rng` is a JAX key for randomness driven by the caller (built-in Dropout).
        """
        out, new_state, _ = self._fk_apply(variables, inputs, kwargs, training, rng)
        return out, new_state

    def _fk_apply(self, variables, inputs, kwargs, training, rng):
        """`(outputs, new_state, losses)`: losses are the call's `add_loss` terms, then the weight
        penalties (the list Keras's `model.losses` holds after a stateless call)."""
        out, new_state, call_losses, penalties = self._fk_apply_parts(variables, inputs, kwargs, training, rng)
        return out, new_state, call_losses + penalties

    def _fk_check_variables(self, params, state):
        """ValueError naming the first weight missing from `params`/`state` or given with a wrong shape."""
        for var, kind, path in self._fk_variables():
            tree = params if kind == "params" else state
            try:
                value = get_path(tree, path)
            except (KeyError, TypeError, IndexError):
                raise ValueError(
                    f"Layer '{self.name}': `variables.{kind}` has no entry {'/'.join(path)!r} "
                    f"(weight '{var.path}', shape {var.shape})."
                ) from None
            shape = tuple(getattr(value, "shape", ()))
            if shape != var.shape:
                raise ValueError(
                    f"Layer '{self.name}': `variables.{kind}` entry {'/'.join(path)!r} has shape {shape}; "
                    f"expected {var.shape}."
                )
        for sg, path in self._fk_seed_states():
            try:
                get_path(state, path)
            except (KeyError, TypeError):
                raise ValueError(
                    f"Layer '{self.name}': `variables.state` has no entry {'/'.join(path)!r} (a SeedGenerator)."
                ) from None

    def _fk_weight_penalties(self, params) -> list:
        """The weight penalties of the whole tree on `params` (pure): each `add_weight(regularizer=)`
        and each built-in layer's `kernel_regularizer`, ... (one term per weight / layer, walk order)."""
        terms = []
        for layer, path in self._fk_walk():
            values = {}
            for var in layer._fk_vars:
                if not var.trainable:
                    continue
                try:
                    values[id(var)] = get_path(params, path + var._fk_subpath)
                except (KeyError, TypeError):
                    continue
                if var.regularizer is not None:
                    terms.append(var.regularizer(values[id(var)]))
            extra = getattr(layer, "_fk_regularization_losses", None)  # a built-in layer's nn penalties
            if extra is not None:
                terms.extend(extra(_Values(values)))
        return terms

    def _fk_apply_parts(self, variables, inputs, kwargs, training, rng):
        """`(outputs, new_state, call_losses, penalties)` of one stateless call (see `_fk_apply`)."""
        if not isinstance(variables, (tuple, list)) or len(variables) != 2:
            raise TypeError(
                f"Layer '{self.name}': apply expects `variables` as Variables(params, state), got "
                f"{type(variables).__name__}."
            )
        params, state = variables
        if not self.built:
            self.init(next_key(), *inputs, **kwargs)
        self._fk_check_variables(params, state)
        scope = Scope("apply", training=training, rng=_as_key(rng))
        for var, kind, path in self._fk_variables():
            scope.values[id(var)] = get_path(params if kind == "params" else state, path)
        sg_paths = self._fk_seed_states()
        for sg, path in sg_paths:
            scope.seed_generators[id(sg)] = (sg, sg.state)
            sg.state = get_path(state, path)
        _vars.scopes().append(scope)
        try:
            out = self(*inputs, **kwargs)
            losses = list(scope.losses)
            penalties = self._fk_weight_penalties(params)
            new_state = {}
            for var, kind, path in self._fk_variables():
                if kind == "state":
                    new_state = set_path(new_state, path, scope.values[id(var)])
            for sg, path in sg_paths:
                new_state = set_path(new_state, path, sg.state)
        finally:
            _vars.scopes().pop()
            _restore_seed_generators(scope)
        return out, new_state, losses, penalties

    input_spec = None  # an InputSpec (or a structure of them) the first argument must fit, checked per call

    def __call__(self, *args, **kwargs):
        with self._fk_name_scope():
            return self._fk_call(args, kwargs)

    def _fk_call(self, args, kwargs):
        spec = self.__dict__.get("input_spec")
        if spec is not None and args:
            assert_input_compatibility(spec, args[0], self.name)
        for leaf in _leaves((args, kwargs)):
            if _is_keras_tensor(leaf):
                return self._fk_symbolic_call(args, kwargs)
        kwargs, previous = self._fk_fill_masks(args, kwargs)
        scope = _vars.current_scope()
        if scope is None:
            out = self._fk_eager_call(args, kwargs)
        else:
            out = self._fk_scoped_call(scope, args, kwargs)
        self._fk_set_output_masks(args, out, previous)
        return out

    # -- masks (Keras's `_keras_mask` rules; see fkeras.nn.masking) ---------------------------
    @property
    def supports_masking(self):
        """Whether this layer hands masks on to its outputs (`compute_mask`). Default: a built-in layer's
        Keras value; for your own layer, True when it overrides `compute_mask`. Settable."""
        flag = self.__dict__.get("_fk_supports_masking")
        if flag is not None:
            return flag
        if type(self).compute_mask is not Layer.compute_mask:
            return True
        nn_layer = self.__dict__.get("_fk_nn")
        return nn_layer is not None and masking.supports_masking(nn_layer)

    @supports_masking.setter
    def supports_masking(self, value):
        self.__dict__["_fk_supports_masking"] = bool(value)

    def compute_mask(self, inputs, previous_mask=None):
        """The output mask for `inputs` whose mask is `previous_mask` (default: unchanged; a built-in
        layer computes Keras's, e.g. `Embedding(mask_zero=True)` gives `inputs != 0`)."""
        nn_layer = self.__dict__.get("_fk_nn")
        if nn_layer is not None:
            return masking.compute_mask(nn_layer, inputs, previous_mask)
        return previous_mask

    def _fk_mask_signature(self):
        """(object, method, skip) whose signature says which mask keywords this layer's call takes."""
        nn_layer = self.__dict__.get("_fk_nn")
        if nn_layer is not None and not getattr(type(self), "_fk_overrides", True):  # a built-in layer
            return nn_layer, "apply", 2
        return self, "call", 1

    def _fk_fill_masks(self, args, kwargs, masks_of_arg=masking.masks_of):
        """Keras's automatic `mask=` / `<argument>_mask=` keywords from the inputs' `_keras_mask`."""
        target, method, skip = self._fk_mask_signature()
        return masking.fill_masks(target, args, kwargs, masks_of_arg, method, skip)

    def _fk_set_output_masks(self, args, outputs, previous):
        """Attach output masks (`_keras_mask`) as Keras's `_set_mask_metadata`: kept when the call set them."""
        flat = [x for x in jax.tree_util.tree_leaves(outputs) if hasattr(x, "shape")]
        if not flat or all(masking.get_keras_mask(x) is not None for x in flat) or not args:
            return
        if not self.supports_masking:
            return
        masks = masking.broadcast_masks(outputs, self.compute_mask(args[0], previous))
        for x, m in zip(jax.tree_util.tree_leaves(outputs),
                        jax.tree_util.tree_leaves(masks, is_leaf=lambda m: m is None)):
            if m is not None and masking.get_keras_mask(x) is None:
                masking.set_keras_mask(x, m)

    def _fk_symbolic_call(self, args, kwargs):
        """A call on KerasTensors: the mask of the only tensor argument goes in the recorded `mask=`
        (as Keras records it), and the outputs get `compute_mask` traced symbolically."""
        kwargs = dict(kwargs)
        tensors = [a for a in (*args, *kwargs.values()) if any(_is_keras_tensor(x) for x in _leaves(a))]
        target, method, skip = self._fk_mask_signature()
        takes = masking.takes_mask(target, "mask", method, skip) or getattr(type(self), "_fk_call_takes_mask", False)
        if "mask" not in kwargs and len(tensors) == 1 and takes:
            m = masking.masks_of(tensors[0])
            if masking.any_mask(m):
                kwargs["mask"] = m
        previous = kwargs.get("mask") if masking.any_mask(kwargs.get("mask")) else (
            masking.masks_of(args[0]) if args else None)
        out = symbolic_call(self, args, kwargs)
        self._fk_set_output_masks(args, out, previous)
        return out

    def _fk_eager_call(self, args, kwargs):
        args = _map(_to_jax_input, args)
        kwargs = dict(kwargs)
        training = kwargs.pop("training", None)
        if not self.built or any(_unset(v) for v, _, _ in self._fk_variables()):
            self.init(next_key(), *args, **kwargs)  # e.g. built structurally by `init` under jax.jit
        vt = self.variables_tree
        if training is None and _trains_by_default(self):  # Keras's augmentation layers: call(..., training=True)
            rng = next_key()
        else:
            rng = next_key() if training else None
            training = bool(training)
        out, new_state, losses = self._fk_apply(vt, args, kwargs, training, rng)
        self.__dict__["_fk_losses"] = losses
        if new_state:
            self._fk_write_state(vt.state, new_state)
        return out

    def _fk_write_state(self, old, new):
        """Write the changed leaves of `new` (a state tree) back after an eager call."""
        pairs = []
        for var, kind, path in self._fk_variables():
            if kind == "state":
                value = get_path(new, path)
                if value is not get_path(old, path):
                    pairs.append((var, value))
        for sg, path in self._fk_seed_states():
            pairs.append((sg, get_path(new, path)))
        if getattr(self, "train_state", None) is not None:
            vt = self.variables_tree
            self.variables_tree = Variables(vt.params, new)
        else:
            _write_values(pairs)

    def _fk_scoped_call(self, scope, args, kwargs):
        kwargs = dict(kwargs)
        training = kwargs.pop("training", None)
        if training is None:
            training = scope.frames[-1].training if scope.frames else scope.training
        if scope.frames:
            rng = fold_name(scope.frames[-1].rng, self.name)
            n = scope.calls.get(id(self), 0)
            if n and rng is not None:
                rng = jax.random.fold_in(rng, n)
        else:
            rng = scope.rng
        scope.calls[id(self)] = scope.calls.get(id(self), 0) + 1
        if scope.mode == "stateless":  # SeedGenerators advance inside, and are put back when the scope exits
            for sg, _ in self._fk_seed_states():
                scope.seed_generators.setdefault(id(sg), (sg, sg.state))
        if type(self).apply is not Layer.apply:  # a layer with its own pure apply
            return self._fk_call_via_apply(scope, rng, training, args, kwargs)
        if not self.built and scope.mode == "stateless":  # built on its own values first, as outside the scope
            self.init(next_key(), *args, **{k: v for k, v in kwargs.items() if k != "mask"})
        container = self._fk_container() if scope.mode in ("apply", "stateless") and self.built else None
        if container is not None:  # a Sequential/Functional inside a user's model: its pure container
            return self._fk_call_via_container(scope, container, rng, training, args, kwargs)
        if not self.built:
            if scope.mode == "apply":
                raise ValueError(
                    f"Layer '{self.name}' ({type(self).__name__}) is not built, but `apply` needs every layer "
                    "built: call `init` (or the model on data) first."
                )
            scope.built.append(self)
            self._fk_build_from_args(args, kwargs)
        self._fk_check_call_input(args)
        if self.__dict__.get("_fk_autocast", True) and self._fk_policy.compute_dtype != "float32":
            args = cast_floats(args, self._fk_policy.compute_dtype)
        accepts_training, var_kw, accepts_mask = _call_params(type(self))
        if accepts_training or var_kw:
            kwargs["training"] = None if training is None else bool(training)
        if "mask" in kwargs and not (accepts_mask or var_kw):
            kwargs.pop("mask")  # as Keras: a mask only reaches layers whose call takes one
        scope.frames.append(_Frame(self, rng, None if training is None else bool(training)))
        swapped = self._fk_swap_in(scope)
        try:
            out = self.call(*args, **kwargs)
        except Exception as e:
            if hasattr(e, "add_note") and self._fk_note_errors:
                shapes = _map(lambda x: tuple(x.shape) if hasattr(x, "shape") else x, args)
                e.add_note(f"(raised while calling layer '{self.name}' ({type(self).__name__}) on inputs of shape "
                           f"{shapes})")
            raise
        finally:
            for k, v in swapped:
                self.__dict__[k] = v
            scope.frames.pop()
        return self._fk_scoped_output(scope, out)

    def _fk_container(self):
        """The pure nn container running this layer (models override); None: run `call` in the scope."""
        return None

    def _fk_bound_variables(self, values):
        """`(own, seeds, Variables(params, state))`: this layer's `_fk_variables()`, `_fk_seed_states()`, and
        the pytrees of their values as bound in a scope (`values`: id(var) -> value; unbound: the stored one)."""
        tree = Variables({}, {})
        own = self._fk_variables()
        for var, kind, path in own:
            tree = put_leaf(tree, kind, path, values[id(var)] if id(var) in values else var._stored())
        seeds = self._fk_seed_states()
        for sg, path in seeds:
            tree = put_leaf(tree, "state", path, sg.state)
        return own, seeds, tree

    def _fk_call_via_container(self, scope, container, rng, training, args, kwargs):
        """Run a container model on the values bound in `scope` through its pure counterpart; its
        state updates go back into the scope, its activity losses into the scope's losses (weight
        penalties are counted once, by the scope's owner)."""
        kwargs = {k: v for k, v in kwargs.items() if k != "mask"}
        if kwargs:
            raise TypeError(f"Model '{self.name}': unexpected call argument(s) {sorted(kwargs)}.")
        self._fk_check_call_input(args)
        values = scope.values
        own, seeds, variables = self._fk_bound_variables(values)
        out, new_state, activity = container._apply_collect(variables, *args,
                                                            training=None if training is None else bool(training),
                                                            rng=rng)
        for var, kind, path in own:
            if kind == "state" and (id(var) in values or scope.mode == "stateless"):
                _bind(scope, var, get_path(new_state, path))
        for sg, path in seeds:
            sg.state = get_path(new_state, path)
        if not (isinstance(activity, float) and activity == 0.0):
            scope.losses.append(activity)
        return _check_output(self, out)

    def _fk_call_via_apply(self, scope, rng, training, args, kwargs):
        """Run a layer that defines its own `apply` on the values bound in `scope`."""
        values = scope.values
        own, _, variables = self._fk_bound_variables(values)
        out, new_state = self.apply(variables, *args, training=bool(training), rng=rng, **kwargs)
        for var, kind, path in own:
            if kind == "state" and (id(var) in values or scope.mode == "stateless"):
                try:
                    _bind(scope, var, get_path(new_state, path))
                except (KeyError, TypeError):
                    pass
        for sg, path in self._fk_seed_states():
            try:
                sg.state = get_path(new_state, path)
            except (KeyError, TypeError):
                pass
        return self._fk_scoped_output(scope, out)

    def _fk_scoped_output(self, scope, out):
        """`out` checked; while a scope inits, the first output shape (batch dim None) is kept for `output_shape`."""
        out = _check_output(self, out)
        if scope.mode == "init" and self.__dict__.get("_fk_output_shape") is None:
            self.__dict__["_fk_output_shape"] = _map(lambda x: (None,) + tuple(x.shape[1:]) if len(x.shape) else (),
                                                     out)
        return out

    def _fk_check_call_input(self, args):
        """Hook: raise ValueError for inputs this layer cannot take (default: accept)."""

    def _fk_swap_in(self, scope):
        """Inside `call`, attributes holding bound trainable Variables read as plain arrays, so
        ops dispatch on the bound framework (JAX tracer, torch or TF tensor)."""
        swapped = []
        values = scope.values
        compute = self._fk_policy.compute_dtype
        if compute != self._fk_policy.variable_dtype and self.__dict__.get("_fk_autocast", True):
            values = {k: (cast_floats(v, compute) if k in {id(x) for x in self._fk_vars if x.autocast} else v)
                      for k, v in values.items()}
        for k, v in list(self.__dict__.items()):
            if k.startswith("_fk_"):
                continue
            if isinstance(v, Variable) and v.trainable and id(v) in values:
                swapped.append((k, v))
                self.__dict__[k] = values[id(v)]
            elif isinstance(v, (list, tuple)) and v and any(isinstance(x, Variable) for x in v):
                swapped.append((k, v))
                self.__dict__[k] = type(v)(
                    values[id(x)] if isinstance(x, Variable) and x.trainable and id(x) in values else x for x in v
                )
        return swapped

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"Layer '{self.name}' ({type(self).__name__}) does not implement `call`.")

    def compute_output_shape(self, *input_shapes):
        """Output shape(s) for inputs of `input_shapes` (None dims allowed), by an abstract trace."""
        specs = [_map(_to_spec, s) for s in input_shapes]
        if self.built:
            vt_spec = jax.eval_shape(lambda: self._fk_zero_tree())
            out = jax.eval_shape(lambda v, *x: self.apply(v, *x)[0], vt_spec, *specs)
        else:  # infer without building (as Keras): trace, then undo the build
            _, out = self._fk_trace(specs, {}, dry=True)
        first_none = bool(input_shapes) and _is_shape(input_shapes[0]) and input_shapes[0][0] is None
        return _map(lambda s: ((None,) + tuple(s.shape[1:])) if first_none and len(s.shape) else tuple(s.shape), out)

    def compute_output_spec(self, *inputs):
        return self.compute_output_shape(*[tuple(x.shape) for x in inputs])

    def _fk_zero_tree(self):
        tree = Variables({}, {})
        for var, kind, path in self._fk_variables():
            tree = put_leaf(tree, kind, path, jnp.zeros(var.shape, var.dtype))
        for sg, path in self._fk_seed_states():
            tree = put_leaf(tree, "state", path, jnp.zeros(np.shape(sg.state), jnp.uint32))
        return tree

    # -- config ---------------------------------------------------------------------------
    def get_config(self):
        """Keras config: name, trainable, dtype, plus the constructor arguments (recorded at
        construction, like Keras's auto-config). Arguments that cannot be serialized (an arbitrary
        object) make this raise NotImplementedError: override `get_config` then."""
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": dtype_policies.serialize(self._fk_policy)}
        auto = self.__dict__.get("_fk_auto_config") or {}
        for k, v in auto.items():
            if k in config:
                continue
            if not _is_plain(v):
                try:
                    serialize_keras_object(v)
                except Exception as e:  # noqa: BLE001 - explained below
                    raise NotImplementedError(
                        f"{type(self).__name__} '{self.name}' was created with the argument {k}={v!r:.60}, which "
                        f"cannot be serialized ({e}); override `get_config()` to make the layer serializable."
                    ) from None
            config[k] = v
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        params = inspect.signature(cls.__init__).parameters
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            trainable = config.pop("trainable", True) if "trainable" not in params else None
            config = {k: v for k, v in config.items() if k in params}
            obj = cls(**config)
            if trainable is not None:
                obj.trainable = trainable
            return obj
        return cls(**config)

    @property
    def input_shape(self):
        return self._fk_build_shapes

    @property
    def output_shape(self):
        if self._fk_output_shape is None:
            raise AttributeError(f"Layer '{self.name}' has not been called yet, so it has no output shape.")
        return self._fk_output_shape

    @property
    def path(self):
        """`<enclosing scopes>/<name>` once built (Keras's `layer.path`); None before."""
        if not self.built:
            return None
        return join(self.__dict__.get("_fk_parent_path") or "", self.name)

    def _fk_first_node(self, what):
        nodes = [n for n in inbound_nodes(self) if n.input_tensors]
        if not nodes:
            raise AttributeError(
                f"Layer '{self.name}' has never been called on symbolic inputs (fkeras.Input), so it has no "
                f"`{what}`."
            )
        return nodes[0]

    @property
    def input(self):
        """The symbolic input of this layer's first call on `fkeras.Input` tensors (Keras semantics)."""
        node = self._fk_first_node("input")
        return node.call_args[0] if node.call_args else node.input_tensors

    @property
    def output(self):
        """The symbolic output of this layer's first call on `fkeras.Input` tensors (Keras semantics)."""
        node = self._fk_first_node("output")
        return node.outputs_struct

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _bind(scope, var, value):
    """Bind `var` to a new state `value` in `scope` (recorded as assigned in a StatelessScope)."""
    if id(var) not in scope.values:
        scope.keep.append(var)
    scope.values[id(var)] = value
    if scope.mode == "stateless":
        scope.assigned.add(id(var))


def _trains_by_default(layer) -> bool:
    """Whether `layer` holds a layer whose Keras `call` defaults to `training=True` (the image augmentation
    layers: `nn` layers with `training_default`), so a call without `training` runs it in training mode."""
    def nn_trains(nn_layer):
        return bool(getattr(nn_layer, "training_default", False)) or any(
            nn_trains(child) for child in getattr(nn_layer, "layers", ()) or ())
    if nn_trains(layer.__dict__.get("_fk_nn")):
        return True
    return any(_trains_by_default(child) for child in layer._fk_children() if isinstance(child, Layer))


def _carried_state(var) -> bool:
    """A stateful RNN's carried state (`rnn_state/<i>` of a built-in recurrent layer), not a weight."""
    subpath = getattr(var, "_fk_subpath", None) or ()
    return bool(getattr(var, "_fk_nn_leaf", False)) and "rnn_state" in subpath


def _rollback(scope):
    """Undo the builds of an init trace: drop the Variables it made, mark its layers unbuilt."""
    for layer, var in scope.created:
        if var in layer._fk_vars:
            layer._fk_vars.remove(var)
    for layer in scope.built:
        for key in ("_fk_build_shapes", "_fk_output_shape", "_fk_build_specs"):
            if key in layer.__dict__:
                layer.__dict__[key] = None
        layer.__dict__["built"] = False


def _unset(var):
    """True for a Variable with no value anywhere yet."""
    return var._value is None and _owner(var._source) is None and not isinstance(var, SeedState)


def _write_values(pairs):
    """Set each (Variable or SeedGenerator, value): into the TrainState of the model owning it
    (one write per model), else into the object itself."""
    writes = {}
    for obj, value in pairs:
        value = _plain(value)
        src = obj._source if isinstance(obj, Variable) else obj.__dict__.get("_fk_source")
        model = _owner(src)
        if model is None:
            if isinstance(obj, Variable):
                obj._value = value
            else:
                obj.state = value
        else:
            writes.setdefault(id(model), (model, []))[1].append((src[1], src[2], value))
    for model, items in writes.values():
        tree = Variables(*model.variables_tree)
        for kind, path, value in items:
            tree = put_leaf(tree, kind, path, value)
        model.variables_tree = tree


class SeedState(Variable):
    """Keras's `seed_generator.state` Variable: a view of a SeedGenerator's uint32 state."""

    @classmethod
    def of(cls, sg):
        view = sg.__dict__.get("_fk_view")
        if view is None:
            view = cls._create("seed_generator_state", np.shape(sg.state), "uint32", trainable=False,
                               path=f"{getattr(sg, 'name', 'seed_generator')}/seed_generator_state")
            view._fk_sg = sg
            sg.__dict__["_fk_view"] = view
        return view

    def _bound(self):
        sg = self._fk_sg
        return any(id(sg) in scope.seed_generators for scope in _vars.scopes())

    @property
    def value(self):
        return self._fk_sg.state if self._bound() else _sg_value(self._fk_sg)

    def _stored(self):
        return _sg_value(self._fk_sg)

    def assign(self, value):
        if self._bound():
            self._fk_sg.state = value
        else:
            _write_values([(self._fk_sg, jnp.asarray(value, jnp.uint32))])
        return value


def _sg_value(sg):
    """A SeedGenerator's current state (read from its model's TrainState when one owns it)."""
    src = sg.__dict__.get("_fk_source")
    model = _owner(src)
    if model is not None:
        try:
            return get_path(model.train_state.state, src[2])
        except (KeyError, TypeError):
            pass
    return sg.state


def _copy(x):
    return jnp.array(x, copy=True) if isinstance(x, (jax.Array, np.ndarray)) else x


def _restore_seed_generators(scope):
    for sg, original in scope.seed_generators.values():
        sg.state = original
    scope.seed_generators.clear()


def _initial_seed_state(sg):
    init = getattr(sg, "_fk_initial_state", None)
    if init is None:
        seed = getattr(sg, "seed", None)
        if seed is not None and isinstance(seed, (int, np.integer)):
            init = jnp.array([int(seed), 0], dtype=jnp.uint32)
        else:
            init = sg.state
    return init


def _plain(x):
    return jnp.asarray(x) if isinstance(x, np.ndarray) else x


def _flatten_dict(tree, prefix=()):
    """`(path, leaf)` for each non-dict leaf of nested dicts, in insertion order (paths start with `prefix`)."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _flatten_dict(v, prefix + (k,))
    else:
        yield prefix, tree


def _is_plain(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return True
    if isinstance(v, (list, tuple)):
        return all(_is_plain(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _is_plain(x) for k, x in v.items())
    return False


Layer.build._fk_default_build = True
