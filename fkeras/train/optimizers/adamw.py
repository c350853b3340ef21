"""AdamW: Adam with decoupled weight decay `p -= p*weight_decay*lr` before each update (default 0.004)."""

from __future__ import annotations

from fkeras.train.optimizers.adam import Adam
from fkeras.train.optimizers.base import register


@register
class AdamW(Adam):
    """Keras's AdamW: Adam's rule and slots; the base applies the weight decay."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, name="adamw", **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW: expected a float `weight_decay`, got None.")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, clipnorm, clipvalue,
                         global_clipnorm, name=name, **kwargs)
