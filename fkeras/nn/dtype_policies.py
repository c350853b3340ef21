"""Dtype policies with Keras's names: which dtype a layer computes in and which it stores variables in.

    DTypePolicy("float32")          compute float32,  variables float32
    DTypePolicy("mixed_bfloat16")   compute bfloat16, variables float32
    DTypePolicy("mixed_float16")    compute float16,  variables float32
    DTypePolicy("bfloat16")         compute bfloat16, variables bfloat16

A layer takes its policy from `dtype=` (a name or a policy) or, when that is None, from the
global policy at construction time (`set_global_policy`). `Layer.apply` casts floating inputs
and floating params to `compute_dtype`; variables are created in `variable_dtype`.
"""

from __future__ import annotations

import threading

import numpy as np

_FLOATS = ("float16", "bfloat16", "float32", "float64")
_state = threading.local()


def _standardize(name) -> str:
    """A dtype name ("float32") from a name, a NumPy/JAX dtype or a dtype-like."""
    if isinstance(name, str):
        s = name
    else:
        s = getattr(name, "name", None) or str(name)
    if s == "bfloat16":
        return s
    try:
        return np.dtype(s).name
    except TypeError as e:
        raise ValueError(f"Could not interpret {name!r} as a dtype.") from e


class DTypePolicy:
    """A layer's (compute_dtype, variable_dtype) pair, named as in Keras.

    `name` is "mixed_float16", "mixed_bfloat16" or any floating dtype name ("float32",
    "bfloat16", ...); None means the current global policy.
    """

    def __init__(self, name=None):
        if name is None:
            name = global_policy().name
        if not isinstance(name, str):
            raise TypeError(f"DTypePolicy: expected `name` as a string such as 'mixed_bfloat16', got {name!r} "
                            f"(of type {type(name).__name__}).")
        if name == "mixed_float16":
            compute, variable = "float16", "float32"
        elif name == "mixed_bfloat16":
            compute, variable = "bfloat16", "float32"
        else:
            try:
                compute = variable = _standardize(name)
            except ValueError:
                compute = None
            if compute is None or compute not in _FLOATS + ("int32", "int64", "uint8", "int8", "bool"):
                raise ValueError(
                    f"Cannot convert {name!r} to a DTypePolicy; expected 'mixed_float16', 'mixed_bfloat16' or a "
                    "float dtype name such as 'float32'.")
        self._name, self._compute_dtype, self._variable_dtype = name, compute, variable

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        """The dtype of a layer's inputs, outputs and arithmetic."""
        return self._compute_dtype

    @property
    def variable_dtype(self) -> str:
        """The dtype variables are created and stored in (float32 for mixed policies)."""
        return self._variable_dtype

    @property
    def quantization_mode(self):
        return None

    def get_config(self) -> dict:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other._name == self._name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'


Policy = DTypePolicy  # Keras 2 / `keras.mixed_precision.Policy` name
FloatDTypePolicy = DTypePolicy


def global_policy() -> DTypePolicy:
    """The policy layers get when built without `dtype=` (float32 unless set)."""
    policy = getattr(_state, "policy", None)
    if policy is None:
        policy = _state.policy = DTypePolicy("float32")
    return policy


def set_global_policy(policy) -> None:
    """Set the policy for layers built from now on: a name ("mixed_bfloat16") or a DTypePolicy; None resets."""
    if policy is None:
        _state.policy = DTypePolicy("float32")
        return
    _state.policy = get(policy)


# Keras 3 names for the same pair.
dtype_policy = global_policy
set_dtype_policy = set_global_policy


def get(identifier) -> DTypePolicy:
    """A DTypePolicy from None (the global policy), a name, a dtype, a policy or a Keras config dict."""
    if identifier is None:
        return global_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        cls = identifier.get("class_name")
        if cls not in ("DTypePolicy", "FloatDTypePolicy", "Policy"):
            raise ValueError(f"Unsupported dtype policy class {cls!r}; expected 'DTypePolicy'.")
        return DTypePolicy.from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        return DTypePolicy(identifier)
    return DTypePolicy(_standardize(identifier))


def serialize(policy: DTypePolicy) -> dict:
    """The Keras 3 config form of a policy (what `Layer.get_config()["dtype"]` holds)."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": policy.get_config(), "registered_name": None}


def is_float(dtype_name: str) -> bool:
    return dtype_name in _FLOATS
