"""`fkeras.train`: the pure training engine.

Losses, metrics (pure `init/update/result` over pytrees), optimizers (optax transforms with
Keras names and formulas), `TrainState`, the jitted `train_step`/`eval_step`/`predict_step`
(`Engine`), the `Trainer` mixin giving models Keras's `compile/fit/evaluate/predict` (it drives the
callback list its host provides; the callbacks live in `fkeras.callbacks`). `jit` is `jax.jit`
as the Engine compiles its steps (on CPU: XLA options and conv lowerings measured faster there);
use it for hand-written loops over `fkeras.nn`.
"""

from fkeras.ops._jax_cpu import jit
from fkeras.runtime.lazy import lazy_attributes as _lazy_attributes
from fkeras.train import losses, metrics, optimizers, schedules
from fkeras.train.compile_utils import CompiledLoss, CompiledMetrics
from fkeras.train.state import TrainState, forward_of
from fkeras.train.steps import Engine

# the Trainer mixin loads on first use (it brings the data adapters and distribution with it).
_LAZY = {"Trainer": "fkeras.train.trainer"}


__getattr__ = _lazy_attributes(globals(), names=_LAZY)[0]


__all__ = ["jit", "losses", "metrics", "optimizers", "schedules", "CompiledLoss", "CompiledMetrics", "TrainState",
           "forward_of", "Engine", "Trainer"]
