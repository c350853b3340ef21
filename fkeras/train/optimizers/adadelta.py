"""Adadelta: `acc_g = rho*acc_g + (1-rho)*g^2`, `d = -sqrt(acc_d+eps)*g/sqrt(acc_g+eps)`,
`acc_d = rho*acc_d + (1-rho)*d^2`, `p += lr*d`."""

from __future__ import annotations

from fkeras import ops
from fkeras.train.optimizers.base import Optimizer, register


@register
class Adadelta(Optimizer):
    """Keras's Adadelta; slots `accumulated_grad`, `accumulated_delta_var` (one Keras group)."""

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name="adadelta", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.rho, self.epsilon = rho, epsilon

    def slot_groups(self):
        return ((("accumulated_grad", 0.0), ("accumulated_delta_var", 0.0)),)

    def update_leaf(self, g, p, s, lr, t, extra):
        rho, eps = self.rho, self.epsilon
        acc_g = rho * s["accumulated_grad"] + (1 - rho) * ops.square(g)
        delta = -(ops.sqrt(s["accumulated_delta_var"] + eps) * g) / ops.sqrt(acc_g + eps)
        acc_d = rho * s["accumulated_delta_var"] + (1 - rho) * ops.square(delta)
        return p + lr * delta, {"accumulated_grad": acc_g, "accumulated_delta_var": acc_d}

    def get_config(self):
        return super().get_config() | {"rho": self.rho, "epsilon": self.epsilon}
