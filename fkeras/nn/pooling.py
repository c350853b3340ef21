"""Pooling layers: Max/AveragePooling{1,2,3}D and GlobalMax/GlobalAveragePooling{1,2,3}D."""

from __future__ import annotations

from fkeras import ops
from fkeras.nn.base import Layer, as_variables, cast_floats, expect_rank
from fkeras.nn.conv import check_output_size, normalize_positive_tuple
from fkeras.nn.core import _data_format


class _Pooling(Layer):
    """Windowed pooling. inputs: (batch, *spatial, channels) -> (batch, *pooled, channels) (channels_last).

    `strides` default to `pool_size`; padding "valid" or "same" (averages exclude the padding)."""

    rank = 2
    op = "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, dtype=None,
                 trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.pool_size = normalize_positive_tuple(pool_size, self.rank, "pool_size", self)
        self.strides = self.pool_size if strides is None else normalize_positive_tuple(strides, self.rank, "strides", self)
        padding = padding.lower() if isinstance(padding, str) else padding
        if padding not in ("valid", "same"):
            raise self.error(f"expected padding 'valid' or 'same', got {padding!r}.")
        self.padding = padding
        self.data_format = _data_format(self, data_format)

    def check_input(self, x):
        expect_rank(self, x, self.rank + 2, "input (batch, *spatial, channels)")
        check_output_size(self, x.shape, self.pool_size, self.strides, self.padding, (1,) * self.rank,
                          self.data_format, "pool_size")

    def call(self, variables, x, training=False, rng=None):
        fn = ops.max_pool if self.op == "max" else ops.average_pool
        return fn(x, self.pool_size, strides=self.strides, padding=self.padding, data_format=self.data_format)

    def get_config(self):
        return super().get_config() | {"pool_size": self.pool_size, "padding": self.padding,
                                       "strides": self.strides, "data_format": self.data_format}


_REQUIRED = object()


def _pool(name, rank, op, default):
    """A pooling class; `default` is Keras's default pool_size (AveragePooling has none: required)."""
    def __init__(self, pool_size=default, strides=None, padding="valid", data_format=None, name=None, dtype=None,
                 trainable=True, **kwargs):
        if pool_size is _REQUIRED:
            raise TypeError(f"{name}.__init__() missing 1 required argument: 'pool_size'")
        _Pooling.__init__(self, pool_size, strides, padding, data_format, name=name, dtype=dtype,
                          trainable=trainable, **kwargs)

    size = "pool_size required" if default is _REQUIRED else f"default pool_size={default}"
    doc = f"{'Max' if op == 'max' else 'Average'} pooling over {rank}-D windows ({size}, strides=pool_size)."
    return type(name, (_Pooling,), {"rank": rank, "op": op, "__init__": __init__, "__doc__": doc})


MaxPooling1D = _pool("MaxPooling1D", 1, "max", 2)
MaxPooling2D = _pool("MaxPooling2D", 2, "max", (2, 2))
MaxPooling3D = _pool("MaxPooling3D", 3, "max", (2, 2, 2))
AveragePooling1D = _pool("AveragePooling1D", 1, "avg", _REQUIRED)
AveragePooling2D = _pool("AveragePooling2D", 2, "avg", _REQUIRED)
AveragePooling3D = _pool("AveragePooling3D", 3, "avg", _REQUIRED)
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D


class _GlobalPooling(Layer):
    """Reduce all spatial axes: (batch, *spatial, channels) -> (batch, channels), or keep them as 1s."""

    rank = 2
    op = "max"

    def __init__(self, data_format=None, keepdims=False, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.data_format = _data_format(self, data_format)
        self.keepdims = bool(keepdims)

    def check_input(self, x):
        expect_rank(self, x, self.rank + 2, "input (batch, *spatial, channels)")

    def call(self, variables, x, training=False, rng=None):
        start = 2 if self.data_format == "channels_first" else 1
        axes = tuple(range(start, start + self.rank))
        fn = ops.max if self.op == "max" else ops.mean
        return fn(x, axis=axes, keepdims=self.keepdims)

    def get_config(self):
        return super().get_config() | {"data_format": self.data_format, "keepdims": self.keepdims}


def _global(name, rank, op):
    doc = f"Global {'max' if op == 'max' else 'average'} over the {rank} spatial axes."
    return type(name, (_GlobalPooling,), {"rank": rank, "op": op, "__doc__": doc})


GlobalMaxPooling1D = _global("GlobalMaxPooling1D", 1, "max")
GlobalMaxPooling2D = _global("GlobalMaxPooling2D", 2, "max")
GlobalMaxPooling3D = _global("GlobalMaxPooling3D", 3, "max")
class GlobalAveragePooling1D(_GlobalPooling):
    """Global average over the steps of (batch, steps, channels); with `mask` (batch, steps) only the kept
    steps are averaged (Keras's rule: masked steps count as 0 and divide by the number kept)."""

    rank, op = 1, "avg"
    supports_masking = True

    def apply(self, variables, x, training: bool = False, rng=None, mask=None):
        """`(outputs, state)`; `mask` (batch, steps), True = keep the step."""
        if mask is None:
            return super().apply(variables, x, training=training, rng=rng)
        variables = as_variables(variables)
        self.check_input(x)
        x = cast_floats(x, self.compute_dtype) if self.autocast else x
        return self.call(variables, x, training=training, rng=rng, mask=mask), variables.state

    def call(self, variables, x, training=False, rng=None, mask=None):
        if mask is None:
            return super().call(variables, x, training=training, rng=rng)
        steps = 1 if self.data_format == "channels_last" else 2
        keep = ops.expand_dims(ops.cast(mask, "bool"), 2 if self.data_format == "channels_last" else 1)
        x = ops.where(keep, x, ops.zeros_like(x))
        return ops.sum(x, axis=steps, keepdims=self.keepdims) / ops.sum(
            ops.cast(keep, x.dtype), axis=steps, keepdims=self.keepdims)

    def compute_mask(self, inputs, mask=None):
        return None



GlobalAveragePooling2D = _global("GlobalAveragePooling2D", 2, "avg")
GlobalAveragePooling3D = _global("GlobalAveragePooling3D", 3, "avg")
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = (GlobalAveragePooling1D, GlobalAveragePooling2D,
                                                     GlobalAveragePooling3D)
