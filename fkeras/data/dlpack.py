"""Array conversion between JAX, torch, TensorFlow and NumPy, zero-copy where possible.

`to_jax(x)`, `to_torch(x)`, `to_tf(x)` and `to_numpy(x)` accept an array of any of the four
frameworks (and pandas objects, Python scalars/lists) and return the same values as the
target type. Where both frameworks speak DLPack for that device and dtype, the result
shares memory with `x` (no copy); otherwise the value is copied through host memory, so
the result is always correct, only sometimes slower.

Shared memory means an in-place write through one framework is seen by the other. JAX
arrays are immutable by contract, so pass `copy=True` to `to_torch`/`to_tf` before
mutating the result in place (e.g. as an `nn.Parameter` updated by a torch optimizer).

torch and tensorflow are imported only when such an object arrives or is requested.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from fkeras.data.base import is_jax_array, is_pandas, is_tf_tensor, is_torch_tensor
from fkeras.runtime.extras import require
from fkeras.runtime.extras import import_tensorflow

# What a failed DLPack exchange raises depends on the framework and version.
_DLPACK_ERRORS = (TypeError, RuntimeError, BufferError, ValueError, NotImplementedError, AttributeError)


def _torch_ready(t):
    """A detached, dense, contiguous torch tensor with no lazy conj/neg bits."""
    t = t.detach()
    if t.is_conj():
        t = t.resolve_conj()
    if t.is_neg():
        t = t.resolve_neg()
    if not t.is_contiguous():
        t = t.contiguous()
    return t


def _tf_dense(x):
    import tensorflow as tf

    if isinstance(x, tf.SparseTensor):
        return tf.sparse.to_dense(x)
    if isinstance(x, tf.RaggedTensor):
        return x.to_tensor()
    if isinstance(x, tf.Variable):
        return x.read_value()
    return x


def _torch_to_numpy(t):
    t = _torch_ready(t)
    if t.device.type != "cpu":
        t = t.cpu()
    if t.dtype.is_floating_point and t.dtype not in (_torch().float16, _torch().float32, _torch().float64):
        # bfloat16 / float8 have no NumPy view in torch; go through JAX, which knows ml_dtypes.
        return np.asarray(jax.dlpack.from_dlpack(t))
    return t.numpy()


def _torch():

    return require("torch", "fkeras.interop.dlpack.to_torch")


def to_numpy(x) -> np.ndarray:
    """`x` as a NumPy array (a view for CPU arrays where the framework allows)."""
    if isinstance(x, np.ndarray):
        return x
    if is_jax_array(x):
        return np.asarray(x)
    if is_torch_tensor(x):
        return _torch_to_numpy(x)
    if is_tf_tensor(x):
        return _tf_dense(x).numpy()
    if is_pandas(x):
        return x.to_numpy()
    return np.asarray(x)


def to_jax(x) -> jax.Array:
    """`x` as a JAX array; torch and TF tensors cross by DLPack (no copy on a shared device)."""
    if is_jax_array(x):
        return x
    if isinstance(x, np.ndarray):
        if x.dtype == object or x.dtype.kind in "USO":
            raise TypeError(f"to_jax: cannot convert a NumPy array of dtype {x.dtype} (strings/objects) to JAX.")
        return jax.device_put(x)
    if is_torch_tensor(x):
        t = _torch_ready(x)
        try:
            return jax.dlpack.from_dlpack(t)
        except _DLPACK_ERRORS:
            return jnp.asarray(_torch_to_numpy(t))
    if is_tf_tensor(x):
        t = _tf_dense(x)
        if t.dtype.name == "string":
            raise TypeError("to_jax: cannot convert a tf.string tensor to JAX.")
        try:
            return jax.dlpack.from_dlpack(t)
        except _DLPACK_ERRORS:
            return jnp.asarray(t.numpy())
    return jnp.asarray(to_numpy(x))


def to_torch(x, copy: bool = False):
    """`x` as a torch tensor; JAX and TF arrays cross by DLPack (shared memory unless `copy`)."""
    torch = _torch()
    if is_torch_tensor(x):
        return x.clone() if copy else x
    out = None
    if is_jax_array(x) or is_tf_tensor(x):
        src = _tf_dense(x) if is_tf_tensor(x) else x
        try:
            out = torch.from_dlpack(src)
        except _DLPACK_ERRORS:
            try:
                import tensorflow as tf  # TF's own exporter for versions without __dlpack__

                if is_tf_tensor(src):
                    out = torch.utils.dlpack.from_dlpack(tf.experimental.dlpack.to_dlpack(src))
            except _DLPACK_ERRORS:
                out = None
        if out is None:
            out = _torch_from_numpy(to_numpy(src))
            copy = False  # already a private copy
    else:
        a = to_numpy(x)
        out = _torch_from_numpy(a)
        copy = copy and a.size > 0 and out.data_ptr() == a.ctypes.data
    return out.clone() if copy else out


def _torch_from_numpy(a):
    torch = _torch()
    if a.dtype.kind in "USO":
        raise TypeError(f"to_torch: cannot convert an array of dtype {a.dtype} (strings/objects) to torch.")
    if not a.flags.writeable or not (a.flags.c_contiguous or a.flags.f_contiguous) or a.dtype.byteorder == ">":
        a = np.array(a)  # torch wants a writeable, native-order buffer
    if a.dtype.kind == "V" or a.dtype.name in ("bfloat16",):
        return torch.from_dlpack(jnp.asarray(a))
    return torch.from_numpy(a)


def to_tf(x, copy: bool = False):
    """`x` as a `tf.Tensor`; JAX and torch arrays cross by DLPack (shared memory unless `copy`)."""

    tf = import_tensorflow("fkeras.interop.dlpack.to_tf")

    if is_tf_tensor(x):
        x = _tf_dense(x)
        return tf.identity(x) if copy else x
    if is_jax_array(x) or is_torch_tensor(x):
        src = _torch_ready(x) if is_torch_tensor(x) else x
        if not copy:
            try:
                return tf.experimental.dlpack.from_dlpack(src.__dlpack__())
            except _DLPACK_ERRORS:
                pass
        return tf.convert_to_tensor(np.array(to_numpy(src)))
    a = to_numpy(x)
    if a.dtype.kind in "USO":
        return tf.convert_to_tensor(a)
    return tf.convert_to_tensor(np.array(a) if copy else a)


__all__ = ["to_jax", "to_torch", "to_tf", "to_numpy"]
