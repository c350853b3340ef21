"""The NumPy family of `fkeras.ops`, declared once: name, Keras signature, dtype rule, per-framework callable.

Each row of `TABLE` is one `keras.ops.numpy` op that maps (after argument normalisation)
onto a NumPy-named function of each framework:

- `params`: Keras 3.15's parameter list (the public signature is built from it, so
  `inspect.signature(fkeras.ops.NAME)` equals Keras's).
- `rule`: Keras's dtype rule, applied to the array parameters before the call and to the result
  (`_dtypes.result_type`, weak Python scalars, 64-bit narrowed):
  FLOAT: ints/bools become floatx, floats keep their width (`cos`, `log2`);
  PROMOTE: the array arguments meet at their common dtype (`fmax`, `kron`);
  PROMOTE_FLOAT: common dtype, then at least floatx (`arctan2`, `hypot`);
  KEEP: arguments become arrays of their own dtype (`roll`, `tril`);
  RAW: arguments pass untouched (creation ops, ops taking lists of arrays).
- `out`: the result's dtype: "rule" (the promoted dtype), "bool", "int32" (indices), or None (as computed).
- `jax` / `torch` / `tf`: the callable's name in `jax.numpy`, `torch`, `tf.experimental.numpy`
  ("=": same name as the op). Array parameters up to the first non-array one are passed
  positionally, the rest by keyword. None: the framework module writes a kernel by hand
  (`_numpy_jax.KERNELS`, `_numpy_torch.KERNELS`, `_numpy_tf.KERNELS`); a kernel gets every
  parameter by keyword, already normalised. A framework with neither raises NotImplementedError.
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

from fkeras.ops._dtypes import dtype_of, is_int_dtype, result_type

FLOAT, PROMOTE, PROMOTE_FLOAT, KEEP, RAW = "float", "promote", "promote_float", "keep", "raw"
_ARRAY_NAMES = ("x", "x1", "x2", "y", "a", "array", "sorted_sequence", "values", "weights", "bins", "indices")
_LIST_NAMES = ("xs", "condlist", "choicelist")  # sequences of arrays: passed positionally, never converted here


class Row(NamedTuple):
    name: str
    params: str
    rule: str
    doc: str
    out: str | None = "rule"
    jax: str | None = "="
    torch: str | None = "="
    tf: str | None = "="
    arrays: tuple | None = None  # default: the parameters named like arrays (`_ARRAY_NAMES`)
    check: object = None  # check(**normalised arguments): raises Keras's error for bad input, on every framework


def _int_sections(x, indices_or_sections, **_):
    if not isinstance(indices_or_sections, int):
        raise TypeError("Argument `indices_or_sections` must be of type `int`. "
                        f"Received: indices_or_sections={indices_or_sections}")


def _int_exponent(x1, x2):
    if not is_int_dtype(dtype_of(x2)):
        raise TypeError(f"ldexp exponent must be an integer type. Received: x2 dtype={dtype_of(x2)}")


def _one_d_sequence(sorted_sequence, values, side):
    if len(sorted_sequence.shape) != 1:
        raise ValueError("`searchsorted` only supports 1-D sorted sequences. Received: "
                         f"sorted_sequence.shape={tuple(sorted_sequence.shape)}")


def _u(name, rule, doc, out="rule", jax="=", torch="=", tf="="):
    """An elementwise unary op `name(x)`."""
    return Row(name, "x", rule, doc, out, jax, torch, tf)


def _b(name, rule, doc, out="rule", jax="=", torch="=", tf="="):
    """An elementwise binary op `name(x1, x2)` with broadcasting."""
    return Row(name, "x1, x2", rule, doc, out, jax, torch, tf)


R = Row
TABLE = [
    # --- elementwise unary: float results (ints/bools -> floatx) ---------------------------------------
    _u("arccos", FLOAT, "Elementwise inverse cosine. x: any shape -> same shape."),
    _u("arccosh", FLOAT, "Elementwise inverse hyperbolic cosine."),
    _u("arcsin", FLOAT, "Elementwise inverse sine."),
    _u("arcsinh", FLOAT, "Elementwise inverse hyperbolic sine."),
    _u("arctan", FLOAT, "Elementwise inverse tangent."),
    _u("arctanh", FLOAT, "Elementwise inverse hyperbolic tangent."),
    _u("cos", FLOAT, "Elementwise cosine."),
    _u("cosh", FLOAT, "Elementwise hyperbolic cosine."),
    _u("sin", FLOAT, "Elementwise sine."),
    _u("sinh", FLOAT, "Elementwise hyperbolic sine."),
    _u("tan", FLOAT, "Elementwise tangent."),
    _u("exp2", FLOAT, "Elementwise `2 ** x`."),
    _u("expm1", FLOAT, "Elementwise `exp(x) - 1`, accurate near 0."),
    _u("log10", FLOAT, "Elementwise base-10 logarithm."),
    _u("log2", FLOAT, "Elementwise base-2 logarithm."),
    _u("cbrt", FLOAT, "Elementwise cube root (real, also for negative x).", torch=None),
    _u("deg2rad", FLOAT, "Degrees to radians."),
    _u("rad2deg", FLOAT, "Radians to degrees."),
    _u("i0", FLOAT, "Modified Bessel function of the first kind, order 0.", tf=None),
    _u("sinc", FLOAT, "Normalised sinc: sin(pi x) / (pi x), 1 at 0."),
    _u("ceil", FLOAT, "Elementwise ceiling (a float result, as Keras)."),
    _u("reciprocal", FLOAT, "Elementwise `1 / x`."),
    _u("fabs", FLOAT, "Elementwise absolute value as a float.", torch="abs", tf="abs"),
    _u("angle", FLOAT, "Elementwise complex argument (0 or pi for real x)."),
    # --- elementwise unary: dtype kept ----------------------------------------------------------------
    _u("absolute", KEEP, "Elementwise absolute value (alias of `abs`).", jax="abs", torch="abs", tf="abs"),
    _u("trunc", KEEP, "Round towards zero (ints and bools unchanged).", out=None, torch=None, tf=None),
    _u("conj", KEEP, "Complex conjugate (identity for real x).", out=None, torch=None, tf=None),
    _u("conjugate", KEEP, "Complex conjugate (alias of `conj`).", out=None, torch=None, tf=None),
    _u("real", KEEP, "Real part (identity for real x).", out=None, torch=None),
    _u("imag", KEEP, "Imaginary part (zeros for real x).", out=None, torch=None),
    _u("copy", KEEP, "A copy of x.", out=None, torch="clone", tf=None),
    _u("ravel", KEEP, "Flatten to 1-D. (d0, ..., dn) -> (d0 * ... * dn,).", out=None, torch="reshape", tf=None),
    _u("fliplr", KEEP, "Reverse axis 1 (x has ndim >= 2).", out=None),
    _u("flipud", KEEP, "Reverse axis 0 (x has ndim >= 1).", out=None),
    _u("bitwise_invert", KEEP, "Bitwise NOT of ints/bools.", out=None, jax="invert", torch=None, tf=None),
    _u("bitwise_not", KEEP, "Bitwise NOT of ints/bools (alias of `bitwise_invert`).", out=None, jax="invert",
       torch=None, tf=None),
    # --- elementwise unary: bool results ----------------------------------------------------------------
    _u("isfinite", KEEP, "True where x is neither inf nor NaN.", out="bool"),
    _u("isinf", KEEP, "True where x is +inf or -inf.", out="bool"),
    _u("isnan", KEEP, "True where x is NaN.", out="bool"),
    _u("isneginf", KEEP, "True where x is -inf.", out="bool"),
    _u("isposinf", KEEP, "True where x is +inf.", out="bool"),
    _u("isreal", KEEP, "True where the imaginary part is 0 (everywhere for real x).", out="bool"),
    _u("signbit", KEEP, "True where the sign bit is set (also for -0.0).", out="bool", torch=None),
    # --- elementwise binary ------------------------------------------------------------------------------
    _b("arctan2", PROMOTE_FLOAT, "Elementwise arctan(x1 / x2) in the correct quadrant."),
    _b("hypot", PROMOTE_FLOAT, "Elementwise sqrt(x1**2 + x2**2)."),
    _b("logaddexp", PROMOTE_FLOAT, "Elementwise log(exp(x1) + exp(x2)), computed stably."),
    _b("logaddexp2", PROMOTE_FLOAT, "Elementwise log2(2**x1 + 2**x2), computed stably."),
    _b("nextafter", PROMOTE_FLOAT, "The next float after x1 towards x2."),
    _b("true_divide", PROMOTE_FLOAT, "Elementwise true division (alias of `divide`).", jax="true_divide",
       torch="true_divide", tf="true_divide"),
    _b("divide_no_nan", PROMOTE_FLOAT, "x1 / x2, with 0 where x2 == 0.", jax=None, torch=None, tf=None),
    _b("fmax", PROMOTE, "Elementwise maximum ignoring NaNs.", tf=None),
    _b("fmin", PROMOTE, "Elementwise minimum ignoring NaNs.", tf=None),
    _b("fmod", PROMOTE, "Remainder with the sign of x1 (C fmod).", tf=None),
    _b("mod", PROMOTE, "Remainder with the sign of x2 (Python %).", torch="remainder"),
    _b("floor_divide", PROMOTE, "Elementwise x1 // x2."),
    _b("heaviside", PROMOTE_FLOAT, "0 where x1 < 0, x2 where x1 == 0, 1 where x1 > 0.", tf=None),
    _b("gcd", PROMOTE, "Greatest common divisor of integers."),
    _b("lcm", PROMOTE, "Least common multiple of integers."),
    _b("bitwise_and", PROMOTE, "Bitwise AND of ints/bools.", tf=None)._replace(params="x, y"),
    _b("bitwise_or", PROMOTE, "Bitwise OR of ints/bools.", tf=None)._replace(params="x, y"),
    _b("bitwise_xor", PROMOTE, "Bitwise XOR of ints/bools.", tf=None)._replace(params="x, y"),
    _b("bitwise_left_shift", PROMOTE, "x << y for ints.", jax="left_shift", tf=None)._replace(params="x, y"),
    _b("left_shift", PROMOTE, "x << y for ints.", torch="bitwise_left_shift", tf=None)._replace(params="x, y"),
    _b("bitwise_right_shift", PROMOTE, "x >> y for ints (arithmetic for signed).", jax="right_shift",
       tf=None)._replace(params="x, y"),
    _b("right_shift", PROMOTE, "x >> y for ints (arithmetic for signed).", torch="bitwise_right_shift",
       tf=None)._replace(params="x, y"),
    _b("logical_xor", PROMOTE, "Elementwise logical exclusive or.", out="bool"),
    _b("ldexp", KEEP, "x1 * 2**x2 (x2 must be an integer array).", out=None, torch=None, tf=None)._replace(
        check=_int_exponent),
    R("isclose", "x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False", PROMOTE,
      "True where |x1 - x2| <= atol + rtol * |x2| (broadcast).", out="bool", torch=None),
    R("allclose", "x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False", PROMOTE,
      "Whether `isclose` holds everywhere (a scalar bool array).", out="bool", torch=None),
    # --- products -----------------------------------------------------------------------------------------
    _b("kron", PROMOTE, "Kronecker product."),
    _b("outer", PROMOTE, "Outer product of the flattened inputs. (m,), (n,) -> (m, n)."),
    _b("inner", PROMOTE, "Inner product over the last axes. (..., k), (..., k) -> (...,  ...).", torch=None),
    _b("vdot", PROMOTE, "Dot product of the flattened inputs (conjugating x1). -> scalar.", torch=None),
    R("tensordot", "x1, x2, axes=2", PROMOTE, "Sum products over `axes` (an int or two axis lists).",
      torch=None),
    R("cross", "x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None", PROMOTE,
      "Cross product of 3-vectors (2-vectors give the z component) along the vector axes.", torch=None),
    R("append", "x1, x2, axis=None", PROMOTE, "x2 appended to x1 (flattened when axis is None).",
      torch=None),
    # --- reductions -------------------------------------------------------------------------------------------
    R("amax", "x, axis=None, keepdims=False", KEEP, "Maximum over `axis` (alias of `max`).", out=None,
      torch=None),
    R("amin", "x, axis=None, keepdims=False", KEEP, "Minimum over `axis` (alias of `min`).", out=None,
      torch=None),
    R("ptp", "x, axis=None, keepdims=False", KEEP, "Range (max - min) over `axis`.", out=None, torch=None),
    R("count_nonzero", "x, axis=None", KEEP, "Number of non-zero entries over `axis` (int32).", out="int32",
      torch=None, tf=None),
    R("average", "x, axis=None, weights=None", PROMOTE_FLOAT,
      "Weighted mean over `axis`; 1-D weights of the axis's length or weights shaped as x.", torch=None,
      tf=None),
    R("cumprod", "x, axis=None, dtype=None", KEEP, "Cumulative product along `axis` (flattened when None).",
      out=None, torch=None, tf=None),
    R("trace", "x, offset=0, axis1=0, axis2=1", KEEP, "Sum along a diagonal. (..., n, m) -> (...)", out=None,
      jax=None, torch=None, tf=None),
    R("median", "x, axis=None, keepdims=False", FLOAT, "Median over `axis` (mean of the two middle values).",
      torch=None, tf=None),
    R("quantile", "x, q, axis=None, method='linear', keepdims=False", FLOAT,
      "q-th quantiles (q in [0, 1]) over `axis`; a leading axis for vector q.", torch=None, tf=None),
    R("percentile", "x, q, axis=None, method='linear', keepdims=False", FLOAT,
      "q-th percentiles (q in [0, 100]) over `axis`.", torch=None, tf=None),
    R("nanmax", "x, axis=None, keepdims=False", KEEP, "Maximum over `axis` ignoring NaNs.", out=None,
      torch=None, tf=None),
    R("nanmin", "x, axis=None, keepdims=False", KEEP, "Minimum over `axis` ignoring NaNs.", out=None,
      torch=None, tf=None),
    R("nansum", "x, axis=None, keepdims=False", KEEP, "Sum over `axis` treating NaNs as 0.", out=None,
      torch=None, tf=None),
    R("nanprod", "x, axis=None, keepdims=False", KEEP, "Product over `axis` treating NaNs as 1.", out=None,
      torch=None, tf=None),
    R("nanmean", "x, axis=None, keepdims=False", FLOAT, "Mean over `axis` ignoring NaNs.",
      torch=None, tf=None),
    R("nanvar", "x, axis=None, keepdims=False", FLOAT, "Variance over `axis` ignoring NaNs.",
      torch=None, tf=None),
    R("nanstd", "x, axis=None, keepdims=False", FLOAT, "Standard deviation over `axis` ignoring NaNs.",
      torch=None, tf=None),
    R("nanmedian", "x, axis=None, keepdims=False", FLOAT, "Median over `axis` ignoring NaNs.",
      torch=None, tf=None),
    R("nanquantile", "x, q, axis=None, method='linear', keepdims=False", FLOAT,
      "`quantile` ignoring NaNs.", torch=None, tf=None),
    R("nanpercentile", "x, q, axis=None, method='linear', keepdims=False", FLOAT,
      "`percentile` ignoring NaNs.", torch=None, tf=None),
    R("nanargmax", "x, axis=None, keepdims=False", KEEP, "Index of the maximum ignoring NaNs (int32).",
      out="int32", torch=None, tf=None),
    R("nanargmin", "x, axis=None, keepdims=False", KEEP, "Index of the minimum ignoring NaNs (int32).",
      out="int32", torch=None, tf=None),
    R("nancumsum", "x, axis=None, dtype=None", KEEP, "Cumulative sum treating NaNs as 0.", out=None,
      torch=None, tf=None),
    R("nancumprod", "x, axis=None, dtype=None", KEEP, "Cumulative product treating NaNs as 1.", out=None,
      torch=None, tf=None),
    # --- creation ---------------------------------------------------------------------------------------------
    R("empty", "shape, dtype=None", RAW, "An array of `shape` (zeros in fkeras; floatx by default).", out=None,
      jax=None, torch=None, tf=None),
    R("empty_like", "x, dtype=None", RAW, "An array shaped as x (zeros in fkeras).", out=None,
      torch=None, tf=None),
    R("full_like", "x, fill_value, dtype=None", RAW, "An array shaped as x filled with `fill_value`.",
      out=None, torch=None, tf=None),
    R("eye", "N, M=None, k=0, dtype=None", RAW, "(N, M) with ones on the k-th diagonal (floatx by default).",
      out=None, jax=None, torch=None, tf=None),
    R("identity", "n, dtype=None", RAW, "(n, n) identity matrix (floatx by default).", out=None,
      jax=None, torch=None, tf=None),
    R("tri", "N, M=None, k=0, dtype=None", RAW, "(N, M) with ones at and below the k-th diagonal.", out=None,
      jax=None, torch=None, tf=None),
    R("linspace", "start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0", RAW,
      "`num` evenly spaced values from start to stop (and the step when retstep).", out=None,
      torch=None, tf=None),
    R("logspace", "start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0", RAW,
      "`num` values evenly spaced on a log scale: base**linspace(start, stop).", out=None,
      torch=None, tf=None),
    R("geomspace", "start, stop, num=50, endpoint=True, dtype=None, axis=0", RAW,
      "`num` values evenly spaced on a log scale from start to stop.", out=None, torch=None, tf=None),
    R("array", "x, dtype=None", RAW, "x as an array (a copy).", out=None, torch=None, tf=None),
    R("bartlett", "x", RAW, "Bartlett (triangular) window of length x (floatx).", out=None,
      jax=None, torch=None, tf=None),
    R("blackman", "x", RAW, "Blackman window of length x (floatx).", out=None, jax=None, torch=None, tf=None),
    R("hamming", "x", RAW, "Hamming window of length x (floatx).", out=None, jax=None, torch=None, tf=None),
    R("hanning", "x", RAW, "Hann window of length x (floatx).", out=None, jax=None, torch=None, tf=None),
    R("kaiser", "x, beta", RAW, "Kaiser window of length x with shape `beta` (floatx).", out=None,
      jax=None, torch=None, tf=None),
    R("meshgrid", "*x, indexing='xy'", RAW, "Coordinate grids from 1-D arrays ('xy' or 'ij' indexing).",
      out=None, torch=None, tf=None),
    R("vander", "x, N=None, increasing=False", KEEP, "Vandermonde matrix: columns are powers of 1-D x.",
      out=None, torch=None, tf=None),
    # --- shape manipulation -----------------------------------------------------------------------------------
    R("moveaxis", "x, source, destination", KEEP, "Move axes `source` to positions `destination`.", out=None,
      torch=None),
    R("swapaxes", "x, axis1, axis2", KEEP, "Interchange two axes.", out=None, torch=None),
    R("roll", "x, shift, axis=None", KEEP, "Roll elements by `shift` along `axis` (flattened when None).",
      out=None, torch=None),
    R("rot90", "array, k=1, axes=(0, 1)", KEEP, "Rotate by 90 degrees k times in the plane `axes`.",
      out=None, torch=None, tf=None),
    R("diag", "x, k=0", KEEP, "1-D x: a matrix with x on the k-th diagonal; 2-D x: its k-th diagonal.",
      out=None, torch=None, tf=None),
    R("diagflat", "x, k=0", KEEP, "A matrix with flattened x on the k-th diagonal.", out=None, torch=None,
      tf=None),
    R("diagonal", "x, offset=0, axis1=0, axis2=1", KEEP, "Diagonals of the (axis1, axis2) planes, last.",
      out=None, torch=None, tf=None),
    R("tril", "x, k=0", KEEP, "Lower triangle (at and below the k-th diagonal) of the last two axes.",
      out=None, torch=None, tf=None),
    R("triu", "x, k=0", KEEP, "Upper triangle (at and above the k-th diagonal) of the last two axes.",
      out=None, torch=None, tf=None),
    R("diff", "a, n=1, axis=-1", KEEP, "n-th discrete difference along `axis`.", out=None, torch=None,
      tf=None),
    R("array_split", "x, indices_or_sections, axis=0", KEEP,
      "Split into `indices_or_sections` (an int) sections; the first ones one longer when uneven.", out=None,
      torch=None, tf=None, check=_int_sections),
    R("hsplit", "x, indices_or_sections", KEEP, "`split` along axis 1 (axis 0 for 1-D x).", out=None,
      torch=None, tf=None),
    R("vsplit", "x, indices_or_sections", KEEP, "`split` along axis 0.", out=None, torch=None,
      tf=None),
    R("dsplit", "x, indices_or_sections", KEEP, "`split` along axis 2.", out=None, torch=None,
      tf=None),
    R("hstack", "xs", RAW, "Concatenate along axis 1 (axis 0 for 1-D arrays).", out=None, torch=None,
      tf=None),
    R("vstack", "xs", RAW, "Stack rows: concatenate along axis 0 after making arrays 2-D.", out=None,
      torch=None, tf=None),
    R("dstack", "xs", RAW, "Concatenate along axis 2 after making arrays 3-D.", out=None, torch=None, tf=None),
    R("get_item", "x, key", KEEP, "x[key].", out=None, jax=None, torch=None, tf=None),
    R("nonzero", "x", KEEP, "Indices of the non-zero entries, one int32 array per axis.", out=None,
      torch=None, tf=None),
    R("unravel_index", "indices, shape", KEEP, "Flat indices -> a tuple of coordinate arrays for `shape`.",
      out=None, torch=None, tf=None),
    R("argsort", "x, axis=-1", KEEP, "Indices that sort x along `axis` (int32; stable).", out="int32",
      jax=None, torch=None, tf=None),
    R("argpartition", "x, kth, axis=-1", KEEP,
      "Indices that partition x around its kth smallest value along `axis` (int32).", out="int32",
      jax=None, torch=None, tf=None),
    R("select", "condlist, choicelist, default=0", RAW,
      "Elementwise: the choice of the first true condition, else `default`.", out=None,
      torch=None, tf=None),
    R("nan_to_num", "x, nan=0.0, posinf=None, neginf=None", KEEP,
      "NaN -> `nan`, +inf -> `posinf` (max float), -inf -> `neginf` (min float).", out=None,
      torch=None, tf=None),
    R("isin", "x1, x2, assume_unique=False, invert=False", PROMOTE, "True where x1's entry occurs in x2.",
      out="bool", torch=None, tf=None),
    # --- ops whose semantics differ between frameworks (hand-written everywhere) -----------------------------
    R("searchsorted", "sorted_sequence, values, side='left'", PROMOTE,
      "Insertion indices of `values` into the 1-D `sorted_sequence` (int32).", out="int32",
      torch=None, tf=None, check=_one_d_sequence),
    R("digitize", "x, bins", KEEP, "Index of the bin of each x (NumPy `digitize`, right=False) (int32).",
      out="int32", torch=None, tf=None),
    R("bincount", "x, weights=None, minlength=0, sparse=False", KEEP,
      "Counts (or summed weights) of each non-negative int in x. Length max(x) + 1 or minlength.", out=None,
      jax=None, torch=None, tf=None),
    R("histogram", "x, bins=10, range=None", KEEP,
      "(counts, bin_edges) of 1-D x over `bins` equal bins spanning `range` (min/max of x by default).",
      out=None, arrays=("x",), torch=None, tf=None),
    R("unique", "x, sorted=True, return_index=False, return_inverse=False, return_counts=False, axis=None, "
      "size=None, fill_value=None", KEEP,
      "Unique elements (flattened; `size` pads to a static length, needed under jit).", out=None,
      jax=None, torch=None, tf=None),
    R("correlate", "x1, x2, mode='valid'", PROMOTE_FLOAT,
      "Cross-correlation of two 1-D arrays ('valid', 'same' or 'full').", torch=None, tf=None),
    R("corrcoef", "x", FLOAT, "Pearson correlation coefficients of the rows of x. (n, m) -> (n, n).",
      torch=None, tf=None),
    R("trapezoid", "y, x=None, dx=1.0, axis=-1", FLOAT, "Trapezoidal integral of y along `axis`.",
      torch=None, tf=None),
    R("slogdet", "x", FLOAT, "(sign, log|det|) of square matrices. (..., n, n) -> ((...), (...)).",
      jax=None, torch=None, tf=None),
    R("vectorize", "pyfunc, *, excluded=None, signature=None", RAW,
      "Vectorise `pyfunc` over leading axes (NumPy `vectorize`, with an optional gufunc signature).",
      out=None, jax=None, torch=None, tf=None),
    R("view", "x, dtype=None", KEEP, "The same bytes seen as `dtype` (the last axis rescales).", out=None,
      jax=None, torch=None, tf=None),
]

ROWS = {r.name: r for r in TABLE}


def _signature(params: str) -> inspect.Signature:
    ns: dict = {}
    exec(f"def f({params}): pass", {}, ns)  # noqa: S102  (the parameter lists are the literals above)
    return inspect.signature(ns["f"])


def declare(op) -> dict:
    """The public declarations: one documented function per row (its signature is Keras's), wrapped by `op`."""
    out = {}
    for r in TABLE:
        ns: dict = {}
        exec(f"def {r.name}({r.params}):\n    pass\n", {}, ns)  # noqa: S102
        fn = ns[r.name]
        fn.__doc__, fn.__module__, fn.__qualname__ = r.doc, "fkeras.ops", r.name
        out[r.name] = op(fn)
    return out


def registrar(kernels: dict):
    """The decorator a framework module marks its hand-written kernels with: it files each in `kernels` under the
    op's name (the function's name without a trailing `_`, so `round_` is `round`)."""

    def register(fn):
        kernels[fn.__name__.rstrip("_")] = fn
        return fn

    return register


def implement(framework: str, namespace, kernels: dict, asarray, cast) -> dict:
    """The `framework`'s implementation of every row it can run: name -> callable.

    namespace: where the rows' callable names are looked up (jax.numpy, torch, tf.experimental.numpy);
    kernels: hand-written ones (they win over names); asarray(x, dtype_name_or_None, like) -> framework
    array (on `like`'s device, `like` being the call's first framework array or None);
    cast(array, dtype_name) -> array.
    """
    impls = {}
    for r in TABLE:
        target = kernels.get(r.name)
        if target is not None:
            target = _unpacking_var_positional(r, target)
        else:
            attr = getattr(r, "tf" if framework == "tensorflow" else framework)
            if attr is None:
                continue
            target = getattr(namespace, r.name if attr == "=" else attr)
            target = _positional_then_keywords(r, target)
        impls[r.name] = _normalising(r, target, asarray, cast)
    return impls


def _array_params(r: Row, sig: inspect.Signature):
    return r.arrays if r.arrays is not None else tuple(p for p in sig.parameters if p in _ARRAY_NAMES)


def _positional_then_keywords(r: Row, fn):
    sig = _signature(r.params)
    arrays = _array_params(r, sig)
    lead = []
    for p, prm in sig.parameters.items():
        if p not in arrays and p not in _LIST_NAMES or prm.kind is prm.VAR_POSITIONAL:
            break
        lead.append(p)

    def call(**a):
        args = [a.pop(p) for p in lead]
        for p, prm in sig.parameters.items():
            if prm.kind is prm.VAR_POSITIONAL:
                args.extend(a.pop(p))
        return fn(*args, **a)

    return call


def _is_framework_array(x) -> bool:
    """A torch/TF/JAX array (not a Python scalar, list or NumPy array): others follow its device."""
    return type(x).__module__.split(".")[0] not in ("builtins", "numpy")


def _unpacking_var_positional(r: Row, fn):
    """Kernels take every parameter by keyword, except a `*args` one (meshgrid's `*x`), passed as `*args`."""
    sig = _signature(r.params)
    star = [p for p, prm in sig.parameters.items() if prm.kind is prm.VAR_POSITIONAL]
    if not star:
        return fn

    def call(**a):
        return fn(*a.pop(star[0]), **a)

    return call


def _normalising(r: Row, kernel, asarray, cast):
    sig = _signature(r.params)
    arrays = _array_params(r, sig)
    name, rule, out_rule, check = r.name, r.rule, r.out, r.check

    def impl(*args, **kwargs):
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"fkeras.ops.{name}: {e}") from None
        bound.apply_defaults()
        a = dict(bound.arguments)
        if "kwargs" in a:
            a.update(a.pop("kwargs"))
        dtype = None
        if rule != RAW:
            present = [p for p in arrays if a.get(p) is not None]
            if present:
                dts = [dtype_of(a[p]) for p in present]
                if rule == FLOAT:
                    dtype = result_type(*dts, float)
                elif rule == PROMOTE:
                    dtype = result_type(*dts)
                elif rule == PROMOTE_FLOAT:
                    dtype = result_type(*dts, float)
                like = next((a[p] for p in present if _is_framework_array(a[p])), None)
                for p in present:
                    a[p] = asarray(a[p], dtype, like)
        if check is not None:
            check(**a)
        out = kernel(**a)
        want = dtype if out_rule == "rule" else out_rule
        if want is not None:
            out = type(out)(cast(o, want) for o in out) if isinstance(out, (tuple, list)) else cast(out, want)
        return out

    impl.__name__ = impl.__qualname__ = name
    impl.__doc__ = r.doc
    return impl
