"""`fkeras.interop`: fkeras beside other frameworks.

Submodules load on first use, so `import fkeras.interop` never imports torch or
tensorflow:

- `fkeras.interop.data`: the data adapters, re-exported from `fkeras.data` (below `fkeras.train`).
- `fkeras.interop.dlpack`: zero-copy array conversion (`to_jax`, `to_torch`, `to_tf`), from `fkeras.data`.
- `fkeras.interop.torch` / `fkeras.interop.tf`: the shims running an fkeras pytree
  natively on PyTorch / TensorFlow.
"""

from fkeras.runtime.lazy import lazy_attributes as _lazy_attributes

_SUBMODULES = {"data", "dlpack", "torch", "tf"}


__getattr__, __dir__ = _lazy_attributes(globals(), submodules=_SUBMODULES)
