"""Engines: how a Trainer runs its steps. One interface, one implementation per framework.

`compile(engine=...)` picks one by name: "jax" (`JaxEngine`, here: jit-compiled XLA steps with
donation, sharding under an `fkeras.distribution`, Keras-JAX custom `train_step` overrides) or
"torch" (`fkeras.interop.torch_engine.TorchEngine`, which registers itself here with `register`; the facade
imports it, so this floor names no module above it). Both get the pure steps (`steps.Engine`:
the compiled loss, metrics, mask and the jitted JAX steps) from the Trainer, and the Trainer's
host (the model) for its TrainState and callbacks; the Trainer itself has no framework branches.
"""

from __future__ import annotations

import jax
import numpy as np

from fkeras.train.steps import stack_batches

_ENGINES = {}  # name -> engine class; "jax" below, "torch" from fkeras.interop.torch_engine


def register(cls):
    """Make an engine class selectable as `compile(engine=cls.name)`; returns `cls` (a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, BaseEngine) and isinstance(cls.name, str)):
        raise TypeError(f"Expected a BaseEngine subclass with a string `name`, got {cls!r}.")
    _ENGINES[cls.name] = cls
    return cls


def get(name):
    """The engine class registered under `name` ("jax", or "torch" once `fkeras.interop.torch_engine` is imported)."""
    if not isinstance(name, str) or name not in _ENGINES:
        raise ValueError(f"Expected `engine` to be one of {tuple(_ENGINES)}, got {name!r}.")
    return _ENGINES[name]


class BaseEngine:
    """The interface the Trainer drives. `host` is the model (a Trainer), `steps` its `steps.Engine`.

    - `check(optimizer, loss_scaling)`: at compile, refuse what this engine cannot run (nothing changed yet);
    - `place(host, steps, ts)`: the TrainState placed for this engine (devices/shardings), before steps run;
    - `train_epoch(host, steps, batches, callbacks)`: one epoch of train steps; the last logs;
    - `evaluate(host, steps, data, callbacks)`: float logs over an adapter's batches;
    - `predict_fn(host, steps)`: `(params, state, x) -> outputs`;
    - `train_on_batch` / `test_on_batch(host, steps, batch)`: logs of one step.
    After every method, `host.train_state` is current.
    """

    name = None
    distributed = False  # can run under an active `fkeras.distribution`

    @classmethod
    def check(cls, optimizer, loss_scaling=False):
        """Raise a ValueError when this engine cannot run `optimizer` (or loss scaling)."""

    def place(self, host, steps, ts):
        return ts

    def train_epoch(self, host, steps, batches, callbacks):
        raise NotImplementedError

    def evaluate(self, host, steps, data, callbacks=None):
        raise NotImplementedError

    def predict_fn(self, host, steps):
        raise NotImplementedError

    def train_on_batch(self, host, steps, batch):
        raise NotImplementedError

    def test_on_batch(self, host, steps, batch):
        raise NotImplementedError


def _sharding_key(shardings):
    return None if shardings is None else (jax.tree.structure(shardings), tuple(jax.tree.leaves(shardings)))


@register
class JaxEngine(BaseEngine):
    """The default engine: the steps jit-compiled by `fkeras.train.jit`, the TrainState donated to each
    train step, `steps_per_execution` batches as one unrolled program, sharded under a distribution."""

    name = "jax"
    distributed = True

    def place(self, host, steps, ts):
        """Under an active distribution: the TrainState laid out by it, and the train steps told to keep
        those shardings (they are rebuilt when the shardings change)."""
        dist = host._distribution()
        shardings = None
        if dist is not None:
            ts = dist.distribute_train_state(ts)
            shardings = jax.tree.map(lambda a: a.sharding, ts)
        if _sharding_key(shardings) != _sharding_key(steps.state_shardings):
            steps.state_shardings = shardings  # the train steps keep variables on these shardings
            steps._jitted.pop("train", None)
            steps._jitted.pop("train_multi", None)
        return ts

    def train_epoch(self, host, steps, batches, callbacks):
        if host._custom("train_step"):
            return host._custom_train_epoch(batches, callbacks)
        n = host.steps_per_execution
        train = steps.jit_train
        begin = callbacks._batch["on_train_batch_begin"]
        end = callbacks._batch["on_train_batch_end"]
        logs, step = None, 0
        if n == 1:
            for batch in batches:
                if begin:
                    callbacks.on_train_batch_begin(step)
                host.train_state, logs = train(host.train_state, batch)
                if end:
                    callbacks.on_train_batch_end(step, logs)
                step += 1
                if host.stop_training:
                    break
            return logs
        multi = steps.jit_train_multi
        pending = []

        def flush(group):
            nonlocal logs, step
            if begin:
                callbacks.on_train_batch_begin(step)
            shapes = {repr(jax.tree.map(np.shape, b)) for b in group}
            if len(group) == n and len(shapes) == 1:
                host.train_state, logs = multi(host.train_state, stack_batches(group))
            else:
                for b in group:
                    host.train_state, logs = train(host.train_state, b)
            step += len(group)
            if end:
                callbacks.on_train_batch_end(step - 1, logs)

        for batch in batches:
            pending.append(batch)
            if len(pending) == n:
                flush(pending)
                pending = []
                if host.stop_training:
                    return logs
        if pending:
            flush(pending)
        return logs

    def evaluate(self, host, steps, data, callbacks=None):
        if host._custom("test_step"):
            return host._custom_evaluate(data, callbacks)
        ev = steps.jit_eval
        m = steps.init_metrics()

        def step(batch):
            nonlocal m
            ts = host.train_state  # read here: weights a callback swaps in at on_test_begin are evaluated
            m, logs = ev(ts.params, ts.state, m, batch)
            return logs

        return host._test_loop(data, callbacks, step)

    def predict_fn(self, host, steps):
        return steps.jit_predict

    def train_on_batch(self, host, steps, batch):
        host.train_state, logs = steps.jit_train(host.train_state, batch)
        return logs

    def test_on_batch(self, host, steps, batch):
        ts = host.train_state
        _, logs = steps.jit_eval(ts.params, ts.state, steps.init_metrics(), batch)
        return logs


__all__ = ["BaseEngine", "JaxEngine", "get", "register"]
