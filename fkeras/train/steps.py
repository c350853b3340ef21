"""The pure train/eval/predict steps and their jit-compiled forms.

`Engine` binds a model's `forward(params, state, x, training, rng) -> (y_pred, new_state,
aux_loss)` to a compiled loss, compiled metrics, an optimizer and a trainable mask, and
offers:

    ts, logs = engine.train_step(ts, batch)          # pure; batch = (x,), (x, y) or (x, y, sw)
    metrics, logs = engine.eval_step(params, state, metrics, batch)
    y_pred = engine.predict_step(params, state, x)

and jitted versions (`jit_train`, `jit_train_multi` for `steps_per_execution` batches stacked
on a leading axis, unrolled as Keras's JAX trainer does, `jit_eval`, `jit_predict`). Each jitted function is
created once per Engine, so its compile cache lives as long as the Engine (across epochs and
`fit` calls): one compile per distinct batch shape. `trace_counts` counts traces.
"""

from __future__ import annotations

import collections

import jax
import jax.numpy as jnp
import numpy as np

from fkeras.nn import quantized
from fkeras.ops._jax_cpu import jit
from fkeras.train import metrics as metrics_mod
from fkeras.train.compile_utils import CompiledLoss, CompiledMetrics, flatten_like, flatten_outputs
from fkeras.train.state import TrainState


def full_mask(mask, params):
    """Expand a (possibly prefix) bool mask tree to one bool per leaf of `params`. None -> all True."""
    if mask is None:
        return jax.tree.map(lambda _: True, params)
    return jax.tree.map(lambda m, sub: jax.tree.map(lambda _: bool(m), sub), mask, params)


def split_trainable(params, mask):
    """Params with frozen leaves replaced by None (the tree gradients and the optimizer see)."""
    return jax.tree.map(lambda m, p: p if m else None, mask, params)


def split_optimized(params, mask):
    """The tree the optimizer sees: the trainable leaves, float8 scales/histories as None (Keras's
    `overwrite_with_gradient` variables: their gradient is their next value; no slots, no update)."""
    return quantized.without_float8_meta(split_trainable(params, mask))


def merge_trainable(trainable, params, mask):
    return jax.tree.map(lambda m, t, p: t if m else p, mask, trainable, params)


def unpack(batch):
    """(x,), (x, y), (x, y, sw) or a bare x -> (x, y, sw) with None for what is missing."""
    if isinstance(batch, tuple) and 1 <= len(batch) <= 3:
        return tuple(batch) + (None,) * (3 - len(batch))
    return batch, None, None


def batch_size_of(x):
    return jax.tree.leaves(x, is_leaf=lambda a: hasattr(a, "nse"))[0].shape[0]  # a sparse BCOO is one leaf


def scale_loss(optimizer, loss, opt_state):
    """`optimizer.scale_loss(loss, opt_state)` (the loss to differentiate); `loss` for optimizers without it."""
    fn = getattr(optimizer, "scale_loss", None)
    return loss if fn is None else fn(loss, opt_state)


