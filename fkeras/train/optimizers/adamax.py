"""Adamax: Adam with the infinity norm, `u = max(b2*u, |g|)`, `p -= lr*m / ((1-b1^t) * (u + eps))`."""

from __future__ import annotations

from fkeras import ops
from fkeras.train.optimizers.base import Optimizer, register


@register
class Adamax(Optimizer):
    """Keras's Adamax; slots `momentum`, `norm` (one Keras group)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="adamax", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def slot_groups(self):
        return ((("momentum", 0.0), ("norm", 0.0)),)

    def update_leaf(self, g, p, s, lr, t, extra):
        step = ops.cast(t + 1, ops.dtype(p))
        m = s["momentum"] + (g - s["momentum"]) * (1 - self.beta_1)
        u = ops.maximum(self.beta_2 * s["norm"], ops.abs(g))
        return p - (lr * m) / ((1 - ops.power(self.beta_1, step)) * (u + self.epsilon)), {"momentum": m, "norm": u}

    def get_config(self):
        return super().get_config() | {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
