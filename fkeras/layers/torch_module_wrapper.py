"""`fkeras.layers.TorchModuleWrapper`: the facade view of `fkeras.nn.torch_module.TorchModuleWrapper`, with Keras
3.15's signature, config (the module pickled by `torch.save`, base64) and weights file layout (the module's
`state_dict()` under its torch names, `0.weight`, ...)."""

from __future__ import annotations

import base64
import io

import numpy as np

from fkeras.layers import wrapped as _wrapped
from fkeras.layers.jax_layer import _build_at_init, _refuse_unsafe, _register
from fkeras.nn import torch_module as _torch_module

__all__ = ["TorchModuleWrapper"]


@_register
class TorchModuleWrapper(_wrapped.NNLayer):
    """A `torch.nn.Module` as a layer (Keras 3.15's `TorchModuleWrapper`).

    Its weights are the module's parameters in `module.parameters()` order (then its buffers, as
    non-trainable weights, so BatchNorm statistics train in the jitted step; Keras keeps those inside the
    module), named by their torch paths (`0/weight`); `layer.module` is the module holding the layer's
    current values. An eager `layer(x)` with no `training` runs the module in `train()` mode, as Keras does;
    `training=False` (and `predict`) in `eval()` mode.
    """

    _fk_nn_class = _torch_module.TorchModuleWrapper

    def __init__(self, module, name=None, output_shape=None, **kwargs):
        super().__init__(module, name=name, output_shape=output_shape, **kwargs)
        _build_at_init(self)

    def _fk_eager_call(self, args, kwargs):
        if kwargs.get("training") is None:  # Keras: `training is False` -> eval(), anything else -> train()
            kwargs = {**kwargs, "training": True}
        return super()._fk_eager_call(args, kwargs)

    @property
    def module(self):
        """The wrapped module, with this layer's current weights loaded into it."""
        import torch

        nn_layer = self.__dict__["_fk_nn"]
        by_name = {".".join(v._fk_subpath): v for v in self._fk_vars}
        sd = nn_layer.module.state_dict()
        new = {k: torch.as_tensor(np.array(by_name[k].numpy())).to(sd[k].dtype) for k in sd if k in by_name}
        nn_layer.module.load_state_dict(new, strict=False)
        return nn_layer.module

    def parameters(self, recurse=True):
        return self.module.parameters(recurse=recurse)

    def save_own_variables(self, store):
        """The module's `state_dict()` entries under their torch names (Keras's layout: `0.weight`, ...), in the
        order an HDF5 group lists them (by name), so the weights reader's checks pair them with the file's."""
        state_dict = self.module.state_dict()
        for key in sorted(state_dict):
            store[key] = state_dict[key].detach().cpu().numpy()

    def load_own_variables(self, store):
        """The module's `state_dict()` entries by torch name, as Keras loads them; every name and shape is
        checked before any weight changes."""
        by_name = {".".join(v._fk_subpath): v for v in self._fk_vars}
        order = list(self.__dict__["_fk_nn"].state_dict_keys)
        keys = [k.decode() if isinstance(k, bytes) else k for k in store.keys()]
        missing = [k for k in order if k not in keys]
        unexpected = [k for k in keys if k not in order]
        if missing or unexpected:
            raise ValueError(f"Layer '{self.name}': the file's entries do not match the module's state_dict: "
                             f"missing {missing}, unexpected {unexpected}.")
        values = {k: np.asarray(store[k]) for k in order}
        for k, v in values.items():
            if k in by_name and tuple(v.shape) != tuple(by_name[k].shape):
                raise ValueError(f"Layer '{self.name}': {k!r} expects shape {tuple(by_name[k].shape)}, the file "
                                 f"has {v.shape}.")
        for k, v in values.items():
            if k in by_name:
                by_name[k].assign(v.astype(by_name[k].dtype))

    def compute_output_shape(self, *input_shapes):
        out = self.__dict__["_fk_nn"].output_shape
        return super().compute_output_shape(*input_shapes) if out is None else out

    def get_config(self):
        import torch

        config = super().get_config()
        buffer = io.BytesIO()
        torch.save(self.module, buffer)
        config["module"] = base64.b64encode(buffer.getvalue()).decode("ascii")
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        import torch

        config = dict(config)
        if isinstance(config.get("module"), str):
            _refuse_unsafe("a `torch.nn.Module` object via `torch.load()`", safe_mode)
            data = base64.b64decode(config["module"].encode("ascii"))
            config["module"] = torch.load(io.BytesIO(data), weights_only=False)
        return cls(**config)
