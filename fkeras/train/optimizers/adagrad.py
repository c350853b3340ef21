"""Adagrad: `acc += g^2; p -= lr*g/sqrt(acc + eps)`, `acc` starting at `initial_accumulator_value`."""

from __future__ import annotations

from fkeras import ops
from fkeras.train.optimizers.base import Optimizer, register


@register
class Adagrad(Optimizer):
    """Keras's Adagrad; slot `accumulator`."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="adagrad", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def slot_groups(self):
        return ((("accumulator", float(self.initial_accumulator_value)),),)

    def update_leaf(self, g, p, s, lr, t, extra):
        acc = s["accumulator"] + ops.square(g)
        return p - lr * g / ops.sqrt(acc + self.epsilon), {"accumulator": acc}

    def get_config(self):
        return super().get_config() | {"initial_accumulator_value": self.initial_accumulator_value,
                                       "epsilon": self.epsilon}
