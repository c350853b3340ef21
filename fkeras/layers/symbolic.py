"""Symbolic tensors and calls for the Functional API (the layer floor; `fkeras.models` builds on it).

    x = fkeras.Input(shape=(28, 28, 1))      # KerasTensor, shape (None, 28, 28, 1)
    y = fkeras.layers.Dense(10)(x)           # a facade layer called on a KerasTensor records a Node
    z = fkeras.ops.relu(y) + 1.0             # ops and operators on KerasTensors record OpLayers

A `KerasTensor` holds only a shape (None for unknown dimensions), a dtype and a
`_keras_history = KerasHistory(layer, node_index, tensor_index)` naming the call that made it.
Each call of a layer on KerasTensors is a `Node`; a layer's calls are listed, in order, by
`inbound_nodes(layer)` (Keras's `layer._inbound_nodes`).

`symbolic_call` computes a call's output specs: the layer is built for real on its first call,
as in Keras, then its `apply` runs under `jax.eval_shape` (unknown dimensions as one JAX
symbolic dimension, or two concrete sizes when a layer cannot trace symbolically).
String KerasTensors (`Input(dtype="string")`) cannot be traced: a layer called on them (TextVectorization,
StringLookup, Hashing, HashedCrossing) gives its pure layer's `compute_output_shape` and `output_dtype`;
the graph runs those layers on the host, outside jit (`fkeras.nn.functional`).
`fkeras.ops` knows nothing of this module: `KerasTensor` registers `symbolic_ops_call` with
`fkeras.ops._dispatch` as its handler (below).
"""

from __future__ import annotations

import collections
import inspect

import jax
import numpy as np
from jax import export

from fkeras import ops
from fkeras.ops import core as ops_core
from fkeras.ops import image as ops_image
from fkeras.ops import linalg as ops_linalg
from fkeras.ops import math as ops_math
from fkeras.ops import nn as ops_nn
from fkeras.layers.seeding import next_key
from fkeras.nn.base import Layer as _PureLayer
from fkeras.nn.base import Variables, snake_case, unique_name
from fkeras.ops import _dispatch
from fkeras.ops._sparse import output_is_sparse

__all__ = ["KerasTensor", "KerasHistory", "Node", "inbound_nodes", "is_keras_tensor", "keras_tensors_in",
           "standardize_dtype", "standardize_shape", "symbolic_call", "symbolic_op", "symbolic_getitem",
           "symbolic_ops_call", "compute_output_spec", "OpLayer"]


def standardize_dtype(dtype, default="float32") -> str:
    """`np.float32`, `jnp.dtype('int32')`, `'float32'`, a policy with `.name` -> `'float32'`, `'int32'`;
    `'string'`/`'str'`/`str` -> `'string'`."""
    if dtype is None:
        return default
    if dtype is str or (isinstance(dtype, str) and dtype in ("string", "str")):
        return "string"  # string inputs (TextVectorization, StringLookup, Hashing): host-side NumPy str arrays
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
            "`fkeras.ops` functions for an fkeras.ops function), build a "
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

    # Arithmetic builds implicit op layers (OpLayer, below).
    def _op(self, name, *args):
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

    def __rpow__(self, other):
        return self._op("power", other, self)

    def __floordiv__(self, other):
        return self._op("floor_divide", self, other)

    def __rfloordiv__(self, other):
        return self._op("floor_divide", other, self)

    def __mod__(self, other):
        return self._op("mod", self, other)

    def __rmod__(self, other):
        return self._op("mod", other, self)

    def __lt__(self, other):
        return self._op("less", self, other)

    def __le__(self, other):
        return self._op("less_equal", self, other)

    def __gt__(self, other):
        return self._op("greater", self, other)

    def __ge__(self, other):
        return self._op("greater_equal", self, other)

    def __ne__(self, other):  # as Keras: `!=` builds a node, `==` stays identity (KerasTensors are hashable)
        return self._op("not_equal", self, other)

    __hash__ = object.__hash__

    def __and__(self, other):
        return self._op("logical_and", self, other)

    def __rand__(self, other):
        return self._op("logical_and", other, self)

    def __or__(self, other):
        return self._op("logical_or", self, other)

    def __ror__(self, other):
        return self._op("logical_or", other, self)

    def __xor__(self, other):
        return self._op("logical_xor", self, other)

    def __rxor__(self, other):
        return self._op("logical_xor", other, self)

    def __invert__(self):
        return self._op("logical_not", self)

    def __round__(self, ndigits=None):
        return symbolic_ops_call("round", self, 0 if ndigits is None else ndigits)

    def __getitem__(self, key):
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



