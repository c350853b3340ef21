"""Schedule-free AdamW (Defazio et al., 2024), Keras's form: `z` (the `momentum` slot, starting at the
weights) takes Adam-scaled gradient steps `z -= lr*g/(sqrt(v/(1-b2^t))+eps)`; the weights are the
interpolation `y = (1-b1)*z + b1*x` where `x` is the running average of `z` with weight `1/t`. With
`warmup_steps`, `lr` grows linearly over the first steps."""

from __future__ import annotations

from fkeras import ops
from fkeras.train.optimizers.base import Optimizer, register


@register
class ScheduleFreeAdamW(Optimizer):
    """Keras's ScheduleFreeAdamW; slots `momentum` (z, starting as a copy of the variable), `velocity`
    (one Keras group)."""

    def __init__(self, learning_rate=0.0025, beta_1=0.9, beta_2=0.999, epsilon=1e-8, warmup_steps=0,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="schedule_free_adam_w", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.warmup_steps = beta_1, beta_2, epsilon, warmup_steps

    def slot_groups(self):
        return ((("momentum", 0.0), ("velocity", 0.0)),)

    def slot_init(self, name, value, p):
        return ops.copy(p) if name == "momentum" else super().slot_init(name, value, p)

    def update_leaf(self, g, p, s, lr, t, extra):
        step = ops.cast(t + 1, ops.dtype(p))
        if self.warmup_steps > 0:
            lr = lr * ops.minimum(step / float(self.warmup_steps), 1.0)
        b1, b2 = self.beta_1, self.beta_2
        z_old = s["momentum"]
        v = s["velocity"] + (ops.square(g) - s["velocity"]) * (1 - b2)
        denom = ops.sqrt(v / (1 - ops.power(b2, step))) + self.epsilon
        z = z_old - (lr * g) / denom
        weight = 1.0 / step
        x_old = (p - (1 - b1) * z_old) / b1
        x_new = (1 - weight) * x_old + weight * z
        return (1 - b1) * z + b1 * x_new, {"momentum": z, "velocity": v}

    def get_config(self):
        return super().get_config() | {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                                       "warmup_steps": self.warmup_steps}
