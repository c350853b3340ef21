"""What the preprocessing layers share: categorical encoding, host-side (NumPy) calls that still run
inside `jax.jit`, a `tf.data` map and on torch tensors, string arrays, and TensorFlow's string hashes.

String handling: Python `str` (and the `regex` package in TextVectorization); hashes are the ones
`tf.strings` uses, so bins equal Keras's: FarmHash Fingerprint64 (`pyfarmhash`) for
`to_hash_bucket_fast`, SipHash-2-4 keyed by the salt for `to_hash_bucket_strong`, and TensorFlow's
`FingerprintCat64` for `HashedCrossing`.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from fkeras import ops
from fkeras.nn.base import Layer

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count")


def framework(x) -> str:
    """"tf", "torch", "jax" (arrays and tracers) or "numpy" (NumPy arrays, lists, scalars)."""
    mod = type(x).__module__
    if mod.startswith("tensorflow"):
        return "tf"
    if mod.startswith("torch"):
        return "torch"
    if isinstance(x, (jax.Array, jax.core.Tracer)):
        return "jax"
    return "numpy"


def to_numpy(x) -> np.ndarray:
    """A host NumPy array of `x` (NumPy, JAX, torch, eager TF, lists)."""
    kind = framework(x)
    if kind == "torch":
        return x.detach().cpu().numpy()
    if kind == "tf":
        return x.numpy()
    return np.asarray(x)


def as_text(a) -> np.ndarray:
    """An object array of Python `str` for string input (NumPy str/bytes arrays, bytes from TF)."""
    a = np.asarray(a)
    if a.dtype.kind == "U":
        return a.astype(object)
    if a.dtype.kind == "S":
        return np.char.decode(a, "utf-8").astype(object)
    if a.dtype.kind == "O":
        flat = [v.decode("utf-8") if isinstance(v, bytes) else v for v in a.reshape(-1)]
        out = np.empty(len(flat), dtype=object)
        out[:] = flat
        return out.reshape(a.shape)
    return a


_AUTOGRAPH_SKIPPED = []


def skip_autograph() -> None:
    """Tell TensorFlow's AutoGraph not to convert fkeras layers' Python (once, when TF is loaded).

    A layer called in a `tf.data` map runs plain Python over static shapes; converting the facade's
    call chain statement by statement takes ~15 s per map and changes nothing (Keras marks its layers
    the same way). Uses AutoGraph's conversion rules (a private module): skipped if they move."""
    import sys

    if _AUTOGRAPH_SKIPPED or "tensorflow" not in sys.modules:
        return
    _AUTOGRAPH_SKIPPED.append(True)
    try:
        from tensorflow.python.autograph.core import config

        rules = tuple(config.DoNotConvert(m) for m in ("fkeras.layers", "fkeras.nn"))
        config.CONVERSION_RULES = rules + tuple(config.CONVERSION_RULES)
    except (ImportError, AttributeError):
        pass


class PreprocessingLayer(Layer):
    """Base of the preprocessing layers: Keras's keyword arguments, and AutoGraph told to leave fkeras
    alone (`skip_autograph`) as soon as one is made while TensorFlow is loaded."""

    def __init__(self, **kwargs):
        skip_autograph()
        super().__init__(**kwargs)


def host_call(fn, inputs, out_shape, out_dtype: str, *, text_out: bool = False):
    """Run the NumPy function `fn(*arrays) -> array` on `inputs` (one array or a list) from any framework.

    - JAX arrays: the result as a JAX array; under `jax.jit` through `jax.pure_callback`
      (`out_shape` gives the static output shape: a tuple, or a function of the input shape).
    - TF tensors: eagerly the result as a tf tensor; inside a `tf.data` map or a `tf.function`
      through `tf.numpy_function` (its static shape set from `out_shape`).
    - torch tensors: a torch tensor (text results stay NumPy arrays).
    - NumPy / lists: a JAX array (text results stay NumPy `str` arrays).
    """
    many = isinstance(inputs, (list, tuple)) and bool(inputs) and all(
        hasattr(v, "shape") or isinstance(v, (list, tuple)) for v in inputs)
    args = list(inputs) if many else [inputs]
    kind = framework(args[0])
    shape_of = out_shape if callable(out_shape) else (lambda _s: out_shape)

    def run(*arrays):
        out = np.asarray(fn(*arrays))
        return out if text_out else out.astype(out_dtype)

    if kind == "jax" and any(isinstance(a, jax.core.Tracer) for a in args):
        dtype = jax.dtypes.canonicalize_dtype(np.dtype(out_dtype))
        # a dim only the data decides (TextVectorization's longest sequence) is 1 in an abstract trace (the
        # facade's build); a jitted run whose real length differs fails in pure_callback's shape check
        shape = tuple(1 if d is None else d for d in shape_of(tuple(args[0].shape)))
        spec = jax.ShapeDtypeStruct(shape, dtype)
        return jax.pure_callback(lambda *a: run(*[np.asarray(v) for v in a]).astype(dtype), spec, *args)
    if kind == "tf":
        import tensorflow as tf

        skip_autograph()
        if tf.executing_eagerly():
            out = run(*[a.numpy() for a in args])
            return tf.constant(out.astype(object) if text_out else out)
        tout = tf.string if text_out else tf.as_dtype(out_dtype)
        result = tf.numpy_function(lambda *a: _tf_result(run(*a), text_out), args, tout, stateful=False)
        known = tuple(args[0].shape) if args[0].shape.rank is not None else None
        if known is not None:
            try:
                result.set_shape(shape_of(known))  # unknown dims (the batch) stay None
            except (TypeError, ValueError):
                result.set_shape([None] * len(shape_of(tuple(1 if d is None else d for d in known))))
        return result
    out = run(*[to_numpy(a) for a in args])
    if kind == "torch":
        if text_out:
            return out
        import torch

        return torch.from_numpy(np.ascontiguousarray(out))
    return out if text_out else jnp.asarray(out)


