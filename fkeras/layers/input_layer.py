"""Symbolic tensors for the Functional API: `Input`, `InputLayer`, `KerasTensor`, and the graph `Node`.

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

import collections

import jax
import numpy as np

from fkeras.layers.layer import Layer as _FacadeLayer
from fkeras.nn.base import unique_name

__all__ = ["Input", "InputLayer", "KerasTensor", "KerasHistory", "Node", "inbound_nodes", "is_keras_tensor"]


def standardize_dtype(dtype, default="float32") -> str:
    """`np.float32`, `jnp.dtype('int32')`, `'float32'`, a policy with `.name` -> `'float32'`, `'int32'`."""
    if dtype is None:
        return default
    if hasattr(dtype, "variable_dtype") and not isinstance(dtype, (str, np.dtype)):
        dtype = dtype.variable_dtype  # a DTypePolicy
    try:
        return np.dtype(dtype).name
    except TypeError:
        raise TypeError(f"Expected a dtype (e.g. 'float32', 'int32'), got {dtype!r}.") from None


def standardize_shape(shape, what="shape") -> tuple:
    """A tuple of non-negative ints / None; raises a clear error otherwise."""
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) and not hasattr(shape, "__iter__"):
        raise TypeError(f"Expected `{what}` to be a tuple of ints or None, got {shape!r}.")
    out = []
    for d in shape:
        if d is None:
            out.append(None)
        elif isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0:
            out.append(int(d))
        else:
            raise ValueError(f"Expected `{what}` to hold non-negative ints or None, got {tuple(shape)!r}.")
    return tuple(out)


class KerasHistory(collections.namedtuple("KerasHistory", ["operation", "node_index", "tensor_index"])):
    """Which call made a KerasTensor: `inbound_nodes(operation)[node_index].outputs[tensor_index]`."""

    __slots__ = ()


class KerasTensor:
    """A symbolic tensor: shape (None = unknown, e.g. the batch), dtype, name, and the call that made it.

    It holds no data: converting it to an array is an error. Calling a layer on it records a Node.
    """

    __array_priority__ = 1000  # so `np_array + kt` defers to KerasTensor.__radd__

    def __init__(self, shape, dtype="float32", sparse=False, name=None):
        self._shape = standardize_shape(shape)
        self._dtype = standardize_dtype(dtype)
        self.sparse = bool(sparse)
        self.ragged = False
        self.name = name or unique_name("keras_tensor")
        self._keras_history = None

    @property
    def shape(self) -> tuple:
        return self._shape

    @property
    def dtype(self) -> str:
        return self._dtype

    @property
    def ndim(self) -> int:
        return len(self._shape)

    def __repr__(self):
        return f"<KerasTensor shape={self._shape}, dtype={self._dtype}, sparse={self.sparse}, name={self.name}>"

    # A KerasTensor has no value: fail loudly instead of producing garbage.
    def _no_value(self, *args, **kwargs):
        raise TypeError(
            f"KerasTensor '{self.name}' is symbolic (shape {self._shape}) and has no value; it cannot be "
            "converted to a NumPy/JAX array. Call fkeras layers on it (or Python operators, or "
            "`fkeras.models.functional.symbolic_ops_call(op_name, ...)` for an fkeras.ops function), build a "
            "Model from it, and call the model on real data."
        )

    __array__ = _no_value

    def __bool__(self):
        raise TypeError(f"KerasTensor '{self.name}' is symbolic; its truth value is unknown.")

    def __len__(self):
        if not self._shape or self._shape[0] is None:
            raise TypeError(f"KerasTensor '{self.name}' with shape {self._shape} has no known length.")
        return self._shape[0]

    def __iter__(self):
        raise TypeError(f"KerasTensor '{self.name}' is symbolic and cannot be iterated.")

    # Arithmetic builds implicit op layers (fkeras.models.functional.OpLayer).
    def _op(self, name, *args):
        from fkeras.models.functional import symbolic_op

        return symbolic_op(name, *args)

    def __add__(self, other):
        return self._op("add", self, other)

    def __radd__(self, other):
        return self._op("add", other, self)

    def __sub__(self, other):
        return self._op("subtract", self, other)

    def __rsub__(self, other):
        return self._op("subtract", other, self)

    def __mul__(self, other):
        return self._op("multiply", self, other)

    def __rmul__(self, other):
        return self._op("multiply", other, self)

    def __truediv__(self, other):
        return self._op("divide", self, other)

    def __rtruediv__(self, other):
        return self._op("divide", other, self)

    def __matmul__(self, other):
        return self._op("matmul", self, other)

    def __rmatmul__(self, other):
        return self._op("matmul", other, self)

    def __pow__(self, other):
        return self._op("power", self, other)

    def __neg__(self):
        return self._op("negative", self)

    def __abs__(self):
        return self._op("absolute", self)

    def __getitem__(self, key):
        from fkeras.models.functional import symbolic_getitem

        return symbolic_getitem(self, key)


def is_keras_tensor(x) -> bool:
    return isinstance(x, KerasTensor)


def keras_tensors_in(structure) -> list:
    """The KerasTensors in a nested structure of lists/tuples/dicts, in flatten order."""
    leaves = jax.tree_util.tree_leaves(structure, is_leaf=is_keras_tensor)
    return [x for x in leaves if isinstance(x, KerasTensor)]


# --- nodes -----------------------------------------------------------------------
# A layer's Nodes live on the layer (attribute `_fk_inbound_nodes`, which the facade and the
# pure layers treat as bookkeeping, not as weights or hyperparameters), so a layer and its
# graph are garbage collected together.
_INBOUND_FALLBACK: dict[int, list] = {}


def inbound_nodes(operation) -> list:
    """The Nodes recording each call of `operation` on KerasTensors, oldest first."""
    nodes = getattr(operation, "__dict__", {}).get("_fk_inbound_nodes")
    if nodes is not None:
        return nodes
    nodes = []
    try:
        object.__setattr__(operation, "_fk_inbound_nodes", nodes)
    except (AttributeError, TypeError):  # no instance dict: keep the list beside it
        nodes = _INBOUND_FALLBACK.setdefault(id(operation), nodes)
    return nodes


class Node:
    """One call of `operation` on symbolic arguments: `outputs = operation(*call_args, **call_kwargs)`.

    Registering a Node appends it to `inbound_nodes(operation)` and stamps the outputs'
    `_keras_history`. `call_args`/`call_kwargs` keep the exact structure of the call
    (lists, dicts, constants), so the call can be replayed and serialized.
    """

    def __init__(self, operation, call_args=(), call_kwargs=None, outputs=None):
        self.operation = operation
        self.call_args = tuple(call_args)
        self.call_kwargs = dict(call_kwargs or {})
        self.outputs_struct = outputs
        self.outputs = keras_tensors_in(outputs) if outputs is not None else []
        self.input_tensors = keras_tensors_in((self.call_args, self.call_kwargs))
        for x in self.input_tensors:
            if x._keras_history is None:  # a bare KerasTensor becomes a graph entry point
                x._keras_history = KerasHistory(None, 0, 0)
        nodes = inbound_nodes(operation)
        nodes.append(self)
        node_index = len(nodes) - 1
        for i, t in enumerate(self.outputs):
            t._keras_history = KerasHistory(operation, node_index, i)
        self.is_input = not self.input_tensors

    @property
    def node_index(self) -> int:
        return inbound_nodes(self.operation).index(self)

    @property
    def output_tensors(self) -> list:
        return self.outputs

    @property
    def parent_nodes(self) -> list:
        """The Nodes whose outputs this Node consumes."""
        parents = []
        for x in self.input_tensors:
            op, idx, _ = x._keras_history
            if op is not None:
                parents.append(inbound_nodes(op)[idx])
        return parents

    def __repr__(self):
        return f"<Node operation={getattr(self.operation, 'name', self.operation)}, id={id(self)}>"


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
        if sparse:
            raise ValueError("InputLayer: `sparse=True` is not supported by fkeras yet; pass dense inputs.")
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
        self.batch_shape = batch_shape
        self._input_dtype = dtype
        self.sparse = False
        self.ragged = False
        self.optional = bool(optional)
        if input_tensor is None:
            input_tensor = KerasTensor(batch_shape, dtype=dtype, name=self.name)
        self._fk_input_tensor = input_tensor
        self.__dict__["built"] = True
        self.__dict__["_fk_output_shape"] = batch_shape
        Node(self, (), {}, input_tensor)

    @property
    def dtype(self) -> str:
        """The input's dtype (not a compute policy)."""
        return self._input_dtype

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
        return {"batch_shape": self.batch_shape, "dtype": self.dtype, "sparse": self.sparse,
                "ragged": self.ragged, "name": self.name, "optional": self.optional}

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
