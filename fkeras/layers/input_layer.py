"""The Functional API's entry points: `Input` and `InputLayer` (KerasTensor and Node live in
`fkeras.layers.symbolic` and are re-exported here).

    x = fkeras.Input(shape=(28, 28, 1))      # KerasTensor, shape (None, 28, 28, 1)
    y = fkeras.layers.Dense(10)(x)           # a layer called on a KerasTensor records a Node
    model = fkeras.Model(x, y)               # fkeras.models.functional.Functional walks the Nodes

A `KerasTensor` holds only a shape (None for unknown dimensions), a dtype and a
`_keras_history = KerasHistory(layer, node_index, tensor_index)` naming the call that
made it. Each call of a layer on KerasTensors is a `Node`; a layer's calls are listed,
in order, by `inbound_nodes(layer)` (Keras's `layer._inbound_nodes`). Nothing here
holds arrays or touches a backend.
"""

from __future__ import annotations

import numpy as np

from fkeras import nn
from fkeras.layers.layer import Layer as _FacadeLayer
from fkeras.layers.symbolic import (  # noqa: F401 - KerasTensor & co. re-exported
    KerasHistory,
    KerasTensor,
    Node,
    inbound_nodes,
    is_keras_tensor,
    keras_tensors_in,
    standardize_dtype,
    standardize_shape,
)
from fkeras.nn.base import unique_name

__all__ = ["Input", "InputLayer", "KerasTensor", "KerasHistory", "Node", "inbound_nodes", "is_keras_tensor"]


# --- the input layer --------------------------------------------------------------
class InputLayer(_FacadeLayer):
    """The entry point of a Functional graph: a layer with no weights whose call is the identity.

    `batch_shape` includes the batch dimension (None when unknown). Its single Node has no
    inputs and outputs the KerasTensor that `Input(...)` returns (`layer.output`).
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, **kwargs):
        if "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        kwargs.pop("trainable", None)
        if kwargs:
            raise TypeError(f"InputLayer got unexpected keyword arguments: {sorted(kwargs)}.")
        if ragged:
            raise ValueError("InputLayer: `ragged=True` is not supported by fkeras (JAX has no ragged tensors).")
        if input_tensor is not None:
            if not isinstance(input_tensor, KerasTensor):
                raise TypeError(
                    f"InputLayer: `tensor` must be a KerasTensor, got {type(input_tensor).__name__}."
                )
            for what, given, have in (("shape", shape, input_tensor.shape[1:]),
                                      ("batch_shape", batch_shape, input_tensor.shape)):
                if given is not None and standardize_shape(given, what) != tuple(have):
                    raise ValueError(f"InputLayer: `{what}`={tuple(given)} does not match the given tensor's "
                                     f"shape {input_tensor.shape}.")
            if batch_size is not None and input_tensor.shape[:1] != (batch_size,):
                raise ValueError(f"InputLayer: `batch_size`={batch_size} does not match the given tensor's "
                                 f"shape {input_tensor.shape}.")
            if dtype is not None and standardize_dtype(dtype) != input_tensor.dtype:
                raise ValueError(f"InputLayer: `dtype`={dtype!r} does not match the given tensor's dtype "
                                 f"{input_tensor.dtype}.")
            batch_shape, dtype = input_tensor.shape, input_tensor.dtype
            sparse = sparse or input_tensor.sparse
        else:
            if shape is not None and batch_shape is not None:
                raise ValueError("Input: pass either `shape` or `batch_shape`, not both.")
            if batch_size is not None and batch_shape is not None:
                raise ValueError("Input: pass either `batch_size` or `batch_shape`, not both.")
            if shape is None and batch_shape is None:
                raise ValueError("Input: you must pass a `shape` argument, e.g. `Input(shape=(28, 28, 1))`.")
            if shape is not None:
                if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size <= 0):
                    raise ValueError(f"Input: `batch_size` must be a positive int, got {batch_size!r}.")
                batch_shape = (batch_size,) + standardize_shape(shape, "shape")
        batch_shape = standardize_shape(batch_shape, "batch_shape")
        dtype = standardize_dtype(dtype)
        super().__init__(name=name or unique_name("input_layer"), trainable=True)
        # the pure InputLayer is the one definition (shape, dtype, config); this layer is its view
        self.__dict__["_fk_nn"] = nn.InputLayer(batch_shape=batch_shape, dtype=dtype, optional=optional,
                                                name=self.name)
        # sparse inputs (JAX BCOO, tf.SparseTensor, torch sparse) run through the same pure InputLayer (it passes
        # them on; the sparse-aware ops take them); the facade keeps the flag for the KerasTensor and the config
        self.__dict__["_fk_sparse"] = bool(sparse)
        if input_tensor is None:
            input_tensor = KerasTensor(batch_shape, dtype=dtype, sparse=bool(sparse), name=self.name)
        self._fk_input_tensor = input_tensor
        self.__dict__["built"] = True
        self.__dict__["_fk_output_shape"] = batch_shape
        Node(self, (), {}, input_tensor)

    @property
    def nn_layer(self):
        """The pure `fkeras.nn.InputLayer` this layer is a view of."""
        return self.__dict__["_fk_nn"]

    @property
    def batch_shape(self) -> tuple:
        return self.nn_layer.batch_shape

    @property
    def dtype(self) -> str:
        """The input's dtype (not a compute policy)."""
        return self.nn_layer.dtype

    @property
    def optional(self) -> bool:
        return self.nn_layer.optional

    @property
    def sparse(self) -> bool:
        return self.__dict__.get("_fk_sparse", False)

    @property
    def ragged(self) -> bool:
        return self.nn_layer.ragged

    @property
    def output(self) -> KerasTensor:
        return self._fk_input_tensor

    @property
    def input(self) -> KerasTensor:
        return self._fk_input_tensor

    def call(self, inputs=None):
        return inputs

    def compute_output_shape(self, input_shape=None):
        return self.batch_shape

    def get_config(self) -> dict:
        return {**self.nn_layer.get_config(), "sparse": self.sparse}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):  # a serialized DTypePolicy
            config["dtype"] = config["dtype"].get("config", {}).get("name", "float32")
        return cls(**config)


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None,
          optional=False, ragged=None):
    """A symbolic input: `Input(shape=(32,))` is a KerasTensor of shape (None, 32).

    Args follow `keras.Input`: `shape` excludes the batch dimension; `batch_shape` includes it
    (pass one of them); `batch_size` fixes the batch; `dtype` defaults to float32; `name` names the
    input (the key for dict inputs); `tensor` wraps an existing KerasTensor.
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, ragged=ragged,
                       batch_shape=batch_shape, name=name, input_tensor=tensor, optional=optional)
    return layer.output
