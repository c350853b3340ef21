"""`JaxLayer` and `FlaxLayer`: a JAX model function (or a Flax linen module) as a pure layer.

Keras 3.15's contract: `call_fn`'s argument names (`params`, `state`, `rng`, `inputs`, `training`)
decide what it is passed; with `state` it returns `(outputs, new_state)`. `init_fn(rng, inputs[,
training])` makes the weights at build time unless `params`/`state` are given. Each array leaf of
the params (state) pytree is one trainable (non-trainable) weight, named as Keras names them
(`variable`, `variable_1`, ... in `jax.tree_util` flatten order, params first); other leaves (strings,
config values) stay fixed parts of the tree.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np

from fkeras import ops
from fkeras.nn.base import Layer, Variables
from fkeras.runtime.extras import require

_CALL_ARGS = {"params", "state", "rng", "inputs", "training"}
_INIT_ARGS = {"rng", "inputs", "training"}


def _signature_args(layer, fn, fn_name, allowed, required):
    """The argument names of `fn`, in order; ValueError for an argument outside `allowed`."""
    if not callable(fn):  # `layer`: the class name (nothing is named before the arguments pass)
        raise TypeError(f"{layer}: expected `{fn_name}` to be a callable, got {type(fn).__name__}.")
    params = inspect.signature(fn).parameters
    for name in required:
        if name not in params:
            raise ValueError(f"Missing required argument in `{fn_name}`: `{name}`")
    for p in params.values():
        if p.name not in allowed:
            raise ValueError(f"Unsupported argument in `{fn_name}`: `{p.name}`, supported arguments are "
                             f"`{'`, `'.join(sorted(allowed))}`")
    return list(params)


def _raw_key(rng):
    """A key as Keras's JAX backend passes it: raw uint32 key data of shape (2,)."""
    if isinstance(rng, jax.Array) and jnp.issubdtype(rng.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(rng)
    return rng


def _is_array(x) -> bool:
    return isinstance(x, (np.ndarray, np.generic, jax.Array)) or (
        hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, jax.ShapeDtypeStruct))


class _Structure:
    """How a params/state pytree maps onto named weights: treedef, which leaves are weights (by name),
    and the fixed non-array leaves."""

    def __init__(self, tree, first_index, variable_dtype):
        leaves, self.treedef = jax.tree_util.tree_flatten(tree)
        self.names, self.static, self.values = [], {}, []
        index = first_index
        for i, leaf in enumerate(leaves):
            if _is_array(leaf) or isinstance(leaf, jax.ShapeDtypeStruct):
                dtype = np.dtype(leaf.dtype)
            elif isinstance(leaf, (bool, int, float)):
                dtype = np.dtype({bool: "bool", int: "int32", float: "float32"}[type(leaf)])
            else:
                self.static[i] = leaf
                continue
            if jnp.issubdtype(dtype, jnp.floating):
                dtype = np.dtype(variable_dtype)
            name = "variable" if index == 0 else f"variable_{index}"
            index += 1
            self.names.append((i, name))
            self.values.append(None if isinstance(leaf, jax.ShapeDtypeStruct) else jnp.asarray(leaf, dtype))
        self.count = len(leaves)

    def without_values(self) -> "_Structure":
        out = object.__new__(_Structure)
        out.treedef, out.names, out.static, out.count = self.treedef, self.names, self.static, self.count
        out.values = [None] * len(self.names)
        return out

    def weights(self) -> dict:
        return {name: value for (_, name), value in zip(self.names, self.values)}

    def tree(self, weights: dict):
        leaves = [None] * self.count
        for i, value in self.static.items():
            leaves[i] = value
        for i, name in self.names:
            leaves[i] = weights[name]
        return jax.tree_util.tree_unflatten(self.treedef, leaves)

    def flat(self, tree, layer) -> dict:
        """`tree` (a new state from `call_fn`) as {weight name: value}; ValueError if its structure differs."""
        leaves, treedef = jax.tree_util.tree_flatten(tree)
        if treedef != self.treedef:
            raise layer.error(f"Structure mismatch: the structure of the state returned by `call_fn` ({treedef}) "
                              f"does not match the structure of the state at initialization time ({self.treedef}).")
        return {name: leaves[i] for i, name in self.names}


