"""`Hashing` and `HashedCrossing`: values (or crosses of values) into hash bins, with TensorFlow's hashes."""

from __future__ import annotations

import numpy as np

from fkeras import backend
from fkeras.nn.base import as_variables
from fkeras.nn.preprocessing import _common


class Hashing(_common.PreprocessingLayer):
    """Hash strings or integers into `num_bins` bins as `tf.strings.to_hash_bucket_fast` (FarmHash
    Fingerprint64 of the UTF-8 bytes / decimal digits) or, with `salt`, `to_hash_bucket_strong` (SipHash-2-4).
    Floats are truncated to integers first. With `mask_value`, that value maps to 0 and the others to
    1..num_bins-1. Output: int64 ids of the input's shape ("int") or the encoded shape.

    Runs on the host (NumPy); inside `jax.jit` through `jax.pure_callback`, in a `tf.data` map through
    `tf.numpy_function`.
    """

    builds_no_variables = True  # the facade layer is built as made

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False, **kwargs):
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int64" if output_mode == "int" else backend.floatx()
        super().__init__(**kwargs)
        if num_bins is None or num_bins <= 0:
            raise self.error(f"the `num_bins` for `Hashing` cannot be `None` or non-positive values. "
                             f"Received: num_bins={num_bins}.")
        if output_mode == "int" and self.dtype_policy.name not in ("int32", "int64"):
            raise self.error(f"when `output_mode=\"int\"`, `dtype` should be an integer type, 'int32' or 'int64'. "
                             f"Received: dtype={kwargs['dtype']}")
        modes = ("int", "one_hot", "multi_hot", "count")
        if output_mode not in modes:
            raise self.error(f"invalid value for argument `output_mode`. Expected one of {modes}. "
                             f"Received: output_mode={output_mode}")
        if sparse:
            raise self.error("`sparse=True` is not supported (fkeras has no sparse tensors).")
        self.num_bins = num_bins
        self.mask_value = mask_value
        self.strong_hash = salt is not None
        self.output_mode = output_mode
        self.sparse = sparse
        self.salt = None
        if salt is not None:
            if isinstance(salt, (tuple, list)) and len(salt) == 2:
                self.salt = list(salt)
            elif isinstance(salt, int):
                self.salt = [salt, salt]
            else:
                raise self.error("the `salt` argument for `Hashing` can only be a tuple of size 2 integers, or a "
                                 f"single integer. Received: salt={salt}.")

    autocast = False

    def _hash(self, values: np.ndarray) -> np.ndarray:
        values = _common.as_text(values)
        bins, mask = self.num_bins, None
        if self.mask_value is not None and bins > 1:
            bins -= 1
            mask = values == self.mask_value
        if values.dtype.kind == "f":
            values = values.astype(np.int64)
        out = _common.hash_buckets(values, bins, self.salt)
        if mask is not None:
            out = np.where(mask, 0, out + 1)
        return out

    def _numpy(self, x):
        x = np.asarray(x)
        if self.output_mode == "one_hot" and x.ndim and x.shape[-1] == 1:
            x = x[..., 0]
        return _common.encode_np(self._hash(x), self.output_mode, self.num_bins, self.dtype)

    def _out_shape(self, shape):
        if self.output_mode == "one_hot" and shape and shape[-1] == 1:
            shape = shape[:-1]
        return _common.encoded_shape(shape, self.output_mode, self.num_bins)

    def compute_output_shape(self, input_shape):
        """The output shape for `input_shape` (None dims allowed)."""
        return self._out_shape(tuple(input_shape))

    @property
    def output_dtype(self) -> str:
        """The outputs' dtype (a symbolic call on string inputs reads it)."""
        return self.dtype

    def apply(self, variables, x, training=False, rng=None):
        variables = as_variables(variables)
        if isinstance(x, (list, tuple)):
            x = np.asarray(x)
        return _common.host_call(self._numpy, x, self._out_shape, self.dtype), variables.state

    def get_config(self):
        config = super().get_config()
        config.update({"num_bins": self.num_bins, "salt": self.salt, "mask_value": self.mask_value,
                       "output_mode": self.output_mode, "sparse": self.sparse})
        return config