class Engine:
    """Pure steps for one (model, loss, metrics, optimizer, mask) configuration."""

    def __init__(self, forward, loss: CompiledLoss | None, metrics: CompiledMetrics | None, optimizer,
                 trainable_mask=None, output_names=None, jit=True, constraints=None):
        self.forward = forward
        self.constraints = constraints  # params -> params, applied after each update (Keras's constraints)
        self.loss = loss
        self.metrics = metrics or CompiledMetrics()
        self.optimizer = optimizer
        self.mask_spec = trainable_mask
        self.output_names = output_names
        self.jit = jit
        self.built = False
        self.trace_counts = collections.Counter()
        self._loss_tracker = metrics_mod.Mean(name="loss")
        self._jitted = {}
        self.mask_key = None
        self.built_with_targets = False
        self.names, self.y_pred_specs = [None], []
        self._tracker_names = ["loss"]

    # -- build -----------------------------------------------------------------------------
    def build(self, params, state, batch, rng=None):
        """Resolve per-output losses/metrics from the shapes of one batch (no compute)."""
        x, y, _ = unpack(batch)
        rng = jax.random.key(0) if rng is None else rng
        y_pred = jax.eval_shape(lambda p, s, xx, r: self.forward(p, s, xx, False, r)[0], params, state, x, rng)
        names, yp = flatten_outputs(y_pred, self.output_names)
        yt = flatten_like(y, names, "y") if y is not None else [None] * len(names)
        self.names = names
        self.y_pred_specs = yp
        if self.loss is not None:
            self.loss.build(yt, yp, names)
        taken = ["loss"] + ([f"{n}_loss" for n, (lo, _) in zip(names, self.loss.entries) if lo is not None]
                            if self.loss is not None and self.loss.multi else [])
        self.metrics.build(yt, yp, names, taken)
        self._tracker_names = taken
        self.built = True
        return self

    def init_train_state(self, params, state=None, rng=0) -> TrainState:
        """A fresh TrainState: optimizer state over the trainable leaves only, fresh metrics.

        The arrays are copied: the jitted steps donate the TrainState's buffers, and the
        caller's `params`/`state` must stay valid.
        """
        params, state = jax.tree.map(lambda a: jnp.array(a, copy=True), (params, state if state is not None else {}))
        opt_state = None
        if self.optimizer is not None:
            opt_state = self.optimizer.init(split_optimized(params, full_mask(self.mask_spec, params)))
        return TrainState.create(params, state, opt_state, self.init_metrics() if self.built else {}, rng=rng)

    @property
    def metric_names(self):
        return list(self._tracker_names) + [e[0] for e in self.metrics.entries]

    def init_metrics(self):
        """A fresh metrics dict: loss trackers then compiled metrics, in log order."""
        out = {n: self._loss_tracker.init() for n in self._tracker_names}
        for name, m, _, _ in self.metrics.entries:
            out[name] = m.init()
        return out

    def metric_results(self, mstate):
        logs = {n: self._loss_tracker.result(mstate[n]) for n in self._tracker_names}
        for name, m, _, _ in self.metrics.entries:
            logs[name] = m.result(mstate[name])
        return logs

    # -- pieces ----------------------------------------------------------------------------
    def _loss_and_updates(self, params, state, x, y, sw, training, rng):
        y_pred, new_state, aux = self.forward(params, state, x, training, rng)
        names, yp = flatten_outputs(y_pred, self.output_names)
        yt = flatten_like(y, names, "y")
        sws = flatten_like(sw, names, "sample_weight")
        if self.loss is not None and y is not None:
            total, per = self.loss(yt, yp, sws)
        else:
            total, per = 0.0, [None] * len(names)
        total = total + aux
        return total, (yp, yt, sws, per, new_state)

    def _update_metrics(self, mstate, loss, per, yt, yp, sws, bs):
        new = dict(mstate)
        new["loss"] = self._loss_tracker.update(mstate["loss"], loss, None, bs)
        if self.loss is not None and self.loss.multi:
            for n, v in zip(self.names, per):
                if v is not None:
                    key = f"{n}_loss"
                    new[key] = self._loss_tracker.update(mstate[key], v, None, bs)
        for name, m, i, weighted in self.metrics.entries:
            if yt[i] is None:
                continue
            new[name] = m.update(mstate[name], yt[i], yp[i], sws[i] if weighted else None)
        return new

    # -- pure steps --------------------------------------------------------------------------
    def train_core(self, ts: TrainState, batch) -> TrainState:
        x, y, sw = unpack(batch)
        mask = full_mask(self.mask_spec, ts.params)
        rng, step_rng = jax.random.split(ts.rng)
        trainable = split_trainable(ts.params, mask)

        def loss_fn(tp):
            params = merge_trainable(tp, ts.params, mask)
            loss, aux = self._loss_and_updates(params, ts.state, x, y, sw, True, step_rng)
            # differentiate the scaled loss (a LossScaleOptimizer's dynamic scale), log the unscaled one
            return scale_loss(self.optimizer, loss, ts.opt_state), (loss, aux)

        (_, (loss, (yp, yt, sws, per, new_state))), grads = jax.value_and_grad(loss_fn, has_aux=True)(trainable)
        new_trainable, opt_state = self.optimizer.apply(quantized.without_float8_meta(grads), ts.opt_state,
                                                        quantized.without_float8_meta(trainable))
        new_trainable = quantized.overwrite_with_gradient(new_trainable, grads)  # float8 scales/histories, as Keras
        params = merge_trainable(new_trainable, ts.params, mask)
        if self.constraints is not None:
            params = self.constraints(params)
        mstate = self._update_metrics(ts.metrics, loss, per, yt, yp, sws, batch_size_of(x))
        new_ts = TrainState(params=params, state=new_state, opt_state=opt_state, metrics=mstate, rng=rng,
                            step=ts.step + 1)
        if self.state_shardings is not None:
            # Under a distribution, keep every variable where its layout put it (GSPMD may otherwise
            # propagate, e.g., a kernel's model-axis split onto its bias).
            new_ts = jax.lax.with_sharding_constraint(new_ts, self.state_shardings)
        return new_ts

    def train_step(self, ts: TrainState, batch):
        """One optimizer step on `batch`: returns (new TrainState, logs of the running metrics)."""
        self.trace_counts["train"] += 1
        ts = self.train_core(ts, batch)
        return ts, self.metric_results(ts.metrics)

    def train_multi(self, ts: TrainState, batches):
        """`n` steps over batches stacked on a leading axis: (TrainState, logs). Unrolled (as Keras's
        JAX trainer): inside a loop body XLA:CPU runs strided, dilated, 1D and depthwise conv
        gradients 10-70x slower; compile time grows with `n`."""
        self.trace_counts["train_multi"] += 1
        ts, _ = jax.lax.scan(lambda c, b: (self.train_core(c, b), None), ts, batches, unroll=True)
        return ts, self.metric_results(ts.metrics)

    def eval_step(self, params, state, mstate, batch):
        """Loss and metrics on `batch` in inference mode: (new metrics state, logs)."""
        self.trace_counts["eval"] += 1
        x, y, sw = unpack(batch)
        loss, (yp, yt, sws, per, _) = self._loss_and_updates(params, state, x, y, sw, False, None)
        mstate = self._update_metrics(mstate, loss, per, yt, yp, sws, batch_size_of(x))
        return mstate, self.metric_results(mstate)

    def predict_step(self, params, state, x):
        """The model's outputs for `x` in inference mode."""
        self.trace_counts["predict"] += 1
        return self.forward(params, state, x, False, None)[0]

    state_shardings = None  # set by the Trainer under an fkeras.distribution: TrainState-shaped shardings

    # -- jitted forms (created once) -----------------------------------------------------------
    def _get(self, name, fn, donate):
        f = self._jitted.get(name)
        if f is None:
            f = jit(fn, donate_argnums=donate) if self.jit else fn
            self._jitted[name] = f
        return f

    @property
    def jit_train(self):
        return self._get("train", self.train_step, (0,))

    @property
    def jit_train_multi(self):
        return self._get("train_multi", self.train_multi, (0,))

    @property
    def jit_eval(self):
        return self._get("eval", self.eval_step, (2,))

    @property
    def jit_predict(self):
        return self._get("predict", self.predict_step, ())

    @property
    def jit_results(self):
        return self._get("results", self.metric_results, ())


def stack_batches(batches):
    """Stack a list of same-shaped batch tuples on a new leading axis (for `train_multi`)."""
    return jax.tree.map(lambda *xs: np.stack(xs), *batches)

