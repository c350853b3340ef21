"""RMSprop: `v = rho*v + (1-rho)*g^2; p -= lr*g/sqrt(v + eps)` (centered: subtract the mean gradient^2;
momentum: accumulate the increments)."""

from __future__ import annotations

from fkeras import ops
from fkeras.train.optimizers.base import Optimizer, register


@register
class RMSprop(Optimizer):
    """Keras's RMSprop; slots `velocity`, then `momentum` (momentum > 0), then `average_gradient` (centered),
    each its own Keras group."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name="rmsprop", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def slot_groups(self):
        return ((("velocity", 0.0),),) + (((("momentum", 0.0),),) if self.momentum > 0 else ()) + (
            ((("average_gradient", 0.0),),) if self.centered else ())

    def update_leaf(self, g, p, s, lr, t, extra):
        v = self.rho * s["velocity"] + (1 - self.rho) * ops.square(g)
        new = {"velocity": v}
        if self.centered:
            ag = new["average_gradient"] = self.rho * s["average_gradient"] + (1 - self.rho) * g
            denom = v - ops.square(ag) + self.epsilon
        else:
            denom = v + self.epsilon
        inc = lr * g / ops.sqrt(denom)
        if self.momentum > 0:
            m = new["momentum"] = self.momentum * s["momentum"] + inc
            return p - m, new
        return p - inc, new

    def get_config(self):
        return super().get_config() | {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                                       "centered": self.centered}
