"""Keras 3.15's layers around other frameworks' code: `TorchModuleWrapper`, `TFSMLayer` (`JaxLayer` and
`FlaxLayer`, pure JAX, are `fkeras.layers.jax_layer`). `fkeras.layers` hands these two names on lazily.

- `TorchModuleWrapper(module)`: the module's parameters (and buffers) are the layer's weights, named by
  their torch names. On torch tensors (the torch engine, `to_torch`) it runs the module natively with
  `torch.func.functional_call`; on JAX arrays through `jax.pure_callback`, with a `jax.custom_vjp` whose
  backward is torch autograd, so a jitted `fit` trains it with torch's gradients.
- `TFSMLayer(filepath)`: a TF SavedModel endpoint; the variables it uses are the layer's weights. On JAX
  arrays it runs through `jax.pure_callback` (gradients from `tf.GradientTape`); on TF tensors natively.

Each is an nn layer (its pure counterpart) with a facade class of Keras's signature and config.
"""

from __future__ import annotations

import base64
import io

import jax
import jax.numpy as jnp
import numpy as np

from fkeras.runtime.extras import import_tensorflow, require
from fkeras.layers import wrapped as _wrapped
from fkeras.layers.jax_layer import _build_at_init, _register
from fkeras.nn.base import Layer as NNBase
from fkeras.nn.base import Variables, as_variables, unique_name
from fkeras.nn.paths import get_path, set_path
from fkeras.saving.serialization_lib import in_safe_mode

__all__ = ["TorchModuleWrapper", "TFSMLayer"]


# --- host callbacks shared by torch and TF ---------------------------------------------------------
def _float(dtype) -> bool:
    return jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.complexfloating)


def _zero_cotangent(x):
    """The cotangent of a primal that gets no gradient (float0 for integer/bool primals)."""
    if _float(x.dtype):
        return jnp.zeros(x.shape, x.dtype)
    return np.zeros(x.shape, jax.dtypes.float0)


def _jax_dtype(dtype_name: str):
    """The dtype JAX holds a host array of `dtype_name` in (64-bit narrowed unless x64 is on)."""
    return jax.dtypes.canonicalize_dtype(np.dtype(dtype_name))


def _spec(x):
    return jax.ShapeDtypeStruct(tuple(x.shape), _jax_dtype(np.dtype(x.dtype).name))


