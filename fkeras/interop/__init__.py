"""`fkeras.interop`: fkeras beside other frameworks.

Submodules load on first use, so `import fkeras.interop` never imports torch or
tensorflow:

- `fkeras.interop.data`: the data adapters, re-exported from `fkeras.data` (below `fkeras.train`).
- `fkeras.interop.dlpack`: zero-copy array conversion (`to_jax`, `to_torch`, `to_tf`), from `fkeras.data`.
- `fkeras.interop.torch` / `fkeras.interop.tf`: the shims running an fkeras pytree
  natively on PyTorch / TensorFlow.
"""

import importlib

_SUBMODULES = {"data", "dlpack", "torch", "tf"}


def __getattr__(name):
    if name in _SUBMODULES:
        mod = importlib.import_module(f"fkeras.interop.{name}")
        globals()[name] = mod
        return mod
    raise AttributeError(f"module 'fkeras.interop' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES)
