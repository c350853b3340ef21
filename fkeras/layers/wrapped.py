"""Built-in facade layers: each is the pure `fkeras.nn` layer of the same name seen through
the facade (the math lives once, in fkeras.nn).

`fkeras.layers.Dense(10, activation="relu")` builds `fkeras.nn.Dense(10, activation="relu")`
and holds it; `build` is the nn layer's `init`, `call` its `apply` on the bound Variables,
and its config is the nn layer's config. Once built, the weights are attributes with Keras's
leaf names (`dense.kernel`, `bn.moving_mean`): the layer's own `Variable`s.

A user class may subclass a built-in layer as in Keras:
- overriding a math hook the nn layer declares in `hooks` (e.g. `Conv2D.convolution_op`):
  the subclass gets its own nn class whose hook calls the override, so the override runs
  wherever the nn layer runs (eager calls, jitted `fit`/`predict`, `to_torch`);
- overriding `call` (with or without `super().call(...)`) or `build` (`super().build(shape)`
  then `add_weight` for extra weights): the layer's pure counterpart (`nn_layer`) is then
  the facade's own `init`/`apply` (Keras's `stateless_call`), so the override runs there too.
"""

from __future__ import annotations

import functools
import inspect

import jax
import numpy as np

from fkeras.layers import variables as _vars
from fkeras.layers.layer import Layer, _call_initializer, _flatten_dict, _map, next_key
from fkeras.layers.scopes import Remat
from fkeras.layers.subclass import SubclassAdapter
from fkeras.layers.variables import Variable, get_path, put_leaf, set_path
from fkeras.nn import quantized as _quantized
from fkeras.nn import quantizers as _q
from fkeras.nn.base import Layer as NNBase
from fkeras.nn.base import Variables, cast_floats, fold_name, snake_case, unique_name
from fkeras.nn.wrappers import SpectralNormalization

# Keras runs these in inference mode when frozen (`layer.trainable = False`).
_FREEZE_INFERENCE = {"BatchNormalization"}
# Keras-2 input-shape keywords a facade layer takes (unless its nn layer has an argument of that name,
# as Embedding's `input_dim`).
_SHAPE_KWARGS = ("input_shape", "batch_input_shape", "input_dim")


def _spec(x):
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return jax.ShapeDtypeStruct(tuple(x.shape), x.dtype)
    return x


def _shape_spec(shape):
    """A float32 ShapeDtypeStruct for a shape with None dims (taken as 1)."""
    return jax.ShapeDtypeStruct(tuple(1 if d is None else int(d) for d in shape), "float32")


def _as_shape(x):
    """A shape given as a list of dims becomes a tuple, so `_map` sees it as one leaf."""
    if isinstance(x, list) and all(d is None or isinstance(d, (int, np.integer)) for d in x):
        return tuple(x)
    if isinstance(x, (list, tuple)) and not all(d is None or isinstance(d, (int, np.integer)) for d in x):
        return type(x)(_as_shape(s) for s in x)
    return x


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


@functools.lru_cache(maxsize=None)
def _init_takes(nn_cls, name):
    """Whether the nn layer class's `__init__` has an argument called `name` (Embedding's `input_dim`)."""
    try:
        return name in inspect.signature(nn_cls.__init__).parameters
    except (TypeError, ValueError):
        return False


def _keras_weight_order(nn_layer, own):
    """A layer's `own` Variables (trainable, then non-trainable) in Keras's `weights` order.

    Keras's SpectralNormalization tracks the wrapped layer's kernel (or embeddings) as its own trainable
    weight, so its weights are [kernel, vector_u, the wrapped layer's other weights]; other layers keep
    the order they have.
    """
    if isinstance(nn_layer, SpectralNormalization):
        sub = [getattr(v, "_fk_subpath", None) for v in own]
        for name in ("kernel", "embeddings"):
            kernel = [i for i, p in enumerate(sub) if p is not None and len(p) == 2 and p[1] == name]
            u = [i for i, p in enumerate(sub) if p == ("vector_u",)]
            if len(kernel) == 1 and len(u) == 1:
                first = kernel + u
                return [own[i] for i in first] + [v for i, v in enumerate(own) if i not in first]
    order = getattr(nn_layer, "projection_order", None)
    if order is not None:  # MultiHeadAttention: each (possibly quantized) projection's weights together
        rank = {name: i for i, name in enumerate(order)}
        sub = [getattr(v, "_fk_subpath", ("",))[0] for v in own]
        return [own[i] for i in sorted(range(len(own)), key=lambda i: rank.get(sub[i], len(order)))]
    return own