class JaxLayer(Layer):
    """A JAX function `call_fn(params, state, rng, inputs, training)` as a layer (Keras 3.15's `JaxLayer`).

    `init_fn(rng, inputs, training)` builds `params` (and `state`) from ones shaped like the input
    (`(params, state)` when `call_fn` takes `state`), unless they are given. `rng` is passed only while
    training (raw uint32 key data, as Keras's JAX backend), else None.
    """

    stateful = True

    def __init__(self, call_fn, init_fn=None, params=None, state=None, seed=None,
                 native_serialization_platforms=None, name=None, dtype=None, trainable=True, **kwargs):
        call_args = _signature_args(type(self).__name__, call_fn, "call_fn", _CALL_ARGS, {"inputs"})
        init_args = (_signature_args(type(self).__name__, init_fn, "init_fn", _INIT_ARGS, {"inputs"})
                     if init_fn is not None else None)
        if init_fn is None and params is None and state is None and ("params" in call_args or "state" in call_args):
            raise ValueError("`init_fn`, `params` and `state` cannot all be `None` when `call_fn` takes a "
                             "`params` or a `state` argument.")
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.call_fn = call_fn
        self.init_fn = init_fn
        self.seed = seed
        self.native_serialization_platforms = native_serialization_platforms
        self.call_fn_arguments = call_args
        self.call_fn_has_params = "params" in call_args
        self.call_fn_has_state = "state" in call_args
        self.init_fn_arguments = init_args
        given = None
        if params is not None or state is not None:
            p = _Structure(params, 0, self.variable_dtype)
            given = (p, _Structure(state, len(p.names), self.variable_dtype))
        # structures found at build time (init_fn's result); a cache, never part of the hyperparameters
        object.__setattr__(self, "_fk_structures", {"given": given})

    # -- Keras's hooks for the rng arguments ------------------------------------------------
    def init_rng(self, rng):
        """What `init_fn` gets as `rng` (Keras's `_get_init_rng`)."""
        return _raw_key(rng)

    def call_rng(self, rng, training):
        """What `call_fn` gets as `rng` (Keras's `_get_call_rng`): a key when training, else None."""
        return _raw_key(rng) if training else None

    # -- weights ---------------------------------------------------------------------------------
    def _needs_init(self):
        return self._fk_structures["given"] is None and (self.call_fn_has_params or self.call_fn_has_state)

    def _run_init(self, rng, spec):
        ones = jax.tree_util.tree_map(lambda s: jnp.ones(s.shape, s.dtype), spec)
        args = []
        for arg in self.init_fn_arguments:
            args.append(self.init_rng(rng) if arg == "rng" else ones if arg == "inputs" else True)
        result = self.init_fn(*args)
        params, state = result if self.call_fn_has_state else (result, None)
        p = _Structure(params, 0, self.variable_dtype)
        return p, _Structure(state, len(p.names), self.variable_dtype)

    def _structures(self, spec):
        """(params structure, state structure) for inputs like `spec`, found once."""
        cache = self._fk_structures
        if cache["given"] is not None:
            return cache["given"]
        if "built" not in cache:
            def trace():
                p, s = self._run_init(jax.random.key(0), spec)
                cache.setdefault("built", (p.without_values(), s.without_values()))
                return 0

            jax.eval_shape(trace)
        return cache["built"]

    def init(self, rng, *input_specs):
        if not input_specs and self._fk_structures["given"] is not None:
            return self.build(rng)  # given params/state: no input shape needed (Keras builds at construction)
        return super().init(rng, *input_specs)

    def build(self, rng, *input_specs):
        spec = input_specs[0] if len(input_specs) == 1 else list(input_specs)
        if not self._needs_init():
            if self._fk_structures["given"] is None:
                return Variables({}, {})
            p, s = self._fk_structures["given"]
            return Variables(p.weights(), s.weights())
        if rng is None:
            raise self.error("building the weights with `init_fn` needs an `rng` key; got rng=None.")
        p, s = self._run_init(rng, spec)
        self._fk_structures.setdefault("built", (p.without_values(), s.without_values()))
        return Variables(p.weights(), s.weights())

    # -- the math ---------------------------------------------------------------------------------
    def call(self, variables, *inputs, training=False, rng=None):
        x = inputs[0] if len(inputs) == 1 else list(inputs)
        framework = ops.framework_of(*jax.tree_util.tree_leaves(x))
        if framework == "tensorflow":
            return self._call_tf(variables, x, training)
        if framework == "torch":
            raise NotImplementedError(f"Layer '{self.name}' ({type(self).__name__}) runs a JAX function: it takes "
                                      f"JAX or NumPy arrays (or TF tensors, through jax2tf), got {framework} tensors.")
        return self._call_jax(variables, x, training, rng)

    def _call_tf(self, variables, x, training):
        """On TF tensors (the TF shim, SavedModel export): the JAX computation converted with `jax2tf`, as Keras
        runs a JaxLayer on its TensorFlow backend; the batch and other unknown dimensions stay symbolic."""
        from jax.experimental import jax2tf

        letters = iter("abcdefghijklmnopqrstuvwxyz")

        def poly(t):
            dims = list(getattr(t, "shape", ()))
            return "(" + ", ".join("batch" if d is None and i == 0 else next(letters) if d is None else str(int(d))
                                   for i, d in enumerate(dims)) + ")"

        def fn(params, state, inputs):
            return self._call_jax(Variables(params, state), inputs, training, None)

        shapes = ["...", "...", jax.tree_util.tree_map(poly, x)]
        converted = jax2tf.convert(fn, polymorphic_shapes=shapes)
        return converted(dict(variables.params), dict(variables.state), x)

    def _call_jax(self, variables, x, training, rng):
        if self._needs_init() or self._fk_structures["given"] is not None:
            spec = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(tuple(a.shape), a.dtype), x)
            p, s = self._structures(spec)
            params, state = p.tree(variables.params), s.tree(variables.state)
        else:
            p = s = None
            params = state = None
        if training and rng is None and "rng" in self.call_fn_arguments:
            if self.seed is None:
                raise self.error("training needs an `rng` key (or a `seed`); got rng=None.")
            rng = jax.random.key(int(self.seed))
        args = []
        for arg in self.call_fn_arguments:
            if arg == "params":
                args.append(params)
            elif arg == "state":
                args.append(state)
            elif arg == "rng":
                args.append(self.call_rng(rng, training))
            elif arg == "inputs":
                args.append(x)
            else:
                args.append(bool(training))
        result = self.call_fn(*args)
        if not self.call_fn_has_state:
            return result, variables.state
        outputs, new_state = result
        if s is None:
            return outputs, variables.state
        return outputs, {**variables.state, **s.flat(new_state, self)}

    def get_config(self):
        return super().get_config() | {"call_fn": self.call_fn, "init_fn": self.init_fn,
                                       "native_serialization_platforms": self.native_serialization_platforms}


