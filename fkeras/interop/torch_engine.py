"""The PyTorch engine: `model.compile(..., engine="torch")` (registered with `fkeras.train.engines`).

An explicit, opt-in choice (the default engine is "jax"). The same model and the same
TrainState are run by PyTorch eager instead of a jit-compiled XLA step; on some CPUs
(oneDNN convolutions) that is faster. Nothing is written twice:

- the model runs through the torch shim (`fkeras.interop.torch`): its parameters and
  buffers hold the TrainState's params/state, and the forward is the model's own `apply`
  over `fkeras.ops` on torch tensors; gradients come from torch autograd;
- the compiled loss and metrics are the same objects the JAX engine uses (written over
  `fkeras.ops`), run on torch tensors;
- the optimizer is the SAME definition (`fkeras.train.optimizers`: clipping, weight decay and
  the rule `update_leaf`, all over `fkeras.ops`) applied to an `OptState` of torch tensors, so
  learning-rate changes (LearningRateScheduler, ReduceLROnPlateau) and schedules work.

`model.train_state` stays the single truth: the torch copies are written back (as JAX
arrays) at the end of every epoch, before and after any user batch-level callback, and
whenever fit/evaluate/predict finish; a TrainState changed from outside (set_weights, a
callback, a learning-rate change, the JAX engine) is read back in before the next step.

Numbers: with the same seed, `shuffle=False` and no dropout, 3 epochs on the torch engine
give weights equal to the JAX engine's within 1e-4 relative (float32; kernels sum in a
different order) and the same logs to 1e-5. Dropout masks come from torch's generator,
seeded from the TrainState's key per epoch (same seed -> same masks, but not JAX's masks).
A custom `train_step`/`test_step` (JAX code), a `LossScaleOptimizer` and raw optax transforms
cannot run here: each is a ValueError at compile or fit.
"""

from __future__ import annotations

import copy
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from fkeras.train import optimizers as opt_mod
from fkeras.train.compile_utils import flatten_like, flatten_outputs
from fkeras.train.engines import BaseEngine, register
from fkeras.train.steps import full_mask, split_optimized, unpack
from fkeras import ops
from fkeras.interop import dlpack
from fkeras.nn import quantized
from fkeras.nn.base import Variables
from fkeras.train import losses as losses_mod


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is installed in the dev environment
        raise ImportError("compile(engine='torch') needs PyTorch; install it with `pip install fkeras[torch]` "
                          "(or `pip install torch`).") from None
    return torch


def _check_optimizer(opt, loss_scaling):
    """Refuse, before compile changes anything, an optimizer whose rule cannot run on torch tensors."""
    torch = _torch()
    if loss_scaling or isinstance(opt, opt_mod.LossScaleOptimizer):
        raise ValueError("compile(engine='torch') does not do loss scaling, so it cannot run a "
                         "LossScaleOptimizer (compile wraps the optimizer in one under the 'mixed_float16' "
                         "policy). Use engine='jax', or pass an unwrapped optimizer with auto_scale_loss=False.")
    if isinstance(opt, opt_mod.MultiOptimizer):  # each inner optimizer's rule runs on its own leaves
        for inner in opt.optimizers:
            _check_optimizer(inner, loss_scaling)
        return
    if not isinstance(opt, opt_mod.Optimizer):
        raise ValueError(f"compile(engine='torch') runs fkeras optimizers (their rules are written over fkeras.ops); "
                         f"got {type(opt).__name__}, whose update is JAX code. Use engine='jax' for this optimizer.")
    # one update of a 2-element variable on torch tensors: a rule written with jax.numpy fails here
    # (on a copy told of one variable, so weight-decay exclusions and path choices can be resolved)
    opt = copy.copy(opt)
    opt.set_variable_names(["torch_check/kernel"])
    state = _opt_state_to_torch(opt.init([np.ones((2,), np.float32)]), lambda tree: list(tree))
    try:
        out = opt.apply([torch.full((2,), 0.5)], state, [torch.ones(2)])
        wrong = [type(a).__name__ for a in jax.tree.leaves(out) if not isinstance(a, torch.Tensor)]
        if wrong:
            raise TypeError(f"it returned {sorted(set(wrong))} values, expected torch tensors")
    except Exception as e:  # noqa: BLE001 - any failure means the rule is not torch-ready
        raise ValueError(f"compile(engine='torch') runs the optimizer's update rule on torch tensors; "
                         f"{type(opt).__name__}'s rule failed there ({type(e).__name__}: {e}). Write its "
                         "`update_leaf` with fkeras.ops, or use engine='jax'.") from e


