"""The PyTorch engine for `fit`/`evaluate`/`predict`: `model.compile(..., engine="torch")`.

An explicit, opt-in choice (the default engine is "jax"). The same model and the same
TrainState are run by PyTorch eager instead of a jit-compiled XLA step; on some CPUs
(oneDNN convolutions) that is faster. Nothing is written twice:

- the model runs through the torch shim (`fkeras.interop.torch`): its parameters and
  buffers hold the TrainState's params/state, and the forward is the model's own `apply`
  over `fkeras.ops` on torch tensors; gradients come from torch autograd;
- the compiled loss and metrics are the same objects the JAX engine uses (written over
  `fkeras.ops`), run on torch tensors;
- the optimizer is a torch transcription (`torch._foreach_*`) of the SAME Keras update
  formula as `fkeras.optimizers` (Keras's epsilon placement, bias correction, clipping and
  decoupled weight decay), reading the learning rate from the fkeras optimizer every
  step, so LearningRateScheduler, ReduceLROnPlateau and schedules work.

`model.train_state` stays the single truth: the torch copies are written back (as JAX
arrays) at the end of every epoch, before and after any user batch-level callback, and
whenever fit/evaluate/predict finish; a TrainState changed from outside (set_weights, a
callback, a learning-rate change, the JAX engine) is read back in before the next step.

Numbers: with the same seed, `shuffle=False` and no dropout, 3 epochs on the torch engine
give weights equal to the JAX engine's within 1e-4 relative (float32; kernels sum in a
different order) and the same logs to 1e-5. Dropout masks come from torch's generator,
seeded from the TrainState's key per epoch (same seed -> same masks, but not JAX's masks).
A custom `train_step`/`test_step` (JAX code) cannot run here: that is a ValueError.
"""

from __future__ import annotations

import warnings
import weakref

import jax
import jax.numpy as jnp
import numpy as np

from fkeras.train import optimizers as opt_mod
from fkeras.train.compile_utils import flatten_like, flatten_outputs
from fkeras.train.steps import full_mask, split_trainable, unpack

ENGINES = ("jax", "torch")
_SUPPORTED = (opt_mod.SGD, opt_mod.Adam, opt_mod.AdamW, opt_mod.RMSprop, opt_mod.Adagrad, opt_mod.Nadam,
              opt_mod.Lion)


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is installed in the dev environment
        raise ImportError("compile(engine='torch') needs PyTorch; install it with `pip install fkeras[torch]` "
                          "(or `pip install torch`).") from None
    return torch


def check_engine(engine, optimizer, loss_scaling=False):
    """Validate `compile(engine=...)` for `optimizer` (to be wrapped in a LossScaleOptimizer when
    `loss_scaling`) before compile changes anything."""
    if not isinstance(engine, str) or engine not in ENGINES:
        raise ValueError(f"Expected `engine` to be one of {ENGINES}, got {engine!r}.")
    if engine == "torch":
        _torch()
        if loss_scaling or isinstance(optimizer, opt_mod.LossScaleOptimizer):
            raise ValueError("compile(engine='torch') does not do loss scaling, so it cannot run a "
                             "LossScaleOptimizer (compile wraps the optimizer in one under the 'mixed_float16' "
                             "policy). Use engine='jax', or pass an unwrapped optimizer with auto_scale_loss=False.")
        _optimizer_kind(optimizer)
    return engine


def _optimizer_kind(opt):
    """The Keras optimizer class whose update rule `opt` runs (a subclass overriding the rule is refused)."""
    for cls in _SUPPORTED[::-1]:
        if isinstance(opt, cls):
            if type(opt)._update_leaf is not cls._update_leaf or type(opt)._clip is not opt_mod.Optimizer._clip:
                break
            return cls
    raise ValueError(f"compile(engine='torch') has torch implementations of "
                     f"{[c.__name__ for c in _SUPPORTED]}; got {type(opt).__name__}, whose update rule it cannot "
                     "translate. Use engine='jax' for this optimizer.")


