"""Pick the framework an op runs on from the types of its array arguments.

JAX arrays, NumPy arrays and Python scalars run on JAX (the default, jit-traceable);
torch tensors run on torch; TF tensors run on TF. The backend modules
(`_jax`, `_torch`, `_tf`) implement each public op under the same name and
signature; torch and tensorflow are imported only when a tensor of theirs arrives.
"""

from __future__ import annotations

import functools
import importlib

JAX, TORCH, TF = "jax", "torch", "tensorflow"
SYMBOLIC = "symbolic"  # Keras functional-API tensors: the op is recorded into the graph, not computed
VARIABLE = "variable"  # facade `fkeras.Variable`s: unwrapped to their current value, then dispatched

_BACKEND_MODULES = {JAX: "fkeras.ops._jax", TORCH: "fkeras.ops._torch", TF: "fkeras.ops._tf"}
_loaded: dict[str, object] = {}


def _framework_of_one(x) -> str | None:
    mod = type(x).__module__
    if mod.startswith("torch"):
        return TORCH
    if mod.startswith("tensorflow") or mod.startswith("tf_keras"):
        return TF
    if mod == "fkeras.layers.input_layer":
        return SYMBOLIC
    if mod == "fkeras.layers.variables" and getattr(x, "__fkeras_variable__", False):
        return VARIABLE
    return None


def framework_of(*args, **kwargs) -> str:
    """Return 'jax', 'torch' or 'tensorflow' for the arrays among `args`/`kwargs`
    ('symbolic' for KerasTensors, 'variable' when a facade Variable must be unwrapped first).

    Looks one level into lists, tuples and dicts (for `concatenate`, `stack`, ...).
    Mixing torch and TF tensors in one call is a ValueError.
    """
    found = None
    for a in (*args, *kwargs.values()):
        items = a if isinstance(a, (list, tuple)) else a.values() if isinstance(a, dict) else (a,)
        for x in items:
            fw = _framework_of_one(x)
            if fw == SYMBOLIC or fw == VARIABLE:
                return fw
            if fw is not None and fw != found:
                if found is not None:
                    raise ValueError(
                        f"fkeras.ops got tensors of two frameworks in one call: {found} and {fw}. "
                        "Convert them to one framework first (see fkeras.interop.dlpack)."
                    )
                found = fw
    return found or JAX


def backend(framework: str):
    """The backend module for `framework` ('jax', 'torch', 'tensorflow'), imported lazily."""
    mod = _loaded.get(framework)
    if mod is None:
        mod = _loaded[framework] = importlib.import_module(_BACKEND_MODULES[framework])
    return mod


def resolve(name: str, framework: str):
    impl = getattr(backend(framework), name, None)
    if impl is None:
        raise NotImplementedError(
            f"fkeras.ops.{name} has no {framework} implementation yet; "
            f"it is available on: {', '.join(fw for fw in _BACKEND_MODULES if _has(fw, name))}."
        )
    return impl


def _has(framework: str, name: str) -> bool:
    try:
        return hasattr(backend(framework), name)
    except ImportError:
        return False


def _unwrap_variables(tree):
    """Facade Variables (one level inside lists/tuples/dicts, as `framework_of` looks) -> their values."""

    def one(x):
        return x.value if getattr(x, "__fkeras_variable__", False) else x

    def level(a):
        if isinstance(a, (list, tuple)):
            return type(a)(one(x) for x in a)
        if isinstance(a, dict):
            return {k: one(v) for k, v in a.items()}
        return one(a)

    if isinstance(tree, dict):
        return {k: level(v) for k, v in tree.items()}
    return tuple(level(a) for a in tree)


def op(fn):
    """Turn a documented signature into a public op dispatched on its arguments' framework."""
    name = fn.__name__

    @functools.wraps(fn)
    def dispatched(*args, **kwargs):
        fw = framework_of(*args, **kwargs)
        if fw == VARIABLE:
            args, kwargs = _unwrap_variables(args), _unwrap_variables(kwargs)
            fw = framework_of(*args, **kwargs)
        if fw == SYMBOLIC:
            from fkeras.models.functional import symbolic_ops_call

            return symbolic_ops_call(name, *args, **kwargs)
        return resolve(name, fw)(*args, **kwargs)

    dispatched.__fkeras_op__ = name
    return dispatched
