"""Normalization layers: BatchNormalization (moving statistics in `state`) and LayerNormalization."""

from __future__ import annotations

from fkeras import ops
from fkeras.ops._args import _scale_shift
from fkeras.nn.base import Layer, Variables
from fkeras.nn.kernel_bias import set_weight_args, weight_args_config

GAMMA_BETA_REGULARIZERS = {"gamma": "gamma_regularizer", "beta": "beta_regularizer"}
GAMMA_BETA_CONSTRAINTS = {"gamma": "gamma_constraint", "beta": "beta_constraint"}
_BN_INITIALIZED = ("beta", "gamma", "moving_mean", "moving_variance")  # BatchNormalization's initializer arguments


def _result_float(x) -> str:
    """float32 for half-precision (and float32) inputs, float64 stays: Keras normalizes in at least float32."""
    return "float64" if ops.dtype(x) == "float64" else "float32"


def _axis_arg(layer, axis):
    """An `axis` argument: an int, or a list of ints (from a list or tuple)."""
    if isinstance(axis, (list, tuple)) and all(isinstance(a, int) for a in axis):
        return list(axis)
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise layer.error(f"expected `axis` as an int or a list of ints, got {axis!r}.")
    return axis


def scale_shift(x, mean, variance, epsilon, gamma=None, beta=None):
    """`(x - mean) / sqrt(variance + epsilon) * gamma + beta` as Keras's Layer/GroupNormalization compute it:
    one multiply-add on `x` (the fused form of `ops.layer_normalization`); statistics, gamma and beta (None:
    skipped) broadcast against `x`."""
    return _scale_shift(x, mean, ops.rsqrt(variance + epsilon), gamma, beta)