def _variables_to_params_and_state(variables):
    """Keras's split of Flax variables: {"params": ...} trainable, the other collections state."""
    if variables is None:
        return None, None
    if "params" not in variables:
        return {}, variables
    if len(variables) == 1:
        return variables, {}
    return {"params": variables["params"]}, {k: v for k, v in variables.items() if k != "params"}


def _params_and_state_to_variables(params, state):
    if params:
        return {**params, **state} if state else params
    return state if state else {}


class FlaxLayer(JaxLayer):
    """A Flax linen `module` as a layer (Keras 3.15's `FlaxLayer`): the "params" collection is trainable,
    every other collection (`batch_stats`, ...) non-trainable state, updated by each call.

    `method` (default `__call__`) takes `inputs` and optionally `training`; Flax gets the rngs
    `{"params", "dropout"}` at init and `{"dropout"}` while training.
    """

    def __init__(self, module, method=None, variables=None, name=None, dtype=None, trainable=True, **kwargs):
        linen = require("flax.linen", "FlaxLayer")  # an optional package: only FlaxLayer needs it
        if not isinstance(module, linen.Module):
            raise TypeError(f"FlaxLayer: expected a flax.linen.Module as `module`, got {type(module).__name__}.")
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "method", method)
        mutable = linen.DenyList(["params"])
        target = method or module.__call__
        with_training = "training" in inspect.signature(target).parameters

        def call_fn(params, state, rng, inputs, training):
            kw = {"training": training} if with_training else {}
            return module.apply(_params_and_state_to_variables(params, state), inputs, rngs=rng, method=method,
                                mutable=mutable, **kw)

        def init_fn(rng, inputs, training):
            kw = {"training": training} if with_training else {}
            return _variables_to_params_and_state(module.init(rng, inputs, method=method, **kw))

        params, state = _variables_to_params_and_state(variables)
        kwargs.pop("call_fn", None), kwargs.pop("init_fn", None)
        super().__init__(call_fn, init_fn, params=params, state=state, name=name, dtype=dtype,
                         trainable=trainable, **kwargs)

    def init_rng(self, rng):
        return {"params": _raw_key(jax.random.fold_in(rng, 0)), "dropout": _raw_key(jax.random.fold_in(rng, 1))}

    def call_rng(self, rng, training):
        return {"dropout": _raw_key(rng)} if training else {}

    def get_config(self):
        config = Layer.get_config(self)
        method = self.method
        if getattr(method, "__self__", None) is self.module:
            method = method.__name__  # a method bound to the module is saved by name
        return config | {"native_serialization_platforms": self.native_serialization_platforms,
                         "module": self.module, "method": method}
