"""`Trainer`: Keras's `compile/fit/evaluate/predict` as a mixin over the pure engine.

The host class (the facade `Model`, or any object) provides:
    variables_tree             property get/set: `Variables(params, state)`
    _forward(params, state, x, training, rng) -> (y_pred, new_state, aux_loss)
    _build_from_data(x_batch)  build the variables from an example batch (no-op when built)
    _trainable_mask()          bool pytree like params (False = frozen), or None
    _weight_paths(trainable)   paths of the (non-)trainable weights in Keras order
    _callback_list(callbacks, *, add_history, add_progbar, verbose, epochs, steps)
                               the CallbackList fit/evaluate/predict drive (the facade returns
                               `fkeras.callbacks.CallbackList`; this floor never imports callbacks):
                               Keras's hooks, plus `_batch[hook]`, the callbacks implementing a batch
                               hook (an empty list lets the loop skip that call)
and optionally `output_names`.

The Trainer keeps ONE `TrainState` in `self.train_state`, replaced (a Python reference swap,
no host sync) after every step; the arrays of the previous TrainState are donated to the
step, so read weights through `self.train_state` (or the host's views of it), not through
arrays kept from before a step. It lives in a `StateCell` the Trainer shares with its
optimizer's Keras face (`optimizer.bind_state(cell, ("opt_state",))` at compile), so
`model.optimizer.learning_rate = ...` writes into the TrainState without the optimizer
holding a reference to the model.

How the steps run is the engine's business (`fkeras.train.engines`: `JaxEngine`, or the
torch engine in `fkeras.interop.torch_engine`), chosen by `compile(engine=...)`; the Trainer
calls it through one interface and has no framework branches.
"""

from __future__ import annotations

import inspect
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from fkeras.backend import max_epochs as _max_epochs
from fkeras.backend import max_steps_per_epoch as _max_steps_per_epoch
from fkeras.data import get_data_adapter, train_validation_split
from fkeras.distribution import distribution
from fkeras.nn import dtype_policies, quantized
from fkeras.nn.base import Variables
from fkeras.ops._jax_cpu import jit as jit_program
from fkeras.train import engines as engines_mod
from fkeras.train import optimizers as optimizers_mod
from fkeras.train.compile_utils import CompiledLoss, CompiledMetrics, flatten_like, flatten_outputs
from fkeras.train.state import StateCell, TrainState
from fkeras.train.steps import (Engine, batch_size_of, full_mask, merge_trainable, split_optimized, split_trainable,
                                unpack)


def _capped_steps(steps):
    """`steps` capped by `config.set_max_steps_per_epoch` (or KERAS_MAX_STEPS_PER_EPOCH), as Keras's
    EpochIterator does for fit, its validation, evaluate and predict."""
    cap = _max_steps_per_epoch()
    if cap and (not steps or cap < steps):
        import warnings

        warnings.warn("Limiting steps_per_epoch to %d" % cap, stacklevel=3)
        return cap
    return steps


def _restart_pass(data):
    """The next epoch of `data` starts a new pass over a re-iterable source, also under `steps_per_epoch`
    (whose epochs otherwise continue the pass), as Keras's `EpochIterator.reset()` does."""
    if getattr(data, "_reiterable", False) and getattr(data, "_stream", None) is not None:
        data._stream = None