def _weight_names(nn_cls):
    """Leaf names the nn layer class may create (for the 'not built yet' error)."""
    return (set(getattr(nn_cls, "weight_regularizers", {})) | set(getattr(nn_cls, "weight_constraints", {}))
            | set(getattr(nn_cls, "state_leaves", ())))


def _nn_attribute(layer, name):
    """The nn layer's `name` (a facade property's fallback), else AttributeError (so `hasattr` is False)."""
    nn_layer = layer.__dict__.get("_fk_nn")
    if nn_layer is not None and hasattr(nn_layer, name):
        return getattr(nn_layer, name)
    raise AttributeError(f"{type(layer).__name__!r} object has no attribute {name!r}")


def _is_nn_leaf(var):
    return getattr(var, "_fk_nn_leaf", False)


class NNLayer(Layer):
    """A facade layer around one pure `fkeras.nn` layer (`self.nn_layer`)."""

    _fk_nn_class = None  # the built-in nn class (set on the class `wrapper_for` makes)
    _fk_nn_derived = None  # a subclass's nn class whose hooks call the subclass's overrides
    _fk_overrides = False  # True on a subclass overriding `call` or `build`
    _fk_note_errors = False  # nn layers' errors already name the layer

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "_fk_nn_class" in cls.__dict__ or cls._fk_nn_class is None:
            return  # a built-in facade class made by `wrapper_for`
        builtin = wrapper_for(cls._fk_nn_class)
        hooks = tuple(h for h in getattr(cls._fk_nn_class, "hooks", ())
                      if getattr(cls, h) is not getattr(builtin, h))
        cls._fk_nn_derived = _derived_nn_class(cls._fk_nn_class, hooks) if hooks else None
        cls._fk_overrides = cls.call is not NNLayer.call or cls.build is not NNLayer.build

    def __init__(self, *args, **kwargs):
        nn_cls = self._fk_nn_class
        shape_kw = {k: kwargs.pop(k) for k in _SHAPE_KWARGS if k in kwargs and not _init_takes(nn_cls, k)}
        kwargs.pop("autocast", None)
        if "_fk_nn" not in self.__dict__:
            if kwargs.get("name") is None and type(self) is not _WRAPPERS.get(nn_cls):
                kwargs["name"] = unique_name(snake_case(type(self).__name__))  # Keras names by the user's class
            nn_layer = (self._fk_nn_derived or nn_cls)(*args, **kwargs)
            if self._fk_nn_derived is not None:
                object.__setattr__(nn_layer, "_fk_facade", self)  # its hooks call this layer's overrides
            self.__dict__["_fk_nn"] = nn_layer
        nn_layer = self.__dict__["_fk_nn"]
        super().__init__(name=nn_layer.name, trainable=nn_layer.trainable, dtype=nn_layer.dtype_policy, **shape_kw)
        self.__dict__["_fk_build_specs"] = None
        if getattr(nn_layer, "builds_no_variables", False):  # built as made: callable at once on any framework's
            self.__dict__["built"] = True  # tensors (a preprocessing layer in a tf.data map)
        # the nn layer casts inputs and params itself; a subclass's own `call` gets inputs (and weights that
        # `build` added) in the compute dtype from the facade, as in Keras
        self.__dict__["_fk_autocast"] = type(self)._fk_overrides

    @classmethod
    def from_nn(cls, nn_layer):
        """The facade view of an existing nn layer (the facade itself for a subclass's nn counterpart)."""
        facade = nn_layer.__dict__.get("_fk_facade")
        if facade is not None:
            return facade
        fcls = wrapper_for(type(nn_layer))
        obj = fcls.__new__(fcls)
        obj.__dict__["_fk_nn"] = nn_layer
        obj.__dict__["_fk_auto_config"] = None
        NNLayer.__init__(obj)
        return obj

    @property
    def nn_layer(self):
        """This layer's pure counterpart: the `fkeras.nn` layer holding its hyperparameters and math
        (for a subclass overriding `call`/`build`: the facade's own init/apply as an nn layer)."""
        if type(self)._fk_overrides:
            view = self.__dict__.get("_fk_counterpart")
            if view is None or view.name != self.name:
                view = SubclassAdapter(self)
                self.__dict__["_fk_counterpart"] = view
            return view
        return self.__dict__["_fk_nn"]

    @property
    def states(self):
        """A built `stateful=True` recurrent layer's carried states: Keras's list of non-trainable Variables
        (`[h, c]` for an LSTM; a list per cell for stacked cells), else None. Assigning a list of arrays of the
        same shapes sets them (in the compiled model's TrainState when there is one)."""
        nn_layer = self._fk_recurrent_nn()
        if nn_layer is None or not self.built or not hasattr(nn_layer, "nest_states"):
            return None
        carried = [v for v in self.__dict__.get("_fk_vars", ()) if v._fk_subpath[:1] == ("rnn_state",)]
        return nn_layer.nest_states(sorted(carried, key=lambda v: int(v._fk_subpath[1])))

    @states.setter
    def states(self, values):
        current = self.states
        if current is None:
            raise ValueError(f"Layer '{self.name}' has no `states` to set: only a built recurrent layer with "
                             "`stateful=True` carries states.")
        def flat(x):
            return [leaf for item in x for leaf in flat(item)] if isinstance(x, (list, tuple)) else [x]

        variables, new = flat(current), flat(values)
        if len(new) != len(variables):
            raise ValueError(f"Layer '{self.name}' carries {len(variables)} state(s) of shapes "
                             f"{[tuple(v.shape) for v in variables]}; got {len(new)} value(s).")
        for var, value in zip(variables, new):
            if tuple(np.shape(value)) != tuple(var.shape):
                raise ValueError(f"Layer '{self.name}': state {var.name!r} has shape {tuple(var.shape)}; got a "
                                 f"value of shape {tuple(np.shape(value))}.")
        for var, value in zip(variables, new):
            var.assign(value)

    def __getattr__(self, name):
        if name.startswith("_fk") or name.startswith("__"):
            raise AttributeError(name)
        for klass in type(self).__mro__:  # a facade property that raised: surface its own error
            prop = klass.__dict__.get(name)
            if isinstance(prop, property):
                return prop.fget(self)
        d = self.__dict__
        for var in d.get("_fk_vars", ()):  # the weights, by Keras leaf name (`kernel`, `moving_mean`)
            if var._fk_subpath == (name,):
                return self._fk_autocast_view(var)
        nn_layer = d.get("_fk_nn")
        if nn_layer is not None and not d.get("built") and name in _weight_names(type(nn_layer)):
            raise AttributeError(
                f"Layer '{d.get('name')}' ({type(self).__name__}) is not built yet, so it has no weight `{name}`: "
                "call it on data (or `build(input_shape)`) before accessing it."
            )
        if nn_layer is not None and hasattr(nn_layer, name):
            return getattr(nn_layer, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _fk_autocast_view(self, var):
        """`var`, or inside this layer's own `call` under a mixed policy its value in the compute dtype
        (as Keras's autocast scope gives a subclass's `call`)."""
        policy = self._fk_policy
        if not var.autocast or policy.compute_dtype == policy.variable_dtype:
            return var
        scope = _vars.current_scope()
        if scope is None or not scope.frames or scope.frames[-1].layer is not self:
            return var
        return cast_floats(var.value, policy.compute_dtype)

    # -- build / call ----------------------------------------------------------------
    def _fk_build_from_args(self, args, kwargs):
        specs = _map(_spec, args)
        shapes = _map(lambda s: tuple(s.shape), args[0]) if args else None
        self.__dict__["_fk_build_specs"] = specs
        if type(self).build is NNLayer.build:
            self._fk_make_nn_vars(specs, jax.random.key(0))
        else:  # the user's `build`; its `super().build(shape)` makes the nn layer's weights
            self.build(shapes)
        self.__dict__["_fk_build_specs"] = specs
        self.__dict__["_fk_build_shapes"] = shapes
        self.__dict__["built"] = True

    def build(self, input_shape):
        """Create the nn layer's weights for inputs of `input_shape` (float32 unless the layer is being
        built from data); outside a model they are drawn from the facade's keys."""
        specs = self.__dict__.get("_fk_build_specs")
        if not specs or not _same_dims(specs[0], input_shape):
            specs = (_map(_shape_spec, _as_shape(input_shape)),)
        scope = _vars.current_scope()
        self._fk_make_nn_vars(specs, jax.random.key(0) if scope is not None else next_key())
        self.__dict__["_fk_build_specs"] = specs

    def _fk_keras_weight_order(self, own):
        """This layer's own weights in Keras's order (`Layer._fk_variables` asks; see `_keras_weight_order`)."""
        return _keras_weight_order(self.__dict__.get("_fk_nn"), own)

    def _fk_new_nn_var(self, subpath, leaf, trainable):
        """A new Variable for the nn layer's leaf at `subpath`, with `leaf`'s shape and dtype (no value yet)."""
        var = Variable._create("/".join(subpath), tuple(leaf.shape), np.dtype(leaf.dtype).name, trainable=trainable,
                               path=self._fk_weight_path("/".join(subpath)))
        var._fk_subpath, var._fk_nn_leaf = subpath, True
        return var

    def _fk_nn_leaves(self):
        """`(variables, tree)`: the Variables of the nn layer's leaves and their values as `Variables` by subpath."""
        old = [v for v in self._fk_vars if _is_nn_leaf(v)]
        tree = Variables({}, {})
        for var in old:
            tree = put_leaf(tree, "params" if var.trainable else "state", var._fk_subpath, var.value)
        return old, tree

    def _fk_requantized_var(self, by_path, kind, subpath, leaf):
        """The Variable holding a quantized layer's `leaf`: the old one at `subpath` (`by_path`) while its kind and
        dtype still fit, else a new one; valued with `leaf`, owned by no model's TrainState."""
        var = by_path.get(subpath)
        if var is None or var.trainable != (kind == "params") or var.dtype != np.dtype(leaf.dtype).name:
            var = self._fk_new_nn_var(subpath, leaf, kind == "params")
        var._source = None
        var._value = leaf
        return var

    def _fk_make_nn_vars(self, specs, rng):
        """Create the nn layer's Variables for `specs` (bound in the active init scope, else valued)."""
        if any(_is_nn_leaf(v) for v in self._fk_vars):
            return  # built already (a second `super().build`)
        scope = _vars.current_scope()
        v = self.__dict__["_fk_nn"].init(rng, *specs)
        for kind, tree in (("params", v.params), ("state", v.state)):
            for subpath, leaf in _flatten_dict(tree):
                var = self._fk_new_nn_var(subpath, leaf, kind == "params")
                self._fk_vars.append(var)
                if scope is not None:
                    scope.values[id(var)] = leaf
                    scope.keep.append(var)
                    scope.created.append((self, var))
                else:
                    var._value = leaf

    def quantize(self, mode=None, type_check=True, config=None):
        """Quantize this built layer's weights in place, as Keras's `layer.quantize(mode, config=...)`: the nn
        layer's `quantize_variables` gives the new weights (Dense/EinsumDense int8/int4/float8, Embedding
        int8/int4) and the dtype policy becomes Keras's quantized one ("int8_from_float32",
        "int4/128_from_float32", ...). Layers without a quantized form, or without this mode, raise
        NotImplementedError (a model's `quantize` skips them with a warning). "gptq"/"awq" need the
        calibration statistics of `model.quantize`."""
        self._fk_quantize(mode, type_check, config)

    def _fk_quantize(self, mode, type_check, config, calibration=None):
        """`quantize`, with the layer's GPTQ/AWQ `calibration` statistics (`fkeras.nn.gptq`/`awq`)."""
        nn_layer = self.__dict__["_fk_nn"]
        builtin = "_fk_nn_class" in type(self).__dict__
        if (type_check and not builtin) or not hasattr(nn_layer, "quantize_variables"):
            raise NotImplementedError(f"Layer {type(self).__name__} does not have a `quantize()` method implemented.")
        config = _q.validate_and_resolve_config(mode, config)
        mode = config.mode
        if not self.built:
            raise ValueError(f"Cannot quantize a layer that isn't yet built. Layer '{self.name}' (of type "
                             f"'{type(self).__name__}') is not built yet (call it on data first).")
        if self.dtype_policy.quantization_mode is not None:
            raise ValueError(f"Layer '{self.name}' is already quantized with dtype_policy='{self.dtype_policy.name}'. "
                             f"Received: mode={mode}")
        if mode == "int8" and self.dtype_policy.compute_dtype == "float16":
            raise ValueError(f"Quantization mode='{mode}' doesn't work well with compute_dtype='float16'. Consider "
                             "loading model/layer with another dtype policy such as 'mixed_bfloat16' or "
                             "'mixed_float16' before calling `quantize()`.")
        if mode not in getattr(type(nn_layer), "quantization_modes", ()):
            object.__setattr__(nn_layer, "quantization_config", config)  # as Keras, which sets it before failing
            raise NotImplementedError(f"Invalid quantization mode. Expected one of "
                                      f"{getattr(type(nn_layer), 'quantization_modes', ())}. Received: "
                                      f"quantization_mode={mode} (layer '{self.name}', {type(self).__name__}).")
        old, tree = self._fk_nn_leaves()
        specs = self.__dict__.get("_fk_build_specs")
        extra = {} if calibration is None else {"calibration": calibration}
        new = nn_layer.quantize_variables(tree, mode, config, input_spec=specs[0] if specs else None, **extra)
        policy = _quantized.policy_for(mode, config, _quantized.block_size(nn_layer, config), self.dtype_policy.name)
        by_path = {v._fk_subpath: v for v in old}
        made = [self._fk_requantized_var(by_path, kind, subpath, leaf)
                for kind, subtree in (("params", new.params), ("state", new.state))
                for subpath, leaf in _flatten_dict(subtree)]
        object.__setattr__(nn_layer, "dtype_policy", policy)
        object.__setattr__(nn_layer, "quantization_config", config)
        if mode == "gptq" and hasattr(nn_layer, "gptq_unpacked_column_size"):  # Keras's EinsumDense config
            object.__setattr__(nn_layer, "gptq_unpacked_column_size", int(new.state["kernel_scale"].shape[0]))
        self.dtype_policy = policy
        self._fk_vars[:] = [v for v in self._fk_vars if not _is_nn_leaf(v)] + made

    def _fk_quantized_order(self):
        """Keras's `.keras` order of a quantized layer's weights (None for a float layer)."""
        nn_layer = self.__dict__.get("_fk_nn")
        mode = getattr(getattr(nn_layer, "dtype_policy", None), "quantization_mode", None)
        order = getattr(nn_layer, "quantized_save_order", {}).get(mode) if mode else None
        if order is None:
            return None
        own = {v._fk_subpath[0]: v for v in self._fk_vars if _is_nn_leaf(v)}
        return [own[name] for name in order if name in own]

    def _fk_quantize_projections(self, mode, config, wanted=None, calibration=None):
        """Keras's `model.quantize` inside a MultiHeadAttention / GroupQueryAttention: Keras's leaves there are
        the EinsumDense projections (`query`, `key`, `value`, `attention_output`, `gate`), each quantized as an
        EinsumDense with its own quantized dtype policy while the attention layer's stays float.
        `wanted(view, name)` (the projection seen as a facade EinsumDense named as in Keras) picks them.
        Returns whether a projection changed, or None when this layer has no projections (a plain leaf).
        Every check runs before any weight changes. `calibration`: GPTQ/AWQ statistics per projection name."""
        nn_layer = self.__dict__.get("_fk_nn")
        if not callable(getattr(nn_layer, "projections", None)) or type(self)._fk_overrides:
            return None
        specs = self.__dict__.get("_fk_build_specs")
        subs = nn_layer.projections(*specs) if self.built and specs else {}
        chosen = [name for name, sub in subs.items() if wanted is None or wanted(NNLayer.from_nn(sub), name)]
        if not self.built:
            raise ValueError(f"Cannot quantize a layer that isn't yet built. Layer '{self.name}' (of type "
                             f"'{type(self).__name__}') is not built yet (call it on data first).")
        for name in chosen:
            policy = subs[name].dtype_policy
            if policy.quantization_mode is not None:
                raise ValueError(f"Layer '{name}' is already quantized with dtype_policy='{policy.name}'. "
                                 f"Received: mode={mode}")
            if mode == "int8" and policy.compute_dtype == "float16":
                raise ValueError(f"Quantization mode='{mode}' doesn't work well with compute_dtype='float16'. "
                                 "Consider loading model/layer with another dtype policy such as 'mixed_bfloat16' "
                                 "or 'mixed_float16' before calling `quantize()`.")
        if not chosen:
            return False
        old, tree = self._fk_nn_leaves()
        policies = {}
        for name in chosen:
            tree, policies[name] = nn_layer.quantize_projection(tree, name, mode, config, *specs,
                                                                calibration=(calibration or {}).get(name))
        by_path = {v._fk_subpath: v for v in old}
        made = []
        for sub in dict.fromkeys(list(tree.params) + list(tree.state)):  # Keras's order: each sublayer's
            for kind in ("params", "state"):  # trainable weights, then its non-trainable ones
                for subpath, leaf in _flatten_dict(getattr(tree, kind).get(sub, {}), (sub,)):
                    made.append(self._fk_requantized_var(by_path, kind, subpath, leaf))
        for name, policy in policies.items():
            nn_layer.set_projection_quantization(name, policy)
        self._fk_vars[:] = [v for v in self._fk_vars if not _is_nn_leaf(v)] + made
        return True

    @property
    def save_own_variables(self):
        """(Quantized layers only) write the weights in Keras's file order (int8 Dense: kernel, bias, scale)."""
        order = self._fk_quantized_order()
        if order is None:
            return _nn_attribute(self, "save_own_variables")

        def save(store):
            for i, var in enumerate(order):
                store[str(i)] = var.value

        return save

    @property
    def load_own_variables(self):
        """(Quantized layers only) read the weights in Keras's file order."""
        order = self._fk_quantized_order()
        if order is None:
            return _nn_attribute(self, "load_own_variables")

        def load(store):
            if len(store) != len(order):
                raise ValueError(f"Layer '{self.name}' expects {len(order)} variables ({[v.name for v in order]}), "
                                 f"the file has {len(store)}.")
            values = [np.asarray(store[str(i)]) for i in range(len(order))]
            for var, value in zip(order, values):
                if tuple(value.shape) != tuple(var.shape):
                    raise ValueError(f"Layer '{self.name}': weight {var.name!r} expects shape {tuple(var.shape)}, "
                                     f"the file has {value.shape}.")
            for var, value in zip(order, values):
                var.assign(value)

        return load

    def _fk_own_initial_values(self, rng):
        out = {}
        if any(_is_nn_leaf(v) for v in self._fk_vars):
            v = self.__dict__["_fk_nn"].init(rng, *self._fk_build_specs)
            for kind, tree in (("params", v.params), ("state", v.state)):
                for subpath, leaf in _flatten_dict(tree):
                    out[subpath] = leaf
        for var in self._fk_vars:  # weights a subclass's `build` added
            if not _is_nn_leaf(var):
                out[var._fk_subpath] = _call_initializer(var.initializer, var.shape, var.dtype,
                                                         fold_name(rng, var.name))
        return out

    def _fk_own_tree(self):
        params, state = {}, {}
        for var in self._fk_vars:
            if var.trainable:
                params = set_path(params, var._fk_subpath, var.value)
            else:
                state = set_path(state, var._fk_subpath, var.value)
        return Variables(params, state)

    def call(self, *args, training=None, **kwargs):
        """The nn layer's `apply` on this layer's weights (`training=None`: the mode of the call)."""
        scope = _vars.current_scope()
        frame = scope.frames[-1] if scope is not None and scope.frames else None
        rng = frame.rng if frame is not None else None
        if training is None:
            training = frame.training if frame is not None else None
        nn_layer = self.__dict__["_fk_nn"]
        if type(nn_layer).__name__ in _FREEZE_INFERENCE and not self.trainable:
            training = False
        if kwargs.get("mask", 0) is None or ("mask" in kwargs and not _takes(type(nn_layer), "mask")):
            kwargs.pop("mask")
        tree = self._fk_own_tree()
        remat_mode = self.__dict__.get("_fk_remat_mode")  # made in a RematScope: as its pure counterpart runs
        runner = nn_layer if remat_mode is None or remat_mode.mode is None else Remat(nn_layer, remat_mode)
        try:
            out, new_state = runner.apply(tree, *args, training=None if training is None else bool(training), rng=rng,
                                          **kwargs)
        except KeyError as e:
            leaf = e.args[0] if e.args else None
            if leaf in _weight_names(type(nn_layer)) and leaf not in tree.params and leaf not in tree.state:
                raise ValueError(
                    f"Layer '{self.name}' ({type(self).__name__}): the built-in {self._fk_nn_class.__name__} math "
                    f"needs the weight {leaf!r}, which was not created; a `build` override should call "
                    "`super().build(input_shape)` first."
                ) from None
            raise
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

    def _fk_nn_penalties(self, values):
        """The nn layer's weight penalties (kernel_regularizer, ...) on its own trainable leaves, given
        as {Variable id: value}; None when a value is missing or the layer has no regularizer."""
        fn = getattr(self.__dict__["_fk_nn"], "regularization_losses", None)
        leaves = [v for v in self._fk_vars if _is_nn_leaf(v) and v.trainable]
        if fn is None or not leaves:
            return None
        params = {}
        for var in leaves:
            value = values.get(id(var))
            if value is None:
                return None
            params = set_path(params, var._fk_subpath, value)
        out = fn(params)
        return None if out is None or (isinstance(out, (int, float)) and out == 0) else out

    def _fk_regularization_losses(self, scope):
        out = self._fk_nn_penalties(scope.values)
        return [] if out is None else [out]

    def _fk_constrain_own(self, own_params):
        """This layer's params (a dict of its leaves) projected by the nn layer's constraints (and by the
        `constraint` of weights a subclass added)."""
        fn = getattr(self.__dict__["_fk_nn"], "apply_constraints", None)
        out = own_params if fn is None else fn(own_params)
        for var in self._fk_vars:
            if not _is_nn_leaf(var) and var.trainable and var.constraint is not None and var._fk_subpath[0] in out:
                out = dict(out)
                out[var._fk_subpath[0]] = var.constraint(out[var._fk_subpath[0]])
        return out

    def _fk_replace_nn(self, nn_layer, variables, spec):
        """After one of the nn layer's `updates` (`adapt`, `set_vocabulary`, ...): keep its new nn layer and
        Variables (assigned in place when the leaves keep their shapes, else made anew), built for `spec`."""
        self.__dict__["_fk_nn"] = nn_layer
        if variables is None:
            return
        leaves = {sub: (kind == "params", leaf) for kind, tree in (("params", variables.params),
                                                                     ("state", variables.state))
                  for sub, leaf in _flatten_dict(tree)}
        old = {v._fk_subpath: v for v in self._fk_vars if _is_nn_leaf(v)}
        if set(old) == set(leaves) and all(tuple(old[k].shape) == tuple(np.shape(leaves[k][1])) for k in old):
            for k, v in old.items():
                v.assign(leaves[k][1])
        else:
            self._fk_vars[:] = [v for v in self._fk_vars if not _is_nn_leaf(v)]
            for sub, (trainable, leaf) in leaves.items():
                var = self._fk_new_nn_var(sub, leaf, trainable)
                var._value = leaf
                self._fk_vars.append(var)
        if spec is not None:
            self.__dict__["_fk_build_specs"] = (spec,)
            self.__dict__["_fk_build_shapes"] = tuple(spec.shape)
            self.__dict__["built"] = True

    # -- config ----------------------------------------------------------------------------
    def get_config(self):
        config = dict(self.__dict__["_fk_nn"].get_config())
        config["name"] = self.name
        if "trainable" in config:  # Keras's Discretization / HashedCrossing configs have none
            config["trainable"] = self.trainable
        return config

    @classmethod
    def from_config(cls, config):
        nn_cls = cls._fk_nn_class
        if getattr(nn_cls, "updates", None) and cls is _WRAPPERS.get(nn_cls):  # its nn from_config restores tables
            return cls.from_nn(nn_cls.from_config(config))
        return cls(**config)


def _same_dims(spec, input_shape):
    """Whether a built spec (or list of specs) has `input_shape` (None dims match anything)."""
    shape = _as_shape(input_shape)
    if isinstance(spec, (list, tuple)) and not hasattr(spec, "shape"):
        return isinstance(shape, (list, tuple)) and len(spec) == len(shape) and all(
            _same_dims(s, d) for s, d in zip(spec, shape))
    if not hasattr(spec, "shape") or not isinstance(shape, tuple) or len(shape) != len(spec.shape):
        return False
    return all(d is None or int(d) == int(s) for s, d in zip(spec.shape, shape))


def _derived_nn_class(nn_cls, hooks):
    """A subclass of `nn_cls` whose `hooks` call the same-named method of the facade layer it belongs to
    (`_fk_facade`); everything else is `nn_cls`'s. Its instances stay immutable and hold no arrays."""

    def delegate(hook):
        def method(self, *args, **kwargs):
            facade = self.__dict__.get("_fk_facade")
            if facade is None:
                raise TypeError(
                    f"Layer '{self.name}': this {nn_cls.__name__} runs the `{hook}` override of a facade subclass, "
                    "but is not attached to one; create it through that subclass."
                )
            return getattr(facade, hook)(*args, **kwargs)

        method.__name__ = method.__qualname__ = hook
        method.__doc__ = getattr(nn_cls, hook).__doc__
        return method

    ns = {h: delegate(h) for h in hooks}
    ns.update(__module__=nn_cls.__module__, __qualname__=nn_cls.__qualname__, __doc__=nn_cls.__doc__)
    return type(nn_cls.__name__, (nn_cls,), ns)


_WRAPPERS: dict = {}


def _facade_update(nn_cls, name):
    """The facade method for an nn layer's pure update `name` (Keras's stateful `adapt`, ...): runs it on
    this layer's nn layer and Variables and keeps what it returns (`_fk_replace_nn`)."""

    def method(self, *args, **kwargs):
        current = self._fk_own_tree() if self.built else None
        self._fk_replace_nn(*getattr(nn_cls, name)(self.__dict__["_fk_nn"], current, *args, **kwargs))

    method.__name__ = name
    method.__qualname__ = f"{nn_cls.__name__}.{name}"
    method.__doc__ = getattr(nn_cls, name).__doc__
    return method


def _facade_hook(nn_cls, hook):
    """The facade method for an nn hook: the built-in math of `nn_cls`, on this layer's nn layer."""

    def method(self, *args, **kwargs):
        return getattr(nn_cls, hook)(self.__dict__["_fk_nn"], *args, **kwargs)

    method.__name__ = hook
    method.__qualname__ = f"{nn_cls.__name__}.{hook}"
    method.__doc__ = getattr(nn_cls, hook).__doc__
    return method


def wrapper_for(nn_cls):
    """The facade class for the nn layer class `nn_cls` (one class per nn class)."""
    cls = _WRAPPERS.get(nn_cls)
    if cls is None:
        ns = {h: _facade_hook(nn_cls, h) for h in getattr(nn_cls, "hooks", ())}
        ns.update({u: _facade_update(nn_cls, u) for u in getattr(nn_cls, "updates", ())})
        ns.update({
            "_fk_nn_class": nn_cls,
            "__module__": "fkeras.layers",
            "__qualname__": nn_cls.__name__,
            "__doc__": nn_cls.__doc__,
        })
        cls = type(nn_cls.__name__, (NNLayer,), ns)
        _WRAPPERS[nn_cls] = cls
    return cls


def as_facade(layer):
    """A facade layer for `layer` (facade layers pass through; nn layers get their facade view)."""
    if isinstance(layer, Layer):
        return layer
    if isinstance(layer, NNBase):
        return NNLayer.from_nn(layer)
    raise TypeError(f"Expected a fkeras layer, got {type(layer).__name__}: {layer!r:.80}.")
