"""Keras's kernel/bias arguments, held and serialized once for every layer that has them (Dense, the
convolutions, EinsumDense, the RNN cells, ...): `activation`, `use_bias`, and the kernel's and bias's
initializer, regularizer and constraint; the recurrent cells add their `recurrent_kernel`'s
(`set_recurrent_kernel`, `RECURRENT_REGULARIZERS`/`RECURRENT_CONSTRAINTS`)."""

from __future__ import annotations

from fkeras.nn import activations, constraints, initializers, regularizers


class KernelBias:
    """Mixin for an `nn.Layer` with a `kernel` and an optional `bias` param.

    `set_kernel_bias(...)` resolves the arguments (a clear error naming the argument for an unknown name);
    `kernel_bias_config()` gives their Keras config entries."""

    weight_regularizers = {"kernel": "kernel_regularizer", "bias": "bias_regularizer"}
    weight_constraints = {"kernel": "kernel_constraint", "bias": "bias_constraint"}

    def set_kernel_bias(self, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                        bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                        kernel_constraint=None, bias_constraint=None):
        self.activation = self.lookup(activations.get, activation, "activation")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = self.lookup(initializers.get, kernel_initializer, "kernel_initializer")
        self.bias_initializer = self.lookup(initializers.get, bias_initializer, "bias_initializer")
        self.kernel_regularizer = self.lookup(regularizers.get, kernel_regularizer, "kernel_regularizer")
        self.bias_regularizer = self.lookup(regularizers.get, bias_regularizer, "bias_regularizer")
        self.kernel_constraint = self.lookup(constraints.get, kernel_constraint, "kernel_constraint")
        self.bias_constraint = self.lookup(constraints.get, bias_constraint, "bias_constraint")

    def kernel_bias_config(self, activity_regularizer=True, use_bias=True):
        """The config entries; `activity_regularizer=False` leaves that key to the base config (Keras's Dense
        writes it only when set, its convolutions always); `use_bias=False` leaves out `use_bias` (EinsumDense
        has `bias_axes` instead)."""
        config = {
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }
        if not activity_regularizer:
            del config["activity_regularizer"]
        if not use_bias:
            del config["use_bias"]
        return config

    def set_recurrent_kernel(self, recurrent_initializer="orthogonal", recurrent_regularizer=None,
                             recurrent_constraint=None):
        """The recurrent kernel's arguments (RNN cells; with `RECURRENT_REGULARIZERS`/`_CONSTRAINTS`)."""
        self.recurrent_initializer = self.lookup(initializers.get, recurrent_initializer, "recurrent_initializer")
        self.recurrent_regularizer = self.lookup(regularizers.get, recurrent_regularizer, "recurrent_regularizer")
        self.recurrent_constraint = self.lookup(constraints.get, recurrent_constraint, "recurrent_constraint")

    def recurrent_kernel_bias_config(self):
        """A recurrent cell's entries in Keras's order: activation, use_bias, then the initializers, the
        regularizers and the constraints, each for kernel, recurrent_kernel, bias (no activity_regularizer)."""
        config = self.kernel_bias_config(activity_regularizer=False)
        out = {"activation": config["activation"], "use_bias": config["use_bias"]}
        for kind, family in (("initializer", initializers), ("regularizer", regularizers),
                             ("constraint", constraints)):
            out[f"kernel_{kind}"] = config[f"kernel_{kind}"]
            out[f"recurrent_{kind}"] = family.serialize(getattr(self, f"recurrent_{kind}"))
            out[f"bias_{kind}"] = config[f"bias_{kind}"]
        return out


RECURRENT_REGULARIZERS = {"kernel": "kernel_regularizer", "recurrent_kernel": "recurrent_regularizer",
                          "bias": "bias_regularizer"}
RECURRENT_CONSTRAINTS = {"kernel": "kernel_constraint", "recurrent_kernel": "recurrent_constraint",
                         "bias": "bias_constraint"}
