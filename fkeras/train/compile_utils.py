"""What `compile(loss=..., metrics=..., loss_weights=...)` becomes: per-output losses and metrics.

Model outputs are one array, a list/tuple of arrays, or a dict of arrays. Both classes are
configured at compile time (bad names fail there) and built at the first batch, when the
shapes of `y_true` and `y_pred` are known (Keras picks "accuracy"'s flavour from them).

Masks: an output that carries a Keras mask (`Embedding(mask_zero=True)` -> ... -> a sequence output) is
weighted by it as Keras does: losses (`Loss.__call__`) merge it into `sample_weight` with `masking.apply_mask`
for their reduction (kept entries weigh total/valid, so the mean runs over kept entries), and mean metrics
(`MeanMetricWrapper`: accuracy, crossentropies, mse, ...) with reduction "sum" (a 0/1 weight).
"""

from __future__ import annotations

from fkeras.nn import masking
from fkeras.train import losses as losses_mod
from fkeras.train import metrics as metrics_mod


def flatten_outputs(y_pred, output_names=None):
    """(names, flat list) for a model output: names are None for a single array."""
    if isinstance(y_pred, dict):
        if output_names and set(output_names) == set(y_pred):
            names = list(output_names)
        else:
            names = sorted(y_pred)
        return names, [y_pred[n] for n in names]
    if isinstance(y_pred, (list, tuple)):
        n = len(y_pred)
        if output_names and len(output_names) == n:
            names = list(output_names)
        else:
            names = [f"output_{i}" for i in range(n)] if n > 1 else [None]
        return names, list(y_pred)
    return [None], [y_pred]


def flatten_like(y, names, what="y"):
    """`y` (targets or sample weights) as a list aligned with the flattened outputs `names`."""
    if y is None:
        return [None] * len(names)
    if isinstance(y, dict):
        if len(names) == 1 and names[0] not in y and len(y) == 1:
            return list(y.values())
        missing = [n for n in names if n not in y]
        if missing:
            raise ValueError(f"`{what}` is a dict with keys {sorted(y)}, but the model's outputs are named "
                             f"{names}; missing {missing}.")
        return [y[n] for n in names]
    if isinstance(y, (list, tuple)):
        if len(y) == len(names):
            return list(y)
        if len(names) == 1 and what == "sample_weight":
            return [y]
        raise ValueError(f"`{what}` has {len(y)} entries but the model has {len(names)} outputs ({names}).")
    if len(names) > 1:
        if what == "sample_weight":
            return [y] * len(names)
        raise ValueError(f"The model has {len(names)} outputs ({names}) but `{what}` is a single array; pass a "
                         "list or a dict with one entry per output.")
    return [y]


def _per_output(spec, names, what):
    """Spread a compile argument (single value, list or dict) over the outputs."""
    if isinstance(spec, dict):
        unknown = [k for k in spec if k not in names]
        if unknown and not (len(names) == 1 and len(spec) == 1):
            raise ValueError(f"`{what}` has keys {unknown} that are not output names; outputs are {names}.")
        if len(names) == 1 and len(spec) == 1:
            return list(spec.values())
        return [spec.get(n) for n in names]
    if isinstance(spec, (list, tuple)) and len(names) > 1:
        if len(spec) != len(names):
            raise ValueError(f"`{what}` is a list of {len(spec)} entries but the model has {len(names)} outputs "
                             f"({names}).")
        return list(spec)
    return [spec] * len(names)