class BatchNormalization(Layer):
    """Normalize over the batch (and all axes but `axis`) with batch statistics when training,
    moving statistics otherwise.

    params: `gamma`, `beta` (shape (features,)); state: `moving_mean`, `moving_variance`.
    Training updates `moving = momentum * moving + (1 - momentum) * batch_stat` and returns it as
    new state; a layer with `trainable=False` always runs in inference mode (as Keras 3).
    Statistics and normalization run in float32 under mixed precision; the output is in the
    compute dtype.
    """

    stateful = True
    cast_variables = False
    weight_regularizers = GAMMA_BETA_REGULARIZERS
    weight_constraints = GAMMA_BETA_CONSTRAINTS
    state_leaves = ("moving_mean", "moving_variance")

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 synchronized=False, renorm=False, renorm_clipping=None, renorm_momentum=0.99, name=None,
                 dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise self.error(f"expected `axis` to be an int, got {axis!r}.")
        if renorm:
            raise self.error("batch renormalization is not supported; expected renorm=False.")
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale, self.synchronized = bool(center), bool(scale), bool(synchronized)
        self.renorm, self.renorm_clipping, self.renorm_momentum = False, renorm_clipping, renorm_momentum
        set_weight_args(self, _BN_INITIALIZED, beta_initializer, gamma_initializer, moving_mean_initializer,
                        moving_variance_initializer, kinds=("initializer",))
        set_weight_args(self, ("beta", "gamma"), beta_regularizer, gamma_regularizer, beta_constraint,
                        gamma_constraint, kinds=("regularizer", "constraint"))

    def _axis(self, ndim):
        axis = self.axis + ndim if self.axis < 0 else self.axis
        return axis

    def check_input(self, x):
        nd = len(x.shape)
        if not -nd <= self.axis < nd:
            raise self.error(f"axis {self.axis} is out of range for input shape {tuple(x.shape)}.")

    def build(self, rng, spec):
        shape = (spec.shape[self._axis(len(spec.shape))],)
        dtype = self.variable_dtype
        params, state = {}, {}
        if self.scale:
            params["gamma"] = self.gamma_initializer(shape, dtype)
        if self.center:
            params["beta"] = self.beta_initializer(shape, dtype)
        state["moving_mean"] = self.moving_mean_initializer(shape, dtype)
        state["moving_variance"] = self.moving_variance_initializer(shape, dtype)
        return Variables(params, state)

    def call(self, variables, x, training=False, rng=None):
        axis = self._axis(len(x.shape))
        features = variables.state["moving_mean"].shape[0]
        if x.shape[axis] != features:
            raise self.error(f"expected {features} features on axis {self.axis}, got shape {tuple(x.shape)}.")
        dtype = _result_float(x)
        x = ops.cast(x, dtype)
        moving_mean = ops.cast(variables.state["moving_mean"], dtype)
        moving_variance = ops.cast(variables.state["moving_variance"], dtype)
        gamma = ops.cast(variables.params["gamma"], dtype) if self.scale else None
        beta = ops.cast(variables.params["beta"], dtype) if self.center else None
        new_state = variables.state
        if training and self.trainable:
            reduction = tuple(a for a in range(len(x.shape)) if a != axis)
            mean, variance = ops.moments(x, axes=reduction)
            m = self.momentum
            sdt = ops.dtype(variables.state["moving_mean"])
            new_state = {
                "moving_mean": ops.cast(moving_mean * m + mean * (1.0 - m), sdt),
                "moving_variance": ops.cast(moving_variance * m + variance * (1.0 - m), sdt),
            }
        else:
            mean, variance = moving_mean, moving_variance
        y = ops.batch_normalization(x, mean, variance, axis=axis, offset=beta, scale=gamma, epsilon=self.epsilon)
        return ops.cast(y, self.compute_dtype), new_state

    def get_config(self):
        return super().get_config() | {
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        } | weight_args_config(self, _BN_INITIALIZED, kinds=("initializer",)) | weight_args_config(
            self, ("beta", "gamma"), kinds=("regularizer", "constraint")) | {
            "synchronized": self.synchronized,
            "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        }


class LayerNormalization(Layer):
    """Normalize each example over `axis` (an int or a list): `(x - mean) / sqrt(var + epsilon) * gamma + beta`.

    params: `gamma`, `beta` shaped like the normalized axes. Computed in float32 under mixed precision."""

    weight_regularizers = GAMMA_BETA_REGULARIZERS
    weight_constraints = GAMMA_BETA_CONSTRAINTS

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, rms_scaling=False, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.axis, self.epsilon = _axis_arg(self, axis), float(epsilon)
        self.center, self.scale, self.rms_scaling = bool(center), bool(scale), bool(rms_scaling)
        set_weight_args(self, ("beta", "gamma"), beta_initializer, gamma_initializer, beta_regularizer,
                        gamma_regularizer, beta_constraint, gamma_constraint)

    def _axes(self, ndim):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        return sorted(a + ndim if a < 0 else a for a in axes)

    def check_input(self, x):
        nd = len(x.shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if any(not -nd <= a < nd for a in axes):
            raise self.error(f"axis {self.axis} is out of range for input shape {tuple(x.shape)}.")

    def build(self, rng, spec):
        shape = tuple(spec.shape[a] for a in self._axes(len(spec.shape)))
        params = {}
        if self.scale:
            params["gamma"] = self.gamma_initializer(shape, self.variable_dtype)
        if self.center and not self.rms_scaling:
            params["beta"] = self.beta_initializer(shape, self.variable_dtype)
        return Variables(params, {})

    def call(self, variables, x, training=False, rng=None):
        nd = len(x.shape)
        axes = self._axes(nd)
        dtype = _result_float(x)
        x = ops.cast(x, dtype)
        gamma, beta = variables.params.get("gamma"), variables.params.get("beta")
        want = tuple(x.shape[a] for a in axes)
        have = tuple((gamma if gamma is not None else beta).shape) if (gamma is not None or beta is not None) \
            else want
        if have != want:
            raise self.error(f"expected the normalized axes {self.axis} to have shape {have}, got input shape "
                             f"{tuple(x.shape)}.")
        bshape = [1] * nd
        for a in axes:
            bshape[a] = x.shape[a]

        def bcast(v):
            return None if v is None else ops.reshape(ops.cast(v, dtype), bshape)

        gamma, beta = bcast(gamma), bcast(beta)
        if self.rms_scaling:
            inv = ops.rsqrt(ops.var(x, axis=axes, keepdims=True) + self.epsilon)
            y = x * inv if gamma is None else x * inv * gamma
        else:
            mean, variance = ops.moments(x, axes=axes, keepdims=True)
            y = scale_shift(x, mean, variance, self.epsilon, gamma, beta)
        return ops.cast(y, self.compute_dtype)

    def get_config(self):
        return super().get_config() | {
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
        } | weight_args_config(self, ("beta", "gamma"))


class UnitNormalization(Layer):
    """Scale each example to unit L2 norm over `axis` (an int or a list of ints)."""

    def __init__(self, axis=-1, name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.axis = _axis_arg(self, axis)

    def call(self, variables, x, training=False, rng=None):
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        return ops.normalize(x, axis=axis, order=2, epsilon=1e-12)

    def get_config(self):
        return super().get_config() | {"axis": self.axis}
