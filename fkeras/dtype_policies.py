"""`fkeras.dtype_policies` (Keras names); defined once in `fkeras.nn.dtype_policies`."""

from fkeras.nn.dtype_policies import (  # noqa: F401
    AWQDTypePolicy, DTypePolicy, DTypePolicyMap, FloatDTypePolicy, GPTQDTypePolicy, Int4DTypePolicy,
    QuantizedDTypePolicy, QuantizedFloat8DTypePolicy, deserialize, get, serialize,
)

__all__ = [
    "AWQDTypePolicy", "DTypePolicy", "DTypePolicyMap", "FloatDTypePolicy", "GPTQDTypePolicy", "Int4DTypePolicy",
    "QuantizedDTypePolicy", "QuantizedFloat8DTypePolicy", "deserialize", "get", "serialize",
]