class CompiledLoss:
    """The total training loss: sum over outputs of `loss_weight * loss(y_true, y_pred, sample_weight)`."""

    def __init__(self, loss, loss_weights=None):
        if loss_weights is not None and not isinstance(loss_weights, (list, tuple, dict, float, int)):
            raise ValueError("Expected `loss_weights` to be a float (one output) or a list/dict (several outputs), "
                             f"got {type(loss_weights).__name__}.")
        for leaf in (loss.values() if isinstance(loss, dict) else loss if isinstance(loss, (list, tuple)) else [loss]):
            if leaf is not None and not (isinstance(leaf, str) and leaf.lower() in ("crossentropy", "ce")):
                losses_mod.get(leaf)  # raises for unknown names now, at compile
        self.user_loss, self.loss_weights = loss, loss_weights
        self.entries = None  # list over outputs of (Loss or None, weight or None)
        self.names = None

    def build(self, y_true_flat, y_pred_flat, names):
        losses = _per_output(self.user_loss, names, "loss")
        weights = _per_output(self.loss_weights, names, "loss_weights") if self.loss_weights is not None \
            else [None] * len(names)
        entries = []
        for lo, w, yt, yp in zip(losses, weights, y_true_flat, y_pred_flat):
            if lo is None:
                entries.append((None, None))
                continue
            if isinstance(lo, str) and lo.lower() in ("crossentropy", "ce"):
                m = metrics_mod.resolve(lo, tuple(getattr(yt, "shape", ())), tuple(yp.shape))
                lo = {metrics_mod.BinaryCrossentropy: "binary_crossentropy",
                      metrics_mod.SparseCategoricalCrossentropy: "sparse_categorical_crossentropy",
                      metrics_mod.CategoricalCrossentropy: "categorical_crossentropy"}[type(m)]
            entries.append((losses_mod.as_loss_object(lo), None if w is None else float(w)))
        if all(e[0] is None for e in entries):
            raise ValueError("`loss` gives no loss for any output; expected at least one.")
        self.entries, self.names = entries, names
        return self

    @property
    def multi(self):
        return self.names is not None and len(self.names) > 1

    def sparse_outputs(self):
        """Indices of outputs trained with sparse categorical crossentropy (their labels are checked)."""
        out = []
        for i, (lo, _) in enumerate(self.entries or []):
            fn = getattr(lo, "fn", None)
            if fn is losses_mod.sparse_categorical_crossentropy and getattr(lo, "_fn_kwargs", {}).get(
                    "ignore_class") is None:
                out.append(i)
        return out

    def __call__(self, y_true_flat, y_pred_flat, sw_flat):
        """Returns (total loss, list of unweighted per-output losses; None where no loss)."""
        total, per = 0.0, []
        for (lo, w), yt, yp, sw in zip(self.entries, y_true_flat, y_pred_flat, sw_flat):
            if lo is None:
                per.append(None)
                continue
            if yt is None:
                raise ValueError("The model has a loss but no targets `y` were given.")
            v = lo(yt, yp, sw)  # a Loss weighs by the mask `yp` carries itself (Keras's Loss.__call__)
            per.append(v)
            total = total + (v if w is None else v * w)
        return total, per


class CompiledMetrics:
    """Metrics (and weighted metrics) per output, keyed by their Keras log names."""

    def __init__(self, metrics=None, weighted_metrics=None):
        for arg, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value and not isinstance(value, (list, tuple, dict)):
                raise ValueError(f"Expected `{arg}` to be a list, tuple, or dict, got {type(value).__name__}: "
                                 f"{value!r}.")
            for leaf in _leaves(value):
                metrics_mod.check(leaf)
        self.user_metrics, self.user_weighted = metrics, weighted_metrics
        self.entries = None  # list of (log_name, Metric, output index, weighted)

    def build(self, y_true_flat, y_pred_flat, names, taken=()):
        entries, used = [], set(taken)
        for weighted, spec in ((False, self.user_metrics), (True, self.user_weighted)):
            if not spec:
                continue
            if len(names) == 1:
                per = [list(_leaves(spec))]
            elif isinstance(spec, dict):
                per = [list(_leaves(s)) for s in _per_output(spec, names, "metrics")]
            elif all(isinstance(s, (list, tuple)) or s is None for s in spec) and len(spec) == len(names):
                per = [list(_leaves(s)) for s in spec]
            else:
                per = [list(spec) for _ in names]
            for i, ms in enumerate(per):
                yt, yp = y_true_flat[i], y_pred_flat[i]
                for ident in ms:
                    m = metrics_mod.resolve(ident, tuple(getattr(yt, "shape", ())), tuple(yp.shape))
                    base = m.name if len(names) == 1 else f"{names[i]}_{m.name}"
                    name = base
                    if name in used:
                        name = f"weighted_{base}" if weighted and f"weighted_{base}" not in used else name
                        k = 1
                        while name in used:
                            name, k = f"{base}_{k}", k + 1
                    used.add(name)
                    entries.append((name, _mask_aware(m), i, weighted))
        self.entries = entries
        return self


def _mask_aware(metric):
    """A mean metric (`MeanMetricWrapper`) whose `update` weighs by the prediction's Keras mask, as
    Keras's `MeanMetricWrapper.update_state` does (`apply_mask(..., reduction="sum")`)."""
    if not isinstance(metric, metrics_mod.MeanMetricWrapper) or "update" in metric.__dict__:
        return metric
    plain = metric.update

    def update(state, y_true, y_pred, sample_weight=None):
        mask = masking.get_keras_mask(y_pred)
        if mask is not None:
            sample_weight = masking.apply_mask(sample_weight, mask, getattr(metric, "dtype", None) or "float32",
                                               "sum")
        return plain(state, y_true, y_pred, sample_weight)

    object.__setattr__(metric, "update", update)
    return metric


def _leaves(spec):
    if spec is None:
        return []
    if isinstance(spec, dict):
        out = []
        for v in spec.values():
            out.extend(_leaves(v))
        return out
    if isinstance(spec, (list, tuple)):
        out = []
        for v in spec:
            out.extend(_leaves(v))
        return out
    return [spec]

