"""Keras's `Operation` and `Function`: symbolic operations and graphs of them.

- `Operation`: subclass it with `call(*args)` (the math over `fkeras.ops`) and, optionally,
  `compute_output_spec(*args)` (output `KerasTensor`s; default: an abstract trace of `call`). Called on
  arrays it runs `call`; called on KerasTensors it records a Node and returns output KerasTensors, so
  it composes with `fkeras.Input`, layers and `fkeras.ops` on KerasTensors. Facade layers count as
  Operations (`isinstance(layer, Operation)`), as in Keras.
- `Function(inputs, outputs)`: the graph of operations between KerasTensors, callable on arrays
  (`fn([x1, x2])`) and on KerasTensors; `operations` lists them in the order they run.
"""

from __future__ import annotations

import abc
import inspect
import math

import jax
import numpy as np

from fkeras.layers.layer import Layer
from fkeras.layers.scopes import SymbolicScope, get_current_remat_mode, remat
from fkeras.layers.symbolic import (KerasTensor, Node, _symbolic_dim, inbound_nodes, is_keras_tensor,
                                    keras_tensors_in)
from fkeras.layers.symbolic import compute_output_spec as _layer_output_spec
from fkeras.nn.base import snake_case, unique_name


def _flatten(structure):
    return jax.tree_util.tree_flatten(structure, is_leaf=is_keras_tensor)


def _to_spec(x, dim):
    if isinstance(x, KerasTensor):
        return jax.ShapeDtypeStruct(tuple(dim if d is None else d for d in x.shape),
                                    jax.dtypes.canonicalize_dtype(np.dtype(x.dtype)))
    return x


def _to_keras_tensor(s):
    if not hasattr(s, "shape") or not hasattr(s, "dtype"):
        return s
    return KerasTensor(tuple(d if isinstance(d, (int, np.integer)) else None for d in s.shape), np.dtype(s.dtype).name)


def trace_output_spec(fn, *args, **kwargs):
    """Output KerasTensors of `fn(*args, **kwargs)` for KerasTensor arguments (unknown dims stay None),
    by an abstract trace inside a `SymbolicScope`."""
    with SymbolicScope():
        try:
            dim = _symbolic_dim()
            out = jax.eval_shape(lambda a, k: fn(*a, **k), *jax.tree_util.tree_map(
                lambda x: _to_spec(x, dim), (args, kwargs), is_leaf=is_keras_tensor))
            return jax.tree_util.tree_map(_to_keras_tensor, out)
        except Exception:  # noqa: BLE001 - an op that needs concrete sizes: two sizes tell the unknown dims
            pass
        a, b = (jax.eval_shape(lambda a_, k_: fn(*a_, **k_), *jax.tree_util.tree_map(
            lambda x: _to_spec(x, n), (args, kwargs), is_leaf=is_keras_tensor)) for n in (2, 3))
        return jax.tree_util.tree_map(
            lambda s, t: KerasTensor(tuple(d if d == e else None for d, e in zip(s.shape, t.shape)),
                                     np.dtype(s.dtype).name), a, b)


