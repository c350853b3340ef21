"""Metrics as pure state, with Keras 3 names, arguments and formulas.

Each metric object is immutable configuration plus three pure functions over a small
state pytree (a dict of arrays), which is what the jitted steps carry in `TrainState.metrics`:

    s = m.init();  s = m.update(s, y_true, y_pred, sample_weight);  m.result(s)

Keras's stateful face (`update_state`, `result()`, `reset_state()`, `variables`,
`stateless_update_state`, `stateless_result`) is built on those same functions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from fkeras import backend, ops
from fkeras.nn import initializers as _initializers
from fkeras.nn.base import snake_case
from fkeras.ops._dispatch import register_variable_type
from fkeras.train import losses as L
from fkeras.train.losses import (  # Keras exposes these loss functions under keras.metrics too
    binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy, categorical_focal_crossentropy, categorical_hinge, hinge, huber, kl_divergence, log_cosh,
    mean_absolute_error, mean_absolute_percentage_error, mean_squared_error, mean_squared_logarithmic_error,
    poisson, sparse_categorical_crossentropy, squared_hinge,
)

NEG_INF = -1e10


def _divide_no_nan(a, b):
    safe = ops.where(ops.equal(b, 0), 1.0, b)
    return ops.where(ops.equal(b, 0), 0.0, a / safe)


def _samplewise(values, sample_weight, dtype="float32"):
    """Keras's `reduce_to_samplewise_values`: weight `values` and reduce them to (batch,)."""
    values = ops.cast(ops.convert_to_tensor(values), dtype)
    if sample_weight is not None:
        sample_weight = ops.cast(ops.convert_to_tensor(sample_weight), dtype)
        values, sample_weight = L._same_rank(values, sample_weight)
        wn, vn = sample_weight.ndim, values.ndim
        if vn > wn:
            values = ops.mean(values, axis=tuple(range(wn, vn)))
        sample_weight = ops.broadcast_to(sample_weight, values.shape)
        values = values * sample_weight
        if wn > 1:
            sample_weight = ops.mean(sample_weight, axis=tuple(range(1, wn)))
    if values.ndim > 1:
        values = ops.mean(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class MetricVariable:
    """A metric's state variable, as Keras's `Metric.add_variable` returns it.

    Its value is read with `.value` / `.numpy()` and changed with `assign`, `assign_add`, `assign_sub`;
    `fkeras.ops` and Python arithmetic see its value. Inside `fit` the value is bound to the metric state
    of the TrainState for the duration of one pure `update`/`result` (Keras 3's stateless metric call).
    """

    __fkeras_variable__ = True

    def __init__(self, name, shape, dtype, initializer):
        self.name, self.shape, self.dtype = name, tuple(int(d) for d in shape), dtype
        self.initializer = initializer
        self._value = self.initial_value()

    def initial_value(self):
        init = self.initializer
        if callable(init):
            return jnp.asarray(init(self.shape, self.dtype), self.dtype)
        return jnp.broadcast_to(jnp.asarray(init, self.dtype), self.shape)

    @property
    def value(self):
        return self._value

    @property
    def path(self):
        return self.name

    @property
    def ndim(self):
        return len(self.shape)

    def numpy(self):
        return np.asarray(self._value)

    def assign(self, value):
        self._value = ops.cast(ops.broadcast_to(value, self.shape) if self.shape else ops.reshape(value, ()),
                               self.dtype)
        return self._value

    def assign_add(self, value):
        return self.assign(ops.add(self._value, value))

    def assign_sub(self, value):
        return self.assign(ops.subtract(self._value, value))

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._value, dtype=dtype)

    def __jax_array__(self):
        return self._value

    def __repr__(self):
        return f"<MetricVariable name={self.name} shape={self.shape} dtype={self.dtype}>"


def _binop(fn, reverse=False):
    def method(self, other):
        return fn(other, self._value) if reverse else fn(self._value, other)
    return method


for _name, _fn in (("add", ops.add), ("sub", ops.subtract), ("mul", ops.multiply), ("truediv", ops.divide),
                   ("pow", ops.power), ("lt", ops.less), ("le", ops.less_equal), ("gt", ops.greater),
                   ("ge", ops.greater_equal)):
    setattr(MetricVariable, f"__{_name}__", _binop(_fn))
    if _name in ("add", "sub", "mul", "truediv", "pow"):
        setattr(MetricVariable, f"__r{_name}__", _binop(_fn, reverse=True))
MetricVariable.__neg__ = lambda self: ops.negative(self._value)
MetricVariable.__getitem__ = lambda self, key: self._value[key]
register_variable_type(MetricVariable)


def _values(tree):
    """`tree` with MetricVariables replaced by their current values (a `result` may return one)."""
    return jax.tree.map(lambda x: x.value if isinstance(x, MetricVariable) else x, tree,
                        is_leaf=lambda x: isinstance(x, MetricVariable))


