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

import re
import threading
from collections.abc import MutableMapping

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
        floats = (DTypePolicy, FloatDTypePolicy)
        if type(self) in floats:
            if type(other) not in floats:
                return False
        elif type(other) is not type(self):
            return False
        return other._name == self._name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        cls = "DTypePolicy" if type(self) is FloatDTypePolicy else type(self).__name__
        return f'<{cls} "{self._name}">'


Policy = DTypePolicy  # Keras 2 / `keras.mixed_precision.Policy` name


class FloatDTypePolicy(DTypePolicy):
    """Keras's alias of `DTypePolicy` (kept as a class so configs name it)."""


QUANTIZATION_MODES = ("int8", "float8", "int4", "gptq", "awq")


class QuantizedDTypePolicy(DTypePolicy):
    """A quantized layer's policy, named "<mode>_from_<source_name>" ("int8_from_float32"): `compute_dtype`
    and `variable_dtype` come from the float `source_name` policy; `quantization_mode` is `mode`."""

    def __init__(self, mode, source_name=None):
        if source_name is None:
            source_name = global_policy().name
        float_policy = DTypePolicy(source_name)
        if mode not in QUANTIZATION_MODES:
            raise ValueError(f"Invalid quantization mode. Expected one of {QUANTIZATION_MODES}. Received: mode={mode}")
        if float_policy.compute_dtype == "float16" and mode == "int8":
            raise ValueError(f"Quantization mode='{mode}' doesn't work well with compute_dtype='float16'.")
        self._compute_dtype, self._variable_dtype = float_policy.compute_dtype, float_policy.variable_dtype
        self._name = f"{mode}_from_{source_name}"
        self._source_name = source_name
        self._quantization_mode = mode

    @property
    def quantization_mode(self):
        return self._quantization_mode

    def __eq__(self, other):
        return (super().__eq__(other) and self._quantization_mode == other._quantization_mode
                and self._source_name == other._source_name)

    __hash__ = DTypePolicy.__hash__

    def get_config(self):
        return {"mode": self._quantization_mode, "source_name": self._source_name}


class QuantizedFloat8DTypePolicy(QuantizedDTypePolicy):
    """float8 training policy; `amax_history_length` is the delayed-scaling window."""

    default_amax_history_length = 1024

    def __init__(self, mode, source_name=None, amax_history_length=1024):
        super().__init__(mode=mode, source_name=source_name)
        if not isinstance(amax_history_length, int):
            raise TypeError(f"`amax_history_length` must be an integer. Received: "
                            f"amax_history_length={amax_history_length}")
        self._amax_history_length = amax_history_length

    @property
    def amax_history_length(self):
        return self._amax_history_length

    def __eq__(self, other):
        return super().__eq__(other) and self._amax_history_length == other._amax_history_length

    __hash__ = DTypePolicy.__hash__

    def get_config(self):
        return {**super().get_config(), "amax_history_length": self._amax_history_length}


def _parse_mode(cls_name, mode, base, n_ints, fmt):
    parts = mode.split("/") if isinstance(mode, str) else []
    if len(parts) != n_ints + 1 or parts[0] != base:
        raise ValueError(f"Invalid mode for {cls_name}. Expected format {fmt}, but got '{mode}'.")
    try:
        return [int(p) for p in parts[1:]]
    except ValueError:
        raise ValueError(f"Invalid mode for {cls_name}. The numbers must be integers. Expected format {fmt}, "
                         f"but got '{mode}'.") from None


def _check_group(name, size, mode, meaning):
    if size < -1 or size == 0:
        raise ValueError(f"Invalid {name} in mode. Supported values are -1 ({meaning}) or a positive integer"
                         f"{' (sub-channel)' if name == 'block_size' else ''}, but got {size} from '{mode}'.")


