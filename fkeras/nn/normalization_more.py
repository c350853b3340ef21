"""More normalization pure layers: `RMSNormalization`, `GroupNormalization` (Keras 3.15's math and configs)."""

from __future__ import annotations

from fkeras import ops
from fkeras.nn.base import Layer, Variables
from fkeras.nn.kernel_bias import set_weight_args, weight_args_config
from fkeras.nn.normalization import GAMMA_BETA_CONSTRAINTS, GAMMA_BETA_REGULARIZERS, scale_shift


class RMSNormalization(Layer):
    """`x * rsqrt(mean(x**2, axis) + epsilon) * scale`; `scale` (ones at init) spans `axis` (int or list)."""

    def __init__(self, axis=-1, epsilon=1e-6, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis
        self.epsilon = epsilon

    def _axes(self, rank):
        axes = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            if not -rank <= a < rank:
                raise self.error(f"axis {a} is out of bounds for an input of rank {rank}.")
        return axes

    def build(self, rng, spec):
        shape = tuple(spec.shape[a] for a in self._axes(len(spec.shape)))
        return Variables({"scale": ops.ones(shape, self.variable_dtype)}, {})

    def call(self, variables, x, training=False, rng=None):
        return ops.rms_normalization(x, scale=variables.params["scale"], axis=self._axes(len(x.shape)),
                                     epsilon=self.epsilon)

    def get_config(self):
        return super().get_config() | {"axis": self.axis, "epsilon": self.epsilon}


class GroupNormalization(Layer):
    """Normalize each of `groups` channel groups (of the `axis` channels) over the group's channels and all
    non-batch dims; then per-channel `gamma`/`beta`. groups=-1: one group per channel (instance norm)."""

    weight_regularizers = GAMMA_BETA_REGULARIZERS
    weight_constraints = GAMMA_BETA_CONSTRAINTS
    autocast = False  # statistics in float32 at least, as Keras

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        if isinstance(groups, bool) or not isinstance(groups, int) or (groups <= 0 and groups != -1):
            raise self.error(f"expected `groups` to be a positive int (or -1 for instance normalization), got "
                             f"{groups!r}.")
        self.groups, self.axis, self.epsilon = groups, axis, epsilon
        self.center, self.scale = bool(center), bool(scale)
        set_weight_args(self, ("beta", "gamma"), beta_initializer, gamma_initializer, beta_regularizer,
                        gamma_regularizer, beta_constraint, gamma_constraint)

    def _groups(self, dim):
        groups = dim if self.groups == -1 else self.groups
        if dim < groups:
            raise self.error(f"the number of groups ({groups}) cannot be more than the number of channels ({dim}).")
        if dim % groups:
            raise self.error(f"the number of channels ({dim}) must be a multiple of the number of groups "
                             f"({groups}).")
        return groups

    def build(self, rng, spec):
        dim = spec.shape[self.axis]
        self._groups(dim)
        params = {}
        if self.scale:
            params["gamma"] = self.gamma_initializer((dim,), self.variable_dtype)
        if self.center:
            params["beta"] = self.beta_initializer((dim,), self.variable_dtype)
        return Variables(params, {})

    def call(self, variables, x, training=False, rng=None):
        shape = tuple(x.shape)
        rank = len(shape)
        axis = self.axis % rank
        dim = shape[axis]
        groups = self._groups(dim)
        in_dtype = ops.dtype(x)
        work = "float32" if in_dtype in ("float16", "bfloat16") else in_dtype
        g_shape = list(shape)
        g_shape[0] = -1
        g_shape[axis] = dim // groups
        g_shape.insert(axis, groups)
        xr = ops.cast(ops.reshape(x, g_shape), work)
        red = [i for i in range(1, rank + 1) if i != axis]
        mean, var = ops.moments(xr, axes=red, keepdims=True)
        bshape = [1] * rank
        bshape[axis] = dim // groups
        bshape.insert(axis, groups)
        gamma = ops.cast(ops.reshape(variables.params["gamma"], bshape), work) if self.scale else None
        beta = ops.cast(ops.reshape(variables.params["beta"], bshape), work) if self.center else None
        y = ops.cast(scale_shift(xr, mean, var, self.epsilon, gamma, beta), in_dtype)
        return ops.cast(ops.reshape(y, shape), self.compute_dtype)

    def get_config(self):
        return super().get_config() | {
            "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
            "scale": self.scale,
        } | weight_args_config(self, ("beta", "gamma"))