# --- symbolic calls -------------------------------------------------------------------
# Unknown non-batch dimensions (e.g. a sequence length) when a concrete size is needed to
# build a layer: large enough for usual kernels; weights never depend on it.
_UNKNOWN_FILL = 32


def _layer_label(layer) -> str:
    return f"Layer '{getattr(layer, 'name', layer)}' ({type(layer).__name__})"


def _reason(layer, e: Exception) -> str:
    """The message of `e` without a leading copy of the layer's label."""
    msg = str(e)
    label = _layer_label(layer) + ": "
    return msg[len(label):] if msg.startswith(label) else msg


def _spec_shapes(structure):
    return jax.tree_util.tree_map(lambda x: x.shape if isinstance(x, KerasTensor) else x, structure,
                                  is_leaf=is_keras_tensor)


def _concrete_spec(x: KerasTensor, fill: int, other: int | None = None) -> jax.ShapeDtypeStruct:
    """`x` as a ShapeDtypeStruct: an unknown batch as `fill`, other unknown dims as `other` (or `fill`)."""
    other = fill if other is None else other
    shape = tuple((fill if i == 0 else other) if d is None else d for i, d in enumerate(x.shape))
    return jax.ShapeDtypeStruct(shape, jax.dtypes.canonicalize_dtype(np.dtype(x.dtype)))


def _symbolic_dim():
    # One shared symbolic size for every unknown dimension (>= 2, so JAX never treats it as
    # broadcastable), as Keras's JAX backend does.
    return export.symbolic_shape("(fkeras_dim)", constraints=["fkeras_dim>=2"])[0]


def _call_kwargs_for_apply(kwargs: dict) -> dict:
    """The node kwargs a layer's `apply` receives: `training` comes from the model; a None mask is dropped."""
    return {k: v for k, v in kwargs.items() if k != "training" and not (k == "mask" and v is None)}


def _apply_layer(layer, variables, args, kwargs, training, rng):
    kw = _call_kwargs_for_apply(kwargs)
    return layer.apply(variables, *args, training=training, rng=rng, **kw)


def _init_layer(layer, rng, args):
    return layer.init(rng, *args)


