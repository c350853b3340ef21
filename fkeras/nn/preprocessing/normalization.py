"""`Normalization`: (x - mean) / sqrt(variance) per feature, statistics given or learned by `adapt`."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from fkeras import backend, ops
from fkeras.nn.base import Variables, as_spec
from fkeras.nn.preprocessing import _common


class Normalization(_common.PreprocessingLayer):
    """Feature-wise normalization: `(x - mean) / max(sqrt(variance), epsilon)` (`invert=True`: the inverse).

    The statistics are given (`mean`, `variance`, broadcast over the kept `axis`) or learned with `adapt`,
    into the state leaves `mean`, `variance` (shape: the input's dims along `axis`) and `count` (int,
    Keras's third weight). Input (..., features) -> same shape, float.

    Pure adapt: `layer, variables, spec = norm.adapt(None, data)` (data: array, tf.data Dataset or an
    iterable of batches); the facade's `layer.adapt(data)` does this and keeps the result.
    """

    updates = ("adapt",)  # Keras's stateful methods, written pure (see `adapt`)

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, int):
            axis = (axis,)
        else:
            axis = tuple(axis)
        self.axis = axis
        self.input_mean = mean
        self.input_variance = variance
        self.invert = bool(invert)
        if (mean is not None) != (variance is not None):
            raise self.error("when setting values directly, both `mean` and `variance` must be set. "
                             f"Received: mean={mean} and variance={variance}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise self.error(f"`mean` and `variance` must have the same shape; got {np.shape(mean)} and "
                                 f"{np.shape(variance)}.")
            if len(np.shape(mean)) > len(self.axis):
                raise self.error(f"the rank of `mean` must be <= the number of axes ({len(self.axis)}); got mean "
                                 f"shape {np.shape(mean)} for axis {self.axis}.")

    @property
    def builds_no_variables(self):
        """Given statistics make no variables: the facade layer is built as made."""
        return self.input_mean is not None

    # -- shapes ----------------------------------------------------------------------------------
    def _keep(self, shape):
        ndim = len(shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise self.error(f"all `axis` values must be in the range [-ndim, ndim); got inputs with ndim={ndim}, "
                             f"axis={self.axis}.")
        return tuple(sorted(a % ndim for a in self.axis))

    def _stat_shape(self, shape):
        return tuple(shape[d] for d in self._keep(shape))

    def _broadcast_shape(self, shape):
        keep = self._keep(shape)
        return tuple(shape[d] if d in keep else 1 for d in range(len(shape)))

    def build(self, rng, spec):
        shape = tuple(spec.shape)
        stat = self._stat_shape(shape)
        if self.input_mean is not None:
            return Variables({}, {})
        return Variables({}, {"mean": jnp.zeros(stat, self.variable_dtype),
                              "variance": jnp.ones(stat, self.variable_dtype),
                              "count": jnp.zeros((), "int32")})

    def _given(self, shape):
        """The constructor's mean/variance broadcast to the input's broadcast shape (Keras's rule)."""
        bshape = self._broadcast_shape(shape)
        keep = self._keep(shape)
        mean, var = np.asarray(self.input_mean, "float64"), np.asarray(self.input_variance, "float64")
        if mean.ndim:
            expanded = [1] * len(shape)
            for i in range(1, mean.ndim + 1):
                expanded[keep[-i]] = mean.shape[-i]
            mean, var = mean.reshape(expanded), var.reshape(expanded)
        return np.broadcast_to(mean, bshape), np.broadcast_to(var, bshape)

    def call(self, variables, x, training=False, rng=None):
        shape = tuple(x.shape)
        if self.input_mean is not None:
            mean, var = self._given(shape)
        else:
            mean = ops.reshape(variables.state["mean"], self._broadcast_shape(shape))
            var = ops.reshape(variables.state["variance"], self._broadcast_shape(shape))
        x = ops.cast(x, self.compute_dtype)
        mean = _like(mean, x, self.compute_dtype)
        var = _like(var, x, self.compute_dtype)
        scale = ops.maximum(ops.sqrt(var), backend.epsilon())
        return mean + x * scale if self.invert else (x - mean) / scale

    def compute_output_shape(self, input_shape):
        """Keras's output shape for `input_shape` (None dims allowed): unchanged."""
        return tuple(input_shape)

    # -- adapt -------------------------------------------------------------------------------------
    def adapt(self, variables, data, steps=None):
        """Mean and variance of `data` over the non-kept axes (Keras's batch-merging rule for
        datasets and iterables). Returns `(self, Variables, input spec)`."""
        if self.input_mean is not None:
            raise self.error("cannot adapt a Normalization layer created with `mean` and `variance`.")
        total_mean = total_var = None
        count = 0
        first_shape = None
        for batch in _common.batches(data, steps, lists_are_batches=True):
            batch = np.asarray(batch, dtype=self.compute_dtype)
            if first_shape is None:
                first_shape = batch.shape
                keep = self._keep(first_shape)
                reduce = tuple(d for d in range(batch.ndim) if d not in keep)
                if variables is not None and variables.state.get("mean") is not None and \
                        tuple(variables.state["mean"].shape) != self._stat_shape(first_shape):
                    raise self.error(f"the layer was built for statistics of shape {tuple(variables.state['mean'].shape)}"
                                     f", but adapt() got data of shape {first_shape}.")
            elif batch.ndim != len(first_shape) or any(batch.shape[d] != first_shape[d] for d in keep):
                raise self.error(f"adapt() yielded a batch with incompatible shape: expected {first_shape} along "
                                 f"the kept axes, got {batch.shape}.")
            mean, var = batch.mean(axis=reduce), batch.var(axis=reduce)
            n = math.prod(batch.shape[d] for d in reduce) if reduce else 1
            if total_mean is None:
                total_mean, total_var, count = mean, var, n
                continue
            count += n
            w = float(n) / count
            new_mean = total_mean * (1.0 - w) + mean * w
            total_var = (total_var + (total_mean - new_mean) ** 2) * (1.0 - w) + (var + (mean - new_mean) ** 2) * w
            total_mean = new_mean
        if total_mean is None:
            raise self.error("adapt() received no data (an empty iterable); expected at least one batch.")
        spec = as_spec(tuple(first_shape))
        state = {"mean": jnp.asarray(total_mean, self.variable_dtype),
                 "variance": jnp.asarray(total_var, self.variable_dtype),
                 "count": jnp.zeros((), "int32")}
        return self, Variables({}, state), spec

    def get_config(self):
        config = super().get_config()
        config.update({"axis": self.axis, "invert": self.invert,
                       "mean": np.array(self.input_mean).tolist(),
                       "variance": np.array(self.input_variance).tolist()})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("axis"), list):
            config["axis"] = tuple(config["axis"])
        return cls(**config)


def _like(a, x, dtype):
    """`a` (a NumPy array or an array of any framework) on `x`'s framework, in `dtype`."""
    kind = _common.framework(x)
    if isinstance(a, np.ndarray):
        if kind == "torch":
            import torch

            return torch.as_tensor(a.astype(dtype))
        if kind == "tf":
            import tensorflow as tf

            return tf.constant(a.astype(dtype))
        return jnp.asarray(a, dtype)
    if kind in ("torch", "tf") and _common.framework(a) == "jax":
        return _like(np.asarray(a), x, dtype)
    return ops.cast(a, dtype)