class Metric:
    """Base metric.

    Built-in metrics implement the pure functions `init()`, `update(state, y_true, y_pred, sample_weight)`
    and `_result(state)`. Your own metric is written as Keras's guide writes it — variables from
    `add_variable` in `__init__`, `update_state` that assigns to them, `result` that reads them — and
    fkeras derives the pure functions from it (each variable's value is bound to the state during the
    call), so it runs inside the jitted `fit` step like a built-in one.
    """

    def __init__(self, name=None, dtype=None):
        self.name = name or snake_case(type(self).__name__)
        self.dtype = dtype or "float32"
        self._state = None
        self._fk_vars = []

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Keras-style subclass: it defines `update_state`/`result` over variables, no pure `update`.
        pure = any("update" in c.__dict__ for c in cls.__mro__ if c is not Metric and c is not object)
        if not pure and "result" in cls.__dict__:
            cls._fk_user_result = cls.__dict__["result"]
            cls.result = Metric._variable_result

    # -- Keras's custom-metric API ---------------------------------------------------------
    def add_variable(self, shape, initializer, dtype=None, aggregation="sum", name=None):
        """A state variable of this metric (Keras's signature); `initializer` is a name, an initializer
        or a value. `aggregation` is accepted for Keras compatibility (fkeras sums across replicas)."""
        if aggregation not in ("none", "mean", "sum", "only_first_replica"):
            raise ValueError(f"{type(self).__name__}.add_variable: expected aggregation in 'none', 'mean', "
                             f"'sum', 'only_first_replica', got {aggregation!r}.")
        vars_ = self.__dict__.setdefault("_fk_vars", [])
        name = name or f"variable_{len(vars_)}"
        if any(v.name == name for v in vars_):
            raise ValueError(f"Metric '{self.name}' already has a variable named {name!r}.")
        if isinstance(initializer, (str, dict)):
            initializer = _initializers.get(initializer)
        var = MetricVariable(name, () if shape is None else shape, dtype or self.dtype, initializer)
        vars_.append(var)
        return var

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None):
        """Keras's older spelling of `add_variable` (zeros by default)."""
        return self.add_variable(shape, "zeros" if initializer is None else initializer, dtype=dtype, name=name)

    def _variable_style(self):
        return bool(self.__dict__.get("_fk_vars")) and type(self).update is Metric.update

    # -- pure API --------------------------------------------------------------------------
    def init(self):
        """The initial state pytree. Keras-style metrics: `{variable name: initial value}`."""
        if self._variable_style():
            return {v.name: v.initial_value() for v in self._fk_vars}
        raise NotImplementedError(f"{type(self).__name__} defines neither `init` nor variables (add_variable).")

    def update(self, state, y_true, y_pred, sample_weight=None):
        """The state after one batch. Keras-style metrics: their `update_state` with each variable bound
        to its entry of `state`."""
        if not self._variable_style():
            raise NotImplementedError(f"{type(self).__name__} defines neither `update` nor `update_state`.")
        with self._bound(state):
            if sample_weight is None:
                type(self).update_state(self, y_true, y_pred)
            else:
                type(self).update_state(self, y_true, y_pred, sample_weight=sample_weight)
            return {v.name: v.value for v in self._fk_vars}

    def _result(self, state):
        if self._variable_style():
            with self._bound(state):
                return _values(self._fk_user_result())
        raise NotImplementedError(f"{type(self).__name__} defines neither `_result` nor `result`.")

    def result(self, state=None):
        """The metric value for `state` (the pure form), or for the object's own state."""
        return self._result(self._stateful() if state is None else state)

    def _variable_result(self, state=None):
        if state is None:
            return _values(self._fk_user_result())
        with self._bound(state):
            return _values(self._fk_user_result())

    class _Binding:
        def __init__(self, metric, state):
            self.metric, self.state = metric, state

        def __enter__(self):
            self.saved = [v._value for v in self.metric._fk_vars]
            for v in self.metric._fk_vars:
                v._value = self.state[v.name]

        def __exit__(self, *exc):
            for v, old in zip(self.metric._fk_vars, self.saved):
                v._value = old
            return False

    def _bound(self, state):
        return Metric._Binding(self, state)

    # -- Keras's stateful face -----------------------------------------------------------
    def _stateful(self):
        if self._variable_style():
            return {v.name: v.value for v in self._fk_vars}
        if self._state is None:
            self._state = self.init()
        return self._state

    def update_state(self, y_true, y_pred=None, sample_weight=None):
        self._state = self.update(self._stateful(), y_true, y_pred, sample_weight)

    def reset_state(self):
        if self._variable_style():
            for v in self._fk_vars:
                v._value = v.initial_value()
        self._state = self.init()

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    @property
    def variables(self):
        if self._variable_style():
            return list(self._fk_vars)
        return jax.tree.leaves(self._stateful())

    def stateless_update_state(self, metric_variables, *args, **kwargs):
        state = jax.tree.unflatten(jax.tree.structure(self.init()), list(metric_variables))
        return jax.tree.leaves(self.update(state, *args, **kwargs))

    def stateless_result(self, metric_variables):
        return self._result(jax.tree.unflatten(jax.tree.structure(self.init()), list(metric_variables)))

    def stateless_reset_state(self):
        return jax.tree.leaves(self.init())

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """Weighted mean of `values`: state {total, count}."""

    def init(self):
        return {"total": jnp.zeros((), self.dtype), "count": jnp.zeros((), self.dtype)}

    def update(self, state, values, y_pred=None, sample_weight=None):
        values, sw = _samplewise(values, sample_weight, self.dtype)
        if sw is not None:
            n = ops.sum(sw)
        else:
            n = float(values.shape[0]) if values.ndim >= 1 else 1.0
        return {"total": state["total"] + ops.sum(values), "count": state["count"] + n}

    def update_state(self, values, sample_weight=None):
        self._state = self.update(self._stateful(), values, None, sample_weight)

    def _result(self, state):
        return _divide_no_nan(state["total"], state["count"])


class Sum(Mean):
    """Weighted sum of `values`."""

    def _result(self, state):
        return state["total"]


