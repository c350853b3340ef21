"""`OptaxOptimizer`: any `optax.GradientTransformation` used as a compile() optimizer (JAX engine only:
optax transforms are JAX code)."""

from __future__ import annotations

import jax
import jax.numpy as jnp  # optax states are JAX: this adapter is the JAX engine's only
import optax

from fkeras.train.optimizers.base import VariableViews, _get_in, _replace_in, _value_of
from fkeras.train.state import StateCell


class OptaxOptimizer(VariableViews):
    """An optax transform with Keras's optimizer face.

    `learning_rate` reads/writes the `learning_rate` hyperparameter when the transform was built
    with `optax.inject_hyperparams` (so callbacks can change it without recompiling).
    """

    def __init__(self, tx: optax.GradientTransformation, name="optax"):
        if not isinstance(tx, optax.GradientTransformation):
            raise TypeError(f"OptaxOptimizer: expected an optax.GradientTransformation, got {type(tx).__name__}.")
        self.tx, self.name = tx, name
        self.bind_state(StateCell(), ())

    def init(self, params):
        return self.tx.init(params)

    def apply(self, grads, state, params):
        updates, state = self.tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    def update(self, grads, state, params=None):
        return self.tx.update(grads, state, params)

    def as_optax(self):
        return self.tx

    def scale_loss(self, loss, state=None):
        """The loss to differentiate: unchanged (loss scaling is `LossScaleOptimizer`'s job)."""
        return loss

    # -- the state as a flat list (the leaves of optax's state) ---------------------------------
    def state_to_list(self, state) -> list:
        return jax.tree.leaves(state)

    def state_from_list(self, values, template):
        return jax.tree.unflatten(jax.tree.structure(template), list(values))

    # -- the Keras face: a view over the bound state ------------------------------------------
    def bind_state(self, cell: StateCell, path: tuple = ()):
        """Read and write the optax state at `path` inside `cell.value` (see `Optimizer.bind_state`)."""
        self._cell, self._path = cell, tuple(path)

    def _state(self):
        return _get_in(self._cell.value, self._path)

    def _set_state(self, new):
        self._cell.value = _replace_in(self._cell.value, self._path, new)

    @property
    def learning_rate(self):
        st = self._state()
        if st is None:
            return None
        try:
            return float(optax.tree_utils.tree_get(st, "learning_rate"))
        except KeyError:
            return None

    @learning_rate.setter
    def learning_rate(self, value):
        st = self._state()
        try:
            old = optax.tree_utils.tree_get(st, "learning_rate") if st is not None else None
        except KeyError:
            old = None
        if old is None:
            raise TypeError("This optax optimizer has no `learning_rate` hyperparameter in its state; build it with "
                            "`optax.inject_hyperparams(optax.adam)(learning_rate=...)` to change it during training.")
        # same dtype and weak type as before, so the jitted step is reused
        new = jnp.asarray(float(value)) if getattr(old, "weak_type", False) else jnp.asarray(value, old.dtype)
        self._set_state(optax.tree_utils.tree_set(st, learning_rate=new))

    @property
    def iterations(self):
        st = self._state()
        counts = optax.tree_utils.tree_get_all_with_path(st, "count") if st is not None else []
        return int(counts[0][1]) if counts else 0

    def variable_paths(self, state) -> list:
        """`<name>/<the leaf's key path in optax's state>` for each of `state_to_list(state)`'s leaves."""
        return [f"{self.name}/" + jax.tree_util.keystr(kp, simple=True, separator="_")
                for kp, _ in jax.tree_util.tree_flatten_with_path(state)[0]]

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        values = [_value_of(v) for v in trainable_variables]
        template = jax.eval_shape(self.init, values)
        params, state = self.apply(list(grads), self.state_from_list([_value_of(v) for v in optimizer_variables],
                                                                     template), values)
        return list(params), jax.tree.leaves(state)

    def __repr__(self):
        return f"<OptaxOptimizer {self.tx!r:.60}>"
