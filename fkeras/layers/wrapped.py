"""Built-in facade layers: each is the pure `fkeras.nn` layer of the same name seen through
the facade (the math lives once, in fkeras.nn).

`fkeras.layers.Dense(10, activation="relu")` builds `fkeras.nn.Dense(10, activation="relu")`
and holds it; `build` is the nn layer's `init`, `call` its `apply` on the bound Variables,
and its config is the nn layer's config.
"""

from __future__ import annotations

import inspect

import jax
import numpy as np

from fkeras.layers import variables as _vars
from fkeras.layers.layer import Layer, _map
from fkeras.layers.variables import Variable, get_path, set_path
from fkeras.nn.base import Layer as NNBase
from fkeras.nn.base import Variables

# Keras runs these in inference mode when frozen (`layer.trainable = False`).
_FREEZE_INFERENCE = {"BatchNormalization"}


def _spec(x):
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return jax.ShapeDtypeStruct(tuple(x.shape), x.dtype)
    return x


def _flat(tree, prefix=()):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _flat(v, prefix + (k,))
    else:
        yield prefix, tree


_TAKES: dict = {}


def _takes(nn_cls, name):
    """Whether the nn layer class's `call` takes keyword `name` (cached per class)."""
    cache = _TAKES.get(nn_cls)
    if cache is None:
        try:
            params = inspect.signature(nn_cls.call).parameters
        except (TypeError, ValueError):
            params = {}
        cache = set(params) | ({"*"} if any(p.kind == p.VAR_KEYWORD for p in params.values()) else set())
        _TAKES[nn_cls] = cache
    return name in cache or "*" in cache


