"""Losses with Keras 3 names, arguments and reductions, written over `fkeras.ops`.

A loss object is called as `loss(y_true, y_pred, sample_weight=None)` and returns a scalar
(or per-sample values with `reduction=None`). Per-sample values are computed by a plain
function (`sparse_categorical_crossentropy(y_true, y_pred)`, ...) that maps
(batch, ..., d) predictions to (batch, ...) losses; the object weights and reduces them.
"""

from __future__ import annotations

from fkeras import ops

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _same_rank(x1, x2, expand_rank_1=True):
    """Squeeze or expand a trailing 1-dim when the ranks differ by exactly one (Keras's rule)."""
    r1, r2 = len(x1.shape), len(x2.shape)
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = ops.expand_dims(x2, -1)
        else:
            x1 = ops.squeeze(x1, -1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = ops.expand_dims(x1, -1)
        else:
            x2 = ops.squeeze(x2, -1)
    return x1, x2


def _float(x, dtype="float32"):
    x = ops.convert_to_tensor(x)
    return x if str(x.dtype) == dtype else ops.cast(x, dtype)


def reduce_weighted_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Weight per-sample `values` by `sample_weight` (broadcast along trailing dims) and reduce.

    "sum_over_batch_size" and "mean" divide the weighted sum by the number of elements;
    "mean_with_sample_weight" divides by the sum of the weights; "sum" sums; None/"none" keeps shape.
    """
    if sample_weight is not None:
        sample_weight = _float(sample_weight, str(values.dtype))
        values, sample_weight = _same_rank(values, sample_weight)
        while len(sample_weight.shape) < len(values.shape):
            sample_weight = ops.expand_dims(sample_weight, -1)
        values = values * sample_weight
    if reduction in (None, "none") or values.ndim == 0:
        return values
    total = ops.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        denom = ops.sum(ops.broadcast_to(sample_weight, values.shape))
        return ops.where(ops.equal(denom, 0.0), 0.0, total / ops.where(ops.equal(denom, 0.0), 1.0, denom))
    return total / float(max(int(ops.size(values)), 1))


# --- per-sample functions (Keras's function forms) -------------------------------------
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Integer labels (batch, ...) vs class scores (batch, ..., classes) -> (batch, ...)."""
    y_pred = _float(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = ops.squeeze(y_true, axis)
    y_true = ops.cast(y_true, "int32")
    if ignore_class is None:
        return ops.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)
    valid = ops.not_equal(y_true, ignore_class)
    res = ops.sparse_categorical_crossentropy(ops.where(valid, y_true, 0), y_pred, from_logits=from_logits, axis=axis)
    return ops.where(valid, res, 0.0)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """One-hot (batch, ..., classes) vs scores (batch, ..., classes) -> (batch, ...)."""
    y_pred, y_true = _float(y_pred), _float(y_true)
    if label_smoothing:
        n = y_pred.shape[axis]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / n
    return ops.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """0/1 targets vs probabilities (or logits) (batch, ..., d) -> mean over `axis` (batch, ...)."""
    y_pred, y_true = _float(y_pred), _float(y_true)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return ops.mean(ops.binary_crossentropy(y_true, y_pred, from_logits=from_logits), axis=axis)


def mean_squared_error(y_true, y_pred):
    """mean((y_pred - y_true)^2, axis=-1): (batch, ..., d) -> (batch, ...)."""
    y_pred, y_true = _float(y_pred), _float(y_true)
    return ops.mean(ops.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_pred - y_true|, axis=-1): (batch, ..., d) -> (batch, ...)."""
    y_pred, y_true = _float(y_pred), _float(y_true)
    return ops.mean(ops.abs(y_pred - y_true), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """Quadratic for |error| <= delta, linear beyond; mean over the last axis."""
    y_pred, y_true = _float(y_pred), _float(y_true)
    err = ops.abs(y_pred - y_true)
    quad = ops.minimum(err, delta)
    return ops.mean(0.5 * ops.square(quad) + delta * (err - quad), axis=-1)


EPSILON = 1e-7


def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(|(y_true - y_pred) / max(|y_true|, eps)|, axis=-1)."""
    y_pred, y_true = _float(y_pred), _float(y_true)
    diff = ops.abs((y_true - y_pred) / ops.maximum(ops.abs(y_true), EPSILON))
    return 100.0 * ops.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2, axis=-1)."""
    y_pred, y_true = _float(y_pred), _float(y_true)
    a = ops.log(ops.maximum(y_pred, EPSILON) + 1.0)
    b = ops.log(ops.maximum(y_true, EPSILON) + 1.0)
    return ops.mean(ops.square(a - b), axis=-1)


def kl_divergence(y_true, y_pred):
    """sum(y_true * log(y_true / y_pred), axis=-1), both clipped to [eps, 1]."""
    y_pred, y_true = ops.clip(_float(y_pred), EPSILON, 1.0), ops.clip(_float(y_true), EPSILON, 1.0)
    return ops.sum(y_true * ops.log(y_true / y_pred), axis=-1)


def poisson(y_true, y_pred):
    """mean(y_pred - y_true * log(y_pred + eps), axis=-1)."""
    y_pred, y_true = _float(y_pred), _float(y_true)
    return ops.mean(y_pred - y_true * ops.log(y_pred + EPSILON), axis=-1)


def _l2_normalize(x, axis):
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True), 1e-12))


def cosine_similarity(y_true, y_pred, axis=-1):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis): -1 when the vectors align."""
    y_pred, y_true = _float(y_pred), _float(y_true)
    return -ops.sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)


