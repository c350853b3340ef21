"""More regularization pure layers: `GaussianDropout`, `AlphaDropout`, `ActivityRegularization`,
`SpatialDropout3D` (Keras 3.15's math and configs). The random layers act only when training and draw from
`rng` (or their `seed`); on torch/TF tensors the shims' own generators are used."""

from __future__ import annotations

import math

from fkeras import ops
from fkeras import random as frandom
from fkeras.nn import regularizers
from fkeras.nn.base import Layer
from fkeras.nn.core import _SpatialDropout


def _rate(layer, rate):
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise layer.error(f"expected `rate` as a float in [0, 1], got {rate!r}.")
    return rate


def _key(layer, x, rng):
    if rng is not None:
        return rng
    if layer.seed is not None:
        return int(layer.seed)
    if ops.framework_of(x) == "jax":
        raise layer.error("training with rate > 0 needs an `rng` key (or a `seed`); got rng=None.")
    return None


class GaussianDropout(Layer):
    """Multiply by noise ~ N(1, rate / (1 - rate)) when training; identity otherwise. Shape preserved."""

    def __init__(self, rate, seed=None, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.rate, self.seed = _rate(self, rate), seed

    def call(self, variables, x, training=False, rng=None):
        if not training or self.rate == 0:
            return x
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        noise = frandom.normal(tuple(x.shape), mean=1.0, stddev=stddev, dtype=ops.dtype(x),
                               seed=_key(self, x, rng))
        return x * noise

    def get_config(self):
        return super().get_config() | {"rate": self.rate, "seed": self.seed}


class AlphaDropout(Layer):
    """Dropout that keeps SELU's self-normalization (mean and variance) when training: dropped units are set
    to -alpha * scale, then an affine map restores the statistics. `noise_shape` as Dropout's."""

    def __init__(self, rate, noise_shape=None, seed=None, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.rate, self.seed = _rate(self, rate), seed
        self.noise_shape = None if noise_shape is None else list(noise_shape)

    def call(self, variables, x, training=False, rng=None):
        if not training or self.rate == 0:
            return x
        shape = tuple(x.shape) if self.noise_shape is None else tuple(
            x.shape[i] if d is None else d for i, d in enumerate(self.noise_shape))
        alpha_p = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946
        u = frandom.uniform(shape, dtype=ops.dtype(x), seed=_key(self, x, rng))
        kept = ops.cast(ops.greater_equal(u, self.rate), ops.dtype(x))
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        return a * (x * kept + alpha_p * (1 - kept)) + b

    def get_config(self):
        return super().get_config() | {"rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape}


class ActivityRegularization(Layer):
    """Identity that adds `l1 * sum(|x|) + l2 * sum(x**2)` (divided by the batch size) to the losses."""

    def __init__(self, l1=0.0, l2=0.0, name=None, dtype=None, trainable=True, **kwargs):
        kwargs.pop("activity_regularizer", None)
        super().__init__(name=name, dtype=dtype, trainable=trainable,
                         activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1, self.l2 = l1, l2

    def call(self, variables, x, training=False, rng=None):
        return x

    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)
        return config | {"l1": self.l1, "l2": self.l2}


class SpatialDropout3D(_SpatialDropout):
    """Dropout of whole 3-D feature maps: one mask entry per (example, channel) of 5-D inputs."""

    rank = 3
    layout = "(batch, dim1, dim2, dim3, channels)"
