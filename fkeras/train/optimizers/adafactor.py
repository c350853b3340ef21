"""Adafactor (Keras's form): the second moment of a variable of rank >= 2 is kept factored over its last
two axes (`r`: row means, shape `p.shape[:-1]`; `c`: column means, shape `p.shape[:-2] + p.shape[-1:]`),
`v = (r / mean(r)) outer c`; lower ranks keep a full `velocity`. With `rho = min(lr, 1/sqrt(t))`,
`alpha = max(epsilon_2, rms(p)) * rho`, `u = g / sqrt(v)`, `p -= alpha * u / max(1, rms(u)/clip_threshold)`."""

from __future__ import annotations

from fkeras import ops
from fkeras.train.optimizers.base import Optimizer, is_schedule, register


def _rms(x):
    return ops.sqrt(ops.mean(ops.square(x)))


@register
class Adafactor(Optimizer):
    """Keras's Adafactor; per variable the slots `r`, `c`, `velocity` (Keras creates them in that order per
    variable). For a variable of rank < 2, `r` and `c` are int32 scalar placeholders, as in Keras."""

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3,
                 clip_threshold=1.0, relative_step=True, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="adafactor", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.beta_2_decay, self.epsilon_1, self.epsilon_2 = beta_2_decay, epsilon_1, epsilon_2
        self.clip_threshold, self.relative_step = clip_threshold, relative_step

    def slot_groups(self):
        return ((("r", 0.0), ("c", 0.0), ("velocity", 0.0)),)

    def slot_init(self, name, value, p):
        shape = tuple(p.shape)
        if name == "velocity":
            return ops.zeros(shape, dtype=p.dtype)
        if len(shape) < 2:
            return ops.zeros((), dtype="int32")
        return ops.zeros(shape[:-1] if name == "r" else shape[:-2] + shape[-1:], dtype=p.dtype)

    def update_leaf(self, g, p, s, lr, t, extra):
        step = ops.cast(t + 1, ops.dtype(p))
        if not is_schedule(self._learning_rate) and self.relative_step:
            lr = ops.minimum(lr, 1 / ops.sqrt(step))
        rho_t = ops.minimum(lr, 1 / ops.sqrt(step))
        alpha_t = ops.maximum(ops.cast(self.epsilon_2, ops.dtype(p)), _rms(p)) * rho_t
        g2 = ops.square(g) + self.epsilon_1
        beta_2_t = 1 - ops.power(step, self.beta_2_decay)
        new = dict(s)
        if len(p.shape) >= 2:
            r = beta_2_t * s["r"] + (1 - beta_2_t) * ops.mean(g2, axis=-1)
            c = beta_2_t * s["c"] + (1 - beta_2_t) * ops.mean(g2, axis=-2)
            v = ops.expand_dims(r / ops.mean(r, axis=-1, keepdims=True), -1) * ops.expand_dims(c, -2)
            new.update(r=r, c=c)
        else:
            v = beta_2_t * s["velocity"] + (1 - beta_2_t) * g2
        new["velocity"] = v
        u = g / ops.sqrt(v)
        u_hat = u / ops.maximum(1.0, _rms(u) / self.clip_threshold)
        return p - alpha_t * u_hat, new

    def get_config(self):
        return super().get_config() | {"beta_2_decay": self.beta_2_decay, "epsilon_1": self.epsilon_1,
                                       "epsilon_2": self.epsilon_2, "clip_threshold": self.clip_threshold,
                                       "relative_step": self.relative_step}