def log_cosh(y_true, y_pred):
    """mean(log(cosh(y_pred - y_true)), axis=-1), computed stably."""
    x = _float(y_pred) - _float(y_true)
    return ops.mean(x + ops.softplus(-2.0 * x) - 0.6931471805599453, axis=-1)


def _signed(y_true):
    """Labels in {0, 1} become {-1, 1} (Keras's hinge convention); others pass unchanged."""
    is_binary = ops.all(ops.logical_or(ops.equal(y_true, 0.0), ops.equal(y_true, 1.0)))
    return ops.where(is_binary, 2.0 * y_true - 1.0, y_true)


def hinge(y_true, y_pred):
    y_pred, y_true = _float(y_pred), _signed(_float(y_true))
    return ops.mean(ops.maximum(1.0 - y_true * y_pred, 0.0), axis=-1)


def squared_hinge(y_true, y_pred):
    y_pred, y_true = _float(y_pred), _signed(_float(y_true))
    return ops.mean(ops.square(ops.maximum(1.0 - y_true * y_pred, 0.0)), axis=-1)


def categorical_hinge(y_true, y_pred):
    y_pred, y_true = _float(y_pred), _float(y_true)
    pos = ops.sum(y_true * y_pred, axis=-1)
    neg = ops.max((1.0 - y_true) * y_pred, axis=-1)
    return ops.maximum(neg - pos + 1.0, 0.0)


# --- loss objects ------------------------------------------------------------------------
class Loss:
    """Base: subclasses implement `call(y_true, y_pred) -> per-sample losses`.

    `reduction`: "sum_over_batch_size" (default), "sum", "mean", "mean_with_sample_weight", None/"none".
    """

    _needs_same_rank = True

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in REDUCTIONS:
            raise ValueError(f"Invalid `reduction`: expected one of {REDUCTIONS}, got {reduction!r}.")
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction
        self.dtype = dtype or "float32"

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.convert_to_tensor(y_true)
        if self._needs_same_rank:
            y_true, y_pred = _same_rank(y_true, y_pred)
        values = self.call(y_true, y_pred)
        return reduce_weighted_values(values, sample_weight, self.reduction)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _snake(name):
    from fkeras.nn.base import snake_case

    return snake_case(name)