def _tf_result(out, text_out):
    if text_out:
        return np.vectorize(lambda s: s.encode("utf-8") if isinstance(s, str) else s, otypes=[object])(out) \
            if out.size else out.astype(object)
    return out


# --- categorical encoding --------------------------------------------------------------------------------
def encode(indices, output_mode: str, depth: int, dtype: str, count_weights=None):
    """Keras's `encode_categorical_inputs` over `fkeras.ops` (any framework): "int" casts; "one_hot"
    drops a trailing 1 then adds a `depth` axis; "multi_hot"/"count" reduce axis 1 (axis 0 for rank 1).
    Indices outside [0, depth) count nowhere."""
    if output_mode == "int":
        return ops.cast(indices, dtype)
    if len(indices.shape) == 0:
        indices = ops.expand_dims(indices, -1)
    if output_mode == "one_hot":
        if len(indices.shape) > 1 and indices.shape[-1] == 1:
            indices = ops.squeeze(indices, -1)
        return ops.one_hot(indices, depth, dtype=dtype)
    axis = 1 if len(indices.shape) > 1 else 0
    if count_weights is not None:
        onehot = ops.one_hot(indices, depth, dtype=count_weights.dtype if hasattr(count_weights, "dtype") else dtype)
        return ops.sum(onehot * ops.expand_dims(count_weights, -1), axis=axis)
    onehot = ops.one_hot(indices, depth, dtype=dtype)
    if output_mode == "multi_hot":
        return ops.max(onehot, axis=axis)
    return ops.sum(onehot, axis=axis)


def encode_np(indices: np.ndarray, output_mode: str, depth: int, dtype: str) -> np.ndarray:
    """`encode` in NumPy (the host path of the lookup and hashing layers)."""
    indices = np.asarray(indices)
    if output_mode == "int":
        return indices.astype(dtype)
    if indices.ndim == 0:
        indices = indices[None]
    if output_mode == "one_hot" and indices.ndim > 1 and indices.shape[-1] == 1:
        indices = indices[..., 0]
    onehot = (indices[..., None] == np.arange(depth)).astype(dtype)
    if output_mode == "one_hot":
        return onehot
    axis = 1 if indices.ndim > 1 else 0
    return onehot.max(axis=axis) if output_mode == "multi_hot" else onehot.sum(axis=axis)


def encoded_shape(shape: tuple, output_mode: str, depth: int) -> tuple:
    """The output shape of `encode` for inputs of `shape`."""
    shape = tuple(shape)
    if output_mode == "int":
        return shape
    if not shape:
        shape = (1,)
    if output_mode == "one_hot":
        return (shape[:-1] if len(shape) > 1 and shape[-1] == 1 else shape) + (depth,)
    return (shape[:1] + shape[2:] if len(shape) > 1 else ()) + (depth,)


# --- TensorFlow's string hashes --------------------------------------------------------------------------
_M64 = (1 << 64) - 1


def _farmhash():
    try:
        import farmhash
    except ImportError:
        raise ImportError('Hashing strings as Keras does needs pyfarmhash, which is not installed: '
                          'pip install "fkeras[text]"') from None
    return farmhash


def fingerprint64(data: bytes) -> int:
    """FarmHash Fingerprint64, TensorFlow's `Fingerprint64` (`to_hash_bucket_fast`)."""
    return _farmhash().fingerprint64(data)


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & _M64


