"""Running another framework's code (torch, TensorFlow) on the host from JAX, differentiably.

`host_call` wraps a NumPy-in/NumPy-out forward in `jax.pure_callback` with a `jax.custom_vjp` whose backward is
the framework's own autograd, so a jitted step trains foreign code (`TorchModuleWrapper`, `TFSMLayer`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["host_call", "seed_of", "tensor_framework", "jax_dtype"]


def _float(dtype) -> bool:
    return jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.complexfloating)


def _zero_cotangent(x):
    """The cotangent of a primal that gets no gradient (float0 for integer/bool primals)."""
    if _float(x.dtype):
        return jnp.zeros(x.shape, x.dtype)
    return np.zeros(x.shape, jax.dtypes.float0)


def jax_dtype(dtype_name: str):
    """The dtype JAX holds a host array of `dtype_name` in (64-bit narrowed unless x64 is on)."""
    return jax.dtypes.canonicalize_dtype(np.dtype(dtype_name))


def _spec(x):
    return jax.ShapeDtypeStruct(tuple(x.shape), jax_dtype(np.dtype(x.dtype).name))


def host_call(forward, backward, params, state, inputs, seed, cache):
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


def seed_of(rng, training):
    """A uint32 seed for the foreign framework's generator, drawn from the JAX key (0 at inference)."""
    if rng is None or not training:
        return jnp.zeros((), jnp.uint32)
    return jax.random.bits(rng, (), jnp.uint32)


def tensor_framework(tree) -> str:
    for leaf in jax.tree_util.tree_leaves(tree):
        mod = type(leaf).__module__
        if mod.startswith("torch"):
            return "torch"
        if mod.startswith("tensorflow"):
            return "tf"
    return "jax"
