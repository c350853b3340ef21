"""SGD: `p -= lr*g`, or with momentum `m = momentum*m - lr*g; p += m` (Nesterov: `p += momentum*m - lr*g`)."""

from __future__ import annotations

from fkeras.train.optimizers.base import Optimizer, register


@register
class SGD(Optimizer):
    """Keras's SGD; slot `momentum` (only when `momentum > 0`)."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name="SGD", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
            raise ValueError(f"SGD: expected `momentum` a float in [0, 1], got {momentum!r}.")
        self.momentum, self.nesterov = float(momentum), nesterov

    def slot_groups(self):
        return ((("momentum", 0.0),),) if self.momentum != 0 else ()

    def update_leaf(self, g, p, s, lr, t, extra):
        if not s:
            return p - g * lr, {}
        m = s["momentum"] * self.momentum - g * lr
        if self.nesterov:
            return p + (m * self.momentum - g * lr), {"momentum": m}
        return p + m, {"momentum": m}

    def get_config(self):
        return super().get_config() | {"momentum": self.momentum, "nesterov": self.nesterov}