def siphash24(k0: int, k1: int, data: bytes) -> int:
    """SipHash-2-4 of `data` with the 128-bit key (k0, k1): TensorFlow's `to_hash_bucket_strong`."""
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573

    def rounds(v0, v1, v2, v3, n):
        for _ in range(n):
            v0 = (v0 + v1) & _M64
            v1 = _rotl(v1, 13) ^ v0
            v0 = _rotl(v0, 32)
            v2 = (v2 + v3) & _M64
            v3 = _rotl(v3, 16) ^ v2
            v0 = (v0 + v3) & _M64
            v3 = _rotl(v3, 21) ^ v0
            v2 = (v2 + v1) & _M64
            v1 = _rotl(v1, 17) ^ v2
            v2 = _rotl(v2, 32)
        return v0, v1, v2, v3

    n = len(data)
    end = n - n % 8
    for i in range(0, end, 8):
        m = int.from_bytes(data[i:i + 8], "little")
        v3 ^= m
        v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 2)
        v0 ^= m
    b = ((n & 0xFF) << 56) | int.from_bytes(data[end:] + b"\0" * (8 - (n - end)), "little")
    v3 ^= b
    v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 2)
    v0 ^= b
    v2 ^= 0xFF
    v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 4)
    return v0 ^ v1 ^ v2 ^ v3


def as_hash_bytes(value) -> bytes:
    """The bytes TensorFlow hashes: UTF-8 of a string, the decimal digits of an integer (`tf.as_string`)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return str(int(value)).encode()


def hash_buckets(values: np.ndarray, num_buckets: int, salt=None) -> np.ndarray:
    """`tf.strings.to_hash_bucket_fast` (salt None) or `_strong` (salt = [k0, k1]) of every value, int64."""
    flat = values.reshape(-1)
    if salt is None:
        fp = _farmhash().fingerprint64
        out = [fp(as_hash_bytes(v)) % num_buckets for v in flat]
    else:
        k0, k1 = (int(s) & _M64 for s in salt)
        out = [siphash24(k0, k1, as_hash_bytes(v)) % num_buckets for v in flat]
    return np.asarray(out, dtype=np.int64).reshape(values.shape)


_KMUL = 0xC6A4A7935BD1E995
_CROSS_HASH_KEY = 0xDECAFCAFFE  # tf.sparse.cross_hashed's default hash key


def _shift_mix(v):
    return v ^ (v >> 47)


def fingerprint_cat64(fp1: int, fp2: int) -> int:
    """TensorFlow's `FingerprintCat64`: combines two 64-bit fingerprints."""
    result = fp1 ^ _KMUL
    result ^= (_shift_mix((fp2 * _KMUL) & _M64) * _KMUL) & _M64
    result = (result * _KMUL) & _M64
    result = (_shift_mix(result) * _KMUL) & _M64
    return _shift_mix(result)


def cross_hash(columns, num_bins: int) -> np.ndarray:
    """`tf.sparse.cross_hashed` of dense columns (one value per row each): int64 bins per row."""
    n = len(columns[0])
    out = np.empty(n, dtype=np.int64)
    for row in range(n):
        h = _CROSS_HASH_KEY
        for col in columns:
            v = col[row]
            feature = fingerprint64(as_hash_bytes(v)) if isinstance(v, (str, bytes)) else int(v) & _M64
            h = fingerprint_cat64(h, feature)
        out[row] = h % num_bins if num_bins > 0 else h % ((1 << 63) - 1)
    return out


def batches(data, steps=None, lists_are_batches=False):
    """The batches of adapt data: a tf.data Dataset or an iterable (generator, PyDataset, ...) yields
    batches; an array or tensor is one batch, and so is a list or tuple unless `lists_are_batches`
    (Normalization's rule). The first element of (x, y) batches is used."""
    kind = framework(data)
    if kind in ("tf", "torch", "jax") and hasattr(data, "shape"):
        yield to_numpy(data)
        return
    if isinstance(data, (np.ndarray, str)) or (isinstance(data, (list, tuple)) and not lists_are_batches):
        yield data
        return
    if not hasattr(data, "__iter__") and hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        data = (data[i] for i in range(len(data)))  # a PyDataset
    elif not hasattr(data, "__iter__"):
        raise TypeError(f"adapt expects an array, a tensor, a tf.data.Dataset or an iterable of batches; got "
                        f"{type(data).__name__}.")
    for batch in itertools.islice(data, steps):
        if isinstance(batch, (tuple, list)) and batch and hasattr(batch[0], "shape"):
            batch = batch[0]
        elif isinstance(batch, dict):
            raise TypeError("adapt expects batches of arrays; got a dict batch.")
        yield to_numpy(batch) if framework(batch) != "numpy" else batch
