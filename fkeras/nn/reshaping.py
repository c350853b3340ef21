"""Reshaping layers: Reshape, Permute, ZeroPadding1D/2D/3D, UpSampling1D/2D."""

from __future__ import annotations

import math

import numpy as np

from fkeras import ops
from fkeras.nn.base import Layer, expect_rank
from fkeras.nn.conv import normalize_positive_tuple as normalize_tuple
from fkeras.nn.core import _data_format


class Reshape(Layer):
    """(batch, ...) -> (batch, *target_shape); one entry of `target_shape` may be -1."""

    def __init__(self, target_shape, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        try:
            target_shape = tuple(int(d) for d in target_shape)
        except TypeError:
            raise self.error(f"expected `target_shape` as a tuple of ints, got {target_shape!r}.") from None
        if sum(d == -1 for d in target_shape) > 1 or any(d < -1 or d == 0 for d in target_shape):
            raise self.error(f"expected positive dimensions and at most one -1 in `target_shape`, "
                             f"got {target_shape}.")
        self.target_shape = target_shape

    def _resolved(self, x):
        size = math.prod(x.shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        if (-1 in self.target_shape and size % known) or (-1 not in self.target_shape and size != known):
            raise self.error(f"cannot reshape input of shape {tuple(x.shape)} to (batch, *{self.target_shape}).")
        return tuple(size // known if d == -1 else d for d in self.target_shape)

    def check_input(self, x):
        expect_rank(self, x, range(1, 64), "input (batch, ...)")
        self._resolved(x)

    def call(self, variables, x, training=False, rng=None):
        return ops.reshape(x, (-1,) + self._resolved(x))

    def get_config(self):
        return super().get_config() | {"target_shape": self.target_shape}


class Permute(Layer):
    """Permute the non-batch axes: `dims` is a permutation of 1..rank-1 (Keras indexing from 1)."""

    def __init__(self, dims, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        dims = tuple(dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise self.error(f"expected `dims` to be a permutation of 1..{len(dims)}, got {dims}.")
        self.dims = dims

    def check_input(self, x):
        expect_rank(self, x, len(self.dims) + 1, f"input (batch, {len(self.dims)} axes)")

    def call(self, variables, x, training=False, rng=None):
        return ops.transpose(x, (0,) + self.dims)

    def get_config(self):
        return super().get_config() | {"dims": self.dims}


def _pair(layer, value, what):
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    try:
        value = tuple(value)
    except TypeError:
        value = (value,)
    if len(value) != 2 or not all(isinstance(v, int) and v >= 0 for v in value):
        raise layer.error(f"expected {what} as an int or a pair of non-negative ints, got {value!r}.")
    return value


class _ZeroPadding(Layer):
    """Pad the spatial axes with zeros; `padding` per axis is (before, after)."""

    rank = 2

    def __init__(self, padding=1, data_format=None, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.data_format = _data_format(self, data_format)
        if self.rank == 1:
            self.padding = _pair(self, padding, "`padding`")
        else:
            if isinstance(padding, int) and not isinstance(padding, bool):
                padding = (padding,) * self.rank
            padding = tuple(padding) if hasattr(padding, "__len__") else padding
            if not isinstance(padding, tuple) or len(padding) != self.rank:
                raise self.error(f"expected `padding` as an int, {self.rank} ints or {self.rank} pairs of ints, "
                                 f"got {padding!r}.")
            self.padding = tuple(_pair(self, p, f"entry {i} of `padding`") for i, p in enumerate(padding))

    def _pads(self):
        per_axis = [self.padding] if self.rank == 1 else list(self.padding)
        if self.data_format == "channels_first":
            return [(0, 0), (0, 0)] + per_axis
        return [(0, 0)] + per_axis + [(0, 0)]

    def check_input(self, x):
        expect_rank(self, x, self.rank + 2, "input (batch, *spatial, channels)")

    def call(self, variables, x, training=False, rng=None):
        return ops.pad(x, self._pads())

    def get_config(self):
        return super().get_config() | {"padding": self.padding, "data_format": self.data_format}


class ZeroPadding1D(_ZeroPadding):
    """(batch, steps, ch) -> (batch, before + steps + after, ch). `padding`: int or (before, after)."""

    rank = 1


class ZeroPadding2D(_ZeroPadding):
    """(batch, rows, cols, ch) -> padded; `padding`: int, (rows, cols) or ((top, bottom), (left, right))."""

    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(padding, data_format, name=name, dtype=dtype, trainable=trainable, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    """(batch, d1, d2, d3, ch) -> padded; `padding`: int, 3 ints or 3 pairs."""

    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, name=None, dtype=None, trainable=True,
                 **kwargs):
        super().__init__(padding, data_format, name=name, dtype=dtype, trainable=trainable, **kwargs)


def _linear_upsample(x, axis, factor):
    """Bilinear (half-pixel centres, edge-clamped) upsampling of `x` along `axis` by an integer factor."""
    n = x.shape[axis]
    src = np.clip((np.arange(n * factor) + 0.5) / factor - 0.5, 0, n - 1)
    lo = np.floor(src).astype(np.int32)
    hi = np.minimum(lo + 1, n - 1)
    w = (src - lo).astype(np.float32)
    wshape = [1] * len(x.shape)
    wshape[axis] = n * factor
    w = ops.cast(ops.reshape(ops.convert_to_tensor(w), wshape), ops.dtype(x))
    a, b = ops.take(x, lo, axis=axis), ops.take(x, hi, axis=axis)
    return ops.add(a, ops.multiply(ops.subtract(b, a), w))


class UpSampling1D(Layer):
    """Repeat each step `size` times: (batch, steps, ch) -> (batch, steps * size, ch)."""

    def __init__(self, size=2, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.size = normalize_tuple(size, 1, "size", self)[0]

    def check_input(self, x):
        expect_rank(self, x, 3, "input (batch, steps, channels)")

    def call(self, variables, x, training=False, rng=None):
        return ops.repeat(x, self.size, axis=1)

    def get_config(self):
        return super().get_config() | {"size": self.size}


class UpSampling2D(Layer):
    """Scale rows and cols by `size`: "nearest" repeats pixels, "bilinear" interpolates (half-pixel centres)."""

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", name=None, dtype=None, trainable=True,
                 **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.size = normalize_tuple(size, 2, "size", self)
        self.data_format = _data_format(self, data_format)
        if interpolation not in ("nearest", "bilinear"):
            raise self.error(f"expected interpolation 'nearest' or 'bilinear', got {interpolation!r}.")
        self.interpolation = interpolation

    def check_input(self, x):
        expect_rank(self, x, 4, "input (batch, rows, cols, channels)")

    def call(self, variables, x, training=False, rng=None):
        axes = (2, 3) if self.data_format == "channels_first" else (1, 2)
        for axis, factor in zip(axes, self.size):
            if self.interpolation == "nearest":
                x = ops.repeat(x, factor, axis=axis)
            else:
                x = _linear_upsample(x, axis, factor)
        return x

    def get_config(self):
        return super().get_config() | {"size": self.size, "data_format": self.data_format,
                                       "interpolation": self.interpolation}


class RepeatVector(Layer):
    """(batch, features) -> (batch, n, features)."""

    def __init__(self, n, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise self.error(f"expected `n` to be a positive int, got {n!r}.")
        self.n = n

    def check_input(self, x):
        expect_rank(self, x, 2, "input (batch, features)")

    def call(self, variables, x, training=False, rng=None):
        return ops.repeat(ops.expand_dims(x, 1), self.n, axis=1)

    def get_config(self):
        return super().get_config() | {"n": self.n}


class Cropping1D(Layer):
    """Remove `cropping = (start, end)` steps: (batch, steps, ch) -> (batch, steps - start - end, ch)."""

    def __init__(self, cropping=(1, 1), name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.cropping = _pair(self, cropping, "`cropping`")

    def check_input(self, x):
        expect_rank(self, x, 3, "input (batch, steps, channels)")
        if sum(self.cropping) >= x.shape[1]:
            raise self.error(f"cropping {self.cropping} removes all {x.shape[1]} steps of input {tuple(x.shape)}.")

    def call(self, variables, x, training=False, rng=None):
        a, b = self.cropping
        return x[:, a:x.shape[1] - b, :]

    def get_config(self):
        return super().get_config() | {"cropping": self.cropping}


class Cropping2D(Layer):
    """Remove rows/cols at the edges: `cropping` int, (rows, cols) or ((top, bottom), (left, right))."""

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.data_format = _data_format(self, data_format)
        if isinstance(cropping, int) and not isinstance(cropping, bool):
            cropping = (cropping, cropping)
        cropping = tuple(cropping) if hasattr(cropping, "__len__") else cropping
        if not isinstance(cropping, tuple) or len(cropping) != 2:
            raise self.error(f"expected `cropping` as an int, 2 ints or 2 pairs of ints, got {cropping!r}.")
        self.cropping = tuple(_pair(self, c, f"entry {i} of `cropping`") for i, c in enumerate(cropping))

    def check_input(self, x):
        expect_rank(self, x, 4, "input (batch, rows, cols, channels)")
        axes = (2, 3) if self.data_format == "channels_first" else (1, 2)
        for axis, crop in zip(axes, self.cropping):
            if sum(crop) >= x.shape[axis]:
                raise self.error(f"cropping {self.cropping} removes all of axis {axis} of input {tuple(x.shape)}.")

    def call(self, variables, x, training=False, rng=None):
        (t, b), (l, r) = self.cropping
        if self.data_format == "channels_first":
            return x[:, :, t:x.shape[2] - b, l:x.shape[3] - r]
        return x[:, t:x.shape[1] - b, l:x.shape[2] - r, :]

    def get_config(self):
        return super().get_config() | {"cropping": self.cropping, "data_format": self.data_format}