# --- conversions -------------------------------------------------------------------------------
def _to_torch(a):
    """A private torch copy of a JAX/NumPy array (torch updates it in place)."""
    torch = _torch()
    if isinstance(a, torch.Tensor):
        return a.detach().clone()

    return dlpack.to_torch(a, copy=True)


def _view(a):
    """A torch view of an array, for reading only (`copy_` source)."""

    return dlpack.to_torch(a)


def _to_jax(t):
    """A JAX copy of a torch tensor (later in-place torch updates must not show through)."""
    t = t.detach()
    if t.dtype == _torch().bfloat16:

        return dlpack.to_jax(t.clone())
    return jnp.array(t.numpy(), copy=True)


def _batch_to_torch(tree):
    """NumPy (or torch) batch leaves as torch tensors, sharing memory where NumPy allows."""
    torch = _torch()

    def conv(a):
        if a is None or isinstance(a, torch.Tensor):
            return a
        a = np.asarray(a)
        if not a.flags.writeable:
            # read-only NumPy memory (a view of JAX data, an mmap): inputs are never written in place
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                return torch.from_numpy(a)
        return torch.from_numpy(a)

    return jax.tree.map(conv, tree, is_leaf=lambda v: v is None)


def _scalar(v):
    return float(np.asarray(v))


def _loss_value(lo, y_true, y_pred, sample_weight):
    """`lo(y_true, y_pred, sample_weight)` for torch tensors. A built-in `Loss.__call__` is run here
    step by step because `reduce_weighted_values` counts elements with `.size`, which is a method
    on torch tensors; the element count is taken with `ops.size` instead (same formula)."""

    if type(lo).__call__ is not losses_mod.Loss.__call__ or lo.reduction not in ("sum_over_batch_size", "mean"):
        return lo(y_true, y_pred, sample_weight)
    y_pred, y_true = ops.convert_to_tensor(y_pred), ops.convert_to_tensor(y_true)
    if lo._needs_same_rank:
        y_true, y_pred = losses_mod._same_rank(y_true, y_pred)
    values = lo.call(y_true, y_pred)
    if values.ndim == 0:
        return losses_mod.reduce_weighted_values(values, sample_weight, lo.reduction)
    total = losses_mod.reduce_weighted_values(values, sample_weight, "sum")
    return total / float(max(int(ops.size(values)), 1))


def _compiled_loss(closs, y_true_flat, y_pred_flat, sw_flat):
    """`CompiledLoss.__call__` (total, per-output losses) with `_loss_value` for each output."""
    total, per = 0.0, []
    for (lo, w), yt, yp, sw in zip(closs.entries, y_true_flat, y_pred_flat, sw_flat):
        if lo is None:
            per.append(None)
            continue
        if yt is None:
            raise ValueError("The model has a loss but no targets `y` were given.")
        v = _loss_value(lo, yt, yp, sw)
        per.append(v)
        total = total + (v if w is None else v * w)
    return total, per