class Int4DTypePolicy(QuantizedDTypePolicy):
    """int4 policy with a block size: mode "int4/<block_size>" (-1: per channel)."""

    def __init__(self, mode, source_name=None):
        (block_size,) = _parse_mode("Int4DTypePolicy", mode, "int4", 1, "'int4/<block_size>'")
        _check_group("block_size", block_size, mode, "per-channel")
        super().__init__(mode="int4", source_name=source_name)
        self._name = f"{mode}_from_{self._source_name}"
        self.mode, self.block_size = "int4", block_size

    def __eq__(self, other):
        return super().__eq__(other) and self.block_size == other.block_size

    __hash__ = DTypePolicy.__hash__

    def get_config(self):
        return {**super().get_config(), "mode": f"int4/{self.block_size}"}


class GPTQDTypePolicy(QuantizedDTypePolicy):
    """GPTQ policy: mode "gptq/<weight_bits>/<group_size>" (bits 2, 3, 4 or 8; group -1: whole tensor)."""

    _base, _bits = "gptq", (2, 3, 4, 8)

    def __init__(self, mode, source_name=None):
        cls_name, base = type(self).__name__, self._base
        weight_bits, group_size = _parse_mode(cls_name, mode, base, 2, f"'{base}/<weight_bits>/<group_size>'")
        if weight_bits not in self._bits:
            raise ValueError(f"Invalid weight_bits in mode. Supported values are {self._bits}, but got "
                             f"{weight_bits} from '{mode}'.")
        _check_group("group_size", group_size, mode, "whole-tensor" if base == "gptq" else "per-channel")
        super().__init__(mode=base, source_name=source_name)
        self._name = f"{mode}_from_{self._source_name}"
        self.mode, self.weight_bits, self.group_size = base, weight_bits, group_size

    def __eq__(self, other):
        return (super().__eq__(other) and self.weight_bits == other.weight_bits
                and self.group_size == other.group_size)

    __hash__ = DTypePolicy.__hash__

    def get_config(self):
        return {**super().get_config(), "mode": f"{self.mode}/{self.weight_bits}/{self.group_size}"}


class AWQDTypePolicy(GPTQDTypePolicy):
    """AWQ policy: mode "awq/4/<group_size>" (4-bit only; group -1: per channel)."""

    _base, _bits = "awq", (4,)


def _quantized_by_str(policy: str) -> QuantizedDTypePolicy:
    """"int8_from_float32", "int4/128_from_float32", "gptq/4/128_from_float32", ... as a policy object."""
    parts = policy.split("_from_")
    if len(parts) != 2:
        raise ValueError("Cannot convert `policy` into a valid pair (`mode`, `source_name`) to instantiate "
                         f"`QuantizedDTypePolicy`. Received: policy={policy}")
    mode, source = parts
    if mode.startswith("int4") and "/" in mode:
        return Int4DTypePolicy(mode, source)
    if mode.startswith("gptq"):
        return GPTQDTypePolicy(mode, source)
    if mode.startswith("awq"):
        return AWQDTypePolicy(mode, source)
    if mode.startswith("float8"):
        return QuantizedFloat8DTypePolicy(mode, source)
    return QuantizedDTypePolicy(mode, source)


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