def _host_call(forward, backward, params, state, inputs, seed, cache):
    """Run `forward(params, state, inputs, seed) -> (outputs, new_state)` (NumPy in, NumPy out) on the host
    from JAX, differentiable: `backward(params, state, inputs, seed, output_cotangents) -> (param
    cotangents, input cotangents)`. `params`/`state` are dicts of arrays, `inputs` a pytree, `seed` a
    uint32 scalar for the framework's generator. The output structure is found once per input signature
    by running `forward` on zeros (`cache`: the layer's dict of them)."""
    flat_in, in_def = jax.tree_util.tree_flatten(inputs)
    p_names, s_names = list(params), list(state)

    def unpack(args):
        p = dict(zip(p_names, args[:len(p_names)]))
        s = dict(zip(s_names, args[len(p_names):len(p_names) + len(s_names)]))
        x = jax.tree_util.tree_unflatten(in_def, args[len(p_names) + len(s_names):-1])
        return p, s, x, args[-1]

    def out_specs(args):
        key = (in_def, tuple(p_names), tuple(s_names), tuple((tuple(a.shape), np.dtype(a.dtype).name) for a in args))
        if key not in cache:
            zeros = [np.zeros(a.shape, a.dtype) for a in args[:-1]] + [np.zeros((), np.uint32)]
            out, new_state = forward(*unpack(zeros))
            cache[key] = {"def": jax.tree_util.tree_structure(out),
                          "specs": ([_spec(o) for o in jax.tree_util.tree_leaves(out)],
                                    [_spec(new_state[k]) for k in s_names])}
        return cache[key]

    def host_forward(*args):
        out, new_state = forward(*unpack([np.asarray(a) for a in args]))
        specs, s_specs = probe["specs"]
        leaves = [np.asarray(o, s.dtype) for o, s in zip(jax.tree_util.tree_leaves(out), specs)]
        return leaves + [np.asarray(new_state[k], s.dtype) for k, s in zip(s_names, s_specs)]

    def host_backward(*args):
        n_out = len(probe["specs"][0])
        primal, cot = args[:-n_out], args[-n_out:]
        p, s, x, seed = unpack([np.asarray(a) for a in primal])
        g_params, g_inputs = backward(p, s, x, seed, [np.asarray(c) for c in cot])
        grads = [g_params.get(k) for k in p_names] + list(g_inputs)
        targets = [p[k] for k in p_names] + jax.tree_util.tree_leaves(x)
        out = []
        for g, t in zip(grads, targets):
            dtype = t.dtype if _float(t.dtype) else np.float32
            out.append(np.zeros(t.shape, dtype) if g is None else np.asarray(g, dtype).reshape(t.shape))
        return out

    args = [params[k] for k in p_names] + [state[k] for k in s_names] + flat_in + [seed]
    probe = out_specs([jax.ShapeDtypeStruct(np.shape(a), np.dtype(a.dtype)) for a in args])
    specs, s_specs = probe["specs"]

    def run(*a):
        return jax.pure_callback(host_forward, specs + s_specs, *a, vmap_method="sequential")

    @jax.custom_vjp
    def call(*a):
        return run(*a)

    def call_fwd(*a):
        return run(*a), a

    def call_bwd(a, cot):
        n_out = len(specs)
        diff = list(a[:len(p_names)]) + list(a[len(p_names) + len(s_names):-1])
        grad_specs = [jax.ShapeDtypeStruct(x.shape, x.dtype if _float(x.dtype) else jnp.float32) for x in diff]
        cot = [jnp.zeros(s.shape, s.dtype) if c is None or getattr(c, "dtype", None) == jax.dtypes.float0 else c
               for c, s in zip(cot[:n_out], specs)]
        grads = jax.pure_callback(host_backward, grad_specs, *a, *cot, vmap_method="sequential") if diff else []
        grads = list(grads)
        g_p = [g if _float(x.dtype) else _zero_cotangent(x) for g, x in zip(grads[:len(p_names)], a)]
        x_prims = a[len(p_names) + len(s_names):-1]
        g_x = [g if _float(x.dtype) else _zero_cotangent(x) for g, x in zip(grads[len(p_names):], x_prims)]
        g_s = [_zero_cotangent(x) for x in a[len(p_names):len(p_names) + len(s_names)]]
        return tuple(g_p + g_s + g_x + [_zero_cotangent(a[-1])])

    call.defvjp(call_fwd, call_bwd)
    res = call(*args)
    outputs = jax.tree_util.tree_unflatten(probe["def"], res[:len(specs)])
    return outputs, dict(zip(s_names, res[len(specs):]))


def _seed_of(rng, training):
    """A uint32 seed for the foreign framework's generator, drawn from the JAX key (0 at inference)."""
    if rng is None or not training:
        return jnp.zeros((), jnp.uint32)
    return jax.random.bits(rng, (), jnp.uint32)


def _framework(tree) -> str:
    for leaf in jax.tree_util.tree_leaves(tree):
        mod = type(leaf).__module__
        if mod.startswith("torch"):
            return "torch"
        if mod.startswith("tensorflow"):
            return "tf"
    return "jax"


# --- TorchModuleWrapper ----------------------------------------------------------------------------
def _nest(flat: dict) -> dict:
    """{"0.weight": v} -> {"0": {"weight": v}} (torch names as pytree paths, in order)."""
    out: dict = {}
    for name, value in flat.items():
        out = set_path(out, tuple(name.split(".")), value)
    return out