def compute_output_spec(layer, args, kwargs):
    """Output KerasTensors (no history yet) of `layer(*args, **kwargs)` with KerasTensor arguments.

    Raises ValueError naming the layer when the layer does not accept those inputs.
    """
    leaves, treedef = jax.tree_util.tree_flatten((args, kwargs), is_leaf=is_keras_tensor)
    kt_pos = [i for i, leaf in enumerate(leaves) if isinstance(leaf, KerasTensor)]
    kts = [leaves[i] for i in kt_pos]
    if any(x.dtype == "string" for x in kts):
        return _string_output_spec(layer, args)
    training = bool(kwargs.get("training") or False)

    def fill(specs):
        filled = list(leaves)
        for i, s in zip(kt_pos, specs):
            filled[i] = s
        return jax.tree_util.tree_unflatten(treedef, filled)

    def describe():
        return f"inputs with shapes {_spec_shapes(args)}" + (f" and kwargs {_spec_shapes(kwargs)}" if kwargs else "")

    # 1. the layer's variables. A facade layer is built for real, as Keras builds a layer on its
    #    first symbolic call (unknown batch as 1); a pure layer's variables are only traced. A
    #    layer called before keeps the variables of its first call (a shared layer).
    first = inbound_nodes(layer)
    if first and first[0].input_tensors:
        init_args = jax.tree_util.tree_map(
            lambda x: _concrete_spec(x, 1, _UNKNOWN_FILL) if isinstance(x, KerasTensor) else x,
            first[0].call_args, is_leaf=is_keras_tensor)
    else:
        init_args, _ = fill([_concrete_spec(x, 1, _UNKNOWN_FILL) for x in kts])
    try:
        if not isinstance(layer, _PureLayer):  # a facade layer
            if not layer.built:
                _, init_kwargs = fill([_concrete_spec(x, 1, _UNKNOWN_FILL) for x in kts])
                layer.init(next_key(), *init_args, **_call_kwargs_for_apply(init_kwargs))
                if args:  # Keras's build shapes keep the unknown dims (build_config in .keras files)
                    layer.__dict__["_fk_build_shapes"] = jax.tree_util.tree_map(
                        lambda x: x.shape if isinstance(x, KerasTensor) else x, args[0], is_leaf=is_keras_tensor)
            var_shapes = jax.eval_shape(lambda: layer.variables_tree)
        else:
            var_shapes = jax.eval_shape(lambda: _init_layer(layer, jax.random.key(0), init_args))
    except Exception as e:  # noqa: BLE001 - re-raised with the layer named
        raise ValueError(f"{_layer_label(layer)} cannot be called on {describe()}: {_reason(layer, e)}") from e

    def run(variables, specs):
        a, kw = fill(specs)
        return _apply_layer(layer, variables, a, kw, training, jax.random.key(0))[0]

    has_unknown = any(d is None for x in kts for d in x.shape)
    if not has_unknown:
        try:
            out = jax.eval_shape(run, var_shapes, [_concrete_spec(x, 1) for x in kts])
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"{_layer_label(layer)} cannot be called on {describe()}: {_reason(layer, e)}") from e
        return jax.tree_util.tree_map(lambda s: KerasTensor(s.shape, s.dtype), out)

    dim = _symbolic_dim()
    sym = [jax.ShapeDtypeStruct(tuple(dim if d is None else d for d in x.shape),
                                jax.dtypes.canonicalize_dtype(np.dtype(x.dtype))) for x in kts]
    try:
        out = jax.eval_shape(run, var_shapes, sym)
        return jax.tree_util.tree_map(
            lambda s: KerasTensor(tuple(d if isinstance(d, (int, np.integer)) else None for d in s.shape), s.dtype),
            out)
    except Exception:  # noqa: BLE001 - fall back to two concrete sizes below
        pass
    try:
        out_a = jax.eval_shape(run, var_shapes, [_concrete_spec(x, 2, _UNKNOWN_FILL) for x in kts])
        out_b = jax.eval_shape(run, var_shapes, [_concrete_spec(x, 3, 2 * _UNKNOWN_FILL) for x in kts])
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"{_layer_label(layer)} cannot be called on {describe()}: {_reason(layer, e)}") from e
    # a dimension that follows the unknown input size (32 vs 64: pooling and strides keep them
    # apart) is unknown in the output
    return jax.tree_util.tree_map(
        lambda a, b: KerasTensor(tuple(da if da == db else None for da, db in zip(a.shape, b.shape)), a.dtype),
        out_a, out_b)


