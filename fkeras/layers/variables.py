"""`fkeras.Variable`: a named view of one leaf of a facade layer's params/state pytree.

A Variable holds no weights of its own while a model owns a `train_state`: its value is
read from (and `assign` writes to) that state. Inside a pure `apply`, a Variable is bound
to the array given for it in the `variables` argument (a JAX tracer, a NumPy array, a torch
or TF tensor), and `assign` only changes that binding, which `apply` returns in `new_state`.
"""

from __future__ import annotations

import threading
import weakref

import jax
import jax.numpy as jnp
import numpy as np

from fkeras import ops
from fkeras.ops._array_face import ArrayFace
from fkeras.layers.name_scope import current_path, join
from fkeras.layers.seeding import next_key
from fkeras.nn import initializers as finit
from fkeras.nn.paths import get_path, set_path  # noqa: F401 - re-exported for the facade


# --- the binding scopes of pure init/apply -------------------------------------
class _Local(threading.local):
    def __init__(self):
        self.scopes = []


_local = _Local()


def scopes():
    """The stack of active init/apply scopes (innermost last)."""
    return _local.scopes


def current_scope():
    return _local.scopes[-1] if _local.scopes else None


def _lookup(var):
    for scope in reversed(_local.scopes):
        values = scope.values
        if id(var) in values:
            return scope
    return None


def _stateless():
    """The innermost `StatelessScope` (where assignments to unbound Variables go), or None."""
    for scope in reversed(_local.scopes):
        if scope.mode == "stateless":
            return scope
    return None



def _call_initializer(init, shape, dtype, key):
    if init is None:
        return jnp.zeros(shape, dtype)
    if not callable(init):  # an array given to `fkeras.Variable(value)`
        return jnp.asarray(init, dtype=dtype)
    try:
        return jnp.asarray(init(shape, dtype, key=key), dtype=dtype)
    except TypeError as e:
        if "key" not in str(e):
            raise
        return jnp.asarray(init(shape, dtype), dtype=dtype)


def put_leaf(variables, kind, path, value):
    """`variables` (a `Variables`) with `value` at `path` of its `kind` tree, "params" or "state"
    (copy-on-write: only the dicts on the path are copied)."""
    if kind == "params":
        return variables._replace(params=set_path(variables.params, path, value))
    return variables._replace(state=set_path(variables.state, path, value))


def _owner(source):
    """The model whose TrainState holds a weight with this `_source` (weakref, kind, path), or None."""
    if source is None:
        return None
    model = source[0]()
    if model is None or getattr(model, "train_state", None) is None:
        return None
    return model