class _TorchModule(NNBase):
    """The pure counterpart of `TorchModuleWrapper`: weights = the module's parameters (trainable when
    `requires_grad`) and persistent buffers (non-trainable), nested by their torch names."""

    stateful = True
    autocast = False  # the module keeps its own dtypes

    def __init__(self, module, name=None, output_shape=None, dtype=None, trainable=True, **kwargs):
        torch = require("torch", "TorchModuleWrapper")
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"TorchModuleWrapper: expected a torch.nn.Module as `module`, got {type(module).__name__}.")
        if isinstance(module, torch.nn.modules.lazy.LazyModuleMixin) and module.has_uninitialized_params():
            raise ValueError("LazyModules are not supported unless they are already initialized. "
                             f"Received uninitialized LazyModule: module={module}")
        super().__init__(name=name or unique_name("torch_module_wrapper"), dtype=dtype, trainable=trainable, **kwargs)
        self.module = module
        self.output_shape = output_shape
        state_keys = list(module.state_dict().keys())
        params = dict(module.named_parameters())
        self.param_names = tuple(k for k, p in params.items() if p.requires_grad)
        self.buffer_names = tuple(k for k in state_keys if k not in self.param_names)
        self.state_dict_keys = tuple(state_keys)
        self.torch_dtypes = {k: v.dtype for k, v in module.state_dict().items()}
        self._fk_specs = {}  # output structure per input signature (found by one forward on zeros): a cache

    def init(self, rng, *input_specs):
        return self.build(rng)  # the weights are the module's: no input shape needed

    def build(self, rng, *input_specs):
        sd = self.module.state_dict(keep_vars=True)
        host = {k: np.array(v.detach().cpu().numpy()) for k, v in sd.items()}
        params = _nest({k: jnp.asarray(host[k]) for k in self.param_names})
        state = _nest({k: jnp.asarray(host[k], _jax_dtype(host[k].dtype.name)) for k in self.buffer_names})
        return Variables(params, state)

    # -- running the module ---------------------------------------------------------------------------
    def _functional(self, tensors: dict, inputs, training, kwargs=None):
        """The module on `tensors` (torch name -> tensor, buffers updated in place), positional `inputs` and
        keyword `kwargs`."""
        import torch

        was = self.module.training
        self.module.train(bool(training))
        try:
            return torch.func.functional_call(self.module, tensors, tuple(inputs), kwargs or {}, strict=False)
        finally:
            self.module.train(was)

    def _torch_tensors(self, p: dict, s: dict, as_array):
        """{torch name: tensor} for `functional_call`, each in the module's own dtype."""
        out = {}
        for k in self.state_dict_keys:
            t = as_array(p[k] if k in p else s[k])
            if t.dtype != self.torch_dtypes[k]:
                t = t.to(self.torch_dtypes[k])
            out[k] = t
        return out

    def _host_forward(self, p, s, x, seed, training, static):
        """`x` is `(positional inputs, array keyword arguments)`; `static` the other keyword arguments."""
        import torch

        def as_tensor(a):
            return torch.from_numpy(np.array(a))

        tensors = self._torch_tensors(p, s, as_tensor)
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            args, kw = jax.tree_util.tree_map(as_tensor, x)
            out = self._functional(tensors, args, training, {**static, **kw})
        to_np = lambda t: t.detach().cpu().numpy()  # noqa: E731
        return jax.tree_util.tree_map(to_np, out), {k: to_np(tensors[k]) for k in self.buffer_names}

    def _host_backward(self, p, s, x, seed, cot, training, static):
        import torch

        wrt = {}

        def leaf(name, a):
            t = torch.from_numpy(np.array(a))
            if t.is_floating_point():
                t.requires_grad_(True)
                wrt[name] = t
            return t

        p_t = {k: leaf(("p", k), v) for k, v in p.items()}
        x_leaves, x_def = jax.tree_util.tree_flatten(x)
        x_t = jax.tree_util.tree_unflatten(x_def, [leaf(("x", i), v) for i, v in enumerate(x_leaves)])
        tensors = self._torch_tensors(p_t, s, lambda a: a if isinstance(a, torch.Tensor) else
                                      torch.from_numpy(np.array(a)))
        with torch.enable_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            out = self._functional(tensors, x_t[0], training, {**static, **x_t[1]})
        outs = [o for o in jax.tree_util.tree_leaves(out)]
        pairs = [(o, torch.from_numpy(np.array(c)).to(o.dtype)) for o, c in zip(outs, cot) if o.requires_grad]
        keys = list(wrt)
        grads = torch.autograd.grad([o for o, _ in pairs], [wrt[k] for k in keys], [c for _, c in pairs],
                                    allow_unused=True) if pairs and keys else [None] * len(keys)
        by = {k: (None if g is None else g.detach().numpy()) for k, g in zip(keys, grads)}
        g_params = {k: by.get(("p", k)) for k in p}
        g_inputs = [by.get(("x", i)) for i in range(len(x_leaves))]
        return g_params, g_inputs

    def apply(self, variables, *inputs, training=False, rng=None, **kwargs):
        """`(outputs, new_state)`; keyword arguments go to the module, as Keras passes them."""
        return self.call(as_variables(variables), *inputs, training=training, rng=rng, **kwargs)

    def call(self, variables, *inputs, training=False, rng=None, **kwargs):
        if kwargs.get("mask", 0) is None:
            kwargs.pop("mask")
        flat_p = {k: get_path(variables.params, tuple(k.split("."))) for k in self.param_names}
        flat_s = {k: get_path(variables.state, tuple(k.split("."))) for k in self.buffer_names}
        framework = _framework((inputs, kwargs, flat_p))
        if framework == "torch":
            return self._call_torch(flat_p, flat_s, inputs, training, kwargs)
        if framework == "tf":
            raise NotImplementedError("TorchModuleWrapper runs on JAX arrays and torch tensors, not on TF tensors.")
        arrays = {k: v for k, v in kwargs.items() if hasattr(v, "shape") and hasattr(v, "dtype")}
        static = {k: v for k, v in kwargs.items() if k not in arrays}
        cache = self._fk_specs.setdefault((bool(training), repr(sorted(static.items()))), {})
        outputs, new_state = _host_call(
            lambda p, s, x, seed: self._host_forward(p, s, x, seed, training, static),
            lambda p, s, x, seed, cot: self._host_backward(p, s, x, seed, cot, training, static),
            flat_p, flat_s, (list(inputs), arrays), _seed_of(rng, training), cache)
        return outputs, _nest(new_state)

    def _call_torch(self, flat_p, flat_s, inputs, training, kwargs):
        import torch

        buffers = {k: torch.as_tensor(v).clone() for k, v in flat_s.items()}
        tensors = self._torch_tensors(flat_p, buffers, torch.as_tensor)
        out = self._functional(tensors, inputs, training, kwargs)
        new_state = {}
        for k in self.buffer_names:
            t = tensors[k]
            new_state[k] = t.to(flat_s[k].dtype) if t.dtype != flat_s[k].dtype else t
        return out, _nest(new_state)

    def get_config(self):
        return super().get_config() | {"module": self.module, "output_shape": self.output_shape}