class MeanMetricWrapper(Metric):
    """Mean of `fn(y_true, y_pred, **kwargs)` over samples."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"), dtype=dtype)
        self._fn, self._fn_kwargs = fn, kwargs
        self._mean = Mean(dtype=self.dtype)

    def init(self):
        return self._mean.init()

    def update(self, state, y_true, y_pred, sample_weight=None):
        values = self._fn(ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred), **self._fn_kwargs)
        return self._mean.update(state, values, None, sample_weight)

    def _result(self, state):
        return self._mean._result(state)

    def get_config(self):
        return super().get_config() | dict(self._fn_kwargs)


# --- per-sample functions ------------------------------------------------------------------
def accuracy(y_true, y_pred):
    y_true, y_pred = L._same_rank(y_true, y_pred)
    return ops.cast(ops.equal(y_true, ops.cast(y_pred, y_true.dtype)), "float32")


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true, y_pred = L._same_rank(y_true, y_pred)
    y_pred = ops.cast(ops.greater(y_pred, threshold), y_true.dtype)
    return ops.cast(ops.equal(y_true, y_pred), "float32")


def categorical_accuracy(y_true, y_pred):
    return ops.cast(ops.equal(ops.argmax(y_true, -1), ops.argmax(y_pred, -1)), "float32")


def sparse_categorical_accuracy(y_true, y_pred):
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, -1)
    y_hat = ops.argmax(y_pred, -1)
    return ops.cast(ops.equal(ops.cast(y_true, "int32"), ops.cast(y_hat, "int32")), "float32")


def _in_top_k(targets, predictions, k):
    target_values = ops.take_along_axis(predictions, ops.expand_dims(ops.cast(targets, "int32"), -1), axis=-1)
    kth = ops.top_k(predictions, k)[0][..., -1:]
    return ops.squeeze(ops.greater_equal(target_values, kth), -1)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    return ops.cast(_in_top_k(ops.argmax(y_true, -1), y_pred, k), "float32")


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, -1)
    return ops.cast(_in_top_k(y_true, y_pred, k), "float32")


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels (exact match)."""

    _direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often `y_pred > threshold` equals the 0/1 label."""

    _direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) equals argmax(one-hot y_true)."""

    _direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) equals the integer label."""

    _direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target is among the top `k` predictions."""

    _direction = "up"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer target is among the top `k` predictions."""

    _direction = "up"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class MeanSquaredError(MeanMetricWrapper):
    """Mean of (y_pred - y_true)^2."""

    _direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(L.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean of |y_pred - y_true|."""

    _direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(L.mean_absolute_error, name=name, dtype=dtype)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    _direction = "down"

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, axis=-1):
        super().__init__(L.sparse_categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits, axis=axis)


