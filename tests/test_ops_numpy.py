"""The NumPy family of fkeras.ops (`fkeras.ops.numpy`, issue 14 part A) against Keras 3.15 and across frameworks.

- every `keras.ops.numpy` name exists in `fkeras.ops.numpy` and `fkeras.ops` with Keras's signature;
- each case of `NUMPY_CASES` equals `keras.ops` on the JAX backend: values AND dtypes;
- the same cases on torch tensors and TF tensors equal JAX (values and dtypes), gradients of the
  differentiable ones too (d/d(args) of sum(op(args) * cotangent));
- `fkeras.backend.result_type` equals `keras.backend.result_type` on every dtype pair;
- one case per op traces under `jax.jit`; bad input raises Keras's exception types on every framework.
Tolerance: rtol=atol=1e-5 unless a case states another (1e-4 for sums of products).
"""

from __future__ import annotations

import inspect
import itertools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import fkeras.ops as fops  # noqa: E402
from fkeras.ops._dispatch import backend  # noqa: E402
from test_ops_jax import Case, _b, _f, _i, _pos, assert_same, to_framework  # noqa: E402

NAN = np.array([[1.0, np.nan, -2.0], [np.inf, 0.5, -np.inf]], np.float32)
NAN_ONLY = np.array([[1.0, np.nan, -2.0], [3.0, 0.5, np.nan]], np.float32)  # NaN, no inf


def _unit(r, *shape):
    return r.uniform(-0.9, 0.9, shape).astype(np.float32)


def _big(r, *shape):
    return r.uniform(1.1, 3.0, shape).astype(np.float32)


def _e(*shape):
    return np.zeros(shape, np.float32)


C = Case
_UNARY_FLOAT = {  # op -> a float input in its domain
    "arccos": _unit, "arcsin": _unit, "arctanh": _unit, "arccosh": _big, "arcsinh": _f, "arctan": _f,
    "cos": _f, "cosh": _f, "sin": _f, "sinh": _f, "tan": _unit, "exp2": _f, "expm1": _f, "log10": _pos,
    "log2": _pos, "cbrt": _f, "deg2rad": _f, "rad2deg": _f, "i0": _f, "sinc": _f, "ceil": _f, "reciprocal": _pos,
    "fabs": _f, "angle": _f,
}
NUMPY_CASES = []
for _n, _gen in _UNARY_FLOAT.items():
    _grad = () if _n in ("ceil", "angle") else (0,)
    NUMPY_CASES.append(C(_n, _n, lambda r, g=_gen: (g(r, 3, 4),), grad=_grad))
    if _n not in ("arccosh",):
        NUMPY_CASES.append(C(f"{_n}_int", _n, lambda r: (_i(r, 2, 5),)))
NUMPY_CASES += [
    C("cos_bool", "cos", lambda r: (_b(r, 4),)),
    C("sin_empty", "sin", lambda r: (_e(0, 3),)),
    C("log2_nan_inf", "log2", lambda r: (np.abs(NAN),)),
    C("sinc_zero", "sinc", lambda r: (np.array([0.0, 0.5, -1.0], np.float32),)),
]
for _n in ("absolute", "trunc", "conj", "conjugate", "real", "imag", "copy", "ravel", "fliplr", "flipud"):
    NUMPY_CASES += [C(_n, _n, lambda r: (3 * _f(r, 3, 4),), grad=() if _n in ("trunc", "imag") else (0,)),
                    C(f"{_n}_int", _n, lambda r: (_i(r, 5, 2, 3) - 2,))]
NUMPY_CASES += [
    C("ravel_empty", "ravel", lambda r: (_e(2, 0),)),
    C("trunc_bool", "trunc", lambda r: (_b(r, 5),)),
    C("bitwise_invert", "bitwise_invert", lambda r: (_i(r, 9, 2, 3) - 4,)),
    C("bitwise_not_bool", "bitwise_not", lambda r: (_b(r, 5),)),
]
for _n in ("isfinite", "isinf", "isnan", "isneginf", "isposinf", "isreal", "signbit"):
    NUMPY_CASES += [C(_n, _n, lambda r: (NAN,)), C(f"{_n}_int", _n, lambda r: (_i(r, 3, 4) - 1,))]
NUMPY_CASES.append(C("signbit_negzero", "signbit", lambda r: (np.array([0.0, -0.0, -1.0], np.float32),)))

for _n, _g in {"arctan2": _f, "hypot": _f, "logaddexp": _f, "logaddexp2": _f, "true_divide": _pos,
               "fmax": _f, "fmin": _f, "heaviside": _f, "floor_divide": _pos, "mod": _pos, "fmod": _pos,
               "divide_no_nan": _f, "kron": _f, "outer": _f, "inner": _f, "vdot": _f, "nextafter": _f}.items():
    _diff = () if _n in ("heaviside", "floor_divide", "nextafter") else (0, 1)
    _shapes = {"kron": ((2, 2), (2, 3)), "outer": ((3,), (2, 2)), "inner": ((2, 3), (4, 3)),
               "vdot": ((2, 3), (3, 2))}.get(_n, ((3, 4), (4,)))
    NUMPY_CASES.append(C(_n, _n, lambda r, g=_g, s=_shapes: (3 * _f(r, *s[0]), g(r, *s[1])), grad=_diff))
    NUMPY_CASES.append(C(f"{_n}_int", _n, lambda r, s=_shapes: (_i(r, 7, *s[0]) - 3, _i(r, 3, *s[1]) + 1)))
