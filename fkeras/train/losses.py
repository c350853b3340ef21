"""Losses with Keras 3 names, arguments and reductions, written over `fkeras.ops`.

A loss object is called as `loss(y_true, y_pred, sample_weight=None)` and returns a scalar
(or per-sample values with `reduction=None`). Per-sample values are computed by a plain
function (`sparse_categorical_crossentropy(y_true, y_pred)`, ...) that maps
(batch, ..., d) predictions to (batch, ...) losses; the object weights and reduces them.
A mask on `y_pred` (`_keras_mask`, e.g. after `Embedding(mask_zero=True)`) and one the loss function
puts on its values (`ignore_class`, Circle's positive losses) weigh the values as Keras's `Loss.__call__`
does (`masking.apply_mask`: with a mean reduction the mean runs over the kept entries).
"""

from __future__ import annotations

from fkeras import backend, ops
from fkeras.nn import masking
from fkeras.nn.base import snake_case

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


# --- label/output shape checks (static shapes: they run once, at trace time) ----------------
def _compatible(a, b):
    """Same rank and equal dims, an unknown (None) dim matching any."""
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def _check_sparse_labels(y_true_shape, y_pred_shape, axis):
    """Integer labels must have the output's shape without its class axis (a trailing 1 was squeezed)."""
    y_true_shape, y_pred_shape = tuple(y_true_shape), tuple(y_pred_shape)
    expected = y_pred_shape[:axis % len(y_pred_shape)] + y_pred_shape[axis % len(y_pred_shape) + 1:] \
        if y_pred_shape else y_pred_shape
    if _compatible(y_true_shape, expected):
        return
    hint = ("They look like one-hot labels: use loss=\"categorical_crossentropy\" "
            "(keras.losses.CategoricalCrossentropy), or pass integer labels (y.argmax(axis=-1))."
            if y_true_shape == y_pred_shape else
            "Pass one integer class index per sample, or use loss=\"categorical_crossentropy\" for one-hot labels.")
    raise ValueError(
        f"sparse_categorical_crossentropy expects integer class labels of shape {expected} (the output's shape "
        f"{y_pred_shape} without its class axis), but the targets have shape {y_true_shape}. {hint}")


def _check_one_hot_labels(y_true_shape, y_pred_shape):
    """One-hot (or probability) targets must have exactly the output's shape."""
    y_true_shape, y_pred_shape = tuple(y_true_shape), tuple(y_pred_shape)
    if _compatible(y_true_shape, y_pred_shape):
        return
    integer_like = y_true_shape == y_pred_shape[:-1] or y_true_shape == y_pred_shape[:-1] + (1,)
    n = y_pred_shape[-1] if y_pred_shape else "num_classes"
    hint = ("They look like integer class labels: use loss=\"sparse_categorical_crossentropy\" "
            f"(keras.losses.SparseCategoricalCrossentropy), or one-hot encode them (keras.utils.to_categorical(y, {n}))."
            if integer_like else
            "Pass one-hot targets with one column per class, or use loss=\"sparse_categorical_crossentropy\" for "
            "integer labels.")
    raise ValueError(
        f"categorical_crossentropy expects one-hot targets of the output's shape {y_pred_shape}, but the targets "
        f"have shape {y_true_shape}. {hint}")


