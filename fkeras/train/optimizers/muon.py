"""Muon (Keras's form): 2-D variables take a momentum step orthogonalized by a quintic Newton-Schulz
iteration and scaled by `sqrt(max(n, m)) * rms_rate`; every other variable (not 2-D, an embedding when
`exclude_embeddings`, or a path matching `exclude_layers`) takes an AdamW step with `adam_lr_ratio * lr`.
Weight decay is `weight_decay` on Muon variables and `adam_weight_decay` on AdamW ones."""

from __future__ import annotations

import re

from fkeras import ops
from fkeras.train.optimizers.base import Optimizer, register


def _swap_last(x):
    order = list(range(len(x.shape)))
    order[-2], order[-1] = order[-1], order[-2]
    return ops.transpose(x, order)


@register
class Muon(Optimizer):
    """Keras's Muon; per variable the slots `momentum` then `velocity` (AdamW variables only: a Muon
    variable has a None `velocity`, and Keras has no variable there). Which variables are AdamW ones
    depends on their paths: the stateful face reads them from the variables it is built on; with the
    pure API call `set_variable_names(paths)` (else only the rank decides)."""

    def __init__(self, learning_rate=0.001, adam_beta_1=0.9, adam_beta_2=0.999, adam_weight_decay=0.004,
                 epsilon=1e-7, weight_decay=0.004, clipnorm=None, clipvalue=None, global_clipnorm=None, name="muon",
                 exclude_layers=None, exclude_embeddings=True, muon_a=3.4445, muon_b=-4.7750, muon_c=2.0315,
                 adam_lr_ratio=1, momentum=0.95, ns_steps=5, nesterov=True, rms_rate=0.2, **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        self.adam_beta_1, self.adam_beta_2, self.epsilon = adam_beta_1, adam_beta_2, epsilon
        self.muon_a, self.muon_b, self.muon_c = muon_a, muon_b, muon_c
        self.adam_lr_ratio, self.momentum, self.ns_steps, self.nesterov = adam_lr_ratio, momentum, ns_steps, nesterov
        self.exclude_embeddings, self.exclude_layers = exclude_embeddings, exclude_layers or []
        self.adam_weight_decay, self.rms_rate = adam_weight_decay, rms_rate
        self._init_index = 0

    def _uses_adamw(self, shape, path):
        if len(shape) != 2:
            return True
        if path is None:
            return False
        if self.exclude_embeddings and "embedding" in path.lower():
            return True
        return any(re.search(k, path) for k in self.exclude_layers)

    def _leaf_path(self, i):
        paths = getattr(self, "_leaf_paths", None)
        return paths[i] if paths is not None and i < len(paths) else None

    def slot_groups(self):
        return ((("momentum", 0.0), ("velocity", 0.0)),)

    def init(self, params):
        self._init_index = 0
        return super().init(params)

    def slot_init(self, name, value, p):
        if name == "momentum":
            return super().slot_init(name, value, p)
        i, self._init_index = self._init_index, self._init_index + 1  # velocity leaves come in params order
        return super().slot_init(name, value, p) if self._uses_adamw(tuple(p.shape), self._leaf_path(i)) else None

    def leaf_weight_decay(self, i, p):
        return self.adam_weight_decay if self._uses_adamw(tuple(p.shape), self._leaf_path(i)) else self.weight_decay

    def _newton_schulz(self, x):
        tall = x.shape[-2] > x.shape[-1]
        if tall:
            x = _swap_last(x)
        x = x / (ops.norm(x, axis=(-2, -1), keepdims=True) + 1e-7)
        for _ in range(self.ns_steps):
            a = ops.matmul(x, _swap_last(x))
            b = self.muon_b * a + ops.matmul(self.muon_c * a, a)
            x = self.muon_a * x + ops.matmul(b, x)
        return _swap_last(x) if tall else x

    def update_leaf(self, g, p, s, lr, t, extra):
        m, v = s["momentum"], s["velocity"]
        if v is not None:  # AdamW
            lr = lr * self.adam_lr_ratio
            step = ops.cast(t + 1, ops.dtype(p))
            alpha = lr * ops.sqrt(1 - ops.power(self.adam_beta_2, step)) / (1 - ops.power(self.adam_beta_1, step))
            m = m + (g - m) * (1 - self.adam_beta_1)
            v = v + (ops.square(g) - v) * (1 - self.adam_beta_2)
            return p - (m * alpha) / (ops.sqrt(v) + self.epsilon), {"momentum": m, "velocity": v}
        m = m + (g + m * (self.momentum - 1))
        update = self._newton_schulz(g + self.momentum * m if self.nesterov else m)
        step = lr * update
        if self.rms_rate is not None:
            step = step * (max(p.shape[0], p.shape[1]) ** 0.5) * self.rms_rate
        return p - step, {"momentum": m, "velocity": None}

    def get_config(self):
        return super().get_config() | {
            "adam_beta_1": self.adam_beta_1, "adam_beta_2": self.adam_beta_2, "epsilon": self.epsilon,
            "exclude_layers": self.exclude_layers, "muon_a": self.muon_a, "muon_b": self.muon_b,
            "muon_c": self.muon_c, "adam_lr_ratio": self.adam_lr_ratio, "momentum": self.momentum,
            "ns_steps": self.ns_steps, "nesterov": self.nesterov, "exclude_embeddings": self.exclude_embeddings,
            "adam_weight_decay": self.adam_weight_decay, "rms_rate": self.rms_rate}
