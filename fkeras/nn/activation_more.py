"""`PReLU`: a leaky ReLU whose negative slope `alpha` is learned (Keras 3.15's weights and config)."""

from __future__ import annotations

from fkeras import ops
from fkeras.nn.base import Layer, Variables
from fkeras.nn.kernel_bias import set_weight_args, weight_args_config


class PReLU(Layer):
    """`relu(x) - alpha * relu(-x)`; alpha has the input's shape without the batch, with size 1 along
    `shared_axes` (e.g. shared_axes=[1, 2] shares one slope per channel over the image)."""

    weight_regularizers = {"alpha": "alpha_regularizer"}
    weight_constraints = {"alpha": "alpha_constraint"}

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 name=None, dtype=None, trainable=True, **kwargs):
        super().__init__(name=name, dtype=dtype, trainable=trainable, **kwargs)
        set_weight_args(self, ("alpha",), alpha_initializer, alpha_regularizer, alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        else:
            self.shared_axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]

    def build(self, rng, spec):
        shape = list(spec.shape[1:])
        for i in self.shared_axes or ():
            if not 1 <= i <= len(shape):
                raise self.error(f"shared axis {i} is out of range for an input of shape {tuple(spec.shape)}.")
            shape[i - 1] = 1
        return Variables({"alpha": self.alpha_initializer(tuple(shape), self.variable_dtype, key=rng)}, {})

    def call(self, variables, x, training=False, rng=None):
        return ops.relu(x) - variables.params["alpha"] * ops.relu(-x)

    def get_config(self):
        return super().get_config() | weight_args_config(self, ("alpha",)) | {"shared_axes": self.shared_axes}