def _string_output_spec(layer, args):
    """Output KerasTensor of a layer called on string KerasTensors: strings cannot be traced by JAX, so
    the shape comes from the pure layer's `compute_output_shape` and the dtype from its `output_dtype`
    (the layers that take strings: TextVectorization, StringLookup, Hashing, HashedCrossing)."""
    pure = getattr(layer, "nn_layer", layer)
    shape_fn = getattr(pure, "compute_output_shape", None)
    dtype = getattr(pure, "output_dtype", None)
    shapes = _spec_shapes(args[0] if len(args) == 1 else list(args))
    if shape_fn is None or not isinstance(dtype, str):
        raise ValueError(f"{_layer_label(layer)} cannot be called on string inputs (shapes {shapes}): it does not "
                         "take strings. Turn strings into numbers first with TextVectorization, StringLookup or "
                         "Hashing.")
    try:
        shape = shape_fn(shapes)
    except Exception as e:  # noqa: BLE001 - re-raised with the layer named
        raise ValueError(f"{_layer_label(layer)} cannot be called on string inputs with shapes {shapes}: "
                         f"{_reason(layer, e)}") from e
    return KerasTensor(shape, dtype)


def _takes_mask(layer) -> bool:
    """Whether Keras's `call` of this layer takes `mask` (Keras's Sequential does, like Functional)."""
    if getattr(type(layer), "_fk_call_takes_mask", False):  # the facade Sequential (its call has no `mask`)
        return True
    call = getattr(type(layer), "call", None)
    if call is None:
        return False
    try:
        return "mask" in inspect.signature(call).parameters
    except (TypeError, ValueError):
        return False


def symbolic_call(layer, args, kwargs=None):
    """Call `layer` on KerasTensors: compute the output specs, record a Node, return the output KerasTensor(s).

    Called by the facade `Layer.__call__` whenever an input leaf is a KerasTensor. The output
    structure is the layer's (a tensor, or a tuple/list/dict of them).
    """
    args = tuple(args)
    kwargs = dict(kwargs or {})
    if isinstance(layer, _PureLayer) and not isinstance(layer, OpLayer):
        raise TypeError(f"{_layer_label(layer)}: a pure fkeras.nn layer must be called on KerasTensors through its "
                        "facade view (fkeras.models.functional.symbolic_call converts it).")
    for x in keras_tensors_in((args, kwargs)):
        if x._keras_history is None:
            raise ValueError(
                f"{_layer_label(layer)} was called on KerasTensor '{x.name}' that does not come from "
                "`fkeras.Input(...)` or a layer call; create inputs with `fkeras.Input`."
            )
    # Keras passes the (absent) masks of the only tensor argument to layers whose call takes `mask`
    # (None, or the argument's structure of Nones); they show in the config's `kwargs`.
    tensor_args = [a for a in (*args, *kwargs.values()) if keras_tensors_in(a)]
    if "mask" not in kwargs and len(tensor_args) == 1 and _takes_mask(layer):
        kwargs["mask"] = jax.tree_util.tree_map(lambda _: None, tensor_args[0], is_leaf=is_keras_tensor)
    out_specs = compute_output_spec(layer, args, kwargs)
    Node(layer, args, kwargs, out_specs)
    return out_specs


