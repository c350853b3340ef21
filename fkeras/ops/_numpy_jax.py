"""JAX side of the NumPy family (`_numpy_table`): the array adapter and the hand-written kernels.

Most rows call `jax.numpy` by name; the kernels here are the ones where Keras adds a rule of
its own (floatx defaults, int32 indices, argument checks). Everything is jit-traceable
except what NumPy itself makes data-dependent (`unique`/`nonzero`/`bincount` without a static size).
"""

# ruff: noqa: A001, A002
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from fkeras.ops import _numpy_table
from fkeras.ops._dispatch import JAX, framework_of, resolve
from fkeras.ops._dtypes import floatx, standardize_dtype

KERNELS: dict = {}

_kernel = _numpy_table.registrar(KERNELS)


def asarray(x, dtype=None, like=None):
    if dtype is None:
        if isinstance(x, jax.Array):
            return x
        if isinstance(x, (np.ndarray, np.generic)) and x.dtype == np.float64:
            return jnp.asarray(x, jnp.float32)
        return jnp.asarray(x)
    return jnp.asarray(x, dtype)


def cast(x, dtype):
    return x.astype(dtype) if x.dtype != dtype else x


def _dtype(dtype, default=None):
    return standardize_dtype(dtype if dtype is not None else default or floatx())


@_kernel
def divide_no_nan(x1, x2):
    safe = jnp.where(x2 == 0, 1, x2)
    return jnp.where(x2 == 0, 0, jnp.divide(x1, safe))


@_kernel
def empty(shape, dtype=None):
    return jnp.zeros(shape, _dtype(dtype))


@_kernel
def eye(N, M=None, k=0, dtype=None):
    return jnp.eye(N, M, k, dtype=_dtype(dtype))


@_kernel
def identity(n, dtype=None):
    return jnp.identity(n, dtype=_dtype(dtype))


@_kernel
def tri(N, M=None, k=0, dtype=None):
    return jnp.tri(N, M, k, dtype=_dtype(dtype))


def _window(fn):
    def kernel(x):
        return fn(x).astype(floatx())

    kernel.__name__ = fn.__name__
    return _kernel(kernel)


for _w in (jnp.bartlett, jnp.blackman, jnp.hamming, jnp.hanning):
    _window(_w)


@_kernel
def kaiser(x, beta):
    return jnp.kaiser(x, beta).astype(floatx())


@_kernel
def argsort(x, axis=-1):
    return jnp.argsort(x, axis=None if x.ndim == 0 else axis)


@_kernel
def argpartition(x, kth, axis=-1):
    if axis is None:
        x, axis = x.reshape(-1), 0
    return jnp.argpartition(x, kth, axis=axis)


@_kernel
def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False, axis=None, size=None,
           fill_value=None):
    return jnp.unique(x, return_index=return_index, return_inverse=return_inverse, return_counts=return_counts,
                      axis=axis, equal_nan=False, size=size, fill_value=fill_value, sorted=sorted)


@_kernel
def bincount(x, weights=None, minlength=0, sparse=False):
    # sparse=True and sparse `x`: the wrapper in _sparse.py
    if x.ndim == 2:  # one bincount per row, as Keras
        length = int(jnp.maximum(jnp.max(x) + 1, minlength)) if x.size else minlength
        if weights is None:
            return jax.vmap(lambda r: jnp.bincount(r, length=length))(x).astype("int32")
        w = asarray(weights)
        return jax.vmap(lambda r, wr: jnp.bincount(r, wr, length=length))(x, w)
    if weights is None:
        return jnp.bincount(x, minlength=minlength).astype("int32")
    return jnp.bincount(x, asarray(weights), minlength=minlength)


@_kernel
def get_item(x, key):
    return x[key]


@_kernel
def vectorize(pyfunc, *, excluded=None, signature=None):
    """`jnp.vectorize` for JAX arguments; torch/TF arguments go to their framework's `vectorize`."""
    on_jax = jnp.vectorize(pyfunc, excluded=excluded if excluded is not None else set(), signature=signature)

    def vectorized(*args, **kwargs):
        fw = framework_of(*args, **kwargs)
        if fw == JAX:
            return on_jax(*args, **kwargs)
        return resolve("vectorize", fw)(pyfunc, excluded=excluded, signature=signature)(*args, **kwargs)

    return vectorized


@_kernel
def view(x, dtype=None):
    return x.view(dtype=dtype)


@_kernel
def slogdet(x):
    return tuple(jnp.linalg.slogdet(x))


@_kernel
def trace(x, offset=0, axis1=0, axis2=1):
    return jnp.trace(x, offset=offset, axis1=axis1, axis2=axis2)


IMPLEMENTATIONS = _numpy_table.implement("jax", jnp, KERNELS, asarray, cast)
