"""Lion: `p -= lr*sign(b1*m + (1-b1)*g); m = b2*m + (1-b2)*g`."""

from __future__ import annotations

from fkeras import ops
from fkeras.train.optimizers.base import Optimizer, register


@register
class Lion(Optimizer):
    """Keras's Lion; slot `momentum`."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name="lion", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        if not 0 < beta_1 <= 1:
            raise ValueError(f"Lion: expected beta_1 in (0, 1], got {beta_1}.")
        self.beta_1, self.beta_2 = beta_1, beta_2

    def slot_groups(self):
        return ((("momentum", 0.0),),)

    def update_leaf(self, g, p, s, lr, t, extra):
        m = s["momentum"]
        new_p = p - lr * ops.sign(m * self.beta_1 + g * (1.0 - self.beta_1))
        return new_p, {"momentum": m * self.beta_2 + g * (1.0 - self.beta_2)}

    def get_config(self):
        return super().get_config() | {"beta_1": self.beta_1, "beta_2": self.beta_2}
