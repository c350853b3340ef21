"""Pure counterparts of facade layers: what the engine, the shims and the containers run.

Every facade object has one pure `fkeras.nn` counterpart, `pure_of(layer)`:
- a built-in layer (and `InputLayer`): its nn layer (`layer.nn_layer`); frozen in Keras's inference-only way
  (BatchNormalization with `trainable = False`) it runs through `InferenceMode`;
- `Sequential` and a Functional model: a pure container (`nn.Sequential`, `nn.functional.Graph`)
  over their layers' counterparts (`model.nn_layer`);
- a user's subclassed `Layer`/`Model` (`build`/`add_weight`/`call`): a `SubclassAdapter`, the
  Keras-3 `stateless_call` way: it owns the variable-binding scope in which the user's `call` runs.
"""

from __future__ import annotations

from fkeras.layers.input_layer import InputLayer
from fkeras.layers.layer import Layer
from fkeras.layers.operation import Operation
from fkeras.layers.scopes import Remat
from fkeras.layers.wrapped import _FREEZE_INFERENCE, NNLayer
from fkeras.layers.subclass import SubclassAdapter
from fkeras.nn.base import Container, Forwarding
from fkeras.nn.base import Layer as NNBase
from fkeras.nn.base import Variables


class InferenceMode(Forwarding):
    """`inner` run with `training=False` always: Keras runs a frozen BatchNormalization that way."""

    def __init__(self, inner):
        super().__init__(inner, trainable=False)

    def apply(self, variables, *inputs, training=False, rng=None, **kwargs):
        return self.inner.apply(variables, *inputs, training=False, rng=rng, **kwargs)

    def _apply_collect(self, variables, *inputs, training=False, rng=None):
        return self.inner._apply_collect(variables, *inputs, training=False, rng=rng)


class OperationLayer(NNBase):
    """A user's `fkeras.Operation` in a Functional graph: no variables, `apply` is the operation's call."""

    def __init__(self, operation):
        super().__init__(name=operation.name)
        self.operation = operation

    def init(self, rng, *input_specs):
        return Variables({}, {})

    def apply(self, variables, *inputs, training=False, rng=None, **kwargs):
        return self.operation(*inputs, **kwargs), {}

    def get_config(self):
        return self.operation.get_config()


def pure_of(layer) -> NNBase:
    """The pure counterpart of a facade layer (an nn layer passes through). See the module docstring; a
    layer made inside a `RematScope` that selects it runs through `Remat`."""
    pure = _pure_of(layer)
    mode = layer.__dict__.get("_fk_remat_mode") if isinstance(layer, Layer) else None
    if mode is not None and mode.mode is not None and not isinstance(pure, Container):  # its layers remat
        return Remat(pure, mode)
    return pure


def _pure_of(layer) -> NNBase:
    """The pure counterpart of a facade layer (an nn layer passes through). See the module docstring."""
    if isinstance(layer, NNBase):
        return layer
    if isinstance(layer, InputLayer):
        return layer.nn_layer
    if isinstance(layer, NNLayer):
        pure = layer.nn_layer
        if type(pure).__name__ in _FREEZE_INFERENCE and not layer.trainable:
            return InferenceMode(pure)
        return pure
    container = getattr(layer, "_fk_container", None)  # Sequential / Functional (None: a user's `call`)
    pure = container() if container is not None else None
    if pure is not None:
        return pure
    if isinstance(layer, Layer):
        return SubclassAdapter(layer)
    if isinstance(layer, Operation):
        return OperationLayer(layer)
    raise TypeError(f"Expected a fkeras layer, got {type(layer).__name__}: {layer!r:.80}.")
