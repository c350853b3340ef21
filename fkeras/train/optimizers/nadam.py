"""Nadam: Adam with Nesterov momentum and Keras's momentum schedule `u_t = b1*(1 - 0.5*0.96^t)`."""

from __future__ import annotations

from fkeras import ops
from fkeras.train.optimizers.base import Optimizer, register


@register
class Nadam(Optimizer):
    """Keras's Nadam; slots `momentum`, `velocity` (one Keras group); the shared scalar `u_product`
    (the product of the `u_t` so far) comes last in Keras's variables."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="nadam", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def slot_groups(self):
        return ((("momentum", 0.0), ("velocity", 0.0)),)

    def init_extra(self):
        return {"u_product": ops.ones((), "float32")}

    def update_extra(self, extra, t):
        step = ops.cast(t + 1, "float32")
        return {"u_product": extra["u_product"] * self.beta_1 * (1.0 - 0.5 * ops.power(0.96, step))}

    def update_leaf(self, g, p, s, lr, t, extra):
        dt = ops.dtype(p)
        step, nxt = ops.cast(t + 1, dt), ops.cast(t + 2, dt)
        u_t = self.beta_1 * (1.0 - 0.5 * ops.power(0.96, step))
        u_t1 = self.beta_1 * (1.0 - 0.5 * ops.power(0.96, nxt))
        u_prod = ops.cast(extra["u_product"], dt)  # the product including this step, as Keras
        u_prod1 = u_prod * u_t1
        m = s["momentum"] + (g - s["momentum"]) * (1 - self.beta_1)
        v = s["velocity"] + (ops.square(g) - s["velocity"]) * (1 - self.beta_2)
        m_hat = u_t1 * m / (1 - u_prod1) + (1 - u_t) * g / (1 - u_prod)
        v_hat = v / (1 - ops.power(self.beta_2, step))
        return p - m_hat * lr / (ops.sqrt(v_hat) + self.epsilon), {"momentum": m, "velocity": v}

    def get_config(self):
        return super().get_config() | {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