# --- conversions -------------------------------------------------------------------------------
def _to_torch(a):
    """A private torch copy of a JAX/NumPy array (torch updates it in place)."""
    torch = _torch()
    if isinstance(a, torch.Tensor):
        return a.detach().clone()
    from fkeras.interop import dlpack

    return dlpack.to_torch(a, copy=True)


def _view(a):
    """A torch view of an array, for reading only (`copy_` source)."""
    from fkeras.interop import dlpack

    return dlpack.to_torch(a)


def _to_jax(t):
    """A JAX copy of a torch tensor (later in-place torch updates must not show through)."""
    t = t.detach()
    if t.dtype == _torch().bfloat16:
        from fkeras.interop import dlpack

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
    from fkeras import ops
    from fkeras.train import losses as losses_mod

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


# --- the optimizer ------------------------------------------------------------------------------
class _TorchOptimizer:
    """Keras's update rule for one fkeras optimizer, on lists of torch tensors (in place).

    Slots are lists aligned with the trainable leaves; `iterations`, `lr` are Python numbers
    mirrored from / to the fkeras `OptState`.
    """

    def __init__(self, opt):
        self.opt = opt
        self.kind = _optimizer_kind(opt)
        self.slots = {}
        self.extra = {}
        self.iterations = 0
        self.lr = 0.0

    # Keras computes these scalars in float32; so do we.
    def lr_now(self):
        lr = self.opt._learning_rate
        if opt_mod._is_schedule(lr):
            return np.float32(np.asarray(lr(jnp.asarray(self.iterations, jnp.int32))))
        return np.float32(self.lr)

    def _clip(self, grads):
        torch = _torch()
        o = self.opt
        if o.clipnorm and o.clipnorm > 0:
            out = []
            for g in grads:
                norm = torch.sqrt(torch.sum(g * g))
                out.append(g * o.clipnorm / torch.clamp(norm, min=o.clipnorm))
            return out
        if o.global_clipnorm and o.global_clipnorm > 0:
            norm = torch.sqrt(sum(torch.sum(g * g) for g in grads))
            scale = o.global_clipnorm * torch.clamp(1.0 / norm, max=1.0 / o.global_clipnorm)
            return torch._foreach_mul(grads, scale)
        if o.clipvalue and o.clipvalue > 0:
            return [torch.clamp(g, -o.clipvalue, o.clipvalue) for g in grads]
        return grads

    def step(self, params, grads):
        """One Keras update of `params` (in place) from `grads`."""
        torch = _torch()
        o, f32 = self.opt, np.float32
        lr = self.lr_now()
        t = self.iterations
        grads = self._clip(list(grads))
        if o.weight_decay:
            decay = torch._foreach_mul(params, float(f32(o.weight_decay)))
            torch._foreach_mul_(decay, float(lr))
            torch._foreach_sub_(params, decay)
        s, k = self.slots, self.kind
        lr_f = float(lr)
        if k is opt_mod.SGD:
            if "momentum" not in s:
                torch._foreach_sub_(params, torch._foreach_mul(grads, lr_f))
            else:
                m = s["momentum"]
                torch._foreach_mul_(m, o.momentum)
                torch._foreach_sub_(m, torch._foreach_mul(grads, lr_f))
                if o.nesterov:
                    upd = torch._foreach_mul(m, o.momentum)
                    torch._foreach_sub_(upd, torch._foreach_mul(grads, lr_f))
                    torch._foreach_add_(params, upd)
                else:
                    torch._foreach_add_(params, m)
        elif k in (opt_mod.Adam, opt_mod.AdamW):
            step = f32(t + 1)
            alpha = lr * np.sqrt(f32(1) - np.power(f32(o.beta_2), step)) / (f32(1) - np.power(f32(o.beta_1), step))
            m, v = s["momentum"], s["velocity"]
            # few passes over the big tensors: lerp is m + (g - m) * (1 - beta_1), Keras's form
            torch._foreach_lerp_(m, grads, 1 - o.beta_1)
            torch._foreach_lerp_(v, torch._foreach_mul(grads, grads), 1 - o.beta_2)
            if o.amsgrad:
                torch._foreach_maximum_(s["velocity_hat"], v)
                v = s["velocity_hat"]
            den = torch._foreach_sqrt(v)
            torch._foreach_add_(den, o.epsilon)
            torch._foreach_addcdiv_(params, m, den, value=-float(alpha))
        elif k is opt_mod.RMSprop:
            v = s["velocity"]
            torch._foreach_mul_(v, o.rho)
            torch._foreach_add_(v, torch._foreach_mul(torch._foreach_mul(grads, grads), 1 - o.rho))
            if o.centered:
                ag = s["average_gradient"]
                torch._foreach_mul_(ag, o.rho)
                torch._foreach_add_(ag, torch._foreach_mul(grads, 1 - o.rho))
                den = torch._foreach_sub(v, torch._foreach_mul(ag, ag))
                torch._foreach_add_(den, o.epsilon)
            else:
                den = torch._foreach_add(v, o.epsilon)
            inc = torch._foreach_mul(grads, lr_f)
            torch._foreach_div_(inc, torch._foreach_sqrt(den))
            if o.momentum > 0:
                mo = s["momentum"]
                torch._foreach_mul_(mo, o.momentum)
                torch._foreach_add_(mo, inc)
                inc = mo
            torch._foreach_sub_(params, inc)
        elif k is opt_mod.Adagrad:
            acc = s["accumulator"]
            torch._foreach_add_(acc, torch._foreach_mul(grads, grads))
            inc = torch._foreach_mul(grads, lr_f)
            torch._foreach_div_(inc, torch._foreach_sqrt(torch._foreach_add(acc, o.epsilon)))
            torch._foreach_sub_(params, inc)
        elif k is opt_mod.Nadam:
            b1 = f32(o.beta_1)
            step, nxt = f32(t + 1), f32(t + 2)
            u_t = b1 * (f32(1) - f32(0.5) * np.power(f32(0.96), step))
            u_t1 = b1 * (f32(1) - f32(0.5) * np.power(f32(0.96), nxt))
            u_prod = f32(self.extra["u_product"]) * u_t  # the product including this step, as Keras
            self.extra["u_product"] = float(u_prod)
            u_prod1 = u_prod * u_t1
            m, v = s["momentum"], s["velocity"]
            torch._foreach_lerp_(m, grads, 1 - o.beta_1)
            torch._foreach_lerp_(v, torch._foreach_mul(grads, grads), 1 - o.beta_2)
            m_hat = torch._foreach_mul(m, float(u_t1 / (f32(1) - u_prod1)))
            torch._foreach_add_(m_hat, torch._foreach_mul(grads, float((f32(1) - u_t) / (f32(1) - u_prod))))
            v_hat = torch._foreach_div(v, float(f32(1) - np.power(f32(o.beta_2), step)))
            den = torch._foreach_sqrt(v_hat)
            torch._foreach_add_(den, o.epsilon)
            torch._foreach_mul_(m_hat, lr_f)
            torch._foreach_div_(m_hat, den)
            torch._foreach_sub_(params, m_hat)
        elif k is opt_mod.Lion:
            m = s["momentum"]
            c = torch._foreach_mul(m, o.beta_1)
            torch._foreach_add_(c, torch._foreach_mul(grads, 1.0 - o.beta_1))
            torch._foreach_sub_(params, torch._foreach_mul(torch._foreach_sign(c), lr_f))
            torch._foreach_mul_(m, o.beta_2)
            torch._foreach_add_(m, torch._foreach_mul(grads, 1.0 - o.beta_2))
        if opt_mod._is_schedule(o._learning_rate):
            self.lr = float(lr)
        self.iterations = t + 1


