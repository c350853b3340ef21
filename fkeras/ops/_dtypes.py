"""Keras 3's dtype rules, written once for every framework: names, `floatx`, `result_type`.

`result_type` follows Keras's type promotion lattice (the one `jnp.result_type` uses):
Python `int`/`float` are "weak" (they take the other operand's dtype when it can hold
them), ints meeting floats become floats, and 64-bit results are narrowed to 32 bits
(Keras's rule on the JAX and torch backends; fkeras computes as the JAX backend does).
"""

from __future__ import annotations

import functools

import numpy as np

BOOL_TYPES = ("bool",)
INT_TYPES = ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64")
FLOAT_TYPES = ("bfloat16", "float16", "float32", "float64")
COMPLEX_TYPES = ("complex64", "complex128")
FLOAT8_TYPES = ("float8_e4m3fn", "float8_e5m2")
ALLOWED_DTYPES = (*FLOAT_TYPES, *INT_TYPES, "bool", "string", *FLOAT8_TYPES, *COMPLEX_TYPES)
_PYTHON = {bool: "bool", int: "int32", float: "float32", str: "string", "int": "int32", complex: "complex64"}
_X64_OFF = {"int64": "int32", "uint64": "uint32", "float64": "float32", "complex128": "complex64"}

_state = {"floatx": "float32"}


def floatx() -> str:
    """The default float dtype name ("float32" unless `set_floatx` changed it)."""
    return _state["floatx"]


def set_floatx(value):
    """Set the default float dtype: one of "float16", "bfloat16", "float32", "float64"."""
    if value not in FLOAT_TYPES:
        raise ValueError(f"Unknown `floatx` value: {value}. Expected one of {set(FLOAT_TYPES)}")
    _state["floatx"] = str(value)


def standardize_dtype(dtype):
    """A dtype name ("float32") from a name, Python type, NumPy/JAX/torch/TF dtype; None -> floatx."""
    if dtype is None:
        return floatx()
    dtype = _PYTHON.get(dtype, dtype)
    if hasattr(dtype, "name"):
        dtype = dtype.name
    elif hasattr(dtype, "__name__"):
        dtype = dtype.__name__
    elif "torch" in str(dtype) or "jax.numpy" in str(dtype):
        dtype = str(dtype).split(".")[-1]
    if dtype not in ALLOWED_DTYPES:
        raise ValueError(f"Invalid dtype: {dtype}")
    return dtype


def is_float_dtype(dtype):
    dtype = standardize_dtype(dtype)
    return dtype.startswith("float") or dtype.startswith("bfloat")


def is_int_dtype(dtype):
    dtype = standardize_dtype(dtype)
    return dtype.startswith("int") or dtype.startswith("uint")


def _lattice():
    b1 = "bool"
    u1, u2, u4, u8, i1, i2, i4, i8 = INT_TYPES
    bf, f2, f4, f8 = FLOAT_TYPES
    c64, c128 = COMPLEX_TYPES
    return {
        b1: ["int"], u1: [i2, u2], u2: [i4, u4], u4: [i8, u8], u8: ["float"],
        "int": [u1, i1, c64], i1: [i2], i2: [i4], i4: [i8], i8: ["float"],
        "float": [bf, f2], bf: [f4], f2: [f4], f4: [f8, c64], f8: [c128], c64: [c128], c128: [],
    }


def _upper_bounds():
    lattice = _lattice()
    ub = {n: {n} for n in lattice}
    for n in lattice:
        while True:
            new = set().union(*(lattice[b] for b in ub[n]))
            if new <= ub[n]:
                break
            ub[n] |= new
    return ub


_UB = _upper_bounds()


@functools.lru_cache(512)
def _least_upper_bound(*nodes):
    nodes = set(nodes)
    common = set.intersection(*(_UB[n] for n in nodes))
    lub = (common & nodes) or {c for c in common if common <= _UB[c]}
    if len(lub) != 1:
        raise ValueError(
            f"Input dtypes {tuple(sorted(nodes))} have no available implicit dtype promotion path. "
            "Try explicitly casting inputs to the desired output type."
        )
    return lub.pop()


def _weak(dtype):
    if dtype == "bool":
        return dtype
    for kind in ("float", "int", "complex"):
        if kind in dtype:
            return "float" if kind == "float" else kind
    raise ValueError(f"Invalid dtype for type promotion: {dtype}")


def _resolve_weak(dtype, precision):
    if dtype == "bool":
        return "bool"
    head = "f" if dtype == "bfloat16" else dtype[:1]
    return {"i": f"int{precision}", "u": f"uint{precision}"}.get(head, f"float{precision}")


def result_type(*dtypes):
    """The dtype Keras gives an op combining `dtypes` (names, dtypes, or Python `int`/`float`/`bool`).

    `result_type()` is floatx; `None` entries count as floatx.
    """
    if not dtypes:
        return floatx()
    for d in dtypes:
        if isinstance(d, str) and d in FLOAT8_TYPES:
            raise ValueError(f"There is no implicit conversions from float8 dtypes to others. Received: {dtypes}")
    dtypes = [floatx() if d is None else d for d in dtypes]
    weak = [d is int or d is float for d in dtypes]
    names = [standardize_dtype(d) for d in dtypes]
    if len(names) == 1:
        out, out_weak = names[0], weak[0]
    elif len(set(names)) == 1 and not all(weak):
        out, out_weak = names[0], False
    elif all(weak):
        out, out_weak = _least_upper_bound(*set(names)), True
    else:
        out = _least_upper_bound(*{_weak(n) if w else n for n, w in zip(names, weak)})
        out_weak = out in ("int", "float")
    if out != "bool" and out_weak:
        out = _resolve_weak(out, floatx()[-2:])
    return _X64_OFF.get(out, out)


def dtype_of(x) -> object:
    """What `x` brings to `result_type`: its dtype name, or the Python type of a weak scalar."""
    if isinstance(x, bool):
        return bool
    if isinstance(x, int):
        return int
    if isinstance(x, float):
        return float
    if isinstance(x, complex):
        return "complex64"
    dt = getattr(x, "dtype", None)
    if dt is None:
        dt = np.asarray(x).dtype
    name = standardize_dtype(dt)
    return _X64_OFF.get(name, name) if isinstance(x, (np.ndarray, np.generic, list, tuple)) else name