# --- TFSMLayer -----------------------------------------------------------------------------------
def _resolve_endpoint(obj, endpoint):
    if hasattr(obj, endpoint):
        return getattr(obj, endpoint)
    if endpoint in obj.signatures:
        return obj.signatures[endpoint]
    raise ValueError(f"The endpoint '{endpoint}' is neither an attribute of the reloaded SavedModel, nor an entry in "
                     "the `signatures` field of the reloaded SavedModel. Select another endpoint via the "
                     "`call_endpoint` argument. Available endpoints for this SavedModel: "
                     f"{list(obj.signatures.keys())}")


def _variables_used_by(fns):
    """(trainable, non-trainable) tf.Variables the endpoint functions read, in Keras's order."""
    trainable, other, seen = [], [], set()
    for fn in fns:
        if hasattr(fn, "concrete_functions"):
            concrete = fn.concrete_functions
        elif hasattr(fn, "get_concrete_function"):
            concrete = [fn.get_concrete_function()]
        else:
            concrete = [fn]
        for c in concrete:
            for v in c.trainable_variables:
                if id(v) not in seen:
                    seen.add(id(v))
                    trainable.append(v)
            for v in c.variables:
                if id(v) not in seen:
                    seen.add(id(v))
                    other.append(v)
    return trainable, other