# --- the engine -------------------------------------------------------------------------------
class TorchEngine:
    """Torch copies of one model's TrainState, and the train/eval/predict steps over them.

    Built for one JAX `Engine` (its compiled loss/metrics, trainable mask and output names);
    `pull(ts)` reads a TrainState in (only the fields that changed), `push()` writes one out.
    """

    def __init__(self, host, eng):
        torch = _torch()
        from fkeras.interop.torch import FkerasModule
        from fkeras.nn.base import Variables

        self.torch = torch
        self.host = weakref.ref(host)
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
        self.train_idx = [i for i, m in enumerate(mask_leaves) if m]
        self.t_def = jax.tree.structure(split_trainable(ts.params, self.mask))
        self.train_leaves = [self.p_leaves[i] for i in self.train_idx]
        self.optimizer = _TorchOptimizer(host.optimizer)
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
        o = self.optimizer
        if not isinstance(st, opt_mod.OptState):
            raise ValueError(f"engine='torch' expected the optimizer state as fkeras's OptState, got "
                             f"{type(st).__name__}.")
        o.iterations, o.lr = int(st.iterations), _scalar(st.learning_rate)
        o.slots = {n: [_to_torch(a) for a in self.t_def.flatten_up_to(tree)] for n, tree in st.slots.items()}
        o.extra = {k: _scalar(v) for k, v in st.extra.items()}

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
                self.optimizer.lr = _scalar(a.learning_rate)
        if ts.metrics is not old.metrics:
            self._pull_metrics(ts.metrics)
        if ts.step is not old.step:
            self._step = int(ts.step)
        self._rng = ts.rng
        self._seen = ts

    def push(self):
        """A new TrainState (JAX arrays) with the torch values; also set as `host.train_state`."""
        host = self.host()
        ts = host.train_state
        o = self.optimizer
        slots = {n: self.t_def.unflatten([_to_jax(t) for t in v]) for n, v in o.slots.items()}
        old = ts.opt_state
        opt_state = opt_mod.OptState(jnp.asarray(o.iterations, jnp.int32), jnp.asarray(o.lr, jnp.float32), slots,
                                     {k: jnp.asarray(v, jnp.asarray(old.extra[k]).dtype) for k, v in o.extra.items()})
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
    def forward(self, x, training):
        """(y_pred, aux_loss or None, new_state) on torch tensors, through the model's own apply."""
        host = self.host()
        params, state = self.params_tree, self.state_tree
        fk_apply = getattr(host, "_fk_apply", None)
        if fk_apply is not None:
            # the facade model: its add_loss/regularization terms, summed here in torch
            from fkeras import ops

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

    def train_step(self, batch):
        """One optimizer step on a batch of torch tensors; updates metrics (no host sync)."""
        torch = self.torch
        x, y, sw = unpack(batch)
        y_pred, aux, new_state = self.forward(x, True)
        total, per, yt, yp, sws = self._loss(y_pred, y, sw, aux)
        if self.train_leaves:
            if total.requires_grad:
                grads = torch.autograd.grad(total, self.train_leaves, allow_unused=True)
                grads = [torch.zeros_like(p) if g is None else g for g, p in zip(grads, self.train_leaves)]
            else:
                grads = [torch.zeros_like(p) for p in self.train_leaves]
        with torch.no_grad():
            if self.train_leaves:
                self.optimizer.step(self.train_leaves, grads)
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

    def eval_step(self, batch):
        with self.torch.no_grad():
            x, y, sw = unpack(batch)
            y_pred, aux, _ = self.forward(x, False)
            total, per, yt, yp, sws = self._loss(y_pred, y, sw, aux)
            self._update_metrics(total, per, yt, yp, sws, x)

    def predict_step(self, x):
        with self.torch.no_grad():
            y, _, _ = self.forward(x, False)
        return jax.tree.map(lambda t: t.numpy(), y)

    def epoch_seed(self):
        """A torch seed for this epoch's dropout masks, from the TrainState's key (advanced once)."""
        rng, sub = jax.random.split(self._rng)
        self._rng = rng
        data = np.asarray(jax.random.key_data(sub) if jax.dtypes.issubdtype(sub.dtype, jax.dtypes.prng_key)
                          else sub).astype(np.uint64).ravel()
        return int(data[-1] << np.uint64(32) | data[0]) & 0x7FFFFFFFFFFFFFFF