class CategoricalCrossentropy(MeanMetricWrapper):
    _direction = "down"

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0, axis=-1):
        super().__init__(L.categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class BinaryCrossentropy(MeanMetricWrapper):
    _direction = "down"

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0):
        super().__init__(L.binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class RootMeanSquaredError(Mean):
    """sqrt of the (weighted) mean of (y_pred - y_true)^2."""

    _direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update(self, state, y_true, y_pred, sample_weight=None):
        y_true, y_pred = L._same_rank(L._float(y_true), L._float(y_pred))
        return super().update(state, ops.square(y_pred - y_true), None, sample_weight)

    def update_state(self, y_true, y_pred=None, sample_weight=None):
        self._state = self.update(self._stateful(), y_true, y_pred, sample_weight)

    def _result(self, state):
        return ops.sqrt(_divide_no_nan(state["total"], state["count"]))


def cosine_similarity(y_true, y_pred, axis=-1):
    """Cosine similarity along `axis` (the metric is positive; the loss is its negative)."""
    return -L.cosine_similarity(y_true, y_pred, axis=axis)


def _down_metric(fn, cls_name, default_name, doc, direction="down"):
    def __init__(self, name=default_name, dtype=None, **kwargs):
        MeanMetricWrapper.__init__(self, fn, name=name, dtype=dtype, **kwargs)

    cls = type(cls_name, (MeanMetricWrapper,), {"__init__": __init__, "__doc__": doc, "_direction": direction})
    cls.__module__, cls.__qualname__ = __name__, cls_name
    return cls


MeanAbsolutePercentageError = _down_metric(L.mean_absolute_percentage_error, "MeanAbsolutePercentageError",
                                           "mean_absolute_percentage_error", "100 * mean |relative error|.")
MeanSquaredLogarithmicError = _down_metric(L.mean_squared_logarithmic_error, "MeanSquaredLogarithmicError",
                                           "mean_squared_logarithmic_error", "Mean squared error of log(1 + x).")
KLDivergence = _down_metric(L.kl_divergence, "KLDivergence", "kl_divergence", "Kullback-Leibler divergence.")
Poisson = _down_metric(L.poisson, "Poisson", "poisson", "Poisson negative log-likelihood.")
LogCoshError = _down_metric(L.log_cosh, "LogCoshError", "logcosh", "Mean log(cosh(error)).")
Hinge = _down_metric(L.hinge, "Hinge", "hinge", "Mean hinge loss.")
SquaredHinge = _down_metric(L.squared_hinge, "SquaredHinge", "squared_hinge", "Mean squared hinge loss.")
CategoricalHinge = _down_metric(L.categorical_hinge, "CategoricalHinge", "categorical_hinge",
                                "Mean categorical hinge loss.")
CosineSimilarity = _down_metric(cosine_similarity, "CosineSimilarity", "cosine_similarity",
                                "Mean cosine similarity between y_true and y_pred.", direction="up")


# --- confusion-matrix metrics ------------------------------------------------------------
def _confusion_update(state, y_true, y_pred, thresholds, sample_weight, keys, top_k=None, class_id=None,
                      multi_label=False):
    """Add weighted counts of tp/fp/tn/fn at each threshold (`pred > threshold`) to `state`:
    shape (thresholds,), or (thresholds, labels) with `multi_label` (last axis = labels)."""
    y_true = ops.cast(ops.convert_to_tensor(y_true), "float32")
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
    y_true, y_pred = L._same_rank(y_true, y_pred)
    if top_k is not None:
        kth = ops.top_k(y_pred, top_k)[0][..., -1:]
        y_pred = ops.where(ops.greater_equal(y_pred, kth), y_pred, NEG_INF)
    if class_id is not None:
        y_true, y_pred = y_true[..., class_id], y_pred[..., class_id]
    if sample_weight is None:
        w = ops.ones_like(y_pred)
    else:
        w = ops.cast(ops.convert_to_tensor(sample_weight), "float32")
        _, w = L._same_rank(y_true, w)
        while w.ndim < y_pred.ndim:
            w = ops.expand_dims(w, -1)
        w = ops.broadcast_to(w, y_pred.shape)
    if multi_label:
        n_labels = y_pred.shape[-1]
        pred = ops.reshape(y_pred, (1, -1, n_labels))
        label = ops.reshape(y_true, (1, -1, n_labels)) > 0.5
        w = ops.reshape(w, (1, -1, n_labels))
        thr = ops.reshape(ops.convert_to_tensor(np.asarray(thresholds, "float32")), (-1, 1, 1))
    else:
        pred = ops.reshape(y_pred, (1, -1))
        label = ops.reshape(y_true, (1, -1)) > 0.5
        w = ops.reshape(w, (1, -1))
        thr = ops.reshape(ops.convert_to_tensor(np.asarray(thresholds, "float32")), (-1, 1))
    pos = pred > thr
    new = dict(state)
    terms = {
        "true_positives": ops.logical_and(pos, label),
        "false_positives": ops.logical_and(pos, ops.logical_not(label)),
        "true_negatives": ops.logical_and(ops.logical_not(pos), ops.logical_not(label)),
        "false_negatives": ops.logical_and(ops.logical_not(pos), label),
    }
    for k in keys:
        new[k] = state[k] + ops.sum(ops.cast(terms[k], "float32") * w, axis=1)
    return new


class _ThresholdCounts(Metric):
    """State: the weighted counts named in `_keys` (tp/fp/tn/fn) at each of `self.thresholds`, for the
    predictions `top_k` and `class_id` select."""

    _keys = ()
    top_k = None

    def init(self):
        return {k: jnp.zeros((len(self.thresholds),), "float32") for k in self._keys}

    def update(self, state, y_true, y_pred, sample_weight=None):
        return _confusion_update(state, y_true, y_pred, self.thresholds, sample_weight, self._keys,
                                 self.top_k, self.class_id)


class _Confusion(_ThresholdCounts):

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        default = 0.5 if top_k is None else NEG_INF
        t = default if thresholds is None else thresholds
        self._scalar = np.ndim(t) == 0
        self.thresholds = [float(v) for v in np.atleast_1d(t)]
        if not all(0.0 <= v <= 1.0 for v in self.thresholds) and thresholds is not None:
            raise ValueError(f"{type(self).__name__}: expected thresholds in [0, 1], got {thresholds!r}.")
        self.init_thresholds, self.top_k, self.class_id = thresholds, top_k, class_id

    def get_config(self):
        return super().get_config() | {"thresholds": self.init_thresholds, "top_k": self.top_k,
                                       "class_id": self.class_id}


class Precision(_Confusion):
    """tp / (tp + fp) at `thresholds` (default 0.5; a list gives one value per threshold)."""

    _direction = "up"

    _keys = ("true_positives", "false_positives")

    def _result(self, state):
        r = _divide_no_nan(state["true_positives"], state["true_positives"] + state["false_positives"])
        return r[0] if self._scalar else r


class Recall(_Confusion):
    """tp / (tp + fn) at `thresholds` (default 0.5)."""

    _direction = "up"

    _keys = ("true_positives", "false_negatives")

    def _result(self, state):
        r = _divide_no_nan(state["true_positives"], state["true_positives"] + state["false_negatives"])
        return r[0] if self._scalar else r


class AUC(Metric):
    _direction = "up"

    """Area under the ROC or PR curve, from confusion counts at `num_thresholds` evenly spaced
    thresholds (Keras's default 200 and "interpolation" Riemann sum)."""

    _keys = ("true_positives", "false_positives", "true_negatives", "false_negatives")

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None,
                 dtype=None, thresholds=None, multi_label=False, num_labels=None, label_weights=None,
                 from_logits=False):
        super().__init__(name=name, dtype=dtype)
        curve, summation_method = str(curve).upper(), str(summation_method).lower()
        if curve not in ("ROC", "PR"):
            raise ValueError(f"AUC: expected curve 'ROC' or 'PR', got {curve!r}.")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError("AUC: expected summation_method 'interpolation', 'minoring' or 'majoring', "
                             f"got {summation_method!r}.")
        if multi_label and not num_labels:
            raise ValueError("AUC: multi_label=True needs `num_labels` (the state is created before any data "
                             "is seen); got num_labels=None.")

        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            self.num_thresholds = len(inner) + 2
        else:
            if num_thresholds <= 1:
                raise ValueError(f"AUC: expected num_thresholds > 1, got {num_thresholds}.")
            self.num_thresholds = num_thresholds
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        eps = 1e-7
        self.thresholds = [0.0 - eps] + inner + [1.0 + eps]
        self.curve, self.summation_method = curve, summation_method
        self.from_logits, self.multi_label = from_logits, multi_label
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else np.asarray(label_weights, "float32")
        self._init_thresholds = thresholds

    def init(self):
        shape = (self.num_thresholds, self.num_labels) if self.multi_label else (self.num_thresholds,)
        return {k: jnp.zeros(shape, "float32") for k in self._keys}

    def update(self, state, y_true, y_pred, sample_weight=None):
        if self.from_logits:
            y_pred = ops.sigmoid(ops.convert_to_tensor(y_pred))
        if self.label_weights is not None and not self.multi_label:
            # per-label weights scale each column's counts (Keras's rule for flattened labels)
            y_pred = ops.convert_to_tensor(y_pred)
            lw = ops.broadcast_to(ops.convert_to_tensor(self.label_weights), y_pred.shape)
            if sample_weight is not None:
                sw = ops.cast(ops.convert_to_tensor(sample_weight), "float32")
                while sw.ndim < y_pred.ndim:
                    sw = ops.expand_dims(sw, -1)
                lw = lw * sw
            sample_weight = lw
        return _confusion_update(state, y_true, y_pred, self.thresholds, sample_weight, self._keys,
                                 multi_label=self.multi_label)

    def _reduce_labels(self, terms):
        """Sum over thresholds; with several labels, their mean (or `label_weights`-weighted mean)."""
        if not self.multi_label:
            return ops.sum(terms)
        by_label = ops.sum(terms, axis=0)
        if self.label_weights is None:
            return ops.mean(by_label)
        lw = ops.convert_to_tensor(self.label_weights)
        return _divide_no_nan(ops.sum(by_label * lw), ops.sum(lw))

    def _interpolate_pr_auc(self, s):
        tp, fp, fn = s["true_positives"], s["false_positives"], s["false_negatives"]
        n = self.num_thresholds
        dtp = tp[: n - 1] - tp[1:]
        p = tp + fp
        dp = p[: n - 1] - p[1:]
        slope = _divide_no_nan(dtp, ops.maximum(dp, 0.0))
        intercept = tp[1:] - slope * p[1:]
        ratio = ops.where(ops.logical_and(p[: n - 1] > 0, p[1:] > 0),
                          _divide_no_nan(p[: n - 1], ops.maximum(p[1:], 0.0)), ops.ones_like(p[1:]))
        inc = _divide_no_nan(slope * (dtp + intercept * ops.log(ratio)), ops.maximum(tp[1:] + fn[1:], 0.0))
        return self._reduce_labels(inc)

    def _result(self, s):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc(s)
        tp, fp, tn, fn = (s[k] for k in self._keys)
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _divide_no_nan(tp, tp + fp)
        n = self.num_thresholds
        if self.summation_method == "interpolation":
            h = (y[: n - 1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            h = ops.minimum(y[: n - 1], y[1:])
        else:
            h = ops.maximum(y[: n - 1], y[1:])
        return self._reduce_labels((x[: n - 1] - x[1:]) * h)

    def get_config(self):
        return super().get_config() | {"num_thresholds": self.num_thresholds, "curve": self.curve,
                                       "summation_method": self.summation_method,
                                       "thresholds": self._init_thresholds, "from_logits": self.from_logits,
                                       "multi_label": self.multi_label, "num_labels": self.num_labels,
                                       "label_weights": None if self.label_weights is None
                                       else self.label_weights.tolist()}


# --- confusion counts, sensitivity/specificity ---------------------------------------------
class _ConditionCount(_Confusion):
    """One confusion-matrix count at `thresholds` (default 0.5): a scalar for one threshold."""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(thresholds=thresholds, name=name, dtype=dtype)

    def _result(self, state):
        r = state[self._keys[0]]
        return r[0] if len(self.thresholds) == 1 else r

    def get_config(self):
        return Metric.get_config(self) | {"thresholds": self.init_thresholds}


class TruePositives(_ConditionCount):
    """Weighted count of positives predicted positive (`y_pred > threshold`)."""

    _direction = "up"
    _keys = ("true_positives",)


class FalsePositives(_ConditionCount):
    """Weighted count of negatives predicted positive."""

    _direction = "down"
    _keys = ("false_positives",)


class TrueNegatives(_ConditionCount):
    """Weighted count of negatives predicted negative."""

    _direction = "up"
    _keys = ("true_negatives",)


class FalseNegatives(_ConditionCount):
    """Weighted count of positives predicted negative."""

    _direction = "down"
    _keys = ("false_negatives",)


class _AtConstraint(_ThresholdCounts):
    """Keras's SensitivitySpecificityBase: counts at `num_thresholds` thresholds spread over [0, 1];
    the result is the best `dependent` value among thresholds where `constrained >= value`."""

    _direction = "up"
    _keys = ("true_positives", "false_positives", "true_negatives", "false_negatives")
    _value_name = ""
    _compared = ("", "")  # (constrained, dependent): keys of `_rates`

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        if not 0 <= value <= 1:
            raise ValueError(f"Argument `{self._value_name}` must be in the range [0, 1]. "
                             f"Received: {self._value_name}={value}")
        if num_thresholds <= 0:
            raise ValueError(f"Argument `num_thresholds` must be an integer > 0. Received: num_thresholds={num_thresholds}")
        super().__init__(name=name, dtype=dtype)
        self.value, self.num_thresholds, self.class_id = value, num_thresholds, class_id
        if num_thresholds == 1:
            self.thresholds = [0.5]
        else:
            self.thresholds = [0.0] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] + [1.0]

    def _rates(self, s):
        tp, fp, tn, fn = (s[k] for k in self._keys)
        return {"sensitivity": _divide_no_nan(tp, tp + fn), "specificity": _divide_no_nan(tn, tn + fp),
                "precision": _divide_no_nan(tp, tp + fp)}

    def _result(self, s):
        r = self._rates(s)
        constrained, dependent = (r[k] for k in self._compared)
        return ops.max(ops.where(ops.greater_equal(constrained, self.value), dependent, 0.0), initial=0.0)

    def get_config(self):
        return super().get_config() | {"class_id": self.class_id, "num_thresholds": self.num_thresholds,
                                       self._value_name: self.value}


class SensitivityAtSpecificity(_AtConstraint):
    """Best sensitivity (recall) among thresholds whose specificity is >= `specificity`."""

    _value_name = "specificity"
    _compared = ("specificity", "sensitivity")

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)