class _TFSavedModel(NNBase):
    """The pure counterpart of `TFSMLayer`: the endpoint's trainable variables are params, the others
    state, keyed by their names (Keras's: "/" replaced by "_")."""

    autocast = False

    def __init__(self, filepath, call_endpoint="serve", call_training_endpoint=None, trainable=True, name=None,
                 dtype=None):
        tf = import_tensorflow("TFSMLayer")
        super().__init__(name=name or unique_name("tfsm_layer"), dtype=dtype, trainable=trainable)
        self.filepath = str(filepath) if not isinstance(filepath, str) else filepath
        self.call_endpoint = call_endpoint
        self.call_training_endpoint = call_training_endpoint
        obj = tf.saved_model.load(self.filepath)
        self.reloaded = obj
        self.call_endpoint_fn = _resolve_endpoint(obj, call_endpoint)
        self.call_training_endpoint_fn = (_resolve_endpoint(obj, call_training_endpoint)
                                          if call_training_endpoint else None)
        fns = [self.call_endpoint_fn] + ([self.call_training_endpoint_fn] if call_training_endpoint else [])
        tvs, ntvs = _variables_used_by(fns)
        names, taken = [], set()
        for v in tvs + ntvs:
            base = v.name.rsplit(":", 1)[0].replace("/", "_")  # Keras's name ("/" -> "_"), without TF's ":0"
            key, i = base, 1
            while key in taken:
                key, i = f"{base}_{i}", i + 1
            taken.add(key)
            names.append(key)
        self.tf_variables = tuple(tvs + ntvs)
        self.param_names = tuple(names[:len(tvs)])
        self.state_names = tuple(names[len(tvs):])
        self._fk_specs = {}  # output structure per input signature (found by one call on zeros): a cache

    def init(self, rng, *input_specs):
        return self.build(rng)  # the weights are the SavedModel's: no input shape needed

    def build(self, rng, *input_specs):
        values = [jnp.asarray(v.numpy()) for v in self.tf_variables]
        n = len(self.param_names)
        return Variables(dict(zip(self.param_names, values[:n])), dict(zip(self.state_names, values[n:])))

    def _endpoint(self, training):
        if training and self.call_training_endpoint_fn is not None:
            return self.call_training_endpoint_fn
        return self.call_endpoint_fn

    def _assign(self, p, s):
        for v, k in zip(self.tf_variables, self.param_names + self.state_names):
            v.assign(p[k] if k in p else s[k])

    def _host_forward(self, p, s, x, seed, training):
        import tensorflow as tf

        self._assign(p, s)
        out = self._endpoint(training)(jax.tree_util.tree_map(tf.constant, x))
        return jax.tree_util.tree_map(lambda t: t.numpy(), out), dict(s)

    def _host_backward(self, p, s, x, seed, cot, training):
        import tensorflow as tf

        self._assign(p, s)
        x_leaves, x_def = jax.tree_util.tree_flatten(x)
        x_t = [tf.constant(a) for a in x_leaves]
        watched = [t for t in x_t if t.dtype.is_floating]
        params = [v for v, k in zip(self.tf_variables, self.param_names)]
        with tf.GradientTape() as tape:
            tape.watch(watched)
            out = self._endpoint(training)(jax.tree_util.tree_unflatten(x_def, x_t))
        outs = jax.tree_util.tree_leaves(out)
        grads = tape.gradient(outs, params + watched, output_gradients=[tf.constant(c, o.dtype) for o, c in
                                                                        zip(outs, cot)])
        to_np = lambda g: None if g is None else tf.convert_to_tensor(g).numpy()  # noqa: E731
        g_params = {k: to_np(g) for k, g in zip(self.param_names, grads[:len(params)])}
        g_watched = iter(grads[len(params):])
        g_inputs = [to_np(next(g_watched)) if t.dtype.is_floating else None for t in x_t]
        return g_params, g_inputs

    def call(self, variables, *inputs, training=False, rng=None):
        x = inputs[0] if len(inputs) == 1 else list(inputs)
        framework = _framework((x, variables.params))
        if framework == "tf":
            return self._call_tf(variables.params, variables.state, x, training)
        if framework == "torch":
            raise NotImplementedError("TFSMLayer runs on JAX arrays and TF tensors, not on torch tensors.")
        out, _ = _host_call(lambda p, s, xx, seed: self._host_forward(p, s, xx, seed, training),
                            lambda p, s, xx, seed, cot: self._host_backward(p, s, xx, seed, cot, training),
                            dict(variables.params), dict(variables.state), x, _seed_of(None, False),
                            self._fk_specs.setdefault(bool(training), {}))
        return out

    def _call_tf(self, params, state, x, training):
        """The endpoint on TF tensors, natively: the SavedModel's variables take the values of `params`/`state`,
        and a custom gradient hands the gradients of those variables back to `params` (so the TF shim trains it)."""
        import tensorflow as tf

        fn = self._endpoint(training)
        n_params = len(self.param_names)
        tvars = self.tf_variables[:n_params]
        flat_x, x_def = jax.tree_util.tree_flatten(x)
        structure = {}

        @tf.custom_gradient
        def run(*args):
            xs, ps = list(args[:len(flat_x)]), args[len(flat_x):]
            for v, value in zip(self.tf_variables, list(ps) + [state[k] for k in self.state_names]):
                v.assign(value)
            with tf.GradientTape() as tape:
                tape.watch(xs)
                y = fn(jax.tree_util.tree_unflatten(x_def, xs))
            ys, structure["def"] = jax.tree_util.tree_flatten(y)

            def grad(*dys, variables=None):
                grads = tape.gradient(ys, xs + list(tvars), output_gradients=list(dys))
                return grads, [None] * len(variables or ())

            return ys, grad

        ys = run(*flat_x, *[tf.convert_to_tensor(params[k]) for k in self.param_names])
        return jax.tree_util.tree_unflatten(structure["def"], list(ys))

    def get_config(self):
        return super().get_config() | {"filepath": self.filepath, "call_endpoint": self.call_endpoint,
                                       "call_training_endpoint": self.call_training_endpoint}