# --- the Trainer's entry points ------------------------------------------------------------------
def engine_for(host, eng) -> TorchEngine:
    """The host's TorchEngine for `eng` (rebuilt when the JAX engine or the optimizer changed),
    with the current `host.train_state` read in."""
    te = host.__dict__.get("_torch_engine")
    if te is None or te.eng is not eng or te.optimizer.opt is not host.optimizer:
        te = TorchEngine(host, eng)
        host.__dict__["_torch_engine"] = te
    else:
        te.pull(host.train_state)
    return te


def _refuse_custom(host, kind):
    if host._custom(kind):
        raise ValueError(f"compile(engine='torch') runs fkeras's built-in steps; this model overrides "
                         f"`{kind}` (JAX code). Use engine='jax' for a custom `{kind}`.")


def train_epoch(host, eng, it, cbs):
    """One epoch of training on torch; returns the epoch's last logs (torch scalars)."""
    torch = _torch()
    _refuse_custom(host, "train_step")
    te = engine_for(host, eng)
    n = max(int(getattr(host, "steps_per_execution", 1) or 1), 1)
    begin = cbs._batch["on_train_batch_begin"]
    end = cbs._batch["on_train_batch_end"]
    # user callbacks may read or change the weights: they see a current TrainState (History and the
    # progress bar declare `_reads_logs_only`)
    user = any(not getattr(c, "_reads_logs_only", False) for c in begin + end)
    logs, step = None, 0
    seed = te.epoch_seed()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for batch in it:
            first = step % n == 0
            if begin and first:
                if user:
                    te.push()
                cbs.on_train_batch_begin(step)
                if user:
                    te.pull(host.train_state)
            te.train_step(_batch_to_torch(batch))
            step += 1
            last = step % n == 0
            if end and last:
                logs = te.results()
                if user:
                    te.push()
                cbs.on_train_batch_end(step - 1, logs)
                if user:
                    te.pull(host.train_state)
            if host.stop_training and last:
                break
        if end and step % n:
            logs = te.results()
            if user:
                te.push()
            cbs.on_train_batch_end(step - 1, logs)
            if user:
                te.pull(host.train_state)
    if step == 0:
        return None
    logs = te.results()
    te.push()
    return logs