class DTypePolicyMap(DTypePolicy, MutableMapping):
    """Per-layer policies by path: `map["dense/kernel"]`-style keys (exact, else one `re.fullmatch` pattern),
    falling back to `default_policy` (None: the global policy). Its own dtypes are the default's."""

    def __init__(self, default_policy=None, policy_map=None):
        if isinstance(default_policy, DTypePolicyMap):
            raise ValueError("`default_policy` cannot be a `DTypePolicyMap`.")
        if policy_map is not None and not isinstance(policy_map, dict):
            raise TypeError(f"If specified, `policy_map` must be a dict. Received: policy_map={policy_map} of type "
                            f"{type(policy_map)}")
        self._default_policy_arg = default_policy
        self._default_policy = get(default_policy)
        self._policy_map = policy_map or {}

    @property
    def name(self):
        return f"map_{self.default_policy._name}"

    @property
    def default_policy(self):
        return get(self._default_policy)

    @property
    def variable_dtype(self):
        return self.default_policy.variable_dtype

    @property
    def compute_dtype(self):
        return self.default_policy.compute_dtype

    @property
    def quantization_mode(self):
        return self.default_policy.quantization_mode

    def __getitem__(self, key):
        if key in self._policy_map:
            return self._policy_map[key]
        matches = [p for p in self._policy_map if re.fullmatch(p, key)]
        if len(matches) > 1:
            raise ValueError(f"Path '{key}' matches multiple dtype policy specification keys: {matches}. Please make "
                             "sure each path only matches at most one dtype policy specification key in the "
                             "DTypePolicyMap.")
        return self._policy_map[matches[0]] if matches else self.default_policy

    def __setitem__(self, key, policy):
        if key in self._policy_map:
            raise ValueError(f"{key} already exist in the DTypePolicyMap with value {self._policy_map[key]}. Please "
                             "make sure to not use duplicated keys.")
        try:
            policy = get(policy)
        except Exception:
            raise ValueError("Cannot interpret the assigned value by `keras.dtype_policies.get`. "
                             f"Received: {policy} of type {type(policy)}") from None
        self._policy_map[key] = policy

    def __delitem__(self, key):
        return self._policy_map.pop(key)

    def __contains__(self, key):
        return key in self._policy_map

    def __len__(self):
        return len(self._policy_map)

    def __iter__(self):
        return iter(self._policy_map)

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def get_config(self):
        entries = {}
        for key, policy in self._policy_map.items():
            entry = serialize(policy)
            if self._default_policy_arg is None:  # as Keras: entries follow the (global) default's source dtype
                entry["config"] = {**entry["config"], **({"source_name": None}
                                                          if isinstance(policy, QuantizedDTypePolicy)
                                                          else {"name": None})}
            entries[key] = entry
        return {"default_policy": self._default_policy_arg, "policy_map": entries}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        entries = {k: deserialize(v, custom_objects) for k, v in (config.get("policy_map") or {}).items()}
        return cls(default_policy=config.get("default_policy"), policy_map=entries)

    def __repr__(self):
        mapping = [(k, v.name) for k, v in self._policy_map.items()]
        return (f"<DTypePolicyMap at {hex(id(self))} default_policy={self._default_policy.name}, "
                f"mapping={mapping}>")


_CLASSES = (DTypePolicy, FloatDTypePolicy, QuantizedDTypePolicy, QuantizedFloat8DTypePolicy, Int4DTypePolicy,
            GPTQDTypePolicy, AWQDTypePolicy, DTypePolicyMap)
_BY_NAME = {c.__name__: c for c in _CLASSES} | {"Policy": DTypePolicy}


def get(identifier) -> DTypePolicy:
    """A DTypePolicy from None (the global policy), a name ("mixed_bfloat16", "int8_from_float32"), a dtype,
    a policy or a Keras config dict."""
    if identifier is None:
        return global_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier.startswith(QUANTIZATION_MODES):
            return _quantized_by_str(identifier)
        return DTypePolicy(identifier)
    try:
        return DTypePolicy(_standardize(identifier))
    except (ValueError, TypeError):
        raise ValueError("Cannot interpret `dtype` argument. Expected a string or an instance of DTypePolicy. "
                         f"Received: dtype={identifier}") from None


def serialize(dtype_policy) -> dict:
    """The Keras 3 config form of a policy (what `Layer.get_config()["dtype"]` holds)."""
    cls = type(dtype_policy).__name__
    return {"module": "keras" if cls in ("DTypePolicy", "FloatDTypePolicy") else "keras.dtype_policies",
            "class_name": cls, "config": dtype_policy.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None) -> DTypePolicy:
    """A policy from its `serialize` form."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"dtype_policies.deserialize: expected a dict with 'class_name' and 'config', got {config!r}.")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name)
    if cls is None:
        raise ValueError(f"Unsupported dtype policy class {name!r}; expected one of {sorted(_BY_NAME)}.")
    return cls.from_config(config.get("config") or {})


def is_float(dtype_name: str) -> bool:
    return dtype_name in _FLOATS