# --- the optimizer state ------------------------------------------------------------------------
def _opt_state_to_torch(st, flatten):
    """A JAX `OptState` as one of torch tensors; `flatten(tree)` -> the list of trainable leaves."""
    torch = _torch()
    head = (torch.tensor(int(np.asarray(st.iterations)), dtype=torch.int32),
            torch.tensor(_scalar(st.learning_rate), dtype=torch.float32))
    if isinstance(st, opt_mod.MultiState):  # a MultiOptimizer: each inner state (None where a leaf is another's)
        return opt_mod.MultiState(*head, tuple(_opt_state_to_torch(s, flatten) for s in st.inner))
    if not isinstance(st, opt_mod.OptState):
        raise ValueError(f"engine='torch' expected the optimizer state as fkeras's OptState, got "
                         f"{type(st).__name__}.")
    return opt_mod.OptState(*head, {n: [None if a is None else _to_torch(a) for a in flatten(tree)]
                                    for n, tree in st.slots.items()},
                            {k: _to_torch(v) for k, v in st.extra.items()})


def _opt_state_to_jax(st, unflatten):
    head = (jnp.asarray(int(st.iterations), jnp.int32), jnp.asarray(_scalar(st.learning_rate), jnp.float32))
    if isinstance(st, opt_mod.MultiState):
        return opt_mod.MultiState(*head, tuple(_opt_state_to_jax(s, unflatten) for s in st.inner))
    return opt_mod.OptState(*head, {n: unflatten([None if t is None else _to_jax(t) for t in v])
                                    for n, v in st.slots.items()},
                            {k: _to_jax(v) for k, v in st.extra.items()})