def evaluate(host, eng, data, cbs=None):
    """`Trainer._evaluate_adapter` on torch: float logs of loss and metrics over `data`."""
    _refuse_custom(host, "test_step")
    te = engine_for(host, eng)
    saved = te.metrics
    te.metrics = jax.tree.map(_to_torch, eng.init_metrics())
    logs = None
    has_batch_cb = cbs is not None and (cbs._batch["on_test_batch_begin"] or cbs._batch["on_test_batch_end"])
    if cbs is not None:
        cbs.on_test_begin()
    try:
        for step, batch in enumerate(data.get_numpy_iterator()):
            if has_batch_cb:
                cbs.on_test_batch_begin(step)
            te.eval_step(_batch_to_torch(batch))
            logs = te.results()
            if has_batch_cb:
                cbs.on_test_batch_end(step, logs)
    finally:
        te.metrics = saved
    data.on_epoch_end()
    if logs is None:
        raise ValueError("The evaluation data produced no batches.")
    out = {k: _scalar(v) for k, v in sorted(logs.items())}
    if cbs is not None:
        cbs.on_test_end(out)
    return out


def predict_fn(host, eng):
    """A `(params, state, x) -> outputs` function like the JAX engine's `jit_predict`, running on
    torch with the model's current TrainState (the arguments are that state, read through it)."""
    _refuse_custom(host, "predict_step")

    def predict(params, state, x):
        te = engine_for(host, eng)
        return te.predict_step(_batch_to_torch(x))

    return predict


def train_on_batch(host, eng, batch):
    """One torch optimizer step on `batch` (running metrics kept); returns the logs."""
    _refuse_custom(host, "train_step")
    te = engine_for(host, eng)
    te.train_step(_batch_to_torch(batch))
    logs = te.results()
    te.push()
    return logs


def test_on_batch(host, eng, batch):
    """Loss and metrics on one batch (fresh metric state), on torch."""
    _refuse_custom(host, "test_step")
    te = engine_for(host, eng)
    saved = te.metrics
    te.metrics = jax.tree.map(_to_torch, eng.init_metrics())
    try:
        te.eval_step(_batch_to_torch(batch))
        return te.results()
    finally:
        te.metrics = saved
