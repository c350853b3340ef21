"""`Discretization`: bucket floats by bin boundaries, given or learned (approximate quantiles) by `adapt`."""

from __future__ import annotations

import jax
import numpy as np

from fkeras import backend, ops
from fkeras.nn.preprocessing import _common


class Discretization(_common.PreprocessingLayer):
    """Bucket index of each value: `digitize(x, bin_boundaries)` (bins [-inf, b0), [b0, b1), ..., [bn, inf)),
    encoded by `output_mode` ("int", "one_hot", "multi_hot", "count"; depth = len(bin_boundaries) + 1).

    `adapt` learns `num_bins - 1` boundaries with Keras's quantile summary (`epsilon` its accuracy); the
    boundaries are hyperparameters (in the config), so adapting gives a new layer:
    `layer, _, _ = disc.adapt(None, data)` (the facade's `layer.adapt(data)` keeps it).
    Input any shape -> int32 of the same shape ("int") or the encoded shape.
    """

    builds_no_variables = True  # the facade layer is built as made

    updates = ("adapt",)

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", sparse=False,
                 dtype=None, name=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        if sparse:
            raise self.error("`sparse=True` cannot be used with backend jax (fkeras has no sparse tensors).")
        if output_mode not in _common.OUTPUT_MODES:
            raise self.error(f"invalid `output_mode` {output_mode!r}; expected one of {_common.OUTPUT_MODES}.")
        if num_bins is not None and num_bins < 0:
            raise self.error(f"`num_bins` must be greater than or equal to 0. Received: `num_bins={num_bins}`")
        if num_bins is not None and bin_boundaries is not None:
            raise self.error("both `num_bins` and `bin_boundaries` should not be set. "
                             f"Received: `num_bins={num_bins}` and `bin_boundaries={bin_boundaries}`")
        if num_bins is None and bin_boundaries is None:
            raise self.error("you need to set either `num_bins` or `bin_boundaries`.")
        self.bin_boundaries = bin_boundaries
        self.num_bins = num_bins
        self.epsilon = epsilon
        self.output_mode = output_mode
        self.sparse = sparse

    @property
    def output_dtype(self):
        return self.compute_dtype if self.output_mode != "int" else "int32"

    def call(self, variables, x, training=False, rng=None):
        if self.bin_boundaries is None:
            error = self.error("you need to either pass the `bin_boundaries` argument at construction time or call "
                               "`adapt(dataset)` before you can start using the `Discretization` layer.")
            if _common.framework(x) != "jax" or not isinstance(x, jax.core.Tracer):
                raise error
            # traced before adapt (a model built first, as Keras allows): the shape is known from num_bins;
            # running it unadapted raises the same error from the host
            shape = _common.encoded_shape(tuple(x.shape), self.output_mode, self.num_bins)
            return _common.host_call(lambda _: _raise(error), x, shape, self.output_dtype)
        indices = ops.digitize(ops.cast(x, backend.floatx()), self.bin_boundaries)
        return _common.encode(indices, self.output_mode, len(self.bin_boundaries) + 1, self.output_dtype)

    def compute_output_shape(self, input_shape):
        """The output shape for `input_shape` (None dims allowed)."""
        depth = len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else self.num_bins
        return _common.encoded_shape(tuple(input_shape), self.output_mode, depth)

    def adapt(self, variables, data, steps=None):
        """Boundaries from `data` (array, tf.data Dataset or iterable of batches): Keras's summaries
        merged batch by batch, then `num_bins` quantiles. Returns `(new layer, variables, None)`."""
        if self.num_bins is None:
            raise self.error("cannot adapt a Discretization layer that has been initialized with `bin_boundaries`, "
                             "use `num_bins` instead.")
        summary = np.array([[], []], dtype="float32")
        for batch in _common.batches(data, steps, lists_are_batches=True):
            summary = _merge(_summarize(np.asarray(batch, "float32"), self.epsilon), summary, self.epsilon)
        boundaries = _compress(summary, 1.0 / self.num_bins)[0, :-1].tolist()
        return self._with(boundaries), variables, None

    def _with(self, boundaries):
        new = object.__new__(type(self))
        new.__dict__.update({k: v for k, v in self.__dict__.items() if k != "_frozen"})
        new.__dict__["bin_boundaries"] = [float(b) for b in boundaries]
        object.__setattr__(new, "_frozen", True)
        return new

    def get_config(self):
        return {"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins, "epsilon": self.epsilon,
                "output_mode": self.output_mode, "sparse": self.sparse, "name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            boundaries = config.pop("bin_boundaries")
            return cls(**config)._with(boundaries)
        return cls(**config)


def _raise(error):
    raise error


# Keras's approximate quantiles: a summary is [values, weights] (2, n), compressed to 1/epsilon buckets.
def _summarize(values, epsilon):
    values = np.sort(np.reshape(values, [-1]))
    step = max(values.size / (1.0 / epsilon), 1)
    boundaries = values[int(step - 1)::int(step)]
    return np.stack([boundaries, np.ones_like(boundaries) * step])


def _merge(prev, nxt, epsilon):
    merged = np.concatenate((prev, nxt), axis=1)
    merged = np.take(merged, np.argsort(merged[0]), axis=1)
    return _compress(merged, epsilon)


def _compress(summary, epsilon):
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum = summary[1].cumsum()
    cum_pct = cum / cum[-1]
    new_bins = np.interp(percents, cum_pct, summary[0])
    cum = np.interp(percents, cum_pct, cum)
    weights = cum - np.concatenate((np.array([0]), cum[:-1]))
    return np.stack((new_bins, weights)).astype("float32")