# --- the engine -------------------------------------------------------------------------------
class _TorchRun:
    """Torch copies of one model's TrainState, and the train/eval/predict steps over them.

    Built for one `steps.Engine` (its compiled loss/metrics, trainable mask and output names) and
    one optimizer; `pull(ts)` reads a TrainState in (only the fields that changed), `push(host)`
    writes one out. The host (the model) is passed to each call that needs it.
    """

    def __init__(self, host, eng):
        torch = _torch()
        from fkeras.interop.torch import FkerasModule  # the torch shim imports torch

        self.torch = torch
        self.eng = eng
        ts = host.train_state
        self.mask = full_mask(eng.mask_spec, ts.params)
        self.module = FkerasModule(host, Variables(ts.params, ts.state), trainable_mask=self.mask)
        tv = self.module.torch_variables()
        self.params_tree, self.state_tree = tv.params, tv.state
        self.p_def = jax.tree.structure(ts.params)
        self.s_def = jax.tree.structure(ts.state)
        self.p_leaves = self.p_def.flatten_up_to(self.params_tree)
        self.s_leaves = self.s_def.flatten_up_to(self.state_tree)
        mask_leaves = self.p_def.flatten_up_to(self.mask)
        meta_leaves = self.p_def.flatten_up_to(quantized.float8_meta_mask(ts.params))
        # the optimizer's leaves, and the float8 scales/histories set to their gradient (as the JAX step)
        self.train_idx = [i for i, (m, f8) in enumerate(zip(mask_leaves, meta_leaves)) if m and not f8]
        self.t_def = jax.tree.structure(split_optimized(ts.params, self.mask))
        self.train_leaves = [self.p_leaves[i] for i in self.train_idx]
        self.meta_leaves = [p for p, m, f8 in zip(self.p_leaves, mask_leaves, meta_leaves) if m and f8]
        self.optimizer = host.optimizer  # its rule runs on `opt_state`, an OptState of torch tensors
        self.opt_state = None
        # Keras's weight constraints (pure, over fkeras.ops), projected after each update; skipped
        # when they change nothing (no constraint returns its input object)
        self.constraints = getattr(eng, "constraints", None)
        if self.constraints is not None:
            with torch.no_grad():
                out = self.p_def.flatten_up_to(self.constraints(self.params_tree))
            if all(a is b for a, b in zip(out, self.p_leaves)):
                self.constraints = None
        self.metrics = {}
        self._seen = None  # the TrainState last pulled or pushed
        self._rng = ts.rng
        self._step = 0
        self._pull_all(ts)

    # -- TrainState <-> torch --------------------------------------------------------------------
    def _pull_all(self, ts):
        self._pull_variables(ts)
        self._pull_opt(ts.opt_state)
        self._pull_metrics(ts.metrics)
        self._rng, self._step = ts.rng, int(ts.step)
        self._seen = ts

    def _pull_variables(self, ts):
        with self.torch.no_grad():
            for t, a in zip(self.p_leaves + self.s_leaves, jax.tree.leaves(ts.params) + jax.tree.leaves(ts.state)):
                t.copy_(_view(a))

    def _pull_opt(self, st):
        self.opt_state = _opt_state_to_torch(st, self.t_def.flatten_up_to)

    def _pull_metrics(self, metrics):
        self.metrics = jax.tree.map(_to_torch, dict(metrics))

    def pull(self, ts):
        """Read the fields of `ts` that differ from the last TrainState seen."""
        old = self._seen
        if ts is old:
            return
        if old is None:
            return self._pull_all(ts)
        if ts.params is not old.params or ts.state is not old.state:
            self._pull_variables(ts)
        if ts.opt_state is not old.opt_state:
            a, b = ts.opt_state, old.opt_state
            if not isinstance(b, opt_mod.OptState) or a.slots is not b.slots or a.iterations is not b.iterations \
                    or a.extra is not b.extra:
                self._pull_opt(a)
            else:  # only the learning rate was set (a callback)
                lr = self.torch.tensor(_scalar(a.learning_rate), dtype=self.torch.float32)
                self.opt_state = self.opt_state._replace(learning_rate=lr)
        if ts.metrics is not old.metrics:
            self._pull_metrics(ts.metrics)
        if ts.step is not old.step:
            self._step = int(ts.step)
        self._rng = ts.rng
        self._seen = ts

    def push(self, host):
        """A new TrainState (JAX arrays) with the torch values; also set as `host.train_state`."""
        ts = host.train_state
        opt_state = _opt_state_to_jax(self.opt_state, self.t_def.unflatten)
        new = ts.replace(
            params=self.p_def.unflatten([_to_jax(t) for t in self.p_leaves]),
            state=self.s_def.unflatten([_to_jax(t) for t in self.s_leaves]),
            opt_state=opt_state,
            metrics=jax.tree.map(_to_jax, self.metrics),
            rng=self._rng,
            step=jnp.asarray(self._step, jnp.int32),
        )
        host.train_state = new
        self._seen = new
        return new

    # -- the model ---------------------------------------------------------------------------------
    def forward(self, host, x, training):
        """(y_pred, aux_loss or None, new_state) on torch tensors, through the model's own apply."""
        params, state = self.params_tree, self.state_tree
        fk_apply = getattr(host, "_fk_apply", None)
        if fk_apply is not None:
            # the facade model: its add_loss/regularization terms, summed here in torch

            y, new_state, terms = fk_apply((params, state), (x,), {}, training, None)
            aux = None
            for term in terms:
                v = ops.sum(ops.cast(term, "float32"))
                aux = v if aux is None else aux + v
            return y, aux, new_state
        y, new_state, aux = host._forward(params, state, x, training, None)
        if not isinstance(aux, self.torch.Tensor):
            if float(np.asarray(aux)) != 0.0:
                raise ValueError("engine='torch': the model returned a JAX auxiliary loss; it must be computed "
                                 "with fkeras.ops on the torch inputs.")
            aux = None
        return y, aux, new_state

    def _write_state(self, new_state):
        if not self.s_leaves:
            return
        for t, v in zip(self.s_leaves, self.s_def.flatten_up_to(new_state)):
            if v is not t:
                t.copy_(v.detach())

    def _loss(self, y_pred, y, sw, aux):
        eng = self.eng
        names, yp = flatten_outputs(y_pred, eng.output_names)
        yt = flatten_like(y, names, "y")
        sws = flatten_like(sw, names, "sample_weight")
        if eng.loss is not None and y is not None:
            total, per = _compiled_loss(eng.loss, yt, yp, sws)
        else:
            total, per = None, [None] * len(names)
        if aux is not None:
            total = aux if total is None else total + aux
        if total is None:
            total = self.torch.zeros((), dtype=self.torch.float32)
        return total, per, yt, yp, sws

    def train_step(self, host, batch):
        """One optimizer step on a batch of torch tensors; updates metrics (no host sync)."""
        torch = self.torch
        x, y, sw = unpack(batch)
        y_pred, aux, new_state = self.forward(host, x, True)
        total, per, yt, yp, sws = self._loss(y_pred, y, sw, aux)
        leaves, meta_grads = self.train_leaves + self.meta_leaves, ()
        if leaves:
            if total.requires_grad:
                grads = torch.autograd.grad(total, leaves, allow_unused=True)
                grads = [torch.zeros_like(p) if g is None else g for g, p in zip(grads, leaves)]
            else:
                grads = [torch.zeros_like(p) for p in leaves]
            grads, meta_grads = grads[:len(self.train_leaves)], grads[len(self.train_leaves):]
        with torch.no_grad():
            for t, g in zip(self.meta_leaves, meta_grads):
                t.copy_(g)
            if self.train_leaves:
                # the optimizer's own definition (clipping, weight decay, `update_leaf`) on torch tensors
                new, self.opt_state = self.optimizer.apply(grads, self.opt_state, self.train_leaves)
                for t, v in zip(self.train_leaves, new):
                    t.copy_(v)
            if self.constraints is not None:
                for t, v in zip(self.p_leaves, self.p_def.flatten_up_to(self.constraints(self.params_tree))):
                    if v is not t:
                        t.copy_(v)
            self._write_state(new_state)
            self._update_metrics(total, per, yt, yp, sws, x)
        self._step += 1

    def _update_metrics(self, total, per, yt, yp, sws, x):
        det = lambda v: v.detach() if isinstance(v, self.torch.Tensor) else v  # noqa: E731
        # a tensor, not an int: `fkeras.ops` would send a Python int to JAX
        bs = self.torch.tensor(float(jax.tree.leaves(x)[0].shape[0]))
        self.metrics = self.eng._update_metrics(self.metrics, det(total), [det(p) for p in per], yt,
                                                [det(p) for p in yp], sws, bs)

    def results(self):
        return self.eng.metric_results(self.metrics)

    def eval_step(self, host, batch):
        with self.torch.no_grad():
            x, y, sw = unpack(batch)
            y_pred, aux, _ = self.forward(host, x, False)
            total, per, yt, yp, sws = self._loss(y_pred, y, sw, aux)
            self._update_metrics(total, per, yt, yp, sws, x)

    def predict_step(self, host, x):
        with self.torch.no_grad():
            y, _, _ = self.forward(host, x, False)
        return jax.tree.map(lambda t: t.numpy(), y)

    def epoch_seed(self):
        """A torch seed for this epoch's dropout masks, from the TrainState's key (advanced once)."""
        rng, sub = jax.random.split(self._rng)
        self._rng = rng
        data = np.asarray(jax.random.key_data(sub) if jax.dtypes.issubdtype(sub.dtype, jax.dtypes.prng_key)
                          else sub).astype(np.uint64).ravel()
        return int(data[-1] << np.uint64(32) | data[0]) & 0x7FFFFFFFFFFFFFFF