class SpecificityAtSensitivity(_AtConstraint):
    """Best specificity among thresholds whose sensitivity is >= `sensitivity`."""

    _value_name = "sensitivity"
    _compared = ("sensitivity", "specificity")

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)


class PrecisionAtRecall(_AtConstraint):
    """Best precision among thresholds whose recall is >= `recall`."""

    _value_name = "recall"
    _compared = ("sensitivity", "precision")

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)


class RecallAtPrecision(_AtConstraint):
    """Best recall among thresholds whose precision is >= `precision`."""

    _value_name = "precision"
    _compared = ("precision", "sensitivity")

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)


# --- metrics whose state takes its shape from the data ------------------------------------------
class _ShapedByData(Metric):
    """A metric whose state shape depends on the number of classes/outputs in the data (Keras builds
    it on the first `update_state`). `build(y_true_shape, y_pred_shape)` fixes it; `compile` calls it
    from the model's output shape, and the eager face on the first batch."""

    def __init__(self, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._num_outputs = None

    def build(self, y_true_shape, y_pred_shape):
        y_true_shape, y_pred_shape = tuple(y_true_shape), tuple(y_pred_shape)
        if len(y_pred_shape) == 1 and len(y_true_shape) == 1 and type(self)._squeeze_ok:
            y_true_shape, y_pred_shape = y_true_shape + (1,), y_pred_shape + (1,)
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2 or y_pred_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} expects 2D inputs with shape (batch_size, output_dim), with "
                             f"output_dim fully defined (not None). Received input shapes: "
                             f"y_pred.shape={y_pred_shape} and y_true.shape={y_true_shape}.")
        self._num_outputs = int(y_pred_shape[-1])

    def _n(self):
        if self._num_outputs is None:
            raise ValueError(f"{type(self).__name__} '{self.name}' does not know the number of outputs yet: call "
                             "`build(y_true_shape, y_pred_shape)` or `update_state` first.")
        return self._num_outputs

    def update_state(self, y_true, y_pred=None, sample_weight=None):
        if self._num_outputs is None:
            self.build(np.shape(y_true), np.shape(y_pred))
        super().update_state(y_true, y_pred, sample_weight)

    def reset_state(self):
        self._state = None if self._num_outputs is None else self.init()