# --- the facade classes ----------------------------------------------------------------------------
def _refuse_unsafe(what, safe_mode):
    effective = safe_mode if safe_mode is not None else in_safe_mode()
    if effective is not False:
        raise ValueError(f"Requested the deserialization of {what}. This carries a potential risk of arbitrary code "
                         "execution and thus it is disallowed by default. If you trust the source of the artifact, "
                         "you can override this error by passing `safe_mode=False` to the loading function, or "
                         "calling `keras.config.enable_unsafe_deserialization()`.")


@_register
class TorchModuleWrapper(_wrapped.NNLayer):
    """A `torch.nn.Module` as a layer (Keras 3.15's `TorchModuleWrapper`); see the module docstring.

    Its weights are the module's parameters in `module.parameters()` order (then its buffers, as
    non-trainable weights, so BatchNorm statistics train in the jitted step; Keras keeps those inside the
    module), named by their torch paths (`0/weight`); `layer.module` is the module holding the layer's
    current values. The module runs in `eval()` mode unless training (Keras's eager `layer(x)` with no
    `training` runs it in `train()` mode).
    """

    _fk_nn_class = _TorchModule

    def __init__(self, module, name=None, output_shape=None, **kwargs):
        super().__init__(module, name=name, output_shape=output_shape, **kwargs)
        _build_at_init(self)

    @property
    def module(self):
        """The wrapped module, with this layer's current weights loaded into it."""
        import torch

        nn_layer = self.__dict__["_fk_nn"]
        by_name = {".".join(v._fk_subpath): v for v in self._fk_vars}
        sd = nn_layer.module.state_dict()
        new = {k: torch.as_tensor(np.array(by_name[k].numpy())).to(sd[k].dtype) for k in sd if k in by_name}
        nn_layer.module.load_state_dict(new, strict=False)
        return nn_layer.module

    def parameters(self, recurse=True):
        return self.module.parameters(recurse=recurse)

    def save_own_variables(self, store):
        """The module's `state_dict()` entries, in its order. (Keras keys them by torch name, "0.weight";
        fkeras's weights reader takes only names without dots, so they are numbered here and
        `load_own_variables` reads either form.)"""
        for i, value in enumerate(self.module.state_dict().values()):
            store[str(i)] = value.detach().cpu().numpy()

    def load_own_variables(self, store):
        by_name = {".".join(v._fk_subpath): v for v in self._fk_vars}
        order = list(self.__dict__["_fk_nn"].state_dict_keys)
        keys = [k.decode() if isinstance(k, bytes) else k for k in store.keys()]
        if all(k.isdigit() for k in keys):
            if len(keys) != len(order):
                raise ValueError(f"Layer '{self.name}': the module's state_dict has {len(order)} entries, the file "
                                 f"has {len(keys)}.")
            values = {name: np.asarray(store[str(i)]) for i, name in enumerate(order)}
        else:
            missing = [k for k in order if k not in keys]
            if missing:
                raise ValueError(f"Layer '{self.name}': the file has no entries {missing} of the module's "
                                 "state_dict.")
            values = {k: np.asarray(store[k]) for k in order}
        for k, v in values.items():
            if k in by_name and tuple(v.shape) != tuple(by_name[k].shape):
                raise ValueError(f"Layer '{self.name}': {k!r} expects shape {tuple(by_name[k].shape)}, the file "
                                 f"has {v.shape}.")
        for k, v in values.items():
            if k in by_name:
                by_name[k].assign(v.astype(by_name[k].dtype))

    def compute_output_shape(self, *input_shapes):
        out = self.__dict__["_fk_nn"].output_shape
        return super().compute_output_shape(*input_shapes) if out is None else out

    def get_config(self):
        import torch

        config = super().get_config()
        buffer = io.BytesIO()
        torch.save(self.module, buffer)
        config["module"] = base64.b64encode(buffer.getvalue()).decode("ascii")
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        import torch

        config = dict(config)
        if isinstance(config.get("module"), str):
            _refuse_unsafe("a `torch.nn.Module` object via `torch.load()`", safe_mode)
            data = base64.b64decode(config["module"].encode("ascii"))
            config["module"] = torch.load(io.BytesIO(data), weights_only=False)
        return cls(**config)


@_register
class TFSMLayer(_wrapped.NNLayer):
    """Reload a model/layer saved as a TF SavedModel (`model.export(...)`, `ExportArchive`) as a layer
    (Keras 3.15's `TFSMLayer`): `call_endpoint` is its call, `call_training_endpoint` (if any) its call
    when training; the variables the endpoints use are its weights, trainable with `fit`."""

    _fk_nn_class = _TFSavedModel

    def __init__(self, filepath, call_endpoint="serve", call_training_endpoint=None, trainable=True, name=None,
                 dtype=None):
        super().__init__(filepath, call_endpoint=call_endpoint, call_training_endpoint=call_training_endpoint,
                         trainable=trainable, name=name, dtype=dtype)
        _build_at_init(self)

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        _refuse_unsafe("a `TFSMLayer`, which loads an external SavedModel", safe_mode)
        return cls(**config)
