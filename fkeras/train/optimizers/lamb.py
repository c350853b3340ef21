"""Lamb: Adam's bias-corrected direction `u = m_hat / (sqrt(v_hat) + eps)` scaled per variable by the
trust ratio `||p|| / ||u||` (1 when either norm is 0): `p -= ratio * lr * u`."""

from __future__ import annotations

from fkeras import ops
from fkeras.train.optimizers.base import Optimizer, register


@register
class Lamb(Optimizer):
    """Keras's Lamb; slots `momentum`, `velocity` (one Keras group)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="lamb", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def slot_groups(self):
        return ((("momentum", 0.0), ("velocity", 0.0)),)

    def update_leaf(self, g, p, s, lr, t, extra):
        step = ops.cast(t + 1, ops.dtype(p))
        m = s["momentum"] + (g - s["momentum"]) * (1 - self.beta_1)
        v = s["velocity"] + (ops.square(g) - s["velocity"]) * (1 - self.beta_2)
        m_hat = m / (1.0 - ops.power(self.beta_1, step))
        update = m_hat / (ops.sqrt(v / (1.0 - ops.power(self.beta_2, step))) + self.epsilon)
        w_norm = ops.sqrt(ops.sum(ops.square(p)))
        u_norm = ops.sqrt(ops.sum(ops.square(update)))
        safe_u = ops.where(u_norm > 0, u_norm, 1.0)
        ratio = ops.where(w_norm > 0, ops.where(u_norm > 0, w_norm / safe_u, 1.0), 1.0)
        return p - ratio * lr * update, {"momentum": m, "velocity": v}

    def get_config(self):
        return super().get_config() | {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
