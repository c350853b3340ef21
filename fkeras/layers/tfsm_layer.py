"""`fkeras.layers.TFSMLayer`: the facade view of `fkeras.nn.tfsm.TFSMLayer`, with Keras 3.15's signature and
config (refused in safe mode: it loads an external SavedModel)."""

from __future__ import annotations

from fkeras.layers import wrapped as _wrapped
from fkeras.layers.jax_layer import _build_at_init, _refuse_unsafe, _register
from fkeras.nn import tfsm as _tfsm

__all__ = ["TFSMLayer"]


@_register
class TFSMLayer(_wrapped.NNLayer):
    """Reload a model/layer saved as a TF SavedModel (`model.export(...)`, `ExportArchive`) as a layer
    (Keras 3.15's `TFSMLayer`): `call_endpoint` is its call, `call_training_endpoint` (if any) its call
    when training; the variables the endpoints use are its weights, trainable with `fit`."""

    _fk_nn_class = _tfsm.TFSMLayer

    def __init__(self, filepath, call_endpoint="serve", call_training_endpoint=None, trainable=True, name=None,
                 dtype=None):
        super().__init__(filepath, call_endpoint=call_endpoint, call_training_endpoint=call_training_endpoint,
                         trainable=trainable, name=name, dtype=dtype)
        _build_at_init(self)

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        _refuse_unsafe("a `TFSMLayer`, which loads an external SavedModel", safe_mode)
        return cls(**config)
