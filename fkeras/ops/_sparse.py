"""Sparse tensors through `fkeras.ops`: JAX `BCOO`, `tf.SparseTensor`, torch sparse COO/CSR.

The ops Keras 3.15 makes sparse-aware (its JAX and TF backends' `sparse.py` decorators) get the same
treatment here, written once as rules over a small kernel module per framework (`_sparse_jax.py`,
`_sparse_tf.py`, `_sparse_torch.py`: `is_sparse`, `todense`, `fromdense`, `map_values`, `union`,
`multiply`, `divide`, `matmul`, `reduce_sum`, the layout ops). `_dispatch.backend` wraps each ruled op
of a framework once; a call without a sparse argument goes straight to the dense implementation.

Sparse in -> sparse out where Keras keeps sparsity:
- zero-preserving elementwise unary ops (`abs`, `sin`, `sqrt`, `round`, `isnan`, `cast`, ...): the
  stored values are mapped, the indices kept;
- `add`/`subtract`/`maximum`/`minimum` of two sparse tensors: the union of their indices (one dense
  operand: a dense result, as Keras); `multiply` with any sparse operand: sparse (the intersection);
  `divide` of a sparse dividend by a scalar or a dense divisor: sparse (plus entries where the
  divisor is 0 or NaN, computed eagerly);
- `matmul` of two sparse tensors; `sum`/`mean` (any axis, keepdims); `expand_dims`, `reshape`,
  `squeeze`, `transpose`; `concatenate` of sparse tensors only; `bincount`/`one_hot`/`multi_hot`
  with `sparse=True` (or a sparse `x` for bincount: counts its stored values, as Keras).
Densified: the non-zero-preserving unary ops (`exp`, `cos`, `log`, ...), sparse divisors, a
sparse operand of `take`/`take_along_axis`, mixed sparse/dense `concatenate`.
"""

from __future__ import annotations

import functools
import importlib

# zero-preserving elementwise unary ops: name -> linear (op(a + b) == op(a) + op(b): duplicate indices may stay)
UNARY = {
    **dict.fromkeys(("abs", "absolute", "fabs", "arcsin", "arcsinh", "arctan", "arctanh", "ceil", "digitize",
                     "expm1", "floor", "isinf", "isnan", "log1p", "sign", "signbit", "sin", "sinh", "tan", "tanh",
                     "round", "square", "sqrt", "cast"), False),
    **dict.fromkeys(("negative", "conj", "conjugate", "copy", "real", "imag"), True),
}
DENSIFYING = ("arccos", "arccosh", "cos", "cosh", "exp", "exp2", "isfinite", "log", "log10", "log2", "reciprocal")
UNION = ("add", "subtract", "maximum", "minimum")
LAYOUT = ("expand_dims", "reshape", "squeeze", "transpose")
DENSIFY_ARGS = ("take", "take_along_axis")
SPECIAL = ("multiply", "divide", "true_divide", "matmul", "sum", "mean", "concatenate", "bincount", "one_hot",
           "multi_hot", "convert_to_tensor", "convert_to_numpy", "is_tensor", "shape", "ndim", "size", "dtype")
SPARSE_OPS = (*UNARY, *DENSIFYING, *UNION, *LAYOUT, *DENSIFY_ARGS, *SPECIAL)

_KERNELS = {"jax": "fkeras.ops._sparse_jax", "torch": "fkeras.ops._sparse_torch",
            "tensorflow": "fkeras.ops._sparse_tf"}