# --- implicit op layers (x + y, x[:, 0], ops.relu(x), ...) ------------------------------
# Python operators on KerasTensors -> (fkeras.ops function, Keras operation class).
_OPERATORS = {
    "add": ("add", "Add"),
    "subtract": ("subtract", "Subtract"),
    "multiply": ("multiply", "Multiply"),
    "divide": ("divide", "TrueDivide"),
    "matmul": ("matmul", "Matmul"),
    "power": ("power", "Power"),
    "negative": ("negative", "Negative"),
    "absolute": ("abs", "Absolute"),
    "floor_divide": ("floor_divide", "FloorDivide"),
    "mod": ("mod", "Mod"),
    "less": ("less", "Less"),
    "less_equal": ("less_equal", "LessEqual"),
    "greater": ("greater", "Greater"),
    "greater_equal": ("greater_equal", "GreaterEqual"),
    "not_equal": ("not_equal", "NotEqual"),
    "logical_and": ("logical_and", "LogicalAnd"),
    "logical_or": ("logical_or", "LogicalOr"),
    "logical_xor": ("logical_xor", "LogicalXor"),
    "logical_not": ("logical_not", "LogicalNot"),
}
# Keras operation classes whose name is not the CamelCase of the fkeras.ops function.
_CLASS_OF_OP = {
    "abs": "Absolute", "get_item": "GetItem", "allclose": "AllClose", "cdist": "CDist", "ctc_decode": "CTCDecode",
    "ctc_loss": "CTCLoss", "fft": "FFT", "fft2": "FFT2", "ifft2": "IFFT2", "rfft": "RFFT", "irfft": "IRFFT",
    "stft": "STFT", "istft": "ISTFT", "isin": "IsIn", "jvp": "JVP", "psnr": "PSNR", "searchsorted": "SearchSorted",
    "svd": "SVD", "ssim": "SSIM", "hsv_to_rgb": "HSVToRGB", "rgb_to_hsv": "RGBToHSV",
    "rgb_to_grayscale": "RGBToGrayscale", "batch_normalization": "BatchNorm", "layer_normalization": "LayerNorm",
    "rms_normalization": "RMSNorm",
}
_OP_OF_CLASS = {"absolute": "abs", "true_divide": "divide", "get_item": "get_item"}
_OP_OF_CLASS.update({snake_case(cls): op for op, cls in _CLASS_OF_OP.items()})
# The `keras.src.ops.<group>` module Keras files name for an operation: the fkeras.ops namespace
# (`fkeras.ops.nn`, `.core`, `.math`, `.linalg`, `.image`, mirroring Keras's) that lists it; numpy otherwise.
# `rearrange` is Keras's one einops op (fkeras has no `ops.einops` namespace).
_OP_GROUPS = (("nn", ops_nn.__all__), ("core", ops_core.__all__), ("math", ops_math.__all__),
              ("linalg", ops_linalg.__all__), ("image", ops_image.__all__), ("einops", ("rearrange",)))


def _op_module(op: str) -> str:
    group = next((name for name, names in _OP_GROUPS if op in names), "numpy")
    return f"keras.src.ops.{group}"


def _op_function(op: str):
    """The fkeras.ops function named `op`: top level, or `fkeras.ops.image` (image ops live only there,
    as in Keras); None when there is none."""
    fn = getattr(ops, op, None)
    if not callable(fn):
        fn = getattr(ops_image, op, None)
    return fn if callable(fn) else None


class OpLayer(_PureLayer):
    """A `fkeras.ops` function used on KerasTensors (`x + y`, `x[:, :2]`, `ops.relu(x)`): no variables.

    Non-tensor arguments (`axis=1`, ...) are the operation's config, tensors its call arguments,
    as Keras serializes operations (module `keras.src.ops.<group>`, class `Add`, `Relu`, `GetItem`, ...).
    """

    def __init__(self, op: str, name=None, _class_name=None, **static):
        if op != "get_item" and _op_function(op) is None:
            raise ValueError(f"OpLayer: {op!r} is not a fkeras.ops function.")
        self.op = op
        self.static = dict(static)
        self.class_name = _class_name or _CLASS_OF_OP.get(op) or "".join(p.capitalize() for p in op.split("_"))
        self._keras_module = _op_module(op)
        super().__init__(name=name or unique_name(snake_case(self.class_name)))

    def init(self, rng, *input_specs):
        return Variables({}, {})

    def apply(self, variables, *args, training=False, rng=None, **kwargs):
        return self.call(variables, *args, **kwargs), {}

    def call(self, variables, *args, training=False, rng=None, **kwargs):
        if self.op == "get_item":
            x, key = args
            return x[tuple(key) if isinstance(key, list) else key]
        fn = _op_function(self.op)
        params = list(inspect.signature(fn).parameters.values())
        var_pos = [i for i, p in enumerate(params) if p.kind is inspect.Parameter.VAR_POSITIONAL]
        if var_pos:  # `einsum(subscripts, *operands)`: the config's leading parameters go first, positionally
            lead = [p.name for p in params[:var_pos[0]] if p.name in self.static]
            rest = {k: v for k, v in self.static.items() if k not in lead}
            return fn(*[self.static[n] for n in lead], *args, **rest, **kwargs)
        return fn(*args, **self.static, **kwargs)

    def get_config(self):
        return {"name": self.name, **self.static}

    @classmethod
    def from_config(cls, config, class_name=None):
        snake = snake_case(class_name or "")
        op = _OP_OF_CLASS.get(snake, snake)
        if op != "get_item" and _op_function(op) is None:
            raise ValueError(f"Unknown Keras operation {class_name!r}: fkeras.ops has no {op!r}.")
        config = dict(config)
        return cls(op, name=config.pop("name", None), _class_name=class_name, **config)

    def __repr__(self):
        return f"<{self.class_name} name={self.name}>"