# --- the engine ---------------------------------------------------------------------------------
def _refuse_custom(host, kind):
    if host._custom(kind):
        raise ValueError(f"compile(engine='torch') runs fkeras's built-in steps; this model overrides "
                         f"`{kind}` (JAX code). Use engine='jax' for a custom `{kind}`.")


@register
class TorchEngine(BaseEngine):
    """`BaseEngine` on PyTorch eager: keeps torch copies of the host's TrainState (rebuilt when the
    steps or the optimizer change) and runs the same steps over them."""

    name = "torch"
    distributed = False

    def __init__(self):
        self._run = None

    @classmethod
    def check(cls, optimizer, loss_scaling=False):
        _check_optimizer(optimizer, loss_scaling)

    def _ready(self, host, eng) -> _TorchRun:
        """The torch copies for `eng`, with the current `host.train_state` read in."""
        run = self._run
        if run is None or run.eng is not eng or run.optimizer is not host.optimizer:
            run = self._run = _TorchRun(host, eng)
        else:
            run.pull(host.train_state)
        return run

    def train_epoch(self, host, eng, it, cbs):
        """One epoch of training on torch; returns the epoch's last logs (torch scalars)."""
        torch = _torch()
        _refuse_custom(host, "train_step")
        te = self._ready(host, eng)
        n = max(int(getattr(host, "steps_per_execution", 1) or 1), 1)
        begin = cbs._batch["on_train_batch_begin"]
        end = cbs._batch["on_train_batch_end"]
        # user callbacks may read or change the weights: they see a current TrainState (History and the
        # progress bar declare `_reads_logs_only`)
        user = any(not getattr(c, "_reads_logs_only", False) for c in begin + end)
        logs, step = None, 0
        seed = te.epoch_seed()

        def around(call, *args):
            if user:
                te.push(host)
            call(*args)
            if user:
                te.pull(host.train_state)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for batch in it:
                if begin and step % n == 0:
                    around(cbs.on_train_batch_begin, step)
                te.train_step(host, _batch_to_torch(batch))
                step += 1
                last = step % n == 0
                if end and last:
                    logs = te.results()
                    around(cbs.on_train_batch_end, step - 1, logs)
                if host.stop_training and last:
                    break
            if end and step % n:
                logs = te.results()
                around(cbs.on_train_batch_end, step - 1, logs)
        if step == 0:
            return None
        logs = te.results()
        te.push(host)
        return logs

    def evaluate(self, host, eng, data, cbs=None):
        """Float logs of loss and metrics over `data`, on torch."""
        _refuse_custom(host, "test_step")
        te = self._ready(host, eng)
        saved = te.metrics
        te.metrics = jax.tree.map(_to_torch, eng.init_metrics())
        started = False

        def step(batch):
            nonlocal started
            if not started:  # weights a callback swapped in at on_test_begin are the ones evaluated
                started = True
                metrics = te.metrics
                te.pull(host.train_state)
                te.metrics = metrics
            te.eval_step(host, _batch_to_torch(batch))
            return te.results()

        try:
            return host._test_loop(data, cbs, step)
        finally:
            te.metrics = saved

    def predict_fn(self, host, eng):
        """A `(params, state, x) -> outputs` function like the JAX engine's `jit_predict`, running on
        torch with the model's current TrainState (the arguments are that state, read through it)."""
        _refuse_custom(host, "predict_step")

        def predict(params, state, x):
            return self._ready(host, eng).predict_step(host, _batch_to_torch(x))

        return predict

    def train_on_batch(self, host, eng, batch):
        """One torch optimizer step on `batch` (running metrics kept); returns the logs."""
        _refuse_custom(host, "train_step")
        te = self._ready(host, eng)
        te.train_step(host, _batch_to_torch(batch))
        logs = te.results()
        te.push(host)
        return logs

    def test_on_batch(self, host, eng, batch):
        """Loss and metrics on one batch (fresh metric state), on torch."""
        _refuse_custom(host, "test_step")
        te = self._ready(host, eng)
        saved = te.metrics
        te.metrics = jax.tree.map(_to_torch, eng.init_metrics())
        try:
            te.eval_step(host, _batch_to_torch(batch))
            return te.results()
        finally:
            te.metrics = saved
