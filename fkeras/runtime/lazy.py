"""Packages whose submodules and re-exported names load on first use (PEP 562), so importing the
package stays cheap (no JAX, torch or TensorFlow until a name needs them)."""

import importlib


def lazy_attributes(namespace, submodules=(), names=None):
    """`(__getattr__, __dir__)` for the package whose `globals()` is `namespace`.

    `submodules`: names imported as `<package>.<name>`; `names`: `{name: module defining it}`. Each is
    imported on first access and kept in `namespace`, so later lookups are plain attribute reads.
    """
    package, submodules, names = namespace["__name__"], frozenset(submodules), dict(names or {})

    def __getattr__(name):
        if name in submodules:
            value = importlib.import_module(f"{package}.{name}")
        elif name in names:
            value = getattr(importlib.import_module(names[name]), name)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | submodules | set(names))

    return __getattr__, __dir__
