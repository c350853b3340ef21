"""More shape layers: `UpSampling3D`, `Cropping3D` and the adaptive poolings
(`AdaptiveAveragePooling1D/2D/3D`, `AdaptiveMaxPooling1D/2D/3D`), with Keras 3.15's arguments and configs."""

from __future__ import annotations

from fkeras import ops
from fkeras.nn.base import Layer, expect_rank
from fkeras.nn.conv import normalize_tuple
from fkeras.nn.core import _data_format


class UpSampling3D(Layer):
    """Repeat each voxel `size` times along the three spatial dims: (batch, d1, d2, d3, ch) ->
    (batch, s1*d1, s2*d2, s3*d3, ch) (channels_first: spatial dims after the channels)."""

    def __init__(self, size=(2, 2, 2), data_format=None, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.data_format = _data_format(self, data_format)
        self.size = normalize_tuple(size, 3, "size", self)

    def check_input(self, x):
        expect_rank(self, x, 5, "input (batch, d1, d2, d3, channels)")

    def call(self, variables, x, training=False, rng=None):
        first = 2 if self.data_format == "channels_first" else 1
        for i, s in enumerate(self.size):
            x = ops.repeat(x, s, axis=first + i)
        return x

    def get_config(self):
        return super().get_config() | {"size": self.size, "data_format": self.data_format}


def _cropping3d(layer, cropping):
    if isinstance(cropping, int) and not isinstance(cropping, bool):
        return ((cropping, cropping),) * 3
    try:
        cropping = tuple(cropping)
    except TypeError:
        cropping = None
    if cropping is not None and len(cropping) == 3:
        out = []
        for c in cropping:
            if isinstance(c, int) and not isinstance(c, bool):
                out.append((c, c))
            elif isinstance(c, (list, tuple)) and len(c) == 2 and all(isinstance(v, int) for v in c):
                out.append((int(c[0]), int(c[1])))
            else:
                break
        else:
            return tuple(out)
    raise layer.error("expected `cropping` as an int, a tuple of 3 ints or a tuple of 3 (start, end) pairs, got "
                      f"{cropping!r}.")


class Cropping3D(Layer):
    """Remove `cropping` = ((s1, e1), (s2, e2), (s3, e3)) voxels from the ends of the three spatial dims."""

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, name=None, dtype=None, trainable=True,
                 **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.data_format = _data_format(self, data_format)
        self.cropping = _cropping3d(self, cropping)

    def check_input(self, x):
        expect_rank(self, x, 5, "input (batch, d1, d2, d3, channels)")
        first = 2 if self.data_format == "channels_first" else 1
        for i, (s, e) in enumerate(self.cropping):
            if s + e >= x.shape[first + i]:
                raise self.error(f"cropping {self.cropping} removes all of spatial dim {i} of shape {tuple(x.shape)}.")

    def call(self, variables, x, training=False, rng=None):
        first = 2 if self.data_format == "channels_first" else 1
        index = [slice(None)] * 5
        for i, (s, e) in enumerate(self.cropping):
            index[first + i] = slice(s, x.shape[first + i] - e)
        return x[tuple(index)]

    def get_config(self):
        return super().get_config() | {"cropping": self.cropping, "data_format": self.data_format}


class _AdaptivePooling(Layer):
    rank = 1
    op = None

    def __init__(self, output_size, data_format=None, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.output_size = normalize_tuple(output_size, self.rank, "output_size", self)
        if not all(d > 0 for d in self.output_size):
            raise self.error(f"expected a positive `output_size`, got {output_size!r}.")
        self.data_format = _data_format(self, data_format)

    def check_input(self, x):
        expect_rank(self, x, self.rank + 2, "input (batch, *spatial, channels)")

    def call(self, variables, x, training=False, rng=None):
        return getattr(ops, self.op)(x, output_size=self.output_size, data_format=self.data_format)

    def get_config(self):
        return super().get_config() | {"output_size": self.output_size, "data_format": self.data_format}


def _adaptive(name, rank, op, doc):
    return type(name, (_AdaptivePooling,), {"rank": rank, "op": op, "__doc__": doc, "__module__": __name__})


AdaptiveAveragePooling1D = _adaptive("AdaptiveAveragePooling1D", 1, "adaptive_average_pool",
                                     "Average over adaptive windows: (batch, steps, ch) -> (batch, output_size, ch).")
AdaptiveAveragePooling2D = _adaptive("AdaptiveAveragePooling2D", 2, "adaptive_average_pool",
                                     "Average over adaptive windows to a fixed (rows, cols) `output_size`.")
AdaptiveAveragePooling3D = _adaptive("AdaptiveAveragePooling3D", 3, "adaptive_average_pool",
                                     "Average over adaptive windows to a fixed 3-D `output_size`.")
AdaptiveMaxPooling1D = _adaptive("AdaptiveMaxPooling1D", 1, "adaptive_max_pool",
                                 "Max over adaptive windows: (batch, steps, ch) -> (batch, output_size, ch).")
AdaptiveMaxPooling2D = _adaptive("AdaptiveMaxPooling2D", 2, "adaptive_max_pool",
                                 "Max over adaptive windows to a fixed (rows, cols) `output_size`.")
AdaptiveMaxPooling3D = _adaptive("AdaptiveMaxPooling3D", 3, "adaptive_max_pool",
                                 "Max over adaptive windows to a fixed 3-D `output_size`.")