class Operation(metaclass=abc.ABCMeta):
    """Base of Keras operations: `call` on arrays, `compute_output_spec` on KerasTensors (see module doc)."""

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        try:  # Keras's auto-config: the constructor's arguments, when they are plain values
            bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
            bound.apply_defaults()
            config = {k: v for k, v in list(bound.arguments.items())[1:]
                      if inspect.signature(cls.__init__).parameters[k].kind not in
                      (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)}
        except (TypeError, ValueError):
            config = None
        obj.__dict__["_fk_auto_config"] = config
        return obj

    def __init__(self, name=None):
        if name is not None and (not isinstance(name, str) or "/" in name):
            raise ValueError(f"Argument `name` must be a string and cannot contain character `/`. Received: "
                             f"name={name} (of type {type(name)})")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self._remat_mode = get_current_remat_mode()

    def __call__(self, *args, **kwargs):
        if keras_tensors_in((args, kwargs)):
            return self.symbolic_call(*args, **kwargs)
        call = self.call
        if getattr(self, "_remat_mode", None) is not None:
            call = self.rematerialized_call(call, *args, **kwargs)
        return call(*args, **kwargs)

    def symbolic_call(self, *args, **kwargs):
        """Record a Node for this call on KerasTensors; return the output KerasTensors."""
        outputs = self.compute_output_spec(*args, **kwargs)
        Node(self, args, kwargs, outputs)
        return outputs

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"Operation '{self.name}' ({type(self).__name__}) does not implement `call`.")

    def quantized_call(self, *args, **kwargs):
        return self.call(*args, **kwargs)

    def compute_output_spec(self, *args, **kwargs):
        try:
            return trace_output_spec(self.call, *args, **kwargs)
        except Exception as e:  # noqa: BLE001 - re-raised naming the operation
            raise type(e)(f"Could not automatically infer the output shape / dtype of '{self.name}' (of type "
                          f"{type(self).__name__}). Either the `{type(self).__name__}.call()` method is incorrect, "
                          f"or you need to implement the `{type(self).__name__}.compute_output_spec() / "
                          f"compute_output_shape()` method. Error encountered:\n\n{e}") from None

    def rematerialized_call(self, fn, *args, **kwargs):
        """`fn`, recomputed in the backward pass when this operation's RematScope mode selects it."""
        mode = getattr(self, "_remat_mode", None)
        if not mode:
            return fn
        if mode.mode == "full":
            return remat(fn)
        if mode.mode == "larger_than":
            spec = self.compute_output_spec(*jax.tree_util.tree_map(
                lambda x: KerasTensor(x.shape, np.dtype(x.dtype).name) if hasattr(x, "shape") else x, args), **kwargs)
            size = sum(math.prod(d or 1 for d in t.shape) for t in keras_tensors_in(spec))
            if size and size > mode.output_size_threshold:
                return remat(fn)
        if mode.mode == "list_of_layers" and self.name in mode.layer_names:
            return remat(fn)
        return fn

    def get_config(self):
        config = {"name": self.name}
        auto = self.__dict__.get("_fk_auto_config")
        if auto is None:
            raise NotImplementedError(f"{type(self).__name__}: override `get_config()` to serialize this operation.")
        config.update({k: v for k, v in auto.items() if k != "name"})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _first_node(self, what):
        nodes = inbound_nodes(self)
        if not nodes:
            raise AttributeError(f"Operation '{self.name}' has never been called and thus has no defined {what}.")
        return nodes[0]

    @property
    def input(self):
        node = self._first_node("input")
        return node.call_args[0] if len(node.call_args) == 1 and not node.call_kwargs else node.input_tensors

    @property
    def output(self):
        return self._first_node("output").outputs_struct

    def __repr__(self):
        return f"<Operation name={self.name}>"


Operation.register(Layer)  # a Keras layer is an Operation


def _node_of(tensor):
    history = tensor._keras_history
    if history is None or history.operation is None:
        return None
    return inbound_nodes(history.operation)[history.node_index]