class Variable(ArrayFace):
    """A layer weight: `value`, `assign`, `numpy()`, `shape`, `dtype`, `trainable`, `name`, `path`.

    Arithmetic (`w + 1`, `x @ w`) works on the current value; pass `w.value` to functions that
    need a plain array.
    """

    __fkeras_variable__ = True
    _fk_subpath = None  # the path inside its layer, once a layer owns it
    _fk_nn_leaf = False  # True for a leaf a built-in layer's nn layer made (its math reads it by name)

    def __init__(self, initializer, shape=None, dtype=None, trainable=True, autocast=True, aggregation="none",
                 synchronization="auto", name=None, **kwargs):
        """Keras's `keras.Variable(initializer, shape=None, dtype=None, trainable=True, name=None)`:
        `initializer` is an array (the value) or an initializer (name or callable, with `shape`).
        Assigned to a layer attribute (in `build`), it becomes one of the layer's weights."""
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise ValueError(f"Variable: expected `name` as a string without '/', got {name!r}.")
        value = None
        if isinstance(initializer, (str, dict)) or callable(initializer):
            if shape is None:
                raise ValueError("Variable: an initializer needs `shape` (e.g. Variable('zeros', shape=(3,))).")
            if isinstance(initializer, (str, dict)):
                initializer = finit.get(initializer)
            dtype = dtype or "float32"
        else:
            if not isinstance(initializer, jax.core.Tracer):
                initializer = np.asarray(initializer, dtype=dtype)  # concrete, reusable by `init`
            value = jnp.asarray(initializer, dtype=dtype)
            if shape is not None and tuple(shape) != tuple(value.shape):
                raise ValueError(f"Variable: initial value has shape {tuple(value.shape)}, but shape={shape!r}.")
            shape, dtype = tuple(value.shape), value.dtype
        name = name or "variable"
        self._setup(name, shape, dtype, trainable, initializer, None, None, join(current_path(), name), None)
        self.autocast = autocast
        if value is None:
            value = _call_initializer(initializer, self._shape, self._dtype, next_key())
        if isinstance(value, jax.core.Tracer):  # created inside an init trace: bound when adopted
            self.__dict__["_fk_pending"] = value
        else:
            self._value = value

    @classmethod
    def _create(cls, name, shape, dtype="float32", trainable=True, initializer=None, regularizer=None,
                constraint=None, path=None, value=None):
        """A layer's weight (used by `add_weight` and the built-in layers)."""
        obj = cls.__new__(cls)
        obj._setup(name, shape, dtype, trainable, initializer, regularizer, constraint, path, value)
        return obj

    def _setup(self, name, shape, dtype, trainable, initializer, regularizer, constraint, path, value):
        self.name = name
        self._shape = tuple(int(d) for d in shape)
        self._dtype = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
        self.trainable = bool(trainable)
        self.initializer = initializer
        self.regularizer = regularizer
        self.constraint = constraint
        self.autocast = True
        self.path = path or name
        self._value = value
        self._source = None  # (weakref to the model, "params"|"state", tuple path) once a model owns it

    # -- value -----------------------------------------------------------------
    @property
    def shape(self):
        return self._shape

    @property
    def dtype(self):
        return self._dtype

    def _stored(self):
        src = self._source
        model = _owner(src)
        if model is not None:
            ts = model.train_state
            tree = ts.params if src[1] == "params" else ts.state
            try:
                return get_path(tree, src[2])
            except (KeyError, TypeError):
                pass
        if self._value is None:
            raise ValueError(
                f"Variable '{self.path}' has no value yet: build the layer (call it on data, or `init` it "
                "outside jax.jit) or set `model.variables_tree`."
            )
        return self._value

    @property
    def value(self):
        scope = _lookup(self)
        if scope is not None:
            return scope.values[id(self)]
        return self._stored()

    def _check(self, value):
        shape = tuple(getattr(value, "shape", np.shape(value)))
        if shape != self._shape:
            raise ValueError(
                f"Variable '{self.path}': expected a value of shape {self._shape}, got shape {shape}."
            )

    def assign(self, value):
        """Set the value (inside `apply`: the value returned in `new_state`)."""
        if isinstance(value, Variable):
            value = value.value
        scope = _lookup(self) or _stateless()
        if scope is not None:
            if id(self) not in scope.values:
                scope.keep.append(self)
            if hasattr(value, "shape"):
                self._check(value)
            scope.values[id(self)] = value
            scope.assigned.add(id(self))
            return value
        value = jnp.asarray(value, dtype=self._dtype)
        self._check(value)
        self._store(value)
        return value

    def _store(self, value):
        """Write a concrete value where this variable's truth lives (train_state or its own slot)."""
        src = self._source
        model = _owner(src)
        if model is not None:
            model.variables_tree = put_leaf(model.variables_tree, src[1], src[2], value)
            return
        self._value = value

    def _attach(self, model, kind, path):
        self._source = (weakref.ref(model), kind, tuple(path))

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self._shape}, dtype={self._dtype}>"


# A Variable handed to a jnp function inside a trace must be a pytree for JAX to accept its
# `__jax_array__`; flattening yields its current value, unflattening gives plain arrays back.
jax.tree_util.register_pytree_node(Variable, lambda v: ((v.value,), None), lambda aux, children: children[0])


