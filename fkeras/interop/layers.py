"""`TorchModuleWrapper` and `TFSMLayer` under their first names: the pure layers are `fkeras.nn.torch_module` /
`fkeras.nn.tfsm`, their facades `fkeras.layers.torch_module_wrapper` / `fkeras.layers.tfsm_layer` (Keras's
`keras.layers` names)."""

from fkeras.layers.tfsm_layer import TFSMLayer
from fkeras.layers.torch_module_wrapper import TorchModuleWrapper

__all__ = ["TorchModuleWrapper", "TFSMLayer"]