NUMPY_CASES += [
    C("arctan2_scalar", "arctan2", lambda r: (_f(r, 3), 2.0)),
    C("hypot_int_float", "hypot", lambda r: (_i(r, 5, 3), _f(r, 3))),
    C("fmax_nan", "fmax", lambda r: (NAN, NAN_ONLY)),
    C("fmin_nan", "fmin", lambda r: (NAN_ONLY, NAN)),
    C("mod_negative", "mod", lambda r: (np.array([-5, 5, -7, 7], np.int32), np.array([3, -3, 2, -2], np.int32))),
    C("fmod_negative", "fmod", lambda r: (np.array([-5.0, 5.0, -7.5], np.float32), 2.0)),
    C("divide_no_nan_zero", "divide_no_nan", lambda r: (_f(r, 4), np.array([0.0, 2.0, 0.0, -1.0], np.float32)),
      grad=(0,)),
    C("heaviside_zero", "heaviside", lambda r: (np.array([-1.0, 0.0, 2.0], np.float32), 0.5)),
    C("gcd", "gcd", lambda r: (np.array([12, -18, 0, 7], np.int32), np.array([8, 12, 5, 0], np.int32))),
    C("lcm", "lcm", lambda r: (np.array([4, -6, 0, 7], np.int32), np.array([6, 4, 5, 3], np.int32))),
    C("bitwise_and", "bitwise_and", lambda r: (_i(r, 16, 3, 4), _i(r, 16, 4))),
    C("bitwise_or", "bitwise_or", lambda r: (_i(r, 16, 3, 4), 5)),
    C("bitwise_xor_bool", "bitwise_xor", lambda r: (_b(r, 5), _b(r, 5))),
    C("bitwise_left_shift", "bitwise_left_shift", lambda r: (_i(r, 16, 5), _i(r, 4, 5))),
    C("left_shift", "left_shift", lambda r: (_i(r, 16, 5), 2)),
    C("bitwise_right_shift", "bitwise_right_shift", lambda r: (_i(r, 64, 5) - 32, _i(r, 4, 5))),
    C("right_shift", "right_shift", lambda r: (_i(r, 64, 5), 1)),
    C("logical_xor", "logical_xor", lambda r: (_b(r, 3, 4), _b(r, 4))),
    C("logical_xor_float", "logical_xor", lambda r: (_i(r, 2, 4).astype(np.float32), _i(r, 2, 4))),
    C("ldexp", "ldexp", lambda r: (_f(r, 4), _i(r, 5, 4) - 2)),
    C("isclose", "isclose", lambda r: (np.array([1.0, 1.0001, np.nan, 2.0], np.float32),
                                       np.array([1.0, 1.0, np.nan, 2.1], np.float32))),
    C("isclose_equal_nan", "isclose", lambda r: (NAN, NAN_ONLY), {"equal_nan": True, "atol": 0.1}),
    C("isclose_int", "isclose", lambda r: (_i(r, 3, 5), _i(r, 3, 5))),
    C("allclose", "allclose", lambda r: (np.ones(3, np.float32), np.ones(3, np.float32) + 1e-7)),
    C("allclose_false", "allclose", lambda r: (np.ones(3, np.float32), np.full(3, 2.0, np.float32))),
    C("tensordot", "tensordot", lambda r: (_f(r, 2, 3, 4), _f(r, 3, 4, 5)), grad=(0, 1), tol=1e-4),
    C("tensordot_axes", "tensordot", lambda r: (_f(r, 2, 3), _f(r, 3, 4)), {"axes": [[1], [0]]}, grad=(0, 1)),
    C("tensordot_int", "tensordot", lambda r: (_i(r, 3, 2, 3), _i(r, 3, 3, 2)), {"axes": 1}),
    C("cross", "cross", lambda r: (_f(r, 4, 3), _f(r, 3)), grad=(0, 1)),
    C("cross_2d", "cross", lambda r: (_f(r, 2, 2), _f(r, 2, 2))),
    C("cross_axis", "cross", lambda r: (_f(r, 3, 2), _f(r, 3, 2)), {"axis": 0}),
    C("append_flat", "append", lambda r: (_f(r, 2, 3), _f(r, 2))),
    C("append_axis", "append", lambda r: (_f(r, 2, 3), _i(r, 3, 1, 3)), {"axis": 0}),
    C("append_empty", "append", lambda r: (_e(0), _f(r, 2))),
    # --- reductions
    C("amax", "amax", lambda r: (_f(r, 3, 4),), {"axis": -1}, grad=(0,)),
    C("amax_keep_tuple", "amax", lambda r: (_f(r, 2, 3, 4),), {"axis": (0, 2), "keepdims": True}),
    C("amin_int", "amin", lambda r: (_i(r, 9, 3, 4),), {"axis": 0}),
    C("amin_bool", "amin", lambda r: (_b(r, 3, 4),)),
    C("ptp", "ptp", lambda r: (_f(r, 3, 4),), {"axis": 1}, grad=(0,)),
    C("ptp_int_keep", "ptp", lambda r: (_i(r, 9, 3, 4),), {"keepdims": True}),
    C("count_nonzero", "count_nonzero", lambda r: (_i(r, 3, 3, 4),)),
    C("count_nonzero_axis", "count_nonzero", lambda r: (_f(r, 3, 4) * _b(r, 3, 4),), {"axis": (0, -1)}),
    C("count_nonzero_bool", "count_nonzero", lambda r: (_b(r, 3, 4),), {"axis": 1}),
    C("average", "average", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("average_weights", "average", lambda r: (_f(r, 3, 4),),
      {"axis": 1, "weights": np.arange(1, 5, dtype=np.float32)}),
    C("average_weights_full", "average", lambda r: (_f(r, 3, 4), 0, _pos(r, 3, 4)), grad=(0, 2)),
    C("average_int", "average", lambda r: (_i(r, 9, 3, 4),), {"axis": 0}),
    C("cumprod", "cumprod", lambda r: (_pos(r, 3, 4),), {"axis": 1}, grad=(0,)),
    C("cumprod_flat_int", "cumprod", lambda r: (_i(r, 3, 2, 3) + 1,)),
    C("cumprod_bool", "cumprod", lambda r: (_b(r, 5),)),
    C("cumprod_dtype", "cumprod", lambda r: (_i(r, 3, 2, 3),), {"axis": 0, "dtype": "float32"}),
    C("trace", "trace", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("trace_offset_axes", "trace", lambda r: (_f(r, 2, 3, 4),), {"offset": -1, "axis1": 1, "axis2": 2}),
    C("trace_int", "trace", lambda r: (_i(r, 5, 3, 3),)),
    C("median", "median", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("median_axis_keep", "median", lambda r: (_f(r, 3, 5),), {"axis": -1, "keepdims": True}),
    C("median_int", "median", lambda r: (_i(r, 9, 4, 4),), {"axis": 0}),
    C("quantile", "quantile", lambda r: (_f(r, 3, 5), 0.3), {"axis": 1}, grad=(0,)),
    C("quantile_vector_q", "quantile", lambda r: (_f(r, 3, 5), np.array([0.1, 0.5, 0.9], np.float32))),
    C("quantile_methods_keep", "quantile", lambda r: (_f(r, 4, 5), 0.4), {"axis": 0, "method": "nearest",
                                                                         "keepdims": True}),
    C("quantile_lower", "quantile", lambda r: (_f(r, 6), 0.45), {"method": "lower"}),
    C("quantile_higher", "quantile", lambda r: (_f(r, 6), 0.45), {"method": "higher"}),
    C("quantile_midpoint", "quantile", lambda r: (_f(r, 6), 0.45), {"method": "midpoint"}),
    C("percentile", "percentile", lambda r: (_f(r, 3, 5), 30.0), {"axis": 1}),
    C("percentile_int", "percentile", lambda r: (_i(r, 9, 7), np.array([25.0, 75.0], np.float32))),
]
for _n in ("nanmax", "nanmin", "nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmedian",
           "nanargmax", "nanargmin"):
    NUMPY_CASES += [
        C(_n, _n, lambda r: (NAN_ONLY,)),
        C(f"{_n}_axis", _n, lambda r: (NAN_ONLY,), {"axis": 1}),
        C(f"{_n}_keep", _n, lambda r: (NAN_ONLY,), {"axis": 0, "keepdims": True}),
        C(f"{_n}_int", _n, lambda r: (_i(r, 9, 3, 4),), {"axis": -1}),
        C(f"{_n}_plain", _n, lambda r: (_f(r, 3, 4),), {"axis": 0},
          grad=(0,) if _n not in ("nanargmax", "nanargmin") else ()),
    ]
for _n in ("nanquantile", "nanpercentile"):
    q = 0.3 if _n == "nanquantile" else 30.0
    NUMPY_CASES += [C(_n, _n, lambda r, q=q: (NAN_ONLY, q), {"axis": 1}),
                    C(f"{_n}_all", _n, lambda r, q=q: (NAN_ONLY, q))]
for _n in ("nancumsum", "nancumprod"):
    NUMPY_CASES += [C(_n, _n, lambda r: (NAN_ONLY,), {"axis": 1}), C(f"{_n}_flat", _n, lambda r: (NAN_ONLY,)),
                    C(f"{_n}_int", _n, lambda r: (_i(r, 3, 3, 4),), {"axis": 0})]
NUMPY_CASES += [
    # --- creation (no array arguments: they run on JAX through fkeras.ops; backends are called directly)
    C("empty_shape", "empty", lambda r: ((2, 3),), creation=True),  # empty: shape and dtype compared below
    C("empty_int", "empty", lambda r: ((2,),), {"dtype": "int32"}, creation=True),
    C("arange_default_step", "arange", lambda r: (1.5, 4.0), creation=True),
    C("arange_stop_only", "arange", lambda r: (4,), creation=True),
    C("eye", "eye", lambda r: (3,), creation=True),
    C("eye_rect_k", "eye", lambda r: (3, 4, 1), creation=True),
    C("eye_int", "eye", lambda r: (2,), {"k": -1, "dtype": "int32"}, creation=True),
    C("identity", "identity", lambda r: (3,), creation=True),
    C("identity_bool", "identity", lambda r: (2,), {"dtype": "bool"}, creation=True),
    C("tri", "tri", lambda r: (3,), creation=True),
    C("tri_rect", "tri", lambda r: (3, 5, -1), {"dtype": "int32"}, creation=True),
    C("linspace", "linspace", lambda r: (0.0, 1.0, 5), creation=True),
    C("linspace_no_endpoint", "linspace", lambda r: (-1.0, 2.0, 4), {"endpoint": False}, creation=True),
    C("linspace_retstep", "linspace", lambda r: (0, 10, 6), {"retstep": True}, creation=True),
    C("linspace_int_dtype", "linspace", lambda r: (0, 10, 4), {"dtype": "int32"}, creation=True),
    C("linspace_array", "linspace", lambda r: (np.array([0.0, 1.0], np.float32), np.array([1.0, 3.0], np.float32),
                                               3), {"axis": 1}),
    C("logspace", "logspace", lambda r: (0.0, 2.0, 3), creation=True),
    C("logspace_base", "logspace", lambda r: (1.0, 3.0, 4), {"base": 2, "endpoint": False}, creation=True),
    C("geomspace", "geomspace", lambda r: (1.0, 1000.0, 4), creation=True, tol=1e-4),
    C("array", "array", lambda r: (_f(r, 2, 3),)),
    C("array_int", "array", lambda r: (_i(r, 3, 4),), {"dtype": "float32"}),
    C("bartlett", "bartlett", lambda r: (5,), creation=True),
    C("blackman", "blackman", lambda r: (6,), creation=True),
    C("hamming", "hamming", lambda r: (5,), creation=True),
    C("hanning", "hanning", lambda r: (6,), creation=True),
    C("kaiser", "kaiser", lambda r: (7, 5.0), creation=True),
    C("hanning_one", "hanning", lambda r: (1,), creation=True),
    C("meshgrid", "meshgrid", lambda r: (_f(r, 3), _f(r, 2))),
    C("meshgrid_ij", "meshgrid", lambda r: (_i(r, 4, 3), _i(r, 4, 2), _i(r, 4, 4)), {"indexing": "ij"}),
    C("vander", "vander", lambda r: (_f(r, 4),)),
    C("vander_n_increasing", "vander", lambda r: (_i(r, 4, 3),), {"N": 4, "increasing": True}),
    C("empty_like", "zeros_like", lambda r: (_f(r, 2, 3),)),  # stand-in: empty_like's values are unspecified
    C("full_like", "full_like", lambda r: (_f(r, 2, 3), 2.5)),
    C("full_like_int", "full_like", lambda r: (_i(r, 3, 2, 3), 7)),
    C("full_like_dtype", "full_like", lambda r: (_i(r, 3, 2, 3), 1.5), {"dtype": "float32"}),
    # --- shape manipulation
    C("moveaxis", "moveaxis", lambda r: (_f(r, 2, 3, 4), 0, -1), grad=(0,)),
    C("moveaxis_multi", "moveaxis", lambda r: (_f(r, 2, 3, 4), [0, 1], [2, 0])),
    C("swapaxes", "swapaxes", lambda r: (_f(r, 2, 3, 4), 0, 2), grad=(0,)),
    C("roll", "roll", lambda r: (_f(r, 3, 4), 1), {"axis": 1}, grad=(0,)),
    C("roll_flat_negative", "roll", lambda r: (_i(r, 9, 3, 4), -5)),
    C("roll_multi", "roll", lambda r: (_f(r, 3, 4), (1, -2)), {"axis": (0, 1)}),
    C("rot90", "rot90", lambda r: (_f(r, 2, 3),), grad=(0,)),
    C("rot90_k3_axes", "rot90", lambda r: (_f(r, 2, 3, 4),), {"k": 3, "axes": (1, 2)}),
    C("rot90_negative_k", "rot90", lambda r: (_i(r, 9, 2, 3),), {"k": -1}),
    C("diag_vector", "diag", lambda r: (_f(r, 3),), {"k": 1}, grad=(0,)),
    C("diag_matrix", "diag", lambda r: (_f(r, 3, 4),), {"k": -1}, grad=(0,)),
    C("diagflat", "diagflat", lambda r: (_f(r, 2, 2),), grad=(0,)),
    C("diagflat_k", "diagflat", lambda r: (_i(r, 5, 3),), {"k": -2}),
    C("diagonal", "diagonal", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("diagonal_axes", "diagonal", lambda r: (_f(r, 2, 3, 4),), {"offset": 1, "axis1": 2, "axis2": 1}),
    C("tril", "tril", lambda r: (_f(r, 3, 4),), grad=(0,)),
    C("tril_batched_k", "tril", lambda r: (_i(r, 9, 2, 3, 3),), {"k": -1}),
    C("triu", "triu", lambda r: (_f(r, 4, 3),), {"k": 1}, grad=(0,)),
    C("triu_bool", "triu", lambda r: (_b(r, 3, 3),)),
    C("diff", "diff", lambda r: (_f(r, 3, 5),), grad=(0,)),
    C("diff_n2_axis0", "diff", lambda r: (_i(r, 9, 4, 3),), {"n": 2, "axis": 0}),
    C("diff_bool", "diff", lambda r: (_b(r, 5),)),
    C("array_split", "array_split", lambda r: (_f(r, 7, 2), 3)),
    C("array_split_axis", "array_split", lambda r: (_f(r, 2, 5), 2), {"axis": 1}),
    C("array_split_int", "array_split", lambda r: (_i(r, 9, 5), 4)),
    C("hsplit", "hsplit", lambda r: (_f(r, 2, 4), 2)),
    C("hsplit_1d", "hsplit", lambda r: (_f(r, 6), [2, 3])),
    C("vsplit", "vsplit", lambda r: (_f(r, 4, 2), 2)),
    C("dsplit", "dsplit", lambda r: (_f(r, 1, 2, 4), [1])),
    C("hstack", "hstack", lambda r: ([_f(r, 2, 3), _f(r, 2, 1)],)),
    C("hstack_1d", "hstack", lambda r: ([_f(r, 2), _f(r, 3)],)),
    C("vstack", "vstack", lambda r: ([_f(r, 3), _f(r, 2, 3)],)),
    C("dstack", "dstack", lambda r: ([_f(r, 2, 3), _f(r, 2, 3)],)),
    C("get_item_int", "get_item", lambda r: (_f(r, 3, 4), 1)),
    C("get_item_slices", "get_item", lambda r: (_f(r, 3, 4), (slice(None), slice(1, 3)))),
    C("get_item_negative", "get_item", lambda r: (_i(r, 9, 3, 4), (-1, -2))),
    C("nonzero", "nonzero", lambda r: (_i(r, 2, 3, 4),)),
    C("nonzero_1d", "nonzero", lambda r: (_f(r, 6) * _b(r, 6),)),
    C("unravel_index", "unravel_index", lambda r: (np.array([0, 5, 11], np.int32), (3, 4))),
    C("argsort", "argsort", lambda r: (_f(r, 3, 4),)),
    C("argsort_axis0", "argsort", lambda r: (_f(r, 3, 4),), {"axis": 0}),
    C("argsort_ties", "argsort", lambda r: (np.array([2, 1, 2, 1, 0], np.int32),)),
    C("argsort_bool", "argsort", lambda r: (_b(r, 6),)),
    C("select", "select", lambda r: ([_b(r, 5), _b(r, 5)], [_f(r, 5), _f(r, 5)])),
    C("select_default", "select", lambda r: ([_b(r, 2, 3)], [_f(r, 2, 3)]), {"default": -1.0}),
    C("nan_to_num", "nan_to_num", lambda r: (NAN,)),
    C("nan_to_num_values", "nan_to_num", lambda r: (NAN,), {"nan": -1.0, "posinf": 9.0, "neginf": -9.0}),
    C("nan_to_num_int", "nan_to_num", lambda r: (_i(r, 3, 4),)),
    C("isin", "isin", lambda r: (_i(r, 6, 3, 4), np.array([1, 3, 7], np.int32))),
    C("isin_invert", "isin", lambda r: (_i(r, 6, 5), np.array([[0, 2]], np.int32)), {"invert": True}),
    C("isin_float", "isin", lambda r: (np.array([1.0, 2.5, np.nan], np.float32), np.array([2.5, 3.0], np.float32))),
    # --- hand-written (semantics differ between frameworks)
    C("searchsorted", "searchsorted", lambda r: (np.array([1.0, 2.0, 2.0, 5.0], np.float32),
                                                 np.array([[0.0, 2.0], [3.0, 9.0]], np.float32))),
    C("searchsorted_right", "searchsorted", lambda r: (np.array([1, 2, 2, 5], np.int32),
                                                       np.array([2, 5, 0], np.int32)), {"side": "right"}),
    C("digitize", "digitize", lambda r: (np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 7.0], np.float32),
                                         np.array([0.0, 1.0, 2.0], np.float32))),
    C("digitize_int", "digitize", lambda r: (_i(r, 9, 2, 3), np.array([2, 4, 6], np.int32))),
    C("bincount", "bincount", lambda r: (np.array([0, 1, 1, 3, 1], np.int32),)),
    C("bincount_weights_minlength", "bincount", lambda r: (np.array([0, 1, 1, 3], np.int32),),
      {"weights": np.array([0.5, 1.0, 2.0, 0.25], np.float32), "minlength": 6}),
    C("bincount_2d", "bincount", lambda r: (np.array([[0, 1, 2], [2, 1, 2]], np.int32),)),
    C("histogram", "histogram", lambda r: (np.array([0.0, 0.1, 0.5, 0.5, 0.9, 1.0], np.float32),),
      {"bins": 4}),
    C("histogram_range", "histogram", lambda r: (_f(r, 20),), {"bins": 3, "range": (-1.0, 1.0)}),
    C("unique", "unique", lambda r: (np.array([3, 1, 2, 3, 1, 0], np.int32),)),
    C("unique_all", "unique", lambda r: (np.array([[3, 1], [2, 3], [1, 0]], np.int32),),
      {"return_index": True, "return_inverse": True, "return_counts": True}),
    C("unique_float_counts", "unique", lambda r: (np.array([0.5, -1.0, 0.5, 2.0], np.float32),),
      {"return_counts": True}),
    C("unique_size", "unique", lambda r: (np.array([3, 1, 3], np.int32),), {"size": 4, "fill_value": -1}),
    C("correlate", "correlate", lambda r: (_f(r, 5), _f(r, 3)), grad=(0, 1)),
    C("correlate_same", "correlate", lambda r: (_f(r, 5), _f(r, 2)), {"mode": "same"}),
    C("correlate_full", "correlate", lambda r: (_f(r, 3), _f(r, 4)), {"mode": "full"}),
    C("correlate_int", "correlate", lambda r: (_i(r, 4, 5), _i(r, 4, 3))),
    C("corrcoef", "corrcoef", lambda r: (_f(r, 3, 6),), grad=(0,), tol=1e-4),
    C("corrcoef_int", "corrcoef", lambda r: (_i(r, 9, 2, 5),), tol=1e-4),
    C("trapezoid", "trapezoid", lambda r: (_f(r, 3, 5),), grad=(0,)),
    C("trapezoid_x", "trapezoid", lambda r: (_f(r, 5), np.array([0.0, 0.5, 1.5, 2.0, 4.0], np.float32)), grad=(0,)),
    C("trapezoid_dx_axis", "trapezoid", lambda r: (_i(r, 5, 3, 4),), {"dx": 0.5, "axis": 0}),
    C("slogdet", "slogdet", lambda r: (_f(r, 3, 3),), grad=(0,), tol=1e-4),
    C("slogdet_batched", "slogdet", lambda r: (_f(r, 2, 2, 2),), tol=1e-4),
    C("view_int", "view", lambda r: (_f(r, 2, 3), "int32")),
    C("view_narrow", "view", lambda r: (_i(r, 300, 2, 2), "uint8")),
]
NUMPY_BY_ID = {c.id: c for c in NUMPY_CASES}
NUMPY_COVERED = {c.op for c in NUMPY_CASES} | {"empty_like", "argpartition", "vectorize"}  # + tests of their own
assert len(NUMPY_BY_ID) == len(NUMPY_CASES), "duplicate case ids"


# --- helpers ---------------------------------------------------------------------------------
def _leaves(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def _dtype_name(x):
    from fkeras.ops._dtypes import standardize_dtype

    return standardize_dtype(x.dtype)


def assert_same_with_dtypes(got, want, tol):
    assert_same(got, want, tol)
    g, w = _leaves(got), _leaves(want)
    for a, b in zip(g, w):
        if hasattr(b, "dtype"):
            assert _dtype_name(a) == _dtype_name(b), (_dtype_name(a), _dtype_name(b))


def _keras():
    import keras

    assert keras.backend.backend() == "jax"
    return keras


def _run(case, module, convert):
    args, kwargs = case.build()
    if case.creation:
        return getattr(module, case.op)(*args, **kwargs)
    return getattr(fops, case.op)(*to_framework(args, convert), **kwargs)


# --- names and signatures ---------------------------------------------------------------------
def test_every_keras_numpy_name_is_in_fkeras_with_keras_signature():
    knp = _keras().ops.numpy
    import fkeras.ops.numpy as fnp

    names = [n for n in dir(knp) if not n.startswith("_")]
    assert len(names) >= 220
    missing = [n for n in names if not hasattr(fnp, n) or not hasattr(fops, n)]
    assert not missing, f"missing from fkeras.ops.numpy / fkeras.ops: {missing}"
    assert all(getattr(fnp, n) is getattr(fops, n) for n in names)
    differ = {n: (str(inspect.signature(getattr(fops, n))), str(inspect.signature(getattr(knp, n))))
              for n in names if inspect.signature(getattr(fops, n)) != inspect.signature(getattr(knp, n))}
    assert not differ, differ
    from fkeras.ops import cos  # noqa: F401  (a plain import works)
    assert "cos" in dir(fops) and "cos" in fnp.__all__


def test_every_table_row_has_a_case():
    from fkeras.ops import _numpy_table

    missing = set(_numpy_table.ROWS) - NUMPY_COVERED
    assert not missing, sorted(missing)


def test_result_type_and_dtype_helpers_match_keras():
    keras = _keras()
    import fkeras.backend as fb

    ts = ["bool", "uint8", "int8", "int16", "int32", "int64", "uint32", "bfloat16", "float16", "float32",
          "float64", int, float, bool]
    for a, b in itertools.product(ts, ts):
        assert fb.result_type(a, b) == keras.backend.result_type(a, b), (a, b)
    assert fb.result_type() == "float32" and fb.result_type("int8", int, float) == "float32"
    assert fb.standardize_dtype(jnp.int32) == "int32" and fb.standardize_dtype(None) == "float32"
    assert fb.is_float_dtype("bfloat16") and not fb.is_float_dtype("int8") and fb.is_int_dtype("uint8")
    with pytest.raises(ValueError, match="Invalid dtype"):
        fb.standardize_dtype("float13")
    for n in ("result_type", "standardize_dtype", "is_float_dtype", "is_int_dtype", "set_floatx"):
        assert inspect.signature(getattr(fb, n)) == inspect.signature(getattr(keras.backend, n)), n


def test_set_floatx_changes_the_float_rule():
    import fkeras.backend as fb

    try:
        fb.set_floatx("float16")
        assert fops.cos(jnp.arange(3)).dtype == jnp.float16
        assert fops.eye(2).dtype == jnp.float16
    finally:
        fb.set_floatx("float32")
    assert fops.cos(jnp.arange(3)).dtype == jnp.float32
    with pytest.raises(ValueError, match="floatx"):
        fb.set_floatx("int32")


# --- JAX vs keras.ops -------------------------------------------------------------------------
# Ops whose output shape depends on values (NumPy semantics; JAX needs a static `size=` for them).
_DATA_DEPENDENT = {"nonzero", "bincount", "view"}


def _traceable(case):
    return (not case.creation and case.op not in _DATA_DEPENDENT
            and not (case.op == "unique" and "size" not in case.kwargs))


@pytest.mark.parametrize("case", NUMPY_CASES, ids=[c.id for c in NUMPY_CASES])
def test_numpy_op_matches_keras(case):
    kops = _keras().ops
    args, kwargs = case.build()
    got = getattr(fops, case.op)(*to_framework(args, jnp.asarray), **kwargs)
    want = getattr(kops, case.op)(*to_framework(args, jnp.asarray), **kwargs)
    if case.op == "empty":
        assert got.shape == want.shape and got.dtype == want.dtype
        return
    assert_same_with_dtypes(got, want, case.tol)


def test_empty_like_and_errors_match_keras():
    kops = _keras().ops
    x = jnp.ones((2, 3), jnp.int32)
    got, want = fops.empty_like(x), kops.empty_like(x)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert fops.empty_like(x, dtype="float32").dtype == jnp.float32
    with pytest.raises(TypeError, match="integer"):
        fops.ldexp(jnp.ones(2), jnp.ones(2))
    with pytest.raises(ValueError, match="1-D"):
        fops.searchsorted(jnp.ones((2, 2)), jnp.ones(2))
    with pytest.raises(TypeError, match=r"fkeras\.ops\.roll"):
        fops.roll(jnp.ones(2))  # `shift` is required, as in Keras


def test_vectorize():
    kops = _keras().ops
    f = fops.vectorize(lambda a, b: a + b)
    x, y = jnp.arange(6.0).reshape(2, 3), jnp.arange(3.0)
    assert_same_with_dtypes(f(x, y), kops.vectorize(lambda a, b: a + b)(x, y), 0)
    g = fops.vectorize(jnp.dot, signature="(n),(n)->()")
    assert_same_with_dtypes(g(x, y), kops.vectorize(jnp.dot, signature="(n),(n)->()")(x, y), 1e-6)


def test_numpy_family_is_jittable_and_grad_vmappable():
    x = jnp.asarray(np.random.default_rng(0).standard_normal((3, 4)), jnp.float32)

    def f(x):
        y = fops.cos(x) + fops.hypot(x, 2.0) + fops.roll(fops.tril(x), 1, axis=0)
        return fops.sum(fops.nan_to_num(fops.log10(fops.fabs(y)))) + fops.median(x) + fops.trace(x)

    np.testing.assert_allclose(jax.jit(f)(x), f(x), rtol=1e-5)
    jax.grad(f)(x)
    np.testing.assert_allclose(jax.vmap(lambda r: fops.quantile(r, 0.5))(x), np.quantile(np.asarray(x), 0.5, axis=1),
                               rtol=1e-5)


def test_numpy_ops_on_keras_tensors():
    import fkeras

    inp = fkeras.Input((4,))
    out = fkeras.ops.cumprod(fkeras.ops.hypot(inp, 1.0) + fkeras.ops.fliplr(inp), axis=-1)
    out = out + fkeras.ops.amax(inp, axis=-1, keepdims=True)
    model = fkeras.Model(inp, out)
    x = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
    want = np.cumprod(np.hypot(x, 1.0) + np.fliplr(x), axis=-1) + np.amax(x, axis=-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(model.predict(x, verbose=0)), want, rtol=1e-5, atol=1e-6)


# --- torch and TF vs JAX ----------------------------------------------------------------------
def _converter(framework):
    if framework == "torch":
        torch = pytest.importorskip("torch")
        return torch.from_numpy, backend("torch")
    tf = pytest.importorskip("tensorflow")
    return tf.constant, backend("tensorflow")


def _native(x, framework):
    if framework == "torch":
        import torch

        return isinstance(x, torch.Tensor)
    import tensorflow as tf

    return tf.is_tensor(x)


FRAMEWORKS = ["torch", "tensorflow"]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", NUMPY_CASES, ids=[c.id for c in NUMPY_CASES])
def test_numpy_op_on_framework_matches_jax(case, framework):
    convert, module = _converter(framework)
    want = _run(case, backend("jax"), jnp.asarray)
    got = _run(case, module, convert)
    for leaf in _leaves(got):
        if hasattr(leaf, "shape") and not case.creation:
            assert _native(leaf, framework), f"{case.op} on {framework} returned {type(leaf).__name__}"
    if case.op == "empty":
        assert tuple(got.shape) == tuple(want.shape) and _dtype_name(got) == _dtype_name(want)
        return
    assert_same_with_dtypes(got, want, case.tol)


NUMPY_GRAD_CASES = [c for c in NUMPY_CASES if c.grad]
_JAX_GRADS: dict = {}  # case id -> (cotangents, JAX's gradients): computed once, shared by torch and TF


def _jax_gradients(case):
    """d/d(args[case.grad]) of sum(op(args) * cotangents) on JAX, one jitted program per case."""
    if case.id not in _JAX_GRADS:
        args, kwargs = case.build()
        op = getattr(fops, case.op)
        out = jax.eval_shape(lambda: op(*to_framework(args, jnp.asarray), **kwargs))
        r = np.random.default_rng(0)
        cts = [r.standard_normal(tuple(o.shape)).astype(np.float32) for o in _leaves(out)]

        def jax_loss(*diff):
            full = to_framework(args, jnp.asarray)
            for i, d in zip(case.grad, diff):
                full[i] = d
            return sum(jnp.sum(o * c) for o, c in zip(_leaves(op(*full, **kwargs)), cts))

        grad = jax.jit(jax.grad(jax_loss, argnums=tuple(range(len(case.grad)))))
        _JAX_GRADS[case.id] = cts, grad(*[jnp.asarray(args[i]) for i in case.grad])
    return _JAX_GRADS[case.id]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", NUMPY_GRAD_CASES, ids=[c.id for c in NUMPY_GRAD_CASES])
def test_numpy_gradients_on_framework_match_jax(case, framework):
    convert, _ = _converter(framework)
    args, kwargs = case.build()
    op = getattr(fops, case.op)
    cts, want = _jax_gradients(case)
    full = to_framework(args, convert)
    if framework == "torch":
        import torch

        leaves = []
        for i in case.grad:
            full[i] = full[i].clone().requires_grad_(True)
            leaves.append(full[i])
        sum(torch.sum(o * torch.from_numpy(c)) for o, c in zip(_leaves(op(*full, **kwargs)), cts)).backward()
        got = [t.grad for t in leaves]
    else:
        import tensorflow as tf

        leaves = [tf.Variable(full[i]) for i in case.grad]
        for i, v in zip(case.grad, leaves):
            full[i] = v
        with tf.GradientTape() as tape:
            loss = sum(tf.reduce_sum(o * c) for o, c in zip(_leaves(op(*full, **kwargs)), cts))
        got = tape.gradient(loss, leaves)
    assert_same(list(got), list(want), case.tol)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_argpartition_partitions_on_every_framework(framework):
    convert, _ = _converter(framework)
    x = np.random.default_rng(0).permutation(12).reshape(2, 6).astype(np.float32)
    for arr in (jnp.asarray(x), convert(x)):
        idx = np.asarray(fops.convert_to_numpy(fops.argpartition(arr, 2, axis=-1)))
        assert idx.dtype == np.int32
        part = np.take_along_axis(x, idx, axis=-1)
        kth = np.sort(x, axis=-1)[:, 2:3]
        assert (part[:, 2:3] == kth).all() and (part[:, :2] <= kth).all() and (part[:, 3:] >= kth).all()


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_vectorize_on_framework(framework):
    convert, _ = _converter(framework)
    x, y = np.arange(6.0, dtype=np.float32).reshape(2, 3), np.arange(3.0, dtype=np.float32)
    got = fops.vectorize(lambda a, b: a * b + 1.0)(convert(x), convert(y))
    assert _native(got, framework)
    assert_same(got, x * y + 1.0, 1e-6)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("signature,make,shapes", [  # make(ops module) -> pyfunc, run by fkeras and by Keras
    ("(n),(n)->()", lambda o: lambda a, b: o.sum(a * b), [(2, 3), (3,)]),
    ("(m,n),(n,k)->(m,k)", lambda o: o.matmul, [(4, 2, 3), (3, 5)]),
    ("(n)->(),(n)", lambda o: lambda a: (o.max(a), a * 2.0), [(2, 1, 4)]),
], ids=["dot", "matmul", "two_outputs"])
def test_vectorize_signature_on_framework_matches_keras(framework, signature, make, shapes):
    kops = _keras().ops
    convert, _ = _converter(framework)
    args = [np.random.default_rng(i).standard_normal(s).astype(np.float32) for i, s in enumerate(shapes)]
    got = fops.vectorize(make(fops), signature=signature)(*[convert(a) for a in args])
    want = kops.vectorize(make(kops), signature=signature)(*args)
    got, want = _leaves(got), _leaves(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert _native(g, framework) and tuple(g.shape) == tuple(w.shape)
        assert_same(g, w, 1e-5)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_vectorize_excluded_and_bad_signature(framework):
    convert, _ = _converter(framework)
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    got = fops.vectorize(lambda a, k: a * k, excluded={1})(convert(x), 3.0)
    assert_same(got, x * 3.0, 0)
    with pytest.raises(ValueError, match="signature"):
        fops.vectorize(lambda a: a, signature="(n)")(convert(x))
    with pytest.raises(TypeError, match="names 2 inputs"):
        fops.vectorize(lambda a, b: a, signature="(n),(n)->()")(convert(x))


@pytest.mark.parametrize("framework", ["jax", *FRAMEWORKS])
def test_einsum_kwargs_and_int8_as_keras(framework):
    kops = _keras().ops
    convert = jnp.asarray if framework == "jax" else _converter(framework)[0]
    a, b = np.arange(12, dtype=np.int8).reshape(3, 4), np.arange(8, dtype=np.int8).reshape(4, 2)
    want = kops.einsum("ij,jk->ik", a, b, optimize="optimal")
    got = fops.einsum("ij,jk->ik", convert(a), convert(b), optimize="optimal", precision=None)
    assert_same_with_dtypes(got, want, 0)  # int8 operands give int32, as Keras
    f = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    assert_same_with_dtypes(fops.einsum("ij->j", convert(f), optimize=False), kops.einsum("ij->j", f), 1e-6)
    with pytest.raises(TypeError, match="bogus"):
        fops.einsum("ij->i", convert(f), bogus=1)


JIT_CASES = list({c.op: c for c in reversed(NUMPY_CASES)  # one case per op (its first), to keep CI time small
                  if _traceable(c)}.values())


@pytest.mark.parametrize("case", JIT_CASES, ids=[c.id for c in JIT_CASES])
def test_numpy_op_traces_under_jit(case):
    """Array arguments become jit parameters (non-array arguments stay static): same values and dtypes."""
    args, kwargs = case.build()
    pos = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]
    lists = [i for i, a in enumerate(args) if isinstance(a, list) and a and isinstance(a[0], np.ndarray)]
    op = getattr(fops, case.op)

    def f(arrays, nested):
        full = list(args)
        for i, a in zip(pos, arrays):
            full[i] = a
        for i, a in zip(lists, nested):
            full[i] = list(a)
        return op(*full, **{k: (jnp.asarray(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()})

    arrays = [jnp.asarray(args[i]) for i in pos]
    nested = [[jnp.asarray(a) for a in args[i]] for i in lists]
    assert_same_with_dtypes(jax.jit(f)(arrays, nested), f(arrays, nested), case.tol)


@pytest.mark.parametrize("framework", ["jax", *FRAMEWORKS])
def test_bad_input_raises_keras_errors_on_every_framework(framework):
    convert = jnp.asarray if framework == "jax" else _converter(framework)[0]
    x = convert(np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match="integer"):
        fops.ldexp(x, x)
    with pytest.raises(ValueError, match="1-D"):
        fops.searchsorted(x, x)
    with pytest.raises(TypeError, match="indices_or_sections"):
        fops.array_split(x, [1], axis=1)
    with pytest.raises(ValueError, match="method"):
        fops.quantile(x, 0.5, method="bogus")
    with pytest.raises(TypeError, match=r"fkeras\.ops\.tril"):
        fops.tril(x, 0, 1)  # too many arguments, named after the op


def test_numpy_ops_trace_in_tf_function_with_unknown_batch():
    tf = pytest.importorskip("tensorflow")
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    x[0, 1] = np.nan
    fns = {
        "quantile": lambda t: fops.quantile(t, 0.3, axis=1),
        "nanmedian": lambda t: fops.nanmedian(t, axis=-1, keepdims=True),
        "nanmean": lambda t: fops.nanmean(t, axis=0),
        "tril": lambda t: fops.tril(t, -1),
        "cross": lambda t: fops.cross(t[:, :3], t[:, 1:]),
        "cos": fops.cos,
        "roll": lambda t: fops.roll(t, 1, axis=0),
        "nan_to_num": fops.nan_to_num,
    }
    for name, fn in fns.items():
        traced = tf.function(fn, input_signature=[tf.TensorSpec([None, 4], tf.float32)], autograph=False)
        assert_same_with_dtypes(traced(tf.constant(x)), fn(jnp.asarray(x)), 1e-5)


# Value-dependent output shapes: torch's "meta" device cannot run them (they work on real devices).
_NO_META = {"nonzero", "bincount", "histogram", "unique"}


def test_torch_results_stay_on_the_inputs_device():
    """Every case's outputs live where its inputs live (torch's "meta" device stands in for a GPU)."""
    torch = pytest.importorskip("torch")
    for case in NUMPY_CASES:
        if case.creation or case.op in _NO_META:
            continue
        args, kwargs = case.build()
        out = getattr(fops, case.op)(*to_framework(args, lambda a: torch.from_numpy(a).to("meta")), **kwargs)
        for leaf in _leaves(out):
            if isinstance(leaf, torch.Tensor):
                assert leaf.device.type == "meta", f"{case.id}: result on {leaf.device}"


def test_einsum_on_keras_tensors_builds_a_node_as_keras():
    import fkeras

    keras = _keras()
    r = np.random.default_rng(0)
    x, w = r.standard_normal((2, 3)).astype(np.float32), r.standard_normal((2, 3, 2)).astype(np.float32)
    fa, fb, ka, kb = fkeras.Input((3,)), fkeras.Input((3, 2)), keras.Input((3,)), keras.Input((3, 2))
    fm = fkeras.Model([fa, fb], fops.einsum("bi,bij->bj", fa, fb))
    km = keras.Model([ka, kb], keras.ops.einsum("bi,bij->bj", ka, kb))
    assert_same(fm.predict([x, w], verbose=0), km.predict([x, w], verbose=0), 1e-6)
    fcfg, kcfg = fm.get_config()["layers"][2], km.get_config()["layers"][2]
    assert (fcfg["class_name"], fcfg["module"], fcfg["config"]["subscripts"]) == (
        kcfg["class_name"], kcfg["module"], kcfg["config"]["subscripts"])
    again = fkeras.Model.from_config(fm.get_config())
    assert_same(again.predict([x, w], verbose=0), km.predict([x, w], verbose=0), 1e-6)
    m2 = fkeras.Model(fa, fops.einsum("ij->i", fa, optimize="optimal"))  # jnp.einsum's options ride along
    assert_same(m2.predict(x, verbose=0), x.sum(1), 1e-6)