# --- per-sample functions (Keras's function forms) -------------------------------------
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Integer labels (batch, ...) vs class scores (batch, ..., classes) -> (batch, ...)."""
    y_pred = _float(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = ops.squeeze(y_true, axis)
    _check_sparse_labels(y_true.shape, y_pred.shape, axis)
    y_true = ops.cast(y_true, "int32")
    if ignore_class is None:
        return ops.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)
    valid = ops.not_equal(y_true, ignore_class)
    res = ops.sparse_categorical_crossentropy(ops.where(valid, y_true, 0), y_pred, from_logits=from_logits, axis=axis)
    res = ops.where(valid, res, 0.0)
    masking.set_keras_mask(res, valid)  # as Keras: a loss object's mean runs over the valid entries
    return res


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """One-hot (batch, ..., classes) vs scores (batch, ..., classes) -> (batch, ...)."""
    y_pred, y_true = _float(y_pred), _float(y_true)
    _check_one_hot_labels(y_true.shape, y_pred.shape)
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
        in_mask = masking.get_keras_mask(y_pred)  # read before conversion drops it
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.convert_to_tensor(y_true)
        if self._needs_same_rank:
            y_true, y_pred = _same_rank(y_true, y_pred)
        values = self.call(y_true, y_pred)
        mask = _and_masks(in_mask, masking.get_keras_mask(values))
        if mask is not None:
            sample_weight = masking.apply_mask(sample_weight, mask, str(values.dtype), self.reduction)
        return reduce_weighted_values(values, sample_weight, self.reduction)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _and_masks(a, b):
    if a is None or b is None:
        return b if a is None else a
    return ops.logical_and(ops.cast(a, "bool"), ops.cast(b, "bool"))


def _snake(name):

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

# --- focal, overlap, metric-learning and sequence losses ------------------------------
def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                              label_smoothing=0.0, axis=-1):
    """Binary crossentropy scaled by (1 - p_t)^gamma (and alpha-balanced): (batch, ..., d) -> (batch, ...)."""
    y_pred = _float(y_pred)
    y_true = ops.cast(y_true, y_pred.dtype)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = ops.sigmoid(y_pred)
    bce = ops.binary_crossentropy(y_true, y_pred, from_logits=False)
    p_t = y_true * y_pred + (1 - y_true) * (1 - y_pred)
    focal = ops.power(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1 - y_true) * (1 - alpha)) * focal
    return ops.mean(focal, axis=axis)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                                   axis=-1):
    """Categorical crossentropy scaled by alpha * (1 - p)^gamma: (batch, ..., classes) -> (batch, ...)."""
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type {type(axis)}")
    y_pred = _float(y_pred)
    y_true = ops.cast(y_true, y_pred.dtype)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    if from_logits:
        y_pred = ops.softmax(y_pred, axis=axis)
    out = y_pred / ops.sum(y_pred, axis=axis, keepdims=True)
    eps = backend.epsilon()
    out = ops.clip(out, eps, 1.0 - eps)
    return ops.sum(alpha * ops.power(1.0 - out, gamma) * (-y_true * ops.log(out)), axis=axis)


def dice(y_true, y_pred, axis=None):
    """1 - 2|y_true * y_pred| / (|y_true| + |y_pred|), summed over `axis` (all axes when None)."""
    y_pred = _float(y_pred)
    y_true = ops.cast(y_true, y_pred.dtype)
    inter = ops.sum(y_true * y_pred, axis=axis)
    return 1 - 2.0 * inter / (ops.sum(y_true, axis=axis) + ops.sum(y_pred, axis=axis) + backend.epsilon())


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """1 - TP / (TP + alpha * FP + beta * FN) with soft counts, summed over `axis` (all when None)."""
    y_pred = _float(y_pred)
    y_true = ops.cast(y_true, y_pred.dtype)
    inter = ops.sum(y_true * y_pred, axis=axis)
    fp = ops.sum((1 - y_pred) * y_true, axis=axis)
    fn = ops.sum(y_pred * (1 - y_true), axis=axis)
    return 1 - inter / (inter + fp * alpha + fn * beta + backend.epsilon())


def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """(1 - p_y^q) / q for integer labels (batch,) and probabilities (batch, classes): robust to noisy labels."""
    y_pred = _float(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    onehot = ops.cast(ops.one_hot(ops.cast(y_true, "int32"), y_pred.shape[-1]), y_pred.dtype)
    p = ops.sum(y_pred * onehot, axis=-1)
    return (1 - ops.power(p, q)) / q


def _pos_neg_masks(query_labels, key_labels, remove_diagonal=True):
    if query_labels.ndim == 1:
        query_labels = ops.reshape(query_labels, (-1, 1))
    if key_labels.ndim == 1:
        key_labels = ops.reshape(key_labels, (-1, 1))
    positive = ops.equal(query_labels, ops.transpose(key_labels))
    negative = ops.logical_not(positive)
    if remove_diagonal:
        positive = ops.logical_and(positive, ops.logical_not(
            ops.eye(query_labels.shape[0], key_labels.shape[0], dtype="bool")))
    return positive, negative


def _circle_losses(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True, gamma=80, margin=0.4):
    y_pred = _float(y_pred)
    y_true = ops.cast(y_true, "int32")
    ref_embeddings = y_pred if ref_embeddings is None else ops.convert_to_tensor(ref_embeddings)
    ref_labels = y_true if ref_labels is None else ops.cast(ref_labels, "int32")
    dist = ops.maximum(1 - ops.matmul(y_pred, ops.transpose(ref_embeddings)), 0.0)
    pos, neg = _pos_neg_masks(y_true, ref_labels, remove_diagonal)
    pos_w = ops.maximum((margin + dist) * ops.cast(pos, dist.dtype), 0.0)
    neg_w = ops.maximum((1 + margin - dist) * ops.cast(neg, dist.dtype), 0.0)
    p_loss = ops.logsumexp(ops.where(pos, -gamma * pos_w * (margin - dist), float("-inf")), axis=1)
    n_loss = ops.logsumexp(ops.where(neg, gamma * neg_w * (1 - margin - dist), float("-inf")), axis=1)
    return ops.softplus(p_loss + n_loss)


def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True, gamma=80, margin=0.4):
    """Circle loss of L2-normalized embeddings (batch, d) with integer labels (batch,): pairs of the same
    label pulled together, others pushed apart, each weighted by how far it is from its optimum."""
    losses = _circle_losses(y_true, y_pred, ref_labels, ref_embeddings, remove_diagonal, gamma, margin)
    masking.set_keras_mask(losses, losses > 0)  # as Keras: a loss object's mean runs over the positive losses
    return losses


def ctc(y_true, y_pred):
    """CTC loss of integer labels (batch, max_label_length; 0 pads) and logits (batch, time, classes)."""
    if len(y_true.shape) != 2:
        raise ValueError("Targets `y_true` are expected to be a tensor of shape `(batch_size, max_length)` in "
                         f"integer format. Received: y_true.shape={tuple(y_true.shape)}")
    if len(y_pred.shape) != 3:
        raise ValueError("Logits `y_pred` are expected to be a tensor of shape `(batch_size, max_length, "
                         f"num_classes)`. Received: y_pred.shape={tuple(y_pred.shape)}")
    batch, time = y_pred.shape[0], y_pred.shape[1]
    input_length = time * ops.ones((batch,), dtype="int32")
    label_length = ops.cast(ops.sum(ops.not_equal(y_true, 0), axis=-1), "int32")
    return ops.ctc_loss(y_true, y_pred, label_length, input_length, mask_index=0)


class BinaryFocalCrossentropy(LossFunctionWrapper):
    """Focal binary crossentropy (Lin et al.): hard examples weigh more as `gamma` grows."""

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 axis=-1, reduction="sum_over_batch_size", name="binary_focal_crossentropy", dtype=None):
        super().__init__(binary_focal_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class CategoricalFocalCrossentropy(LossFunctionWrapper):
    """Focal categorical crossentropy for one-hot targets."""

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy", dtype=None):
        super().__init__(categorical_focal_crossentropy, reduction=reduction, name=name, dtype=dtype, alpha=alpha,
                         gamma=gamma, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class Dice(LossFunctionWrapper):
    """Dice loss (1 - Dice coefficient) for segmentation masks."""

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(dice, reduction=reduction, name=name, dtype=dtype, axis=axis)


class Tversky(LossFunctionWrapper):
    """Tversky loss: Dice with separate weights for false positives (`alpha`) and false negatives (`beta`)."""

    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky", axis=None, dtype=None):
        super().__init__(tversky, reduction=reduction, name=name, dtype=dtype, alpha=alpha, beta=beta, axis=axis)


class CategoricalGeneralizedCrossEntropy(LossFunctionWrapper):
    """Generalized cross entropy (Zhang & Sabuncu) with 0 < q < 1: between CE (q -> 0) and MAE (q = 1)."""

    def __init__(self, q=0.5, reduction="sum_over_batch_size", name="categorical_generalized_cross_entropy",
                 dtype=None):
        if not 0 < q < 1:
            raise ValueError("q must be in the interval (0, 1)")
        super().__init__(categorical_generalized_cross_entropy, reduction=reduction, name=name, dtype=dtype, q=q)


class Circle(LossFunctionWrapper):
    """Circle loss for metric learning; as in Keras, the mean runs over the samples whose loss is > 0 (the
    `circle` function masks its values)."""

    def __init__(self, gamma=80.0, margin=0.4, remove_diagonal=True, reduction="sum_over_batch_size", name="circle",
                 dtype=None):
        super().__init__(circle, reduction=reduction, name=name, dtype=dtype, gamma=gamma, margin=margin,
                         remove_diagonal=remove_diagonal)


class CTC(LossFunctionWrapper):
    """Connectionist temporal classification loss (labels padded with 0, the blank)."""

    _needs_same_rank = False

    def __init__(self, reduction="sum_over_batch_size", name="ctc", dtype=None):
        super().__init__(ctc, reduction=reduction, name=name, dtype=dtype)


_CLASSES = {c.__name__: c for c in (SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy,
                                    MeanSquaredError, MeanAbsoluteError, Huber, MeanAbsolutePercentageError,
                                    MeanSquaredLogarithmicError, KLDivergence, Poisson, LogCosh, Hinge,
                                    SquaredHinge, CategoricalHinge, CosineSimilarity, BinaryFocalCrossentropy,
                                    CategoricalFocalCrossentropy, Dice, Tversky, CategoricalGeneralizedCrossEntropy,
                                    Circle, CTC)}
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
    "binary_focal_crossentropy": binary_focal_crossentropy,
    "categorical_focal_crossentropy": categorical_focal_crossentropy, "dice": dice, "tversky": tversky,
    "categorical_generalized_cross_entropy": categorical_generalized_cross_entropy, "circle": circle, "ctc": ctc,
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
    return _deserialize(get, config, custom_objects)


def _deserialize(get_fn, config, custom_objects):
    """`config` rebuilt by the class `custom_objects` names for its "class_name", else `get_fn(config)`
    (the family's own names and classes); losses and metrics read configs this way."""
    if custom_objects and isinstance(config, dict) and config.get("class_name") in custom_objects:
        return custom_objects[config["class_name"]].from_config(config.get("config") or {})
    return get_fn(config)


# The public names of this family: `fkeras.<family>` exports exactly these (the one list).
__all__ = [
    "BinaryCrossentropy", "BinaryFocalCrossentropy", "CTC", "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy", "CategoricalGeneralizedCrossEntropy", "CategoricalHinge", "Circle",
    "CosineSimilarity", "Dice", "Hinge", "Huber", "KLDivergence", "LogCosh", "Loss", "LossFunctionWrapper",
    "MAE", "MSE", "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredError",
    "MeanSquaredLogarithmicError", "Poisson", "SparseCategoricalCrossentropy", "SquaredHinge", "Tversky",
    "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
    "categorical_focal_crossentropy", "categorical_generalized_cross_entropy", "categorical_hinge", "circle",
    "cosine_similarity", "ctc", "deserialize", "dice", "get", "hinge", "huber", "kl_divergence", "log_cosh",
    "mae", "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_error",
    "mean_squared_logarithmic_error", "mse", "poisson", "reduce_weighted_values", "serialize",
    "sparse_categorical_crossentropy", "squared_hinge", "tversky",
]
