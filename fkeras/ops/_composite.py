"""Ops written once over the framework's own implementations (`_dispatch.backend`), so JAX, torch and
TF run the same composition of reshape/transpose/one_hot/max: `depth_to_space`, `space_to_depth`,
`multi_hot`. Registered by `_jax_extra`, `_torch_extra` and `_tf_extra`."""

from __future__ import annotations

from fkeras.ops import _dispatch

__all__ = ["depth_to_space", "space_to_depth", "multi_hot"]


def _backend(x):
    return _dispatch.backend(_dispatch.framework_of(x))


def depth_to_space(x, block_size, data_format="channels_last"):
    """(N, H, W, C) -> (N, H*b, W*b, C/b^2); channels_first: (N, C, H, W) -> (N, C/b^2, H*b, W*b)."""
    B, b = _backend(x), block_size
    x = B.convert_to_tensor(x)
    if data_format == "channels_last":
        _, h, w, c = x.shape
        x = B.transpose(B.reshape(x, [-1, h, w, b, b, c // b**2]), [0, 1, 3, 2, 4, 5])
        return B.reshape(x, [-1, h * b, w * b, c // b**2])
    _, c, h, w = x.shape
    x = B.transpose(B.reshape(x, [-1, c // b**2, b, b, h, w]), [0, 1, 4, 2, 5, 3])
    return B.reshape(x, [-1, c // b**2, h * b, w * b])


def space_to_depth(x, block_size, data_format="channels_last"):
    """(N, H, W, C) -> (N, H/b, W/b, C*b^2); channels_first: (N, C, H, W) -> (N, C*b^2, H/b, W/b)."""
    B, b = _backend(x), block_size
    x = B.convert_to_tensor(x)
    if data_format == "channels_last":
        _, h, w, c = x.shape
        x = B.transpose(B.reshape(x, [-1, h // b, b, w // b, b, c]), [0, 1, 3, 2, 4, 5])
        return B.reshape(x, [-1, h // b, w // b, c * b * b])
    _, c, h, w = x.shape
    x = B.transpose(B.reshape(x, [-1, c, h // b, b, w // b, b]), [0, 1, 3, 5, 2, 4])
    return B.reshape(x, [-1, c * b * b, h // b, w // b])


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """(batch, n) ints -> (batch, num_classes) with 1 where a class occurs in the row ((n,) -> (num_classes,))."""
    kwargs.update(kwargs.pop("kwargs", {}))
    if num_classes is None and "num_tokens" in kwargs:
        num_classes = kwargs.pop("num_tokens")
    if num_classes is None:
        raise ValueError("fkeras.ops.multi_hot: `num_classes` is required.")
    if sparse:
        raise ValueError("fkeras.ops.multi_hot: sparse=True is not supported; expected sparse=False.")
    B = _backend(inputs)
    x = B.cast(B.convert_to_tensor(inputs), "int32")
    one_hot = B.one_hot(x, num_classes, axis=axis, dtype=dtype)
    return B.max(one_hot, axis=1 if len(x.shape) > 1 else 0)