class Function(Operation):
    """The graph of operations between `inputs` and `outputs` (nested structures of KerasTensors)."""

    def __init__(self, inputs, outputs, name=None):
        super().__init__(name=name)
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self._inputs, _ = _flatten(inputs)
        self._outputs, self._out_def = _flatten(outputs)
        for what, tensors in (("inputs", self._inputs), ("outputs", self._outputs)):
            bad = [t for t in tensors if not isinstance(t, KerasTensor)]
            if bad or not tensors:
                raise ValueError(f"Function: `{what}` must be KerasTensors (fkeras.Input or fkeras.KerasTensor), "
                                 f"got {bad[0] if bad else tensors!r:.80}.")
        self._nodes = self._topological_nodes()

    def _topological_nodes(self):
        """Nodes from inputs to outputs (a depth-first post-order), and `operations` in Keras's order:
        deepest first, then by first visit."""
        inputs = {id(t) for t in self._inputs}
        order, done, in_progress, first_seen = [], set(), set(), {}

        def visit(tensor):
            node = _node_of(tensor)
            if node is None:
                if id(tensor) in inputs:
                    return
                raise ValueError(f"Graph disconnected: the tensor {tensor} is not connected to `inputs` (it does "
                                 "not come from them through operations).")
            if id(node) in done:
                return
            if not node.is_input and id(tensor) in inputs:
                done.add(id(node))
                return
            if id(node) in in_progress:
                raise ValueError(f"Tensor {tensor} from operation '{node.operation.name}' is part of a cycle.")
            first_seen.setdefault(id(node.operation), len(first_seen))
            in_progress.add(id(node))
            if not node.is_input:
                for x in node.input_tensors:
                    visit(x)
            elif id(tensor) not in inputs:
                raise ValueError(f"Graph disconnected: the input {tensor} of the graph is not in `inputs`.")
            in_progress.discard(id(node))
            done.add(id(node))
            order.append(node)

        for t in self._outputs:
            visit(t)
        in_graph = {id(n) for n in order}
        node_depth, op_depth, ops = {}, {}, {}
        for node in reversed(order):
            depth = max(node_depth.setdefault(id(node), 0), op_depth.get(id(node.operation), 0))
            op_depth[id(node.operation)] = depth
            ops[id(node.operation)] = node.operation
            node_depth[id(node)] = depth
            for parent in node.parent_nodes:
                if id(parent) in in_graph:
                    node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
        for t in self._inputs:  # an input whose InputLayer no output reaches still lists it
            node = _node_of(t)
            if node is not None and node.is_input and id(node.operation) not in op_depth:
                op_depth[id(node.operation)], ops[id(node.operation)] = 0, node.operation
                first_seen[id(node.operation)] = -1
        self._operations = sorted(ops.values(), key=lambda op: (-op_depth[id(op)], first_seen[id(op)]))
        return order

    @property
    def operations(self):
        return list(self._operations)

    @property
    def inputs(self):
        return list(self._inputs)

    @property
    def outputs(self):
        return list(self._outputs)

    def _assert_input_compatibility(self, inputs):
        flat, _ = _flatten(inputs)
        if len(flat) != len(self._inputs):
            raise ValueError(f"Function '{self.name}' expected {len(self._inputs)} input(s), received {len(flat)}.")
        for i, (x, spec) in enumerate(zip(flat, self._inputs)):
            shape = tuple(getattr(x, "shape", np.shape(x)))
            if len(shape) != len(spec.shape) or any(d is not None and e is not None and d != e
                                                     for d, e in zip(spec.shape, shape)):
                raise ValueError(f"Function '{self.name}': input {i} expected shape {spec.shape}, received "
                                 f"shape {shape}.")
        return flat

    def _run_through_graph(self, flat_inputs, operation_fn):
        values = {id(t): v for t, v in zip(self._inputs, flat_inputs)}
        for node in self._nodes:
            if all(id(t) in values for t in node.outputs):
                continue  # an input's InputLayer
            fill = lambda x: values[id(x)] if isinstance(x, KerasTensor) else x  # noqa: E731
            args, kwargs = jax.tree_util.tree_map(fill, (node.call_args, node.call_kwargs), is_leaf=is_keras_tensor)
            out = operation_fn(node.operation, args, kwargs)
            _, out_def = _flatten(node.outputs_struct)
            for t, v in zip(node.outputs, out_def.flatten_up_to(out)):
                values[id(t)] = v
        return jax.tree_util.tree_unflatten(self._out_def, [values[id(t)] for t in self._outputs])

    def call(self, inputs):
        """The graph's outputs (the structure of `outputs`) for arrays `inputs` (the structure of `inputs`)."""
        flat = self._assert_input_compatibility(inputs)
        return self._run_through_graph(flat, _run_operation)

    def compute_output_spec(self, inputs):
        flat = self._assert_input_compatibility(inputs)
        return self._run_through_graph(flat, _operation_spec)

    def get_config(self):
        raise NotImplementedError("Function is not serializable; build a `fkeras.Model(inputs, outputs)` to save.")


def _run_operation(op, args, kwargs):
    if isinstance(op, Operation):  # an Operation, a Function or a facade layer
        if isinstance(op, Layer):
            kwargs = {k: v for k, v in kwargs.items() if not (k == "mask" and v is None)}
        return op(*args, **kwargs)
    out, _ = op.apply({}, *args, **kwargs)  # an fkeras.ops call recorded on KerasTensors (no variables)
    return out


def _operation_spec(op, args, kwargs):
    if isinstance(op, Operation) and not isinstance(op, Layer):
        return op.compute_output_spec(*args, **kwargs)
    return _layer_output_spec(op, args, kwargs)