def symbolic_op(op: str, *args):
    """`x + y` and friends on KerasTensors: a fresh OpLayer called symbolically (all args are call args)."""
    fn, class_name = _OPERATORS[op]
    return symbolic_call(OpLayer(fn, _class_name=class_name), args, {})


def symbolic_getitem(x, key):
    key = key if isinstance(key, tuple) else (key,)
    for k in key:
        if not isinstance(k, (int, np.integer, slice, type(None), type(Ellipsis))):
            raise TypeError(f"KerasTensor indexing supports ints, slices, None and ..., got {type(k).__name__}.")
    return symbolic_call(OpLayer("get_item"), (x, key if len(key) > 1 else key[0]), {})


def symbolic_ops_call(name: str, *args, **kwargs):
    """`fkeras.ops.<name>(*args, **kwargs)` with KerasTensor arguments: records an OpLayer.

    Arguments holding KerasTensors become the call's arguments; the others (with the op's defaults)
    become the operation's config, as Keras does (`ops.sum(x, axis=1)` -> `Sum(axis=1,
    keepdims=False)` called on `x`). Registered with `fkeras.ops` as the KerasTensor handler.
    """
    if name == "get_item":  # `ops.get_item(x, key)`: the same node as `x[key]`
        bound = inspect.signature(ops.get_item).bind(*args, **kwargs)
        return symbolic_getitem(*bound.args)
    fn = _op_function(name)
    if fn is None:
        raise ValueError(f"fkeras.ops has no op {name!r}.")
    try:
        sig = inspect.signature(fn)
        bound = sig.bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"fkeras.ops.{name}: {e}") from None
    bound.apply_defaults()
    kinds = {p.name: p.kind for p in sig.parameters.values()}
    var_pos = next((n for n, k in kinds.items() if k is inspect.Parameter.VAR_POSITIONAL), None)
    if var_pos is not None and keras_tensors_in(bound.arguments.get(var_pos, ())):
        # `einsum(subscripts, *operands)`: the operands are the call's arguments, the rest its config
        static = {p: v for p, v in bound.arguments.items()
                  if p != var_pos and kinds[p] is not inspect.Parameter.VAR_KEYWORD}
        for p, v in bound.arguments.items():
            if kinds[p] is inspect.Parameter.VAR_KEYWORD:
                static.update(v)
        return symbolic_call(OpLayer(name, **static), tuple(bound.arguments[var_pos]), {})
    symbolic = [p for p, v in bound.arguments.items() if keras_tensors_in(v)]
    static = {p: v for p, v in bound.arguments.items() if p not in symbolic}
    if list(sig.parameters)[:len(symbolic)] == symbolic:
        call_args, call_kwargs = tuple(bound.arguments[p] for p in symbolic), {}
    else:
        call_args, call_kwargs = (), {p: bound.arguments[p] for p in symbolic}
    out = symbolic_call(OpLayer(name, **static), call_args, call_kwargs)
    if any(t.sparse for t in keras_tensors_in((call_args, call_kwargs))):  # Input(sparse=True) downstream, as Keras

        if output_is_sparse(name, bound.arguments, lambda v: isinstance(v, KerasTensor) and v.sparse):
            for t in keras_tensors_in(out):
                t.sparse = True
    return out


_dispatch.register_symbolic_type(KerasTensor, symbolic_ops_call)
