"""Keras 3 optimizers, each one definition over `fkeras.ops` (see `base.py`), usable as optax transforms.

One file per optimizer: its Keras arguments, its slots in Keras's order (what `.keras` saving
reads) and its update rule `update_leaf`. The same rule runs on JAX arrays (the jitted train
step) and on torch tensors (`compile(engine="torch")`). `LossScaleOptimizer(opt)` adds Keras's
dynamic loss scaling around any of them; `OptaxOptimizer` wraps a raw optax transform.

Adding an optimizer: a file here with a `@register`ed `Optimizer` subclass, and its name in the
imports below.
"""

from __future__ import annotations

import optax

from fkeras.train.optimizers.adadelta import Adadelta
from fkeras.train.optimizers.adafactor import Adafactor
from fkeras.train.optimizers.adagrad import Adagrad
from fkeras.train.optimizers.adam import Adam
from fkeras.train.optimizers.adamax import Adamax
from fkeras.train.optimizers.adamw import AdamW
from fkeras.train.optimizers.base import OptState, Optimizer, is_schedule, register, registered
from fkeras.train.optimizers.ftrl import Ftrl
from fkeras.train.optimizers.lamb import Lamb
from fkeras.train.optimizers.lion import Lion
from fkeras.train.optimizers.loss_scale import LossScaleOptimizer, LossScaleState
from fkeras.train.optimizers.multi_optimizer import MultiOptimizer, MultiState, OptimizerMap
from fkeras.train.optimizers.muon import Muon
from fkeras.train.optimizers.nadam import Nadam
from fkeras.train.optimizers.optax_optimizer import OptaxOptimizer
from fkeras.train.optimizers.rmsprop import RMSprop
from fkeras.train.optimizers.schedule_free_adamw import ScheduleFreeAdamW
from fkeras.train.optimizers.sgd import SGD

_is_schedule = is_schedule


def get(identifier):
    """An optimizer from an instance, a name ("adam", "SGD", ...), a `{"class_name", "config"}` dict, or
    an `optax.GradientTransformation` (wrapped in `OptaxOptimizer`)."""
    if isinstance(identifier, (Optimizer, OptaxOptimizer)):
        return identifier
    if isinstance(identifier, optax.GradientTransformation):
        return OptaxOptimizer(identifier)
    table = registered()
    if isinstance(identifier, dict):
        cls = table.get(identifier.get("class_name"))
        if cls is None:
            raise ValueError(f"Unknown optimizer class {identifier.get('class_name')!r}; expected one of "
                             f"{sorted(table)}.")
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        # the wrappers need their inner optimizers
        by_name = {k.lower(): v for k, v in table.items() if v not in (LossScaleOptimizer, MultiOptimizer)}
        cls = by_name.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer {identifier!r}. Expected one of {sorted(by_name)} or an "
                             "fkeras.optimizers.Optimizer instance.")
        return cls()
    raise TypeError(f"Expected an optimizer (str or Optimizer), got {type(identifier).__name__}: {identifier!r}.")


def serialize(optimizer):
    """`{"class_name", "config"}` of an optimizer."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config):
    """The optimizer a `serialize` dict describes."""
    return get(config)


__all__ = ["Optimizer", "OptState", "SGD", "Adam", "Adamax", "AdamW", "RMSprop", "Adagrad", "Nadam", "Lion",
           "Adadelta", "Adafactor", "Ftrl", "Lamb", "ScheduleFreeAdamW", "Muon", "MultiOptimizer", "MultiState",
           "OptimizerMap",
           "LossScaleOptimizer", "LossScaleState", "OptaxOptimizer", "get", "serialize", "deserialize", "register",
           "registered", "is_schedule"]