class HashedCrossing(_common.PreprocessingLayer):
    """Cross two or more categorical features (each (), (batch,) or (batch, 1), int or string) into
    `num_bins` bins as `tf.sparse.cross_hashed`. Output int64 ids of the first input's shape ("int") or
    one-hot vectors ("one_hot")."""

    builds_no_variables = True  # the facade layer is built as made

    autocast = False

    def __init__(self, num_bins, output_mode="int", sparse=False, name=None, dtype=None, **kwargs):
        if output_mode == "int" and dtype is None:
            dtype = "int64"
        super().__init__(name=name, dtype=dtype, **kwargs)
        if sparse:
            raise self.error("`sparse=True` can only be used with the TensorFlow backend.")
        if output_mode not in ("int", "one_hot"):
            raise self.error(f"invalid `output_mode` {output_mode!r}; expected 'int' or 'one_hot'.")
        self.num_bins = num_bins
        self.output_mode = output_mode
        self.sparse = sparse

    def check_input(self, *inputs):
        if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)):
            inputs = inputs[0]
        if len(inputs) < 2:
            raise self.error(f"`HashedCrossing` should be called on a list or tuple of at least two inputs; got "
                             f"{len(inputs)}.")
        first = tuple(inputs[0].shape) if hasattr(inputs[0], "shape") else np.shape(inputs[0])
        if len(first) > 2 or (len(first) == 2 and first[-1] != 1):
            raise self.error(f"all `HashedCrossing` inputs should have shape `()`, `(batch_size)` or "
                             f"`(batch_size, 1)`; got shape {first}.")
        for v in inputs[1:]:
            if (tuple(v.shape) if hasattr(v, "shape") else np.shape(v)) != first:
                raise self.error("all `HashedCrossing` inputs should have equal shape; got "
                                 f"{[tuple(np.shape(i)) if not hasattr(i, 'shape') else tuple(i.shape) for i in inputs]}.")

    def _numpy(self, *columns):
        shape = np.shape(columns[0])
        cols = []
        for c in columns:
            c = _common.as_text(np.asarray(c)).reshape(-1)
            if c.dtype.kind not in "iuO":
                raise self.error(f"all `HashedCrossing` inputs should have an integer or string dtype; got {c.dtype}.")
            cols.append(c)
        out = _common.cross_hash(cols, self.num_bins).reshape(shape)
        return _common.encode_np(out, self.output_mode, self.num_bins, self.dtype)

    def compute_output_shape(self, input_shape):
        """The output shape for the inputs' shapes (a list of two or more; None dims allowed)."""
        shapes = [tuple(s) for s in input_shape] if input_shape and isinstance(input_shape[0], (tuple, list)) else []
        if len(shapes) < 2 or any(s != shapes[0] for s in shapes):
            raise self.error(f"expected a list of two or more inputs of identical shapes; got input_shape={input_shape}.")
        return _common.encoded_shape(shapes[0], self.output_mode, self.num_bins)

    @property
    def output_dtype(self) -> str:
        """The outputs' dtype (a symbolic call on string inputs reads it)."""
        return self.dtype

    def apply(self, variables, inputs, *more, training=False, rng=None):
        variables = as_variables(variables)
        inputs = list(inputs) if not more else [inputs, *more]
        self.check_input(inputs)
        inputs = [np.asarray(v) if isinstance(v, (list, tuple, int, str)) else v for v in inputs]
        shape_fn = lambda s: _common.encoded_shape(s, self.output_mode, self.num_bins)  # noqa: E731
        return _common.host_call(self._numpy, inputs, shape_fn, self.dtype), variables.state

    def get_config(self):
        return {"num_bins": self.num_bins, "output_mode": self.output_mode, "sparse": self.sparse,
                "name": self.name, "dtype": self.dtype}