def _get_data_adapter(*args, **kwargs):
    """The data engineer's adapter. Like Keras, fit's defaults (`shuffle=True`, a `batch_size` meant
    for array data) are ignored silently for already-batched sources."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`shuffle=True` is ignored")
        warnings.filterwarnings("ignore", message="`batch_size` is ignored")
        return get_data_adapter(*args, **kwargs)


def _check_validation_data(validation_data):
    if isinstance(validation_data, tuple) and not 1 <= len(validation_data) <= 3:
        raise ValueError("`validation_data` is expected to be `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`; "
                         f"got a {type(validation_data).__name__} of {len(validation_data)} elements.")


def _skip_batches(it, n):
    """Drop the first `n` batches of an epoch (already trained on before a mid-epoch backup)."""
    for _ in range(n):
        if next(it, None) is None:
            break
    return it


def _to_floats(logs):
    return {k: float(np.asarray(v)) for k, v in sorted(logs.items())}


def _flatten_logs(logs):
    """Keras flattens nested result dicts (e.g. a CompileMetrics result) into the logs."""
    out = {}
    for k, v in logs.items():
        if isinstance(v, dict):
            out.update(_flatten_logs(v))
        else:
            out[k] = v
    return out


def _copy_tree(tree):
    """Fresh device buffers for every leaf, in one batched transfer (a per-leaf `jnp.array(copy=True)` compiles
    one copy program per distinct shape: seconds for an application model)."""
    return jax.device_put(jax.tree.map(jnp.asarray, tree), may_alias=False)


def _set_path(tree, path, value):
    if not path:
        return value
    new = dict(tree)
    new[path[0]] = _set_path(tree.get(path[0], {}), path[1:], value)
    return new


def _get_path(tree, path):
    for k in path:
        tree = tree[k]
    return tree


def _has_path(tree, path):
    try:
        _get_path(tree, path)
        return True
    except (KeyError, TypeError, IndexError):
        return False


class Trainer:
    """Mixin giving a model Keras 3's training API over the pure jitted steps."""

    # class-level defaults, so a host that never calls `_init_trainer` still works
    optimizer = None
    compiled = False
    stop_training = False
    history = None
    steps_per_execution = 1
    _engine = None
    _compile_config = None
    _opt_key = None

    @property
    def train_state(self):
        """The one TrainState (None before the model is built), kept in the cell shared with the optimizer."""
        cell = self.__dict__.get("_train_state_cell")
        return None if cell is None else cell.value

    @train_state.setter
    def train_state(self, value):
        self._state_cell().value = value

    def _state_cell(self) -> StateCell:
        cell = self.__dict__.get("_train_state_cell")
        if cell is None:
            # (a host may have put a plain `train_state` in its instance dict before: start from it)
            cell = self.__dict__["_train_state_cell"] = StateCell(self.__dict__.pop("train_state", None))
        return cell

    def _engine_impl(self):
        """The engine (`fkeras.train.engines.BaseEngine`) compile chose; the JAX engine before compile."""
        cfg = self._compile_config
        return cfg["engine_impl"] if cfg else engines_mod.JaxEngine()

    def _init_trainer(self):
        self._state_cell()
        self.optimizer = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._engine = None

    # ------------------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True, engine="jax"):
        """Configure training. Every argument is checked before anything changes.

        `engine`: "jax" (default, jit-compiled XLA steps) or "torch" (fit/evaluate/predict run the same
        TrainState in PyTorch eager; see `fkeras.interop.torch_engine` for what matches and to what tolerance).
        """
        opt = optimizers_mod.get(optimizer)
        if not isinstance(auto_scale_loss, bool):
            raise ValueError(f"Expected `auto_scale_loss` to be True or False, got {auto_scale_loss!r}.")
        # as Keras: under "mixed_float16" the optimizer is wrapped in a LossScaleOptimizer (float16 gradients
        # underflow without loss scaling)
        wrap = auto_scale_loss and self._policy_name() == "mixed_float16" \
            and not isinstance(opt, optimizers_mod.LossScaleOptimizer)
        engine_cls = engines_mod.get(engine)
        engine_cls.check(opt, loss_scaling=wrap)
        closs = CompiledLoss(loss, loss_weights) if loss is not None else None
        cmetrics = CompiledMetrics(metrics, weighted_metrics)
        if isinstance(steps_per_execution, bool) or not isinstance(steps_per_execution, (int, np.integer)) \
                or steps_per_execution < 1:
            raise ValueError(f"Expected `steps_per_execution` to be a positive int, got {steps_per_execution!r}.")
        if jit_compile not in ("auto", True, False):
            raise ValueError(f"Expected `jit_compile` to be 'auto', True or False, got {jit_compile!r}.")
        if wrap:
            opt = optimizers_mod.LossScaleOptimizer(opt, name="loss_scale_optimizer")
        self.optimizer = opt
        self.loss = loss
        opt.bind_state(self._state_cell(), ("opt_state",))  # its Keras face reads this TrainState's opt_state
        self._compile_config = dict(loss=closs, metrics=cmetrics, jit=not run_eagerly and jit_compile is not False,
                                    engine=engine, engine_impl=engine_cls())
        self._user_compile_args = dict(optimizer=optimizer, loss=loss, loss_weights=loss_weights, metrics=metrics,
                                       weighted_metrics=weighted_metrics)
        self.steps_per_execution = int(steps_per_execution)
        self._engine = None
        self._opt_key = None
        self.compiled = True
        self.stop_training = False
        ts = self.train_state
        if ts is not None:
            self.train_state = ts.replace(opt_state=None, metrics={})
        elif getattr(self, "built", False):
            self._create_train_state()

    def _policy_name(self):
        """The name of the host's dtype policy (the global policy when the host has none)."""
        policy = getattr(self, "dtype_policy", None)
        if policy is None:
            policy = dtype_policies.global_policy()
        return getattr(policy, "name", None)

    @property
    def run_eagerly(self):
        return bool(self._compile_config) and not self._compile_config["jit"]

    def _assert_compiled(self, method):
        if not self.compiled:
            raise ValueError(f"You must call `compile()` before calling `{method}()`.")

    # ------------------------------------------------------------------------------ state
    def _seed_key(self):
        """The TrainState's key, drawn from NumPy's global generator (seeded by `set_random_seed`)."""
        return int(np.random.randint(0, 2**31 - 1))

    def _create_train_state(self):
        vt = self.variables_tree
        # A private copy: steps donate the TrainState's buffers, never the host's own arrays.
        params, state = _copy_tree(vt[0]), _copy_tree(vt[1])
        self.train_state = TrainState.create(params, state, None, {}, rng=self._seed_key(), step=0)

    def _mask(self, params):
        get = getattr(self, "_trainable_mask", None)
        return full_mask(get() if get is not None else None, params)

    def _distribution(self):
        """The active `fkeras.distribution` (None: one device). The torch engine runs undistributed."""
        dist = distribution()
        impl = self._engine_impl()
        if dist is not None and not impl.distributed:
            raise ValueError(f"compile(engine='{impl.name}') cannot run under an fkeras.distribution; use "
                             "engine='jax'.")
        return dist

    def _batches(self, data):
        """One epoch of `data`'s batches, each split across devices when a distribution is active."""
        it = data.get_numpy_iterator()
        host = getattr(self, "_fk_host_batch", None)  # string layers run here, outside the jitted steps
        if host is not None:
            it = map(host, it)
        dist = self._distribution()
        return it if dist is None else map(dist.distribute_batch, it)

    def _build_state(self, x):
        """Build the model for inputs like `x` (the host's `_build_from_data`), then the TrainState if none."""
        build = getattr(self, "_build_from_data", None)
        if build is not None:
            build(x)
        if self.train_state is None:
            self._create_train_state()

    def _ready(self, batch):
        """Build the model, the engine and the TrainState for data like `batch`."""
        self._build_state(unpack(batch)[0])
        ts = self.train_state
        mask = self._mask(ts.params)
        mask_key = tuple(jax.tree.leaves(mask))
        # a custom train_step's list-structured optimizer state stays (`_custom_ready` owns it)
        custom_state = isinstance(self._opt_key, tuple) and self._opt_key[:2] == ("custom", id(self.optimizer))
        if not custom_state:
            self._name_optimizer_leaves(ts.params, mask)
        eng = self._engine
        has_y = unpack(batch)[1] is not None
        if eng is None or eng.mask_key != mask_key or (has_y and not eng.built_with_targets):
            cfg = self._compile_config
            eng = Engine(self._forward, cfg["loss"], cfg["metrics"], self.optimizer, trainable_mask=mask,
                         output_names=getattr(self, "output_names", None), jit=cfg["jit"],
                         constraints=getattr(self, "_apply_constraints", None))
            eng.mask_key = mask_key
            eng.build(ts.params, ts.state, batch, ts.rng)
            eng.built_with_targets = has_y  # "accuracy" etc. are resolved from the targets' shape
            self._engine = eng
        key = (id(self.optimizer), mask_key)
        if not custom_state and (ts.opt_state is None or self._opt_key != key):
            ts = ts.replace(opt_state=self.optimizer.init(split_optimized(ts.params, mask)))
            self._opt_key = key
        if set(ts.metrics) != set(eng.metric_names):
            ts = ts.replace(metrics=eng.init_metrics())
        # a standalone `optimizer.apply(...)` since compile may have given the optimizer its own state
        self.optimizer.bind_state(self._state_cell(), ("opt_state",))
        self.train_state = self._engine_impl().place(self, eng, ts)
        return eng

    def _name_optimizer_leaves(self, params, mask):
        """Tell the optimizer which variable each trainable params leaf is (flat pytree order) and where
        it stands in Keras's `trainable_variables` order: weight-decay exclusions and per-variable choices
        by path (Muon, MultiOptimizer) then act inside `fit` as in Keras."""
        name = getattr(self.optimizer, "set_variable_names", None)
        if name is None:
            return
        paths = self._paths(True)
        variables = list(getattr(self, "trainable_variables", None) or [])
        if len(variables) != len(paths):
            variables = ["/".join(map(str, p)) for p in paths]
        by_path = dict(zip(paths, variables))
        flat = jax.tree_util.tree_flatten_with_path(split_optimized(params, mask))[0]
        keys = [tuple(getattr(k, "key", getattr(k, "idx", k)) for k in kp) for kp, _ in flat]
        paths = [p for p in paths if p in set(keys)]  # (float8 scales/histories are not the optimizer's)
        by_path = {p: by_path[p] for p in paths}
        if set(keys) != set(by_path) or len(keys) != len(by_path):
            name(["/".join(map(str, k)) for k in keys])
            return
        index = {k: i for i, k in enumerate(keys)}
        name([by_path[k] for k in keys], keras_order=[index[p] for p in paths])

    def _check_labels(self, eng, y):
        """Sparse labels outside [0, classes) are an error before any step runs."""
        if y is None or eng.loss is None:
            return
        try:
            ys = flatten_like(y, eng.names, "y")
        except ValueError:
            return
        for i in eng.loss.sparse_outputs():
            spec = eng.y_pred_specs[i]
            yi = ys[i]
            if not hasattr(yi, "shape") or not hasattr(yi, "dtype"):
                continue
            a = np.asarray(yi)
            if a.size == 0:
                continue
            n = spec.shape[-1]
            lo, hi = a.min(), a.max()
            if lo < 0 or hi >= n:
                bad = lo if lo < 0 else hi
                raise ValueError(f"Received a label value of {bad} which is outside the valid range of [0, {n}) "
                                 f"for the model's output {eng.names[i] or ''} with {n} classes.".replace("  ", " "))

    def _check_fit_batch(self, batch):
        """Clear errors, before any state changes, for a first training batch the model cannot use:
        no targets for a compiled loss (fit would otherwise report a loss of 0), or string/object inputs."""
        x, y, _ = unpack(batch)
        custom = self._custom("train_step") or self._custom("compute_loss")
        if y is None and self._compile_config["loss"] is not None and not custom:
            raise ValueError(f"The model was compiled with loss={self.loss!r} but `fit` received no targets "
                             "(`y` is None, or the dataset yields only inputs). Pass `y`, yield `(x, y)` "
                             "batches, or compile with `loss=None` to train on `add_loss` terms only.")
        self._check_input_dtypes(x)

    def _check_input_dtypes(self, x):
        """String/object inputs to a numeric model: a clear error naming the input and the dtype expected
        (fit, evaluate and predict check their first batch before running anything)."""
        leaves = jax.tree_util.tree_leaves_with_path(x)
        try:
            inputs = list(getattr(self, "inputs", None) or [])
        except (AttributeError, ValueError):
            inputs = []
        for i, (path, leaf) in enumerate(leaves):
            dtype = getattr(leaf, "dtype", None)
            if dtype is None or np.dtype(dtype).kind not in "OSUa":
                continue
            key = getattr(path[-1], "key", None) if path else None
            if key is not None:  # a dict of inputs: match the model's input by name
                spec = {getattr(t, "name", None): t for t in inputs}.get(key)
            else:
                spec = inputs[i] if len(inputs) == len(leaves) else None
            want = str(getattr(spec, "dtype", "")) or None
            if want == "string":
                continue
            where = "x" + jax.tree_util.keystr(path)
            named = f" (model input '{spec.name}')" if getattr(spec, "name", None) else ""
            raise ValueError(f"Input {where}{named} has dtype {np.dtype(dtype)} (strings/objects), but the model "
                             f"expects numeric input{f' of dtype {want}' if want else ''}. Convert it to numbers "
                             "first (e.g. with a lookup/vectorization step outside the model).")

    def _check_class_weight(self, eng, class_weight):
        """A `class_weight` key for a class the model's output does not have is an error (Keras ignores it)."""
        if not class_weight or eng.y_pred_specs is None or len(eng.y_pred_specs) != 1:
            return
        shape = eng.y_pred_specs[0].shape
        n = int(shape[-1]) if shape and shape[-1] is not None else None
        if n is None:
            return
        n = 2 if n == 1 else n  # one sigmoid unit: classes 0 and 1
        bad = sorted(int(k) for k in class_weight if not 0 <= int(k) < n)
        if bad:
            raise ValueError(f"`class_weight` has entries for classes {bad}, but the model's output has {n} "
                             f"classes (0 to {n - 1}); got class_weight={class_weight!r}.")

    def reset_metrics(self):
        if self.train_state is not None and "variables" in self.train_state.metrics:
            self.train_state = self.train_state.replace(metrics={"variables": self._custom_metric_vars()})
        elif self.train_state is not None and self._engine is not None:
            self.train_state = self.train_state.replace(metrics=self._engine.init_metrics())

    def get_metrics_result(self):
        """Current values of the running metrics (Keras's `get_metrics_result`), as floats."""
        ts = self.train_state
        if ts is None or self._engine is None:
            return {}
        if "variables" in ts.metrics:
            return {}
        return _to_floats(self._engine.metric_results(ts.metrics))

    @property
    def metrics_names(self):
        return self._ordered_names(self._engine.metric_names if self._engine else ["loss"])

    def _ordered_names(self, names):
        losses = [n for n in names if n == "loss"]
        out_losses = [n for n in names if n != "loss" and n.endswith("_loss") and self._engine is not None
                      and n in self._engine._tracker_names]
        rest = [n for n in names if n not in losses and n not in out_losses]
        return losses + rest + out_losses

    @property
    def metrics(self):
        """Metric objects: the loss tracker, then the compiled metrics (once built by a first batch)."""
        if self._engine is None:
            return []
        return [self._engine._loss_tracker] + [m for _, m, _, _ in self._engine.metrics.entries]

    def _metric_direction(self, name):
        if self._engine is None:
            return None
        for log_name, m, _, _ in self._engine.metrics.entries:
            if log_name == name or m.name == name:
                return getattr(m, "_direction", None)
        return None

    def _snapshot_variables(self):
        """A copy of the current (params, state) that later steps cannot donate away."""
        ts = self.train_state
        return _copy_tree((ts.params, ts.state))

    def _restore_variables(self, snapshot):
        params, state = snapshot
        self.variables_tree = Variables(params, state)

    # ------------------------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train for `epochs` epochs; returns the `History` callback (also `self.history`)."""
        self._assert_compiled("fit")
        if class_weight is not None and sample_weight is not None:
            raise ValueError("You cannot use `class_weight` and `sample_weight` at the same time.")
        if not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"Expected `epochs` to be a non-negative int, got {epochs!r}.")
        if _max_epochs() and _max_epochs() < epochs:  # config.set_max_epochs / KERAS_MAX_EPOCHS, as Keras
            import warnings

            warnings.warn("Limiting epochs to %d" % _max_epochs(), stacklevel=2)
            epochs = _max_epochs()
        if not isinstance(validation_freq, (int, np.integer)) or validation_freq < 1:
            raise ValueError(f"Expected `validation_freq` to be a positive int, got {validation_freq!r}.")
        if validation_split and validation_data is None:
            (x, y, sample_weight), validation_data = train_validation_split((x, y, sample_weight), validation_split)
        dist = self._distribution()
        if dist is not None:
            x, y, sample_weight, batch_size = dist.shard_source(x, y, sample_weight, batch_size)
        # The shuffle seed is drawn here, on the main thread, so batches do not depend on threads.
        data = _get_data_adapter(x, y, sample_weight, batch_size=batch_size,
                                 steps_per_epoch=_capped_steps(steps_per_epoch), shuffle=shuffle, class_weight=class_weight, seed=int(np.random.randint(2**31 - 1)))
        val_data = None
        if validation_data is not None:
            _check_validation_data(validation_data)
            vx, vy, vsw = unpack(validation_data) if isinstance(validation_data, tuple) else (validation_data, None, None)
            val_data = _get_data_adapter(vx, vy, vsw, batch_size=validation_batch_size or batch_size,
                                         steps_per_epoch=_capped_steps(validation_steps), shuffle=False)

        self._fit_data_state = data.resume_state()  # the batches of the first epoch (BackupAndRestore)
        first_iter = self._batches(data)
        try:
            first = next(first_iter)
        except StopIteration:
            raise ValueError("The training data produced no batches.") from None
        self._check_fit_batch(first)
        eng = self._ready(first)
        self._check_labels(eng, y)
        self._check_class_weight(eng, class_weight)
        if self._custom("train_step"):
            self._custom_ready(first)

        verbose = 1 if verbose == "auto" else verbose
        if jax.process_index() != 0:
            verbose = 0  # several processes: only process 0 shows progress
        cbs = self._callback_list(callbacks, add_history=True, add_progbar=verbose != 0, verbose=verbose,
                                  epochs=epochs, steps=data.num_batches)
        self.stop_training = False
        cbs.on_train_begin()
        # A callback (BackupAndRestore) may resume at a later epoch, as in Keras.
        initial_epoch = self.__dict__.pop("_initial_epoch", None) or initial_epoch
        skip = self._resume_data(data)
        if skip is not None:
            first_iter = None  # the batch drawn to build the model is not the resumed epoch's
        training_logs = None
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            cbs.on_epoch_begin(epoch)
            if first_iter is not None:
                it, first_iter = itertools.chain([first], first_iter), None
            else:
                self._fit_data_state = data.resume_state()
                it = self._batches(data)
                if skip:  # resumed mid-epoch: these batches were trained on before the backup
                    it = _skip_batches(it, skip)
            logs = self._train_epoch(eng, it, cbs)
            if logs is None and skip:  # the backup was written after the epoch's last batch
                logs = {}
            skip = None
            data.on_epoch_end()
            self._fit_data_state = data.resume_state()  # where the next epoch starts
            if logs is None:
                if getattr(data, "exhausted", False):  # a generator ran out: stop, as Keras does
                    break
                raise ValueError("The training data produced no batches in this epoch.")
            epoch_logs = _to_floats(logs)
            if val_data is not None and (epoch + 1) % validation_freq == 0:
                _restart_pass(val_data)  # as Keras resets its validation iterator: each validation starts a pass
                val_logs = self._evaluate_adapter(eng, val_data, cbs)
                epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            training_logs = epoch_logs
            if self.stop_training or getattr(data, "exhausted", False):
                break
        ts = self.train_state
        if getattr(self.optimizer, "use_ema", False) and getattr(ts, "opt_state", None) is not None:
            # Keras's `finalize_variable_values`: the trained weights become their moving averages
            mask = self._mask(ts.params)
            avg = self.optimizer.finalize_params(ts.opt_state, split_optimized(ts.params, mask))
            avg = quantized.overwrite_with_gradient(avg, split_trainable(ts.params, mask))  # float8 meta: as is
            avg = jax.tree.map(jnp.copy, avg)  # own buffers: the averages stay in opt_state, and both are donated
            self.train_state = ts.replace(params=merge_trainable(avg, ts.params, mask))
        cbs.on_train_end(logs=training_logs)
        return self.history

    def _resume_data(self, data):
        """Apply a backup's data position (set by `BackupAndRestore` on `on_train_begin` as
        `_resume_fit = {"batch": batches of the epoch already trained, "data": resume_state}`).
        Returns the batches to skip in the first epoch, or None when not resuming."""
        resume = self.__dict__.pop("_resume_fit", None)
        if resume is None:
            return None
        if resume.get("data") is not None:
            data.restore_resume_state(resume["data"])
        elif resume.get("batch"):
            raise ValueError("This backup was written mid-epoch for a data source that cannot be replayed "
                             "(a generator, tf.data or torch loader); resume from an epoch-end backup "
                             "(`save_freq='epoch'`).")
        return int(resume.get("batch") or 0)

    def _fit_resume_state(self):
        """The training data's position for a backup: the start of the current epoch (during an epoch)
        or of the next epoch (after `on_epoch_end`), see `DataAdapter.resume_state`."""
        return self.__dict__.get("_fit_data_state")

    def _callback_list(self, callbacks, *, add_history, add_progbar, verbose, epochs, steps):
        """The host's CallbackList (see the module docstring); the facade Model provides it."""
        raise NotImplementedError(f"{type(self).__name__} must provide `_callback_list(callbacks, *, add_history, "
                                  "add_progbar, verbose, epochs, steps)` returning a CallbackList (the facade Model "
                                  "returns `fkeras.callbacks.CallbackList(callbacks, model=self, ...)`).")

    def _train_epoch(self, eng, it, cbs):
        return self._engine_impl().train_epoch(self, eng, it, cbs)

    def _custom_train_epoch(self, it, cbs):
        fn = self._custom_fn("train")
        begin = cbs._batch["on_train_batch_begin"]
        end = cbs._batch["on_train_batch_end"]
        logs = None
        for step, batch in enumerate(it):
            if begin:
                cbs.on_train_batch_begin(step)
            ts = self.train_state
            rng, sub = jax.random.split(ts.rng)
            logs, st = fn(self._custom_pack(ts, "train"), batch, sub)
            self.train_state = self._custom_unpack(ts.replace(rng=rng), st, "train")
            logs = _flatten_logs(logs)
            if end:
                cbs.on_train_batch_end(step, logs)
            if self.stop_training:
                break
        return logs

    # ------------------------------------------------------------------------------ evaluate
    def _evaluate_adapter(self, eng, data, cbs=None):
        return self._engine_impl().evaluate(self, eng, data, cbs)

    def _custom_evaluate(self, data, cbs):
        fn = self._custom_fn("test")
        st = None

        def step(batch):
            nonlocal st
            if st is None:  # packed after on_test_begin, so weights a callback swaps in there are evaluated
                tv, ntv, _ = self._custom_pack(self.train_state, "test")
                st = (tv, ntv, self._custom_metric_vars())
            logs, st = fn(st, batch, None)
            return _flatten_logs(logs)

        return self._test_loop(data, cbs, step)

    def _test_loop(self, data, cbs, step):
        """One pass of `data` through `step(batch) -> logs` with the test callbacks; the last logs as floats."""
        has_batch_cb = cbs is not None and (cbs._batch["on_test_batch_begin"] or cbs._batch["on_test_batch_end"])
        if cbs is not None:
            cbs.on_test_begin()
        logs = None
        for i, batch in enumerate(self._batches(data)):
            if has_batch_cb:
                cbs.on_test_batch_begin(i)
            logs = step(batch)
            if has_batch_cb:
                cbs.on_test_batch_end(i, logs)
        data.on_epoch_end()
        if logs is None:
            raise ValueError("The evaluation data produced no batches.")
        out = _to_floats(logs)
        if cbs is not None:
            cbs.on_test_end(out)
        return out

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, **kwargs):
        """Loss and metrics on the data: a list in `metrics_names` order (a float if only the loss),
        or a dict with `return_dict=True`."""
        self._assert_compiled("evaluate")
        if kwargs:
            raise TypeError(f"evaluate: unexpected arguments {sorted(kwargs)}.")
        data = _get_data_adapter(x, y, sample_weight, batch_size=batch_size, steps_per_epoch=_capped_steps(steps),
                                 shuffle=False)
        it = self._batches(data)
        try:
            first = next(it)
        except StopIteration:
            raise ValueError("The evaluation data produced no batches.") from None
        _restart_pass(data)  # the batch looked at is evaluated too (with `steps`, the pass would go on after it)
        self._check_input_dtypes(unpack(first)[0])
        eng = self._ready(first)
        self._check_labels(eng, y)
        cbs = self._one_pass_callbacks(callbacks, verbose, data)
        logs = self._evaluate_adapter(eng, data, cbs)
        if return_dict:
            return logs
        names = self._ordered_names(list(logs))
        values = [logs[n] for n in names]
        return values[0] if len(values) == 1 else values

    def _one_pass_callbacks(self, callbacks, verbose, data):
        """evaluate's and predict's callback list: one pass over `data`, no History, a progress bar unless
        `verbose=0` ("auto" is 1)."""
        verbose = 1 if verbose == "auto" else verbose
        return self._callback_list(callbacks, add_history=False, add_progbar=verbose != 0, verbose=verbose, epochs=1,
                                   steps=data.num_batches)

    # ------------------------------------------------------------------------------ predict
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Model outputs for `x` as NumPy arrays (concatenated over batches)."""
        data = _get_data_adapter(x, batch_size=batch_size, steps_per_epoch=_capped_steps(steps), shuffle=False)
        cbs = self._one_pass_callbacks(callbacks, verbose, data)
        cbs.on_predict_begin()
        outs, pred, carry = [], None, False
        for step, batch in enumerate(self._batches(data)):
            if pred is None:
                self._check_input_dtypes(unpack(batch)[0])
                pred = self._predict_fn(batch)
                carry = self._carries_state()
            cbs.on_predict_batch_begin(step)
            ts = self.train_state
            if self._custom("predict_step"):
                y = self._custom_fn("predict")(self._custom_pack(ts, "predict"), batch, None)
            elif carry:  # stateful RNNs: their states carry from batch to batch
                y, new_state = self._stateful_predict_fn()(ts.params, ts.state, unpack(batch)[0])
                self.train_state = ts.replace(state=new_state)
            else:
                y = pred(ts.params, ts.state, unpack(batch)[0])
            outs.append(y)
            cbs.on_predict_batch_end(step, {"outputs": y})
        if not outs:
            raise ValueError("The prediction data produced no batches.")
        result = jax.tree.map(lambda *ys: np.concatenate([np.asarray(v) for v in ys], axis=0), *outs)
        cbs.on_predict_end()
        return result

    def _carries_state(self) -> bool:
        fn = getattr(self, "_fk_carries_state", None)
        return bool(fn is not None and fn())

    def _stateful_predict_fn(self):
        """Jitted `(params, state, x) -> (y_pred, new_state)` for models whose state carries across batches."""
        fn = self.__dict__.get("_fk_stateful_predict")
        if fn is None:
            fn = jit_program(lambda p, s, x: self._forward(p, s, x, False, None)[:2])
            self.__dict__["_fk_stateful_predict"] = fn
        return fn

    def _predict_fn(self, batch):
        """The jitted predict step (needs no compile(): builds a loss-free engine if needed)."""
        if self.compiled:
            return self._engine_impl().predict_fn(self, self._ready(batch))
        self._build_state(unpack(batch)[0])
        if getattr(self, "_predict_engine", None) is None:
            self._predict_engine = Engine(self._forward, None, None, None)
        return self._predict_engine.jit_predict

    # ------------------------------------------------------------------------------ on_batch
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on one batch; returns the running metrics (list, float or dict)."""
        self._assert_compiled("train_on_batch")
        batch = self._single_batch(x, y, sample_weight, class_weight)
        eng = self._ready(batch)
        self._check_labels(eng, y)
        return self._format_logs(self._engine_impl().train_on_batch(self, eng, batch), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics on one batch (fresh metric state)."""
        self._assert_compiled("test_on_batch")
        batch = self._single_batch(x, y, sample_weight, None)
        eng = self._ready(batch)
        self._check_labels(eng, y)
        return self._format_logs(self._engine_impl().test_on_batch(self, eng, batch), return_dict)

    def predict_on_batch(self, x):
        batch = (jax.tree.map(np.asarray, x),)
        host = getattr(self, "_fk_host_batch", None)
        if host is not None:
            batch = host(batch)
        pred = self._predict_fn(batch)
        ts = self.train_state
        return jax.tree.map(np.asarray, pred(ts.params, ts.state, batch[0]))

    def _single_batch(self, x, y, sample_weight, class_weight):
        data = _get_data_adapter(x, y, sample_weight, batch_size=int(1e9), class_weight=class_weight)
        return next(iter(self._batches(data)))

    def _format_logs(self, logs, return_dict):
        logs = _to_floats(logs)
        if return_dict:
            return logs
        values = [logs[n] for n in self._ordered_names(list(logs))]
        return values[0] if len(values) == 1 else values

    # ------------------------------------------------------------------------------ Keras-JAX style
    def _paths(self, trainable):
        get = getattr(self, "_weight_paths", None)
        if get is not None:
            return [tuple(p) for p in get(trainable)]
        vt = self.variables_tree
        from jax.tree_util import tree_flatten_with_path

        tree = vt[0] if trainable else vt[1]
        leaves, _ = tree_flatten_with_path(tree)
        return [tuple(k.key for k in path) for path, _ in leaves]

    def _trees_from_lists(self, trainable_values, non_trainable_values, template=None):
        vt = self.variables_tree if template is None else template
        params, state = vt[0], vt[1]
        tp, ntp = self._paths(True), self._paths(False)
        if len(trainable_values) != len(tp) or len(non_trainable_values) != len(ntp):
            raise ValueError(f"stateless_call: expected {len(tp)} trainable and {len(ntp)} non-trainable values, got "
                             f"{len(trainable_values)} and {len(non_trainable_values)}.")
        for p, v in zip(tp, trainable_values):
            params = _set_path(params, p, v)
        for p, v in zip(ntp, non_trainable_values):
            if _has_path(state, p):
                state = _set_path(state, p, v)
            else:
                params = _set_path(params, p, v)
        return params, state, ntp

    def stateless_call(self, trainable_variables, non_trainable_variables, x, training=False, **kwargs):
        """Keras's pure call: `(outputs, new_non_trainable_values)` for the given weight lists."""
        params, state, ntp = self._trees_from_lists(list(trainable_variables), list(non_trainable_variables))
        rng = kwargs.pop("rng", None)
        if training and rng is None:
            rng = self.__dict__.get("_step_rng")
            rng = jax.random.key(0) if rng is None else rng
        y, new_state, aux = self._forward(params, state, x, training, rng)
        if self.__dict__.get("_in_custom_step"):
            # add_loss/regularization terms of this call: picked up by compute_loss in the same step,
            # as Keras's `self.losses` are under stateless_call.
            self.__dict__["_stateless_aux"] = aux
        out = [(_get_path(new_state, p) if _has_path(new_state, p) else _get_path(params, p)) for p in ntp]
        return y, out

    # Keras 3's JAX-backend step methods. Overriding `train_step`/`test_step`/`predict_step` in a
    # subclass makes fit/evaluate/predict run the override (jit-compiled) on Keras's state tuples;
    # these defaults are what `super().train_step(state, data)` gives.
    def train_step(self, state, data):
        """Keras-JAX train step: `state = (trainable_variables, non_trainable_variables,
        optimizer_variables, metrics_variables)` (lists) -> `(logs, new_state)`."""
        tv, ntv, ov, mv = state
        x, y, sw = unpack(data)

        def loss_fn(tv_, ntv_):
            y_pred, ntv_new = self.stateless_call(tv_, ntv_, x, training=True)
            loss = self.compute_loss(x, y, y_pred, sw)
            # as Keras's JAX trainer: gradients of the scaled loss, metrics of the unscaled one
            return self.optimizer.scale_loss(loss, ov), (loss, y_pred, ntv_new)

        (_, (loss, y_pred, ntv)), grads = jax.value_and_grad(loss_fn, has_aux=True)(tv, ntv)
        tv, ov = self.optimizer.stateless_apply(ov, grads, tv)
        logs, mv = self._stateless_metrics(mv, loss, x, y, y_pred, sw)
        return logs, (tv, ntv, ov, mv)

    def test_step(self, state, data):
        """Keras-JAX test step: `state = (trainable_variables, non_trainable_variables,
        metrics_variables)` -> `(logs, new_state)`."""
        tv, ntv, mv = state
        x, y, sw = unpack(data)
        y_pred, ntv = self.stateless_call(tv, ntv, x, training=False)
        loss = self.compute_loss(x, y, y_pred, sw, training=False)
        logs, mv = self._stateless_metrics(mv, loss, x, y, y_pred, sw)
        return logs, (tv, ntv, mv)

    def predict_step(self, state, data):
        """Keras-JAX predict step: `state = (trainable_variables, non_trainable_variables)` -> outputs."""
        tv, ntv = state
        x, _, _ = unpack(data)
        return self.stateless_call(tv, ntv, x, training=False)[0]

    def _stateless_metrics(self, mv, loss, x, y, y_pred, sw):
        logs, new, i = {}, [], 0
        for m in self.metrics:
            k = len(jax.tree.leaves(m.init()))
            cur = list(mv[i:i + k])
            if m.name == "loss":
                cur = m.stateless_update_state(cur, loss, sample_weight=batch_size_of(x))
            else:
                cur = m.stateless_update_state(cur, y, y_pred, sample_weight=sw)
            logs[m.name] = m.stateless_result(cur)
            new += cur
            i += k
        return logs, new

    def _custom(self, kind):
        """True when a subclass overrides Keras's `train_step`/`test_step`/`predict_step`."""
        return getattr(type(self), kind, None) is not getattr(Trainer, kind)

    def _custom_metric_vars(self):
        return [leaf for m in self.metrics for leaf in jax.tree.leaves(m.init())]

    def _custom_pack(self, ts, kind):
        tp, ntp = self._paths(True), self._paths(False)
        tv = [_get_path(ts.params, p) for p in tp]
        ntv = [_get_path(ts.state, p) if _has_path(ts.state, p) else _get_path(ts.params, p) for p in ntp]
        if kind == "predict":
            return (tv, ntv)
        mv = list(ts.metrics.get("variables", ())) or self._custom_metric_vars()
        if kind == "test":
            return (tv, ntv, mv)
        return (tv, ntv, self.optimizer.state_to_list(ts.opt_state), mv)

    def _custom_unpack(self, ts, st, kind):
        tv, ntv = st[0], st[1]
        params, state, _ = self._trees_from_lists(tv, ntv, template=(ts.params, ts.state))
        changes = dict(params=params, state=state, metrics={"variables": list(st[-1])})
        if kind == "train":
            changes["opt_state"] = self.optimizer.state_from_list(list(st[2]), ts.opt_state)
            changes["step"] = ts.step + 1
        return ts.replace(**changes)

    def _custom_fn(self, kind):
        fns = self.__dict__.setdefault("_custom_fns", {})
        if kind not in fns:
            method = getattr(self, f"{kind}_step")
            counts = self.__dict__.setdefault("_custom_traces", {})
            cell = self._state_cell()

            def run(st, data, rng):
                counts[kind] = counts.get(kind, 0) + 1
                # the step's optimizer variables: what `self.optimizer.scale_loss(loss)` reads the scale from
                cell.traced_optimizer_variables = list(st[2]) if kind == "train" else None
                self.__dict__.update(_step_rng=rng, _in_custom_step=True, _stateless_aux=None)
                try:
                    return method(st, data)
                finally:
                    cell.traced_optimizer_variables = None
                    self.__dict__.update(_step_rng=None, _in_custom_step=False, _stateless_aux=None)

            jit = self._compile_config is None or self._compile_config["jit"]
            fns[kind] = jit_program(run, donate_argnums=(0,) if kind == "train" else ()) if jit else run
        return fns[kind]

    def _custom_ready(self, batch):
        """Build for a custom train_step: list-structured optimizer state, flat metric variables."""
        self._ready(batch)
        ts = self.train_state
        key = ("custom", id(self.optimizer), tuple(self._paths(True)))
        tv = [_get_path(ts.params, p) for p in self._paths(True)]
        if hasattr(self.optimizer, "set_variable_names"):  # the custom step's lists are in Keras's order
            tvars = list(getattr(self, "trainable_variables", None) or [])
            self.optimizer.set_variable_names(tvars if len(tvars) == len(tv) else
                                              ["/".join(map(str, p)) for p in self._paths(True)])
        if self._opt_key != key:
            ts = ts.replace(opt_state=self.optimizer.init(tv))
            self._opt_key = key
        self.train_state = ts.replace(metrics={"variables": self._custom_metric_vars()})

    def stateless_compute_loss(self, trainable_variables, non_trainable_variables, metrics_variables, x=None,
                               y=None, y_pred=None, sample_weight=None, training=True):
        """Keras's pure `compute_loss` (its JAX guides call it inside a custom `train_step`): returns
        `(loss, (trainable_variables, non_trainable_variables, metrics_variables))`. While `compute_loss`
        runs, every metric of `self.metrics` reads its state from `metrics_variables` (flat, in that
        order, as the step's state holds them), so a `compute_loss` override that updates a metric
        returns the new values instead of mutating it; the metrics are left as they were."""
        metrics = list(self.metrics)
        structs = [jax.tree.structure(m.init()) for m in metrics]
        mv = list(metrics_variables)
        if len(mv) != sum(t.num_leaves for t in structs):
            raise ValueError(f"stateless_compute_loss: expected {sum(t.num_leaves for t in structs)} metrics "
                             f"variables (those of {[m.name for m in metrics]}), got {len(mv)}.")
        saved = [(m.__dict__.get("_state"), [v._value for v in m.__dict__.get("_fk_vars", ())]) for m in metrics]
        try:
            at = 0
            for m, t in zip(metrics, structs):
                st = jax.tree.unflatten(t, mv[at:at + t.num_leaves])
                at += t.num_leaves
                if m._variable_style():
                    for v in m._fk_vars:
                        v._value = st[v.name]
                else:
                    m._state = st
            try:
                takes_training = "training" in inspect.signature(self.compute_loss).parameters
            except (TypeError, ValueError):
                takes_training = True
            kw = {"training": training} if takes_training else {}
            loss = self.compute_loss(x, y, y_pred, sample_weight, **kw)
            new_mv = [leaf for m in metrics for leaf in jax.tree.leaves(m._stateful())]
        finally:
            for m, (state, values) in zip(metrics, saved):
                m._state = state
                for v, value in zip(m.__dict__.get("_fk_vars", ()), values):
                    v._value = value
        return loss, (list(trainable_variables), list(non_trainable_variables), new_mv)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss (sum over outputs, weighted) for `y` and `y_pred`, plus, inside a custom
        train/test step, the add_loss/regularization terms of the preceding `stateless_call`."""
        self._assert_compiled("compute_loss")
        closs = self._compile_config["loss"]
        total = jnp.zeros((), jnp.float32)
        if closs is not None:
            names, yp = flatten_outputs(y_pred, getattr(self, "output_names", None))
            yt = flatten_like(y, names, "y")
            if closs.entries is None:
                closs.build(yt, yp, names)
            total, _ = closs(yt, yp, flatten_like(sample_weight, names, "sample_weight"))
        aux = self.__dict__.get("_stateless_aux")
        if aux is not None:
            self.__dict__["_stateless_aux"] = None
            total = total + aux
        return total

