"""`SwapEMAWeights`: evaluate and predict with the optimizer's moving averages of the weights (`use_ema=True`).

The weights and their averages both live in the one TrainState (`params` and the optimizer's `average`
slot), so a swap is one new TrainState with the two exchanged, no copies into variables.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from fkeras.callbacks.callback import Callback
from fkeras.nn import quantized
from fkeras.train.steps import merge_trainable, split_optimized, split_trainable


class SwapEMAWeights(Callback):
    """Swap the model's weights with their EMA for `evaluate`/`predict` (and validation during `fit`), and
    back afterwards. With `swap_on_epoch=True` the EMA weights are also in the model between epochs (so
    `ModelCheckpoint` after this callback saves them) and at the end of training.

    Unlike Keras 3.15, whose `on_predict_end` tests the wrong flag and leaves the EMA weights in the model
    after `predict`, the training weights come back after `predict` too.
    """

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._ema_weights_in_model = False

    def _swap_variables(self):
        model = self.model
        optimizer = getattr(model, "optimizer", None)
        inner = getattr(optimizer, "inner_optimizer", optimizer)
        if inner is None or not getattr(inner, "use_ema", False):
            raise ValueError("SwapEMAWeights must be used when `use_ema=True` is set on the optimizer. Received: "
                             f"use_ema={getattr(inner, 'use_ema', None)}")
        ts = model.train_state
        opt_state = getattr(ts, "opt_state", None)
        state = getattr(opt_state, "inner", opt_state)
        if state is None or "average" not in getattr(state, "slots", {}):
            raise ValueError("SwapEMAWeights: the optimizer has no moving averages yet (it is built by the first "
                             "training step); train the model before swapping in its EMA weights.")
        mask = model._mask(ts.params)
        average = quantized.overwrite_with_gradient(state.slots["average"], split_trainable(ts.params, mask))
        params = merge_trainable(average, ts.params, mask)  # (float8 scales/histories have no average: kept)
        state = state._replace(slots={**state.slots, "average": split_optimized(ts.params, mask)})
        opt_state = opt_state._replace(inner=state) if hasattr(opt_state, "inner") else state
        model.train_state = ts.replace(params=params, opt_state=opt_state)

    def _finalize_ema_values(self):
        """The averages become the current (EMA) weights, so Keras's end-of-fit finalize keeps them."""
        model = self.model
        ts = model.train_state
        opt_state = ts.opt_state
        state = getattr(opt_state, "inner", opt_state)
        trainable = jax.tree.map(jnp.copy, split_optimized(ts.params, model._mask(ts.params)))  # own buffers: donated
        state = state._replace(slots={**state.slots, "average": trainable})
        opt_state = opt_state._replace(inner=state) if hasattr(opt_state, "inner") else state
        model.train_state = ts.replace(opt_state=opt_state)

    def _hold_ema_weights(self, ema):
        """Swap once if the model does not already hold the EMA weights (`ema=True`) or its own (False)."""
        if self._ema_weights_in_model != ema:
            self._swap_variables()
            self._ema_weights_in_model = ema

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch:
            self._hold_ema_weights(False)

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_weights_in_model:
            self._hold_ema_weights(True)
            if epoch == self.params["epochs"] - 1:
                self._finalize_ema_values()

    def on_test_begin(self, logs=None):
        self._hold_ema_weights(True)

    def on_test_end(self, logs=None):
        self._hold_ema_weights(False)

    def on_predict_begin(self, logs=None):
        self._hold_ema_weights(True)

    def on_predict_end(self, logs=None):
        self._hold_ema_weights(False)
