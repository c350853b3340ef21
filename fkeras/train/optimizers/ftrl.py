"""FTRL-Proximal (Keras's form): `n' = n + g^2`, `z += g + 2*l2s*p - (n'^-k - n^-k)/lr * p`,
`p = (clip(z, -l1, l1) - z) / (n'^-k/lr + 2*(l2 + beta/(2*lr)))` with `k = learning_rate_power`."""

from __future__ import annotations

from fkeras import ops
from fkeras.train.optimizers.base import Optimizer, register


@register
class Ftrl(Optimizer):
    """Keras's Ftrl; slots `accumulator` (starting at `initial_accumulator_value`), `linear` (one Keras group)."""

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name="ftrl", **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name=name, **kwargs)
        for arg, value, sign in (("initial_accumulator_value", initial_accumulator_value, "positive or zero"),
                                 ("learning_rate_power", -learning_rate_power, "negative or zero"),
                                 ("l1_regularization_strength", l1_regularization_strength, "positive or zero"),
                                 ("l2_regularization_strength", l2_regularization_strength, "positive or zero"),
                                 ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength,
                                  "positive or zero")):
            if value < 0.0:
                shown = -value if arg == "learning_rate_power" else value
                raise ValueError(f"Ftrl: `{arg}` needs to be {sign}. Received: {arg}={shown}.")
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def slot_groups(self):
        return ((("accumulator", float(self.initial_accumulator_value)), ("linear", 0.0)),)

    def update_leaf(self, g, p, s, lr, t, extra):
        k = self.learning_rate_power
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        accum = s["accumulator"]
        new_accum = accum + ops.square(g)
        grad_to_use = g + 2 * self.l2_shrinkage_regularization_strength * p
        linear = s["linear"] + (grad_to_use - (ops.power(new_accum, -k) - ops.power(accum, -k)) / lr * p)
        quadratic = ops.power(new_accum, -k) / lr + 2 * l2
        l1 = self.l1_regularization_strength
        new_p = (ops.clip(linear, -l1, l1) - linear) / quadratic
        return new_p, {"accumulator": new_accum, "linear": linear}

    def get_config(self):
        return super().get_config() | {
            "learning_rate_power": self.learning_rate_power,
            "initial_accumulator_value": self.initial_accumulator_value,
            "l1_regularization_strength": self.l1_regularization_strength,
            "l2_regularization_strength": self.l2_regularization_strength,
            "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
            "beta": self.beta}