class LossFunctionWrapper(Loss):
    """Turn a per-sample function `fn(y_true, y_pred, **kwargs)` into a Loss."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return super().get_config() | dict(self._fn_kwargs)


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    _needs_same_rank = False

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class)
        self.from_logits, self.ignore_class = from_logits, ignore_class

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, "from_logits": self.from_logits,
                "ignore_class": self.ignore_class}


class CategoricalCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


class BinaryCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


class MeanSquaredError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


class Huber(LossFunctionWrapper):
    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)
        self.delta = delta


def _simple_loss(fn, cls_name, default_name, doc, **extra):
    def __init__(self, reduction="sum_over_batch_size", name=default_name, dtype=None, **kwargs):
        LossFunctionWrapper.__init__(self, fn, reduction=reduction, name=name, dtype=dtype, **(extra | kwargs))

    return type(cls_name, (LossFunctionWrapper,), {"__init__": __init__, "__doc__": doc})


MeanAbsolutePercentageError = _simple_loss(mean_absolute_percentage_error, "MeanAbsolutePercentageError",
                                           "mean_absolute_percentage_error", "100 * mean |relative error|.")
MeanSquaredLogarithmicError = _simple_loss(mean_squared_logarithmic_error, "MeanSquaredLogarithmicError",
                                           "mean_squared_logarithmic_error", "Mean squared error of log(1 + x).")
KLDivergence = _simple_loss(kl_divergence, "KLDivergence", "kl_divergence", "Kullback-Leibler divergence.")
Poisson = _simple_loss(poisson, "Poisson", "poisson", "Poisson negative log-likelihood (up to a constant).")
LogCosh = _simple_loss(log_cosh, "LogCosh", "log_cosh", "Mean log(cosh(error)).")
Hinge = _simple_loss(hinge, "Hinge", "hinge", "Mean max(1 - y_true * y_pred, 0); 0/1 labels become -1/1.")
SquaredHinge = _simple_loss(squared_hinge, "SquaredHinge", "squared_hinge", "Mean squared hinge.")
CategoricalHinge = _simple_loss(categorical_hinge, "CategoricalHinge", "categorical_hinge",
                                "max(max_neg - pos + 1, 0) over one-hot targets.")


class CosineSimilarity(LossFunctionWrapper):
    """-cosine similarity between y_true and y_pred along `axis`."""

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype, axis=axis)


for _c in (MeanAbsolutePercentageError, MeanSquaredLogarithmicError, KLDivergence, Poisson, LogCosh, Hinge,
           SquaredHinge, CategoricalHinge):
    _c.__module__ = __name__
    _c.__qualname__ = _c.__name__

# Keras's short names.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error

_CLASSES = {c.__name__: c for c in (SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy,
                                    MeanSquaredError, MeanAbsoluteError, Huber, MeanAbsolutePercentageError,
                                    MeanSquaredLogarithmicError, KLDivergence, Poisson, LogCosh, Hinge,
                                    SquaredHinge, CategoricalHinge, CosineSimilarity)}
_FUNCTIONS = {
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error, "MSE": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "huber": huber, "huber_loss": huber,
    "bce": binary_crossentropy, "BCE": binary_crossentropy,
    "mean_absolute_percentage_error": mean_absolute_percentage_error, "mape": mean_absolute_percentage_error,
    "MAPE": mean_absolute_percentage_error,
    "mean_squared_logarithmic_error": mean_squared_logarithmic_error, "msle": mean_squared_logarithmic_error,
    "MSLE": mean_squared_logarithmic_error,
    "kl_divergence": kl_divergence, "kld": kl_divergence, "KLD": kl_divergence,
    "poisson": poisson, "cosine_similarity": cosine_similarity, "log_cosh": log_cosh, "logcosh": log_cosh,
    "hinge": hinge, "squared_hinge": squared_hinge, "categorical_hinge": categorical_hinge,
}


def get(identifier):
    """A loss from a Loss object, a callable, a function/class name ("mse", "BinaryCrossentropy"),
    or a `{"class_name", "config"}` dict. Unknown names raise ValueError."""
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        cls = _CLASSES.get(identifier.get("class_name"))
        if cls is None:
            raise ValueError(f"Unknown loss class {identifier.get('class_name')!r}; expected one of {sorted(_CLASSES)}.")
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        raise ValueError(
            f"Unknown loss {identifier!r}. Expected one of {sorted(_FUNCTIONS) + sorted(_CLASSES)}, "
            "a Loss object or a callable."
        )
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(f"Expected a loss (str, Loss or callable), got {type(identifier).__name__}: {identifier!r}.")


def as_loss_object(identifier):
    """Like `get`, but wraps plain functions in a LossFunctionWrapper named like Keras does."""
    obj = get(identifier)
    if obj is None or isinstance(obj, Loss):
        return obj
    name = identifier if isinstance(identifier, str) else getattr(obj, "__name__", "loss")
    return LossFunctionWrapper(obj, name=name)


def serialize(loss):
    return {"class_name": type(loss).__name__, "config": loss.get_config()} if isinstance(loss, Loss) else loss.__name__

def deserialize(config, custom_objects=None):
    """A loss from its Keras config (a name or a `{"class_name", "config"}` dict)."""
    if custom_objects and isinstance(config, dict) and config.get("class_name") in custom_objects:
        return custom_objects[config["class_name"]].from_config(config.get("config") or {})
    return get(config)


# The public names of this family: `fkeras.<family>` exports exactly these (the one list).
__all__ = [
    "BinaryCrossentropy", "CategoricalCrossentropy", "CategoricalHinge", "CosineSimilarity", "Hinge", "Huber",
    "KLDivergence", "LogCosh", "Loss", "LossFunctionWrapper", "MAE", "MSE", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "MeanSquaredError", "MeanSquaredLogarithmicError", "Poisson",
    "SparseCategoricalCrossentropy", "SquaredHinge", "binary_crossentropy", "categorical_crossentropy",
    "categorical_hinge", "cosine_similarity", "deserialize", "get", "hinge", "huber", "kl_divergence",
    "log_cosh", "mae", "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_error",
    "mean_squared_logarithmic_error", "mse", "poisson", "reduce_weighted_values", "serialize",
    "sparse_categorical_crossentropy", "squared_hinge",
]