class NNLayer(Layer):
    """A facade layer around one pure `fkeras.nn` layer (`self.nn_layer`)."""

    _fk_nn_class = None
    _fk_note_errors = False  # nn layers' errors already name the layer

    def __init__(self, *args, **kwargs):
        shape_kw = {k: kwargs.pop(k) for k in ("input_shape", "batch_input_shape", "input_dim") if k in kwargs}
        kwargs.pop("autocast", None)
        if "_fk_nn" not in self.__dict__:
            self.__dict__["_fk_nn"] = self._fk_nn_class(*args, **kwargs)
        nn_layer = self.__dict__["_fk_nn"]
        super().__init__(name=nn_layer.name, trainable=nn_layer.trainable, dtype=nn_layer.dtype_policy, **shape_kw)
        self.__dict__["_fk_build_specs"] = None
        self.__dict__["_fk_autocast"] = False  # the nn layer casts inputs and params itself

    @classmethod
    def from_nn(cls, nn_layer):
        """The facade view of an existing nn layer."""
        fcls = wrapper_for(type(nn_layer))
        obj = fcls.__new__(fcls)
        obj.__dict__["_fk_nn"] = nn_layer
        obj.__dict__["_fk_auto_config"] = None
        NNLayer.__init__(obj)
        return obj

    @property
    def nn_layer(self):
        """The pure `fkeras.nn` layer holding this layer's hyperparameters and math."""
        return self.__dict__["_fk_nn"]

    def __getattr__(self, name):
        if name.startswith("_fk") or name.startswith("__"):
            raise AttributeError(name)
        for klass in type(self).__mro__:  # a facade property that raised: surface its own error
            prop = klass.__dict__.get(name)
            if isinstance(prop, property):
                return prop.fget(self)
        nn_layer = self.__dict__.get("_fk_nn")
        if nn_layer is not None and hasattr(nn_layer, name):
            return getattr(nn_layer, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- build / call ----------------------------------------------------------------
    def _fk_build_from_args(self, args, kwargs):
        specs = _map(_spec, args)
        scope = _vars.current_scope()
        v = self.nn_layer.init(jax.random.key(0), *specs)
        for kind, tree in (("params", v.params), ("state", v.state)):
            for subpath, leaf in _flat(tree):
                var = Variable._create("/".join(subpath), tuple(leaf.shape), np.dtype(leaf.dtype).name,
                                       trainable=kind == "params", path=f"{self.name}/{'/'.join(subpath)}")
                var._fk_subpath = subpath
                self._fk_vars.append(var)
                if scope is not None:
                    scope.values[id(var)] = leaf
                    scope.keep.append(var)
                    scope.created.append((self, var))
                else:
                    var._value = leaf
        self.__dict__["_fk_build_specs"] = specs
        self.__dict__["_fk_build_shapes"] = _map(lambda s: tuple(s.shape), args[0]) if args else None
        self.__dict__["built"] = True

    def build(self, input_shape):
        """Build for `input_shape` (float32 inputs) outside a model: weights drawn from the facade's keys."""
        from fkeras.layers.layer import next_key

        spec = jax.ShapeDtypeStruct(tuple(1 if d is None else d for d in input_shape), "float32")
        self.init(next_key(), spec)

    def _fk_own_initial_values(self, rng):
        v = self.nn_layer.init(rng, *self._fk_build_specs)
        out = {}
        for kind, tree in (("params", v.params), ("state", v.state)):
            for subpath, leaf in _flat(tree):
                out[subpath] = leaf
        return out

    def _fk_own_tree(self):
        params, state = {}, {}
        for var in self._fk_vars:
            if var.trainable:
                params = set_path(params, var._fk_subpath, var.value)
            else:
                state = set_path(state, var._fk_subpath, var.value)
        return Variables(params, state)

    def call(self, *args, training=False, **kwargs):
        scope = _vars.current_scope()
        rng = scope.frames[-1].rng if scope is not None and scope.frames else None
        nn_layer = self.nn_layer
        if type(nn_layer).__name__ in _FREEZE_INFERENCE and not self.trainable:
            training = False
        if kwargs.get("mask", 0) is None or ("mask" in kwargs and not _takes(type(nn_layer), "mask")):
            kwargs.pop("mask")
        out, new_state = nn_layer.apply(self._fk_own_tree(), *args, training=training, rng=rng, **kwargs)
        activity = getattr(nn_layer, "activity_loss", None)
        if activity is not None and getattr(nn_layer, "activity_regularizer", None) is not None:
            self.add_loss(activity(out))
        if new_state:
            for var in self._fk_vars:
                if not var.trainable:
                    try:
                        var.assign(get_path(new_state, var._fk_subpath))
                    except (KeyError, TypeError):
                        pass
        return out

    def _fk_regularization_losses(self, scope):
        fn = getattr(self.nn_layer, "regularization_losses", None)
        if fn is None or not self._fk_vars:
            return []
        params, state = {}, {}
        for var in self._fk_vars:
            value = scope.values.get(id(var))
            if value is None:
                return []
            if var.trainable:
                params = set_path(params, var._fk_subpath, value)
            else:
                state = set_path(state, var._fk_subpath, value)
        out = fn(Variables(params, state))
        out = list(out) if isinstance(out, (list, tuple)) else [out]
        return [o for o in out if not (o is None or (isinstance(o, (int, float)) and o == 0))]

    def _fk_constrain_own(self, own_params):
        """This layer's params (a dict of its leaves) projected by the nn layer's constraints."""
        fn = getattr(self.nn_layer, "apply_constraints", None)
        return own_params if fn is None else fn(own_params)

    # -- config ----------------------------------------------------------------------------
    def get_config(self):
        config = dict(self.nn_layer.get_config())
        config["name"] = self.name
        config["trainable"] = self.trainable
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


_WRAPPERS: dict = {}


def wrapper_for(nn_cls):
    """The facade class for the nn layer class `nn_cls` (one class per nn class)."""
    cls = _WRAPPERS.get(nn_cls)
    if cls is None:
        cls = type(nn_cls.__name__, (NNLayer,), {
            "_fk_nn_class": nn_cls,
            "__module__": "fkeras.layers",
            "__qualname__": nn_cls.__name__,
            "__doc__": nn_cls.__doc__,
        })
        _WRAPPERS[nn_cls] = cls
    return cls


def as_facade(layer):
    """A facade layer for `layer` (facade layers pass through; nn layers get their facade view)."""
    if isinstance(layer, Layer):
        return layer
    if isinstance(layer, NNBase):
        return NNLayer.from_nn(layer)
    raise TypeError(f"Expected a fkeras layer, got {type(layer).__name__}: {layer!r:.80}.")