class FBetaScore(_ShapedByData):
    """(1 + beta^2) * precision * recall / (beta^2 * precision + recall), per class or averaged
    (`average`: None, "micro", "macro", "weighted"); `threshold` None takes each row's argmax."""

    _direction = "up"
    _squeeze_ok = False

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Invalid `average` argument value. Expected one of: {None, 'micro', 'macro', "
                             f"'weighted'}}. Received: average={average}")
        if not isinstance(beta, float):
            raise ValueError(f"Invalid `beta` argument value. It should be a Python float. Received: beta={beta} "
                             f"of type '{type(beta)}'")
        if beta <= 0.0:
            raise ValueError(f"Invalid `beta` argument value. It should be > 0. Received: beta={beta}")
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError("Invalid `threshold` argument value. It should be a Python float. Received: "
                                 f"threshold={threshold} of type '{type(threshold)}'")
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError("Invalid `threshold` argument value. It should verify 0 < threshold <= 1. "
                                 f"Received: threshold={threshold}")
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0

    def init(self):
        shape = () if self.average == "micro" else (self._n(),)
        return {k: jnp.zeros(shape, self.dtype)
                for k in ("true_positives", "false_positives", "false_negatives", "intermediate_weights")}

    def update(self, state, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(ops.convert_to_tensor(y_true), self.dtype)
        y_pred = ops.cast(ops.convert_to_tensor(y_pred), self.dtype)
        if self.threshold is None:
            top = ops.max(y_pred, axis=-1, keepdims=True)
            y_pred = ops.logical_and(y_pred >= top, ops.abs(y_pred) > 1e-9)
        else:
            y_pred = y_pred > self.threshold
        y_pred = ops.cast(y_pred, self.dtype)
        sw = None if sample_weight is None else ops.cast(ops.convert_to_tensor(sample_weight), self.dtype)

        def wsum(v):
            if sw is not None:
                v = v * ops.expand_dims(sw, 1)
            return ops.sum(v, axis=self.axis)

        return {"true_positives": state["true_positives"] + wsum(y_pred * y_true),
                "false_positives": state["false_positives"] + wsum(y_pred * (1 - y_true)),
                "false_negatives": state["false_negatives"] + wsum((1 - y_pred) * y_true),
                "intermediate_weights": state["intermediate_weights"] + wsum(y_true)}

    def _result(self, s):
        eps = backend.epsilon()
        tp = s["true_positives"]
        precision = tp / (tp + s["false_positives"] + eps)
        recall = tp / (tp + s["false_negatives"] + eps)
        b2 = self.beta ** 2
        score = precision * recall / (b2 * precision + recall + eps) * (1 + b2)
        if self.average == "weighted":
            w = s["intermediate_weights"]
            return ops.sum(score * (w / (ops.sum(w) + eps)))
        if self.average is not None:
            return ops.mean(score)
        return score

    def get_config(self):
        return super().get_config() | {"average": self.average, "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    """FBetaScore with beta = 1: 2 * precision * recall / (precision + recall)."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config


class R2Score(_ShapedByData):
    """Coefficient of determination per output, averaged by `class_aggregation` ("uniform_average",
    "variance_weighted_average" or None); `num_regressors` > 0 gives the adjusted R2."""

    _direction = "up"
    _squeeze_ok = True

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        valid = (None, "uniform_average", "variance_weighted_average")
        if class_aggregation not in valid:
            raise ValueError(f"Invalid value for argument `class_aggregation`. Expected one of {valid}. "
                             f"Received: class_aggregation={class_aggregation}")
        if num_regressors < 0:
            raise ValueError(f"Invalid value for argument `num_regressors`. Expected a value >= 0. "
                             f"Received: num_regressors={num_regressors}")
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors

    def init(self):
        n = self._n()
        out = {"num_samples": jnp.zeros((), self.dtype)}
        out.update({k: jnp.zeros((n,), self.dtype) for k in ("squared_sum", "sum", "residual", "count")})
        return out

    def update(self, state, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(ops.convert_to_tensor(y_true), self.dtype)
        y_pred = ops.cast(ops.convert_to_tensor(y_pred), self.dtype)
        y_true, y_pred = L._same_rank(y_true, y_pred)
        if y_true.ndim == 1:
            y_true, y_pred = ops.expand_dims(y_true, 1), ops.expand_dims(y_pred, 1)
        sw = ops.cast(ops.convert_to_tensor(1.0 if sample_weight is None else sample_weight), self.dtype)
        if sw.ndim == 1:
            sw = ops.expand_dims(sw, 1)
        sw = ops.broadcast_to(sw, y_true.shape)
        wy = y_true * sw
        return {"num_samples": state["num_samples"] + ops.cast(ops.size(y_true), self.dtype),
                "sum": state["sum"] + ops.sum(wy, axis=0),
                "squared_sum": state["squared_sum"] + ops.sum(y_true * wy, axis=0),
                "residual": state["residual"] + ops.sum(ops.square(y_true - y_pred) * sw, axis=0),
                "count": state["count"] + ops.sum(sw, axis=0)}

    def _result(self, s):
        mean = s["sum"] / s["count"]
        total = s["squared_sum"] - s["sum"] * mean
        raw = 1 - s["residual"] / total
        raw = ops.where(ops.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            r2 = ops.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            r2 = ops.sum(total * raw) / ops.sum(total)
        else:
            r2 = raw
        if self.num_regressors:
            n, p = s["num_samples"], float(self.num_regressors)
            adjusted = 1.0 - (1.0 - r2) * (n - 1.0) / (n - p - 1.0)
            r2 = ops.where(n - 1.0 > p, adjusted, r2)  # Keras falls back to plain R2 (with a warning) otherwise
        return r2

    def get_config(self):
        return super().get_config() | {"class_aggregation": self.class_aggregation,
                                       "num_regressors": self.num_regressors}


# --- IoU ------------------------------------------------------------------------------------------
class IoU(Metric):
    """Intersection over union, TP / (TP + FP + FN), from a `num_classes` x `num_classes` confusion matrix,
    averaged over `target_class_ids` that occur. Labels and predictions are class ids
    (`sparse_y_true`/`sparse_y_pred`) or one-hot/probabilities (argmax over `axis`)."""

    _direction = "up"

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(name=name, dtype=dtype or "int32")  # Keras counts in ints: float weights truncate
        if max(target_class_ids) >= num_classes:
            raise ValueError(f"Target class id {max(target_class_ids)} is out of range, which is [0, {num_classes}).")
        self.num_classes, self.target_class_ids = int(num_classes), list(target_class_ids)
        self.ignore_class, self.sparse_y_true, self.sparse_y_pred, self.axis = (
            ignore_class, sparse_y_true, sparse_y_pred, axis)

    def init(self):
        return {"total_confusion_matrix": jnp.zeros((self.num_classes, self.num_classes), "float32")}

    def _classes(self, y_true, y_pred):
        if not self.sparse_y_true:
            y_true = ops.argmax(y_true, axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = ops.argmax(y_pred, axis=self.axis)
        return y_true, y_pred

    def update(self, state, y_true, y_pred, sample_weight=None):
        y_true, y_pred = self._classes(ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred))
        y_true = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        y_pred = ops.reshape(ops.cast(y_pred, "int32"), (-1,))
        sw = ops.convert_to_tensor(1 if sample_weight is None else sample_weight)
        sw = ops.cast(ops.cast(sw, self.dtype), "float32")
        if sw.ndim > 1:
            sw = ops.reshape(sw, (-1,))
        sw = ops.broadcast_to(sw, y_true.shape)
        n = self.num_classes
        valid = ops.logical_and(ops.logical_and(y_true >= 0, y_true < n), ops.logical_and(y_pred >= 0, y_pred < n))
        if self.ignore_class is not None:
            valid = ops.logical_and(valid, ops.not_equal(y_true, self.ignore_class))
        sw = ops.where(valid, sw, 0.0)
        flat = ops.where(valid, y_true, 0) * n + ops.where(valid, y_pred, 0)
        counts = ops.sum(ops.one_hot(flat, n * n) * ops.expand_dims(sw, -1), axis=0)
        return {"total_confusion_matrix": state["total_confusion_matrix"] + ops.reshape(counts, (n, n))}

    def _result(self, s):
        cm = s["total_confusion_matrix"]
        tp = ops.diagonal(cm)
        denom = ops.sum(cm, axis=0) + ops.sum(cm, axis=1) - tp
        ids = ops.convert_to_tensor(np.asarray(self.target_class_ids, "int32"))
        tp, denom = ops.take(tp, ids), ops.take(denom, ids)
        valid = denom > 1e-9
        iou = ops.where(valid, tp / (denom + backend.epsilon()), 0.0)
        return ops.sum(iou, axis=self.axis) / (ops.sum(ops.cast(valid, "float32")) + backend.epsilon())

    def get_config(self):
        return super().get_config() | {"num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                                       "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                                       "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class MeanIoU(IoU):
    """IoU averaged over all `num_classes` classes."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, list(range(num_classes)), name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        config = super().get_config()
        del config["target_class_ids"]
        return config


class BinaryIoU(IoU):
    """IoU of a binary task: predictions `>= threshold` are class 1."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(2, target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def update(self, state, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(ops.cast(ops.convert_to_tensor(y_pred), "float32") >= self.threshold, "int32")
        return super().update(state, y_true, y_pred, sample_weight)

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold, "name": self.name,
                "dtype": self.dtype}


class OneHotIoU(IoU):
    """IoU with one-hot labels (and, unless `sparse_y_pred`, probability predictions)."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, target_class_ids, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]
        return config


class OneHotMeanIoU(MeanIoU):
    """MeanIoU with one-hot labels (and, unless `sparse_y_pred`, probability predictions)."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]
        return config


# --- correlation ----------------------------------------------------------------------------------
def pearson_correlation(y_true, y_pred, axis=-1):
    """Pearson correlation of `y_true` and `y_pred` along `axis`."""
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    y_true, y_pred = L._same_rank(y_true, y_pred)
    t = y_true - ops.mean(y_true, axis=axis, keepdims=True)
    p = y_pred - ops.mean(y_pred, axis=axis, keepdims=True)
    t = t / ops.std(t, axis=axis, keepdims=True)
    p = p / ops.std(p, axis=axis, keepdims=True)
    return ops.mean(t * p, axis=axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    """Lin's concordance correlation coefficient along `axis` (Keras's formula)."""
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    y_true, y_pred = L._same_rank(y_true, y_pred)
    t_mean = ops.mean(y_true, axis=axis, keepdims=True)
    p_mean = ops.mean(y_pred, axis=axis, keepdims=True)
    t_var = ops.var(y_true - t_mean, axis=axis, keepdims=True)
    p_var = ops.var(y_pred - p_mean, axis=axis, keepdims=True)
    covar = (y_true - p_mean) * (y_pred - p_mean)
    norm = t_var + p_var + ops.square(t_mean - p_mean)
    return ops.mean(2 * covar / (norm + backend.epsilon()), axis=axis)


class PearsonCorrelation(MeanMetricWrapper):
    """Mean Pearson correlation along `axis`."""

    _direction = "up"

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis


class ConcordanceCorrelation(MeanMetricWrapper):
    """Mean concordance correlation along `axis`."""

    _direction = "up"

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(concordance_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis


# --- lookup ------------------------------------------------------------------------------
_CLASSES = [Mean, Sum, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
            TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError,
            Precision, Recall, AUC, SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy,
            RootMeanSquaredError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError, KLDivergence, Poisson,
            LogCoshError, Hinge, SquaredHinge, CategoricalHinge, CosineSimilarity, TruePositives, FalsePositives,
            TrueNegatives, FalseNegatives, SensitivityAtSpecificity, SpecificityAtSensitivity, PrecisionAtRecall,
            RecallAtPrecision, FBetaScore, F1Score, R2Score, IoU, MeanIoU, BinaryIoU, OneHotIoU, OneHotMeanIoU,
            PearsonCorrelation, ConcordanceCorrelation]


def _lookup():
    table = {c.__name__: c for c in _CLASSES}
    table.update({snake_case(c.__name__): c for c in _CLASSES})
    table.update({"mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError,
                  "MAE": MeanAbsoluteError, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
                  "auc": AUC, "top_k_categorical_accuracy": TopKCategoricalAccuracy,
                  "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
                  "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError, "rmse": RootMeanSquaredError,
                  "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy})
    return table


def get(identifier):
    """A Metric from an object, class, name ("mse", "AUC", "precision") or config dict.

    "accuracy"/"acc" depend on the labels' and predictions' shapes; use `resolve` for them.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        cls = _lookup().get(identifier.get("class_name"))
        if cls is None:
            raise ValueError(f"Unknown metric class {identifier.get('class_name')!r}.")
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        table = _lookup()
        if identifier not in table:
            raise ValueError(f"Unknown metric {identifier!r}. Expected 'accuracy'/'acc' or one of "
                             f"{sorted(table)}, a Metric object or a function (y_true, y_pred) -> values.")
        return table[identifier](name=identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise TypeError(f"Expected a metric (str, Metric or callable), got {type(identifier).__name__}: {identifier!r}.")


def check(identifier):
    """Raise ValueError/TypeError now (at compile) for an identifier `resolve` could not handle."""
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc", "crossentropy", "ce"):
        return
    get(identifier)


def resolve(identifier, y_true_shape, y_pred_shape):
    """Keras's shape-dependent choice for "accuracy"/"acc" ("crossentropy"/"ce"); else `get`."""
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc", "crossentropy", "ce"):
        is_binary = y_pred_shape[-1] == 1 if len(y_pred_shape) else True
        is_sparse = len(y_true_shape) < len(y_pred_shape) or (
            len(y_true_shape) > 0 and y_true_shape[-1] == 1 and len(y_pred_shape) > 0 and y_pred_shape[-1] > 1)
        if identifier.lower() in ("accuracy", "acc"):
            cls = BinaryAccuracy if is_binary else SparseCategoricalAccuracy if is_sparse else CategoricalAccuracy
        else:
            cls = BinaryCrossentropy if is_binary else SparseCategoricalCrossentropy if is_sparse else \
                CategoricalCrossentropy
        return cls(name=identifier)
    metric = get(identifier)
    if isinstance(metric, _ShapedByData) and metric._num_outputs is None:
        metric.build(y_true_shape, y_pred_shape)
    return metric


def serialize(metric):
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config, custom_objects=None):
    """A metric from its Keras config (a name or a `{"class_name", "config"}` dict)."""
    return L._deserialize(get, config, custom_objects)


# The public names of this family: `fkeras.<family>` exports exactly these (the one list).
__all__ = [
    "AUC", "Accuracy", "BinaryAccuracy", "BinaryCrossentropy", "BinaryIoU", "CategoricalAccuracy",
    "CategoricalCrossentropy", "CategoricalHinge", "ConcordanceCorrelation", "CosineSimilarity", "F1Score",
    "FBetaScore", "FalseNegatives", "FalsePositives", "Hinge", "IoU", "KLDivergence", "LogCoshError", "Mean",
    "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanIoU", "MeanMetricWrapper", "MeanSquaredError",
    "MeanSquaredLogarithmicError", "Metric", "OneHotIoU", "OneHotMeanIoU", "PearsonCorrelation", "Poisson",
    "Precision", "PrecisionAtRecall", "R2Score", "Recall", "RecallAtPrecision", "RootMeanSquaredError",
    "SensitivityAtSpecificity", "SparseCategoricalAccuracy", "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy", "SpecificityAtSensitivity", "SquaredHinge", "Sum",
    "TopKCategoricalAccuracy", "TrueNegatives", "TruePositives", "accuracy", "binary_accuracy",
    "binary_crossentropy", "binary_focal_crossentropy", "categorical_accuracy", "categorical_crossentropy",
    "categorical_focal_crossentropy", "categorical_hinge", "concordance_correlation", "deserialize", "get",
    "hinge", "huber", "kl_divergence", "log_cosh", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_error", "mean_squared_logarithmic_error", "pearson_correlation", "poisson", "serialize",
    "sparse_categorical_accuracy", "sparse_categorical_crossentropy", "sparse_top_k_categorical_accuracy",
    "squared_hinge", "top_k_categorical_accuracy",
]
