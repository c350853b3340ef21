"""Adam in Keras's form: `alpha = lr*sqrt(1-b2^t)/(1-b1^t)`, `p -= alpha*m/(sqrt(v)+eps)`."""

from __future__ import annotations

from fkeras import ops
from fkeras.train.optimizers.base import Optimizer, register


@register
class Adam(Optimizer):
    """Keras's Adam; slots `momentum`, `velocity` (one Keras group), then `velocity_hat` if `amsgrad`."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name="adam", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def slot_groups(self):
        return ((("momentum", 0.0), ("velocity", 0.0)),) + (((("velocity_hat", 0.0),),) if self.amsgrad else ())

    def update_leaf(self, g, p, s, lr, t, extra):
        step = ops.cast(t + 1, ops.dtype(p))
        alpha = lr * ops.sqrt(1 - ops.power(self.beta_2, step)) / (1 - ops.power(self.beta_1, step))
        m = s["momentum"] + (g - s["momentum"]) * (1 - self.beta_1)
        v = s["velocity"] + (ops.square(g) - s["velocity"]) * (1 - self.beta_2)
        new = {"momentum": m, "velocity": v}
        if self.amsgrad:
            v = new["velocity_hat"] = ops.maximum(s["velocity_hat"], v)
        return p - (m * alpha) / (ops.sqrt(v) + self.epsilon), new

    def get_config(self):
        return super().get_config() | {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                                       "amsgrad": self.amsgrad}
