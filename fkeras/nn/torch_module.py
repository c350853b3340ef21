"""`TorchModuleWrapper`: a `torch.nn.Module` as a pure layer (Keras 3.15's `TorchModuleWrapper`; its facade is
`fkeras.layers.torch_module_wrapper`).

The module's parameters (trainable when `requires_grad`) and persistent buffers (non-trainable) are the weights,
nested by their torch names (`{"0": {"weight": ...}}`). On torch tensors (the torch engine, `to_torch`) the module
runs natively with `torch.func.functional_call`; on JAX arrays through `host_call` (`jax.pure_callback`, backward by
torch autograd), so a jitted `fit` trains it with torch's gradients. torch is imported when a layer is made.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from fkeras.nn.base import Layer, Variables, as_variables, unique_name
from fkeras.nn.host_call import host_call, jax_dtype, seed_of, tensor_framework
from fkeras.nn.paths import get_path, set_path
from fkeras.runtime.extras import require

__all__ = ["TorchModuleWrapper"]


def _nest(flat: dict) -> dict:
    """{"0.weight": v} -> {"0": {"weight": v}} (torch names as pytree paths, in order)."""
    out: dict = {}
    for name, value in flat.items():
        out = set_path(out, tuple(name.split(".")), value)
    return out


class TorchModuleWrapper(Layer):
    """A `torch.nn.Module` as a pure layer: params are its parameters with `requires_grad`, state its other
    `state_dict()` entries (BatchNorm statistics), nested by torch name. `apply(variables, *inputs, **kwargs)` runs
    the module's `forward` (in `train()` when `training`, else `eval()`; dropout seeded from `rng`) and returns its
    outputs, shaped as `forward` returns them, with the updated buffers as the new state."""

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
        state = _nest({k: jnp.asarray(host[k], jax_dtype(host[k].dtype.name)) for k in self.buffer_names})
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
        framework = tensor_framework((inputs, kwargs, flat_p))
        if framework == "torch":
            return self._call_torch(flat_p, flat_s, inputs, training, kwargs)
        if framework == "tf":
            raise NotImplementedError("TorchModuleWrapper runs on JAX arrays and torch tensors, not on TF tensors.")
        arrays = {k: v for k, v in kwargs.items() if hasattr(v, "shape") and hasattr(v, "dtype")}
        static = {k: v for k, v in kwargs.items() if k not in arrays}
        cache = self._fk_specs.setdefault((bool(training), repr(sorted(static.items()))), {})
        outputs, new_state = host_call(
            lambda p, s, x, seed: self._host_forward(p, s, x, seed, training, static),
            lambda p, s, x, seed, cot: self._host_backward(p, s, x, seed, cot, training, static),
            flat_p, flat_s, (list(inputs), arrays), seed_of(rng, training), cache)
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
