"""Pick the framework an op runs on from the types of its array arguments.

JAX arrays, NumPy arrays and Python scalars run on JAX (the default, jit-traceable);
torch tensors run on torch; TF tensors run on TF. The backend modules
(`_jax`, `_torch`, `_tf`) implement each public op under the same name and
signature; torch and tensorflow are imported only when a tensor of theirs arrives.
Types from the floors above (symbolic tensors, variables) register themselves here
(`register_symbolic_type`, `register_variable_type`); `ops` imports nothing above it.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import types

from fkeras.ops import _sparse

JAX, TORCH, TF = "jax", "torch", "tensorflow"
SYMBOLIC = "symbolic"  # registered symbolic tensors (the facade's KerasTensor): the op is recorded, not computed
VARIABLE = "variable"  # registered variable types (the facade's `fkeras.Variable`): unwrapped via `.value` first

# Each framework's implementations, in the order later modules override earlier ones: the core ops,
# (for JAX, the framework-neutral image ops of `_image.py`), the nn/math/linalg/core/control-flow ops
# (`__all__`), the NumPy family (`IMPLEMENTATIONS`, built from
# `_numpy_table.py`). Each imports only the ones before it, so there is no import cycle among them.
_BACKEND_MODULES = {
    JAX: ("fkeras.ops._jax", "fkeras.ops._image", "fkeras.ops._jax_extra", "fkeras.ops._numpy_jax"),
    TORCH: ("fkeras.ops._torch", "fkeras.ops._torch_extra", "fkeras.ops._numpy_torch"),
    TF: ("fkeras.ops._tf", "fkeras.ops._tf_extra", "fkeras.ops._numpy_tf"),
}
_loaded: dict[str, object] = {}

# --- hooks for the floors above -------------------------------------------------------
# `ops` imports nothing above itself: the facade registers its symbolic tensor and variable
# classes here when the modules defining them are imported. Lookups are cached per type.
_symbolic_types: dict[type, object] = {}  # class -> handler(op_name, *args, **kwargs)
_variable_types: list[type] = []
_kind_cache: dict[type, str | None] = {}


def register_symbolic_type(cls: type, handler) -> None:
    """Ops called with an instance of `cls` (or a subclass) among their arguments are handed to
    `handler(op_name, *args, **kwargs)` instead of being computed (Keras's functional API records them)."""
    if not isinstance(cls, type) or not callable(handler):
        raise TypeError(f"register_symbolic_type expects a class and a callable, got {cls!r} and {handler!r}.")
    _symbolic_types[cls] = handler
    _kind_cache.clear()


def register_variable_type(cls: type) -> None:
    """Instances of `cls` (or a subclass) are replaced by their `.value` before an op dispatches."""
    if not isinstance(cls, type):
        raise TypeError(f"register_variable_type expects a class, got {cls!r}.")
    if cls not in _variable_types:
        _variable_types.append(cls)
    _kind_cache.clear()


def _classify(t: type) -> str | None:
    if any(issubclass(t, c) for c in _symbolic_types):
        return SYMBOLIC
    if any(issubclass(t, c) for c in _variable_types):
        return VARIABLE
    mod = t.__module__
    if mod.startswith("torch"):
        return TORCH
    if mod.startswith("tensorflow") or mod.startswith("tf_keras"):
        return TF
    return None


def _framework_of_one(x) -> str | None:
    t = type(x)
    try:
        return _kind_cache[t]
    except KeyError:
        kind = _kind_cache[t] = _classify(t)
        return kind


def _symbolic_handler(args, kwargs):
    """The handler registered for the first symbolic argument's type (one level into containers)."""
    for a in (*args, *kwargs.values()):
        items = a if isinstance(a, (list, tuple)) else a.values() if isinstance(a, dict) else (a,)
        for x in items:
            if _framework_of_one(x) == SYMBOLIC:
                for c in type(x).__mro__:
                    if c in _symbolic_types:
                        return _symbolic_types[c]
    raise AssertionError("no symbolic argument")  # framework_of said there was one


_default_framework = contextvars.ContextVar("fkeras_ops_default_framework", default=JAX)


@contextlib.contextmanager
def default_framework(framework: str):
    """Ops that take no arrays (`eye`, `linspace`, `zeros`, ...) create `framework`'s tensors inside this block.

    The torch and TF shims run a model under it, so a custom layer's `ops.eye(n)` meets torch/TF inputs
    as a tensor of their framework; elsewhere such ops run on JAX."""
    if framework not in _BACKEND_MODULES:
        raise ValueError(f"default_framework: expected one of {sorted(_BACKEND_MODULES)}, got {framework!r}.")
    token = _default_framework.set(framework)
    try:
        yield
    finally:
        _default_framework.reset(token)


def framework_of(*args, **kwargs) -> str:
    """Return 'jax', 'torch' or 'tensorflow' for the arrays among `args`/`kwargs`
    ('symbolic' for KerasTensors, 'variable' when a facade Variable must be unwrapped first).

    Looks one level into lists, tuples and dicts (for `concatenate`, `stack`, ...).
    Mixing torch and TF tensors in one call is a ValueError. With no arrays: JAX, or the framework of an
    enclosing `default_framework(...)` block.
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
    return found or _default_framework.get()


def backend(framework: str):
    """The implementations for `framework` ('jax', 'torch', 'tensorflow') as one namespace, imported lazily."""
    ns = _loaded.get(framework)
    if ns is None:
        table = {}
        for i, name in enumerate(_BACKEND_MODULES[framework]):
            mod = importlib.import_module(name)
            if hasattr(mod, "IMPLEMENTATIONS"):
                table.update(mod.IMPLEMENTATIONS)
            elif i and hasattr(mod, "__all__"):
                table.update({n: getattr(mod, n) for n in mod.__all__})
            else:
                table.update({n: v for n, v in vars(mod).items() if not n.startswith("__")})
        _sparse.wrap(framework, table)
        ns = _loaded[framework] = types.SimpleNamespace(**table)
    return ns


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
        return x.value if _framework_of_one(x) == VARIABLE else x

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
            return _symbolic_handler(args, kwargs)(name, *args, **kwargs)
        return resolve(name, fw)(*args, **kwargs)

    dispatched.__fkeras_op__ = name
    return dispatched