def _axes(axis, ndim):
    """`axis` (None: all) -> sorted non-negative axes; repeated or out-of-range axes are a ValueError."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"fkeras.ops: axis {a} is out of bounds for a sparse tensor of rank {ndim}.")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"fkeras.ops: repeated axis in {axis!r}.")
    return tuple(sorted(out))


def _reshape_target(shape, newshape):
    """`newshape` with its one -1 resolved from the static `shape`; a size mismatch is a ValueError."""
    newshape = (newshape,) if isinstance(newshape, int) else tuple(int(d) for d in newshape)
    total = 1
    for d in shape:
        total *= d
    known = 1
    for d in newshape:
        known *= 1 if d == -1 else d
    if newshape.count(-1) > 1 or (-1 in newshape and (known == 0 or total % known)) or (
            -1 not in newshape and known != total):
        raise ValueError(f"fkeras.ops.reshape: cannot reshape a sparse tensor of shape {tuple(shape)} "
                         f"into {newshape}.")
    return tuple(total // known if d == -1 else d for d in newshape)


def output_is_sparse(name: str, arguments: dict, is_sparse) -> bool:
    """Whether `name` called with `arguments` (parameter -> value, as bound to the op's signature) returns a
    sparse tensor: the rules above, for symbolic tensors (a KerasTensor's `sparse` flag, as Keras infers it)."""
    values = list(arguments.values())
    first = values[0] if values else None
    if name == "cast":  # Keras's symbolic Cast says dense (its eager cast keeps a BCOO sparse)
        return False
    if name in UNARY or name in LAYOUT or name in ("sum", "mean"):
        return is_sparse(first)
    if name in UNION or name == "matmul":
        return is_sparse(values[0]) and is_sparse(values[1])
    if name == "multiply":
        return is_sparse(values[0]) or is_sparse(values[1])
    if name in ("divide", "true_divide"):
        return is_sparse(values[0]) and not is_sparse(values[1])
    if name == "concatenate":
        return bool(first) and all(is_sparse(x) for x in first)
    if name == "bincount":
        return bool(arguments.get("sparse")) or is_sparse(first)
    if name in ("one_hot", "multi_hot"):
        return bool(arguments.get("sparse"))
    if name == "convert_to_tensor":
        return is_sparse(first) and arguments.get("sparse") is not False
    return False


def wrap(framework: str, table: dict) -> None:
    """Replace each sparse-aware op of `table` (one framework's implementations) by its sparse-aware form."""
    K = importlib.import_module(_KERNELS[framework])
    for name in SPARSE_OPS:
        dense = table.get(name)
        if dense is not None:
            table[name] = functools.wraps(dense)(_rule(name, dense, K, table))


def _rule(name, dense, K, table):  # noqa: C901 - one small closure per rule
    sp = K.is_sparse

    if name in UNARY:
        linear = UNARY[name]

        def unary(x, *args, **kwargs):
            if sp(x):
                return K.map_values(lambda v: dense(v, *args, **kwargs), x, linear)
            return dense(x, *args, **kwargs)

        return unary
    if name in DENSIFYING:
        def densifying(x, *args, **kwargs):
            return dense(K.todense(x) if sp(x) else x, *args, **kwargs)

        return densifying
    if name in UNION:
        def union(x1, x2):
            s1, s2 = sp(x1), sp(x2)
            if s1 and s2 and tuple(x1.shape) == tuple(x2.shape):
                return K.union(dense, x1, x2)
            return dense(K.todense(x1) if s1 else x1, K.todense(x2) if s2 else x2)

        return union
    if name in DENSIFY_ARGS:
        def densify_args(*args, **kwargs):
            args = [K.todense(a) if sp(a) else a for a in args]
            kwargs = {k: K.todense(v) if sp(v) else v for k, v in kwargs.items()}
            return dense(*args, **kwargs)

        return densify_args
    if name in LAYOUT:
        op = getattr(K, name)

        def layout(x, *args, **kwargs):
            return op(x, *args, **kwargs) if sp(x) else dense(x, *args, **kwargs)

        return layout
    if name in ("multiply", "matmul"):
        op = getattr(K, name)

        def binary(x1, x2):
            return op(x1, x2) if sp(x1) or sp(x2) else dense(x1, x2)

        return binary
    if name in ("divide", "true_divide"):
        def divide(x1, x2):
            if sp(x2):
                return dense(K.todense(x1) if sp(x1) else x1, K.todense(x2))
            return K.divide(x1, x2) if sp(x1) else dense(x1, x2)

        return divide
    if name in ("sum", "mean"):
        def reduce(x, axis=None, keepdims=False, **kwargs):
            if not sp(x):
                return dense(x, axis=axis, keepdims=keepdims, **kwargs)
            axes = _axes(axis, len(x.shape))
            out = K.reduce_sum(x, axes, keepdims)
            if name == "mean":
                n = 1
                for a in axes:
                    n *= x.shape[a]
                out = K.map_values(lambda v: table["divide"](table["cast"](v, K.mean_dtype(x)), n), out, True)
            return out

        return reduce
    if name == "concatenate":
        def concatenate(xs, axis=0):
            flags = [sp(x) for x in xs]
            if flags and all(flags):
                return K.concatenate(list(xs), axis % len(xs[0].shape))
            return dense([K.todense(x) if f else x for x, f in zip(xs, flags)], axis=axis)

        return concatenate
    if name == "bincount":
        def bincount(x, weights=None, minlength=0, sparse=False):
            if sp(x):
                return K.fromdense(K.bincount_values(dense, x, weights, minlength))
            if sparse:
                return K.fromdense(dense(x, weights=weights, minlength=minlength))
            return dense(x, weights=weights, minlength=minlength)

        return bincount
    if name in ("one_hot", "multi_hot"):
        def hot(*args, sparse=False, **kwargs):
            if len(args) > 4:  # (x, num_classes, axis, dtype, sparse) given positionally
                args, sparse = args[:4], args[4]
            out = dense(*args, sparse=False, **kwargs)
            return K.fromdense(out) if sparse else out

        return hot
    if name == "convert_to_tensor":
        def convert_to_tensor(x, dtype=None, sparse=None):
            if not sp(x):
                return dense(x, dtype=dtype, sparse=False)
            if sparse is False:
                return dense(K.todense(x), dtype=dtype)
            return x if dtype is None else K.map_values(lambda v: table["cast"](v, dtype), x, False)

        return convert_to_tensor
    if name == "convert_to_numpy":
        def convert_to_numpy(x):
            return dense(K.todense(x) if sp(x) else x)

        return convert_to_numpy
    if name == "is_tensor":
        def is_tensor(x):
            return True if sp(x) else dense(x)

        return is_tensor
    if name in ("shape", "ndim", "size", "dtype"):
        meta = getattr(K, "meta_" + name)

        def meta_op(x):
            return meta(x) if sp(x) else dense(x)

        return meta_op
    raise AssertionError(name)
