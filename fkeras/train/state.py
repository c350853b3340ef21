"""`TrainState`, the one immutable record of training, and `forward_of` for nn layers."""

from __future__ import annotations

import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from fkeras.nn.base import Variables


class TrainState(eqx.Module):
    """Everything a training step reads and writes, as pytrees of arrays.

    params: trainable weights (nested dicts keyed by layer name).
    state: non-trainable weights (BatchNorm statistics, seed states, ...).
    opt_state: the optimizer's state (`fkeras.train.optimizers.OptState`, or any optax state).
    metrics: dict metric log name -> that metric's state pytree.
    rng: a JAX key (raw uint32[2] by default); each step splits it (same seed -> same dropout masks).
    step: int32 scalar, number of training steps taken.
    """

    params: Any
    state: Any
    opt_state: Any
    metrics: dict
    rng: Any
    step: Any

    def replace(self, **changes) -> "TrainState":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def create(cls, params, state=None, opt_state=None, metrics=None, rng=None, step=0) -> "TrainState":
        if rng is None:
            rng = 0
        if isinstance(rng, int):
            # raw uint32[2] key data: a plain array, cheaper to pass through jit each step than a typed key
            rng = jax.random.PRNGKey(rng)
        return cls(params=params, state={} if state is None else state, opt_state=opt_state,
                   metrics={} if metrics is None else dict(metrics), rng=rng, step=jnp.asarray(step, jnp.int32))

    @property
    def variables(self) -> Variables:
        return Variables(self.params, self.state)


class StateCell:
    """A shared box holding one state pytree: `value` (a `TrainState`, or an optimizer's own state).

    Whoever owns a state keeps it in a cell and hands the same cell to the views that read it (the
    Trainer's TrainState and its optimizer's Keras face), so no view needs a reference to its owner.
    `traced_optimizer_variables`: while the Trainer traces a Keras-JAX custom `train_step`, that step's
    optimizer variables (a list), which `LossScaleOptimizer.scale_loss(loss)` reads its scale from.
    """

    __slots__ = ("value", "traced_optimizer_variables")

    def __init__(self, value=None):
        self.value = value
        self.traced_optimizer_variables = None

    def __repr__(self):
        return f"StateCell({type(self.value).__name__})"


def forward_of(layer):
    """The engine's view of an nn layer: `forward(params, state, x, training, rng) ->
    (y_pred, new_state, aux_loss)`, with aux_loss 0.0 (nn layers add no losses)."""

    def forward(params, state, x, training, rng):
        y, new_state = layer.apply(Variables(params, state), x, training=training, rng=rng)
        return y, new_state, jnp.zeros((), jnp.float32)

    forward.__name__ = f"forward_of_{getattr(layer, 'name', 'layer')}"
    return forward
