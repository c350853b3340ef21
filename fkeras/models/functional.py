"""The Functional API: a Model defined by calling layers on `fkeras.Input` tensors.

    inputs = fkeras.Input(shape=(784,), name="digits")
    x = fkeras.layers.Dense(64, activation="relu")(inputs)
    outputs = fkeras.layers.Dense(10)(x)
    model = fkeras.Model(inputs, outputs)            # -> Functional

    variables = model.init(rng)                      # Variables(params, state), keyed by layer name
    y, new_state = model.apply(variables, x, training=False, rng=None)

Calling a layer on KerasTensors goes through `symbolic_call` (`fkeras.layers.symbolic`): the layer
is built for real on its first call, as in Keras, its output specs are traced, and a `Node` records
the call. `Functional` is a facade `Model` over those Nodes; its pure counterpart (`model.nn_layer`)
is an `nn.functional.Graph` of the layers' pure counterparts, which `apply`, eager calls and the
train step run: params/state nest under layer names (a shared layer once, a nested model under its
name), each layer's key is folded from the model key with its name (and the call count for a shared
layer), and state updates and activity losses are collected as for any nn container. The facade's
own replay (`call`) only runs while a model is being built. `get_config`/`from_config` use Keras 3's
functional config format, so `.keras` files move between Keras and fkeras.
"""

from __future__ import annotations

import copy
import inspect
import warnings
from collections import defaultdict

import jax
import numpy as np

from fkeras import layers as facade_layers
from fkeras import nn, ops
from fkeras.layers import symbolic as _symbolic
from fkeras.layers.input_layer import Input, InputLayer
from fkeras.layers.symbolic import (  # noqa: F401 - re-exported (the Functional API's names)
    _UNKNOWN_FILL,
    KerasHistory,
    KerasTensor,
    Node,
    OpLayer,
    _call_kwargs_for_apply,
    _concrete_spec,
    compute_output_spec,
    inbound_nodes,
    is_keras_tensor,
    keras_tensors_in,
    standardize_dtype,
    symbolic_getitem,
    symbolic_op,
    symbolic_ops_call,
)
from fkeras.layers.adapter import pure_of
from fkeras.layers.wrapped import as_facade
from fkeras.models.model import Model
from fkeras.models.sequential import Sequential
from fkeras.nn.functional import Graph, GraphNode, HostValues, InputInfo, Slot
from fkeras.saving.serialization_lib import deserialize_keras_object, serialize_keras_object
from fkeras.nn.base import Layer as _PureLayer
from fkeras.nn.base import Variables

__all__ = ["Functional", "symbolic_call", "symbolic_op", "KerasTensor", "Input", "InputLayer", "is_keras_tensor",
           "functional_from_config"]


# --- symbolic calls ------------------------------------------------------------------
def facade_of(nn_layer):
    """The one facade view of a pure `fkeras.nn` layer (kept on it), so calling the same nn layer
    twice in a graph shares its weights."""
    view = nn_layer.__dict__.get("_fk_facade_view")
    if view is None:
        view = as_facade(nn_layer)
        object.__setattr__(nn_layer, "_fk_facade_view", view)
    return view


def _takes_mask(nn_layer) -> bool:
    """Whether an nn layer's `apply`/`call` takes a `mask` keyword."""
    for fn in (type(nn_layer).apply, type(nn_layer).call):
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            continue
        if "mask" in params or any(p.kind == p.VAR_KEYWORD for p in params.values()):
            return True
    return False


def symbolic_call(layer, args, kwargs=None):
    """`fkeras.layers.symbolic.symbolic_call` that also takes a pure `fkeras.nn` layer (called through
    its one facade view, so two calls share weights)."""
    if isinstance(layer, _PureLayer) and not isinstance(layer, OpLayer):
        layer = facade_of(layer)
    return _symbolic.symbolic_call(layer, args, kwargs)


# --- graph topology ---------------------------------------------------------------------
def _node_key(op, index: int) -> str:
    return f"{id(op)}_ib-{index}"


def _history(x: KerasTensor) -> KerasHistory:
    h = x._keras_history
    if h is None:
        raise ValueError(f"KerasTensor '{x.name}' has no history: it was not made by `fkeras.Input` or a layer call.")
    return h


def _build_map(inputs, outputs):
    """Depth-first walk from the outputs: Nodes in topological order (inputs first), and the order
    in which each layer was first seen."""
    finished, in_progress = set(), set()
    ordered, op_index = [], {}
    input_ids = {id(x) for x in inputs}

    def visit(tensor):
        op, node_index, _ = _history(tensor)
        if op is None:
            return
        node = inbound_nodes(op)[node_index]
        if node in finished:
            return
        if not node.is_input and id(tensor) in input_ids:  # an intermediate tensor used as a model input
            finished.add(node)
            return
        if node in in_progress:
            raise ValueError(f"Tensor {tensor} from layer '{op.name}' is part of a cycle.")
        op_index.setdefault(op, len(op_index))
        in_progress.add(node)
        if not node.is_input:
            for t in node.input_tensors:
                visit(t)
        finished.add(node)
        in_progress.discard(node)
        ordered.append(node)

    for out in outputs:
        visit(out)
    return ordered, op_index


def map_graph(inputs, outputs):
    """Validate the graph between `inputs` and `outputs`.

    Returns (node_keys, nodes_by_depth, layers) with layers in Keras's order: by decreasing depth
    (distance to the outputs), then by first traversal.
    """
    ordered, op_index = _build_map(inputs, outputs)
    in_graph = set(ordered)
    node_keys = {_node_key(n.operation, inbound_nodes(n.operation).index(n)) for n in ordered}
    node_depth, op_depth = {}, {}
    for node in reversed(ordered):
        depth = node_depth.setdefault(node, 0)
        depth = max(depth, op_depth.get(node.operation, 0))
        op_depth[node.operation] = depth
        node_depth[node] = depth
        for parent in node.parent_nodes:
            if parent in in_graph:
                node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))
    for x in inputs:  # unused inputs still belong to the model
        op, idx, _ = _history(x)
        node = inbound_nodes(op)[idx]
        if op not in op_depth and node.is_input:
            op_depth[op] = 0
            op_index[op] = -1
            node_depth[node] = 0
            node_keys.add(_node_key(op, idx))

    nodes_by_depth = defaultdict(list)
    for node, depth in node_depth.items():
        nodes_by_depth[depth].append(node)
    ops_by_depth = defaultdict(list)
    for op, depth in op_depth.items():
        ops_by_depth[depth].append(op)
    layers = []
    for depth in sorted(ops_by_depth, reverse=True):
        layers.extend(sorted(ops_by_depth[depth], key=lambda o: op_index[o]))

    computable = {id(x) for x in inputs}
    seen_ok = []
    for depth in sorted(nodes_by_depth, reverse=True):
        for node in nodes_by_depth[depth]:
            for x in node.input_tensors:
                if id(x) not in computable:
                    src = x._keras_history.operation
                    raise ValueError(
                        f"Graph disconnected: cannot reach tensor {x} (made by '{getattr(src, 'name', src)}'), "
                        f"needed by layer '{node.operation.name}', from the model's inputs "
                        f"{[i.name for i in inputs]}. Layers reached without issue: {seen_ok}. "
                        "Pass every `Input` the outputs depend on to `Model(inputs=...)`."
                    )
            seen_ok.append(node.operation.name)
            if not node.is_input:  # an Input reached from the outputs counts only if it is a model input
                computable.update(id(x) for x in node.outputs)
    for i, x in enumerate(outputs):
        if id(x) not in computable:
            raise ValueError(f"Output {i} ({x}) is not connected to the model's inputs {[t.name for t in inputs]}.")

    names = [op.name for op in layers]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f'The name "{name}" is used {names.count(name)} times in the model. '
                             "All layer names should be unique.")
    return node_keys, dict(nodes_by_depth), layers


def _is_input_tensor(x: KerasTensor) -> bool:
    op, idx, _ = _history(x)
    return op is not None and inbound_nodes(op)[idx].is_input


def clone_graph(inputs, outputs):
    """For `Model(intermediate, outputs)`: new `Input`s (named `<tensor>CLONE`, as Keras does) stand
    for intermediate tensors and the calls between them and `outputs` are recorded again on the same
    layers (same weights). Returns the new (inputs, outputs) structures."""
    flat_in = jax.tree_util.tree_leaves(inputs, is_leaf=is_keras_tensor)
    flat_out = jax.tree_util.tree_leaves(outputs, is_leaf=is_keras_tensor)
    mapping = {}
    for x in flat_in:
        mapping[id(x)] = x if _is_input_tensor(x) else Input(batch_shape=x.shape, dtype=x.dtype, name=f"{x.name}CLONE")
    ordered, _ = _build_map(flat_in, flat_out)
    swap = lambda t: mapping.get(id(t), t) if isinstance(t, KerasTensor) else t  # noqa: E731
    for node in ordered:
        if node.is_input or all(id(t) in mapping for t in node.outputs):
            continue
        args = jax.tree_util.tree_map(swap, node.call_args, is_leaf=is_keras_tensor)
        kwargs = jax.tree_util.tree_map(swap, node.call_kwargs, is_leaf=is_keras_tensor)
        new_out = symbolic_call(node.operation, args, kwargs)
        for old, new in zip(node.outputs, keras_tensors_in(new_out)):
            mapping[id(old)] = new
    return (jax.tree_util.tree_map(swap, inputs, is_leaf=is_keras_tensor),
            jax.tree_util.tree_map(swap, outputs, is_leaf=is_keras_tensor))


def _depends_on_inputs(inputs, outputs) -> list:
    """Outputs that do not depend on any of `inputs` (by walking their history)."""
    input_ids = {id(x) for x in inputs}
    bad = []
    for out in outputs:
        stack, seen, found = [out], set(), False
        while stack and not found:
            t = stack.pop()
            if id(t) in input_ids:
                found = True
                break
            op, idx, _ = _history(t)
            if op is None:
                continue
            node = inbound_nodes(op)[idx]
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.extend(node.input_tensors)
        if not found:
            bad.append(out)
    return bad


# --- serialization helpers ----------------------------------------------------------------
def _serialize_layer(layer) -> dict:
    """`{"module", "class_name", "config", "registered_name", ["build_config"]}` as Keras writes it."""
    if isinstance(layer, OpLayer):
        return {"module": layer._keras_module, "class_name": layer.class_name, "config": layer.get_config(),
                "registered_name": layer.class_name}
    if isinstance(layer, InputLayer):
        return {"module": "keras.layers", "class_name": "InputLayer", "config": layer.get_config(),
                "registered_name": None}
    if isinstance(layer, Functional) and type(layer) is Functional:
        return {"module": "keras.src.models.functional", "class_name": "Functional", "config": layer.get_config(),
                "registered_name": "Functional", "build_config": {"input_shape": None}, "compile_config": {}}
    return serialize_keras_object(layer)


def _deserialize_layer(layer_data: dict, custom_objects=None):
    module = layer_data.get("module")
    class_name = layer_data.get("class_name")
    config = layer_data.get("config", {})
    if class_name == "InputLayer":
        return InputLayer.from_config(config)
    if (module or "").startswith("keras.src.ops") or class_name == "GetItem":
        return OpLayer.from_config(config, class_name=class_name)
    if class_name == "Functional":
        return Functional.from_config(config, custom_objects=custom_objects)
    # no `build_config`: the layer is built by its calls while the graph is rebuilt
    layer_data = {k: v for k, v in layer_data.items() if k not in ("build_config", "inbound_nodes")}
    try:
        return deserialize_keras_object(layer_data, custom_objects=custom_objects)
    except ValueError as e:  # e.g. a pure fkeras.nn layer: looked up below
        error = e
    if custom_objects and class_name in custom_objects:
        return custom_objects[class_name].from_config(config)
    models = {"Model": Model, "Sequential": Sequential, "Functional": Functional}
    for cls in (getattr(facade_layers, class_name, None), models.get(class_name), getattr(nn, class_name, None)):
        if isinstance(cls, type) and hasattr(cls, "from_config"):
            return cls.from_config(config)
    raise error
    raise ValueError(f"Unknown layer class {class_name!r} (module {module!r}); pass it in `custom_objects`.")


def _serialize_call_value(x, history_index):
    if isinstance(x, KerasTensor):
        op, node_index, tensor_index = x._keras_history
        return {"class_name": "__keras_tensor__",
                "config": {"shape": x.shape, "dtype": x.dtype,
                           "keras_history": [op.name, history_index(op, node_index), tensor_index]}}
    if isinstance(x, slice):
        return {"class_name": "__slice__", "config": {"start": x.start, "stop": x.stop, "step": x.step}}
    if isinstance(x, (list, tuple)):
        return type(x)(_serialize_call_value(v, history_index) for v in x)
    if isinstance(x, dict):
        return {k: _serialize_call_value(v, history_index) for k, v in x.items()}
    if x is None or x is Ellipsis or isinstance(x, (bool, int, float, str)):
        return "__ellipsis__" if x is Ellipsis else x
    if isinstance(x, (np.integer, np.floating, np.bool_)):
        return x.item()
    raise TypeError(f"Cannot serialize call argument of type {type(x).__name__} in a Functional config.")


def _deserialize_call_value(x, tensor_of):
    if isinstance(x, dict):
        cls = x.get("class_name")
        if cls == "__keras_tensor__":
            return tensor_of(*x["config"]["keras_history"])
        if cls == "__slice__":
            c = x["config"]
            return slice(c.get("start"), c.get("stop"), c.get("step"))
        return {k: _deserialize_call_value(v, tensor_of) for k, v in x.items()}
    if isinstance(x, list):
        return [_deserialize_call_value(v, tensor_of) for v in x]
    if isinstance(x, tuple):
        return tuple(_deserialize_call_value(v, tensor_of) for v in x)
    if x == "__ellipsis__":
        return Ellipsis
    return x


# --- the Functional model ---------------------------------------------------------------
def _shapes_of(struct):
    """The shapes of a structure of KerasTensors, a one-element list unwrapped (Keras's `input_shape` rule)."""
    shapes = jax.tree_util.tree_map(lambda x: x.shape, struct, is_leaf=is_keras_tensor)
    return shapes[0] if isinstance(shapes, list) and len(shapes) == 1 else shapes


class _GraphMixin:
    """The graph part of Functional: built from `inputs`/`outputs` KerasTensors; pure init/apply/config."""

    def _init_graph(self, inputs, outputs):
        if isinstance(inputs, dict):
            for k, v in inputs.items():
                if isinstance(v, KerasTensor) and k != v.name:
                    warnings.warn(f"Model inputs given as a dict should be keyed by each Input's name; key {k!r} "
                                  f"maps to Input '{v.name}'. Use `fkeras.Input(..., name={k!r})`.", stacklevel=3)
        flat_in = jax.tree_util.tree_leaves(inputs, is_leaf=is_keras_tensor)
        flat_out = jax.tree_util.tree_leaves(outputs, is_leaf=is_keras_tensor)
        for what, flat, struct in (("inputs", flat_in, inputs), ("outputs", flat_out, outputs)):
            if not flat:
                raise ValueError(f"Model `{what}` cannot be empty; got {what}={struct!r}.")
            for x in flat:
                if not isinstance(x, KerasTensor):
                    raise TypeError(
                        f"All Model `{what}` must be KerasTensors (from `fkeras.Input` and layer calls); got a "
                        f"{type(x).__name__} in {what}={struct!r}."
                    )
        for x in flat_in:
            _history(x)
        if not all(_is_input_tensor(x) for x in flat_in) and not _depends_on_inputs(flat_in, flat_out):
            inputs, outputs = clone_graph(inputs, outputs)
            flat_in = jax.tree_util.tree_leaves(inputs, is_leaf=is_keras_tensor)
            flat_out = jax.tree_util.tree_leaves(outputs, is_leaf=is_keras_tensor)
        if len({id(x) for x in flat_in}) != len(flat_in):
            raise ValueError("The same Input is passed twice in Model `inputs`.")
        unrelated = _depends_on_inputs(flat_in, flat_out)
        if unrelated:
            raise ValueError(
                f"Model outputs {[t.name for t in unrelated]} do not depend on the model's inputs "
                f"{[t.name for t in flat_in]}: every output must be computed from the inputs passed to "
                "`Model(inputs=..., outputs=...)`."
            )
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self._inputs = flat_in
        self._outputs = flat_out
        self._nodes, self._nodes_by_depth, self._operations = map_graph(flat_in, flat_out)
        self._call_order = [node for depth in sorted(self._nodes_by_depth, reverse=True)
                            for node in self._nodes_by_depth[depth] if not node.is_input]
        self.output_names = [x._keras_history.operation.name for x in flat_out]
        self.input_names = [x._keras_history.operation.name for x in flat_in]

    # -- the pure counterpart -----------------------------------------------------
    def _fk_container(self):
        """The pure `nn.functional.Graph` running this model (None for a subclass with its own `call`)."""
        if type(self).call is not Functional.call:
            return None
        return self._fk_graph()

    def _fk_graph(self):
        """This model's recorded calls as a pure `nn.functional.Graph`: each layer's pure counterpart
        (a shared layer once), KerasTensors as Slots, the Inputs as InputInfos."""
        slots = {}

        def to_slots(structure):
            def one(x):
                if not isinstance(x, KerasTensor):
                    return x
                if id(x) not in slots:
                    slots[id(x)] = Slot(len(slots))
                return slots[id(x)]

            return jax.tree_util.tree_map(one, structure, is_leaf=is_keras_tensor)

        inputs = to_slots(self._inputs_struct)
        info = [InputInfo(t.name, t.shape, t.dtype, bool(getattr(t._keras_history.operation, "optional", False)))
                for t in self._inputs]
        nodes, pure = [], {}  # one counterpart per layer: a shared layer is one nn layer
        for node in self._call_order:
            layer = node.operation
            if id(layer) not in pure:
                pure[id(layer)] = pure_of(layer)
            kwargs = _call_kwargs_for_apply(node.call_kwargs)
            if "mask" in kwargs and not _takes_mask(pure[id(layer)]):
                kwargs.pop("mask")  # as the facade's call: a mask only reaches layers that take one
            nodes.append(GraphNode(pure[id(layer)], to_slots(node.call_args), to_slots(kwargs),
                                   to_slots(list(node.outputs))))
        outputs = to_slots(self._outputs_struct)
        if isinstance(outputs, (list, tuple)) and len(outputs) == 1:
            outputs = outputs[0]  # Keras unpacks a single output
        strings = [slots[id(t)] for node in self._call_order for t in node.outputs
                   if t.dtype == "string" and id(t) in slots]
        return Graph(inputs, nodes, outputs, info, name=self.name, string_slots=strings)

    # -- structure -------------------------------------------------------------
    @property
    def layers(self) -> list:
        """Every layer of the graph (InputLayers first), in Keras's topological order; implicit
        ops (`x + y`) are graph operations, not layers, as in Keras."""
        return [op for op in self._operations if not isinstance(op, OpLayer)]

    @property
    def operations(self) -> list:
        return list(self._operations)

    @property
    def inputs(self) -> list:
        return list(self._inputs)

    @property
    def outputs(self) -> list:
        return list(self._outputs)

    @property
    def input(self):
        return self._inputs_struct

    @property
    def output(self):
        return self._outputs_struct

    @property
    def input_shape(self):
        return _shapes_of(self._inputs_struct)

    @property
    def output_shape(self):
        return _shapes_of(self._outputs_struct)

    def get_layer(self, name=None, index=None):
        """The layer called `name`, or at position `index` of `layers`."""
        if index is not None and name is not None:
            raise ValueError(f"Provide only a layer name or a layer index, got name={name!r} and index={index!r}.")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model '{self.name}' only has "
                                 f"{len(layers)} layers.")
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name!r}. Existing layers are: {[l.name for l in layers]}.")
        raise ValueError("Provide either a layer name or a layer index to `get_layer`.")

    # -- for `summary()` (Keras's rules) ---------------------------------------------------
    def _summary_operations(self) -> list:
        """The rows of Keras's summary of a functional model: every operation, implicit ops included."""
        return list(self._operations)

    def _summary_sequential_like(self) -> bool:
        """False when Keras adds the "Connected to" column: several nodes at one depth, a node with
        several inputs, or a layer called twice."""
        nodes = []
        for group in self._nodes_by_depth.values():
            if len(group) > 1 or (len(group) == 1 and len(group[0].input_tensors) > 1):
                return False
            nodes += group
        for op in self._operations:
            if sum(1 for n in inbound_nodes(op) if n in nodes) > 1:
                return False
        return True

    def _summary_connections(self, op) -> str:
        """Keras's "Connected to" cell: `layer[node][tensor]` for each input of `op`'s calls in this model."""
        mine = [n for group in self._nodes_by_depth.values() for n in group]
        parts = [f"{t._keras_history.operation.name}[{t._keras_history.node_index}][{t._keras_history.tensor_index}]"
                 for n in inbound_nodes(op) if n in mine for t in n.input_tensors]
        return ", ".join(parts) or "-"

    # -- inputs ----------------------------------------------------------------------------
    def _flatten_inputs(self, inputs: tuple) -> list:
        """Model inputs (one structure, or several positional arrays) as a flat list ordered like
        `self.inputs`, each checked against its Input's shape (the pure graph's rule)."""
        return self._fk_graph()._flatten_inputs(inputs)

    def _pack_outputs(self, flat):
        leaves, treedef = jax.tree_util.tree_flatten(self._outputs_struct, is_leaf=is_keras_tensor)
        out = jax.tree_util.tree_unflatten(treedef, flat)
        return out[0] if isinstance(out, (list, tuple)) and len(out) == 1 else out  # Keras unpacks singletons

    # -- running the graph ----------------------------------------------------------------
    def _default_specs(self):
        """Example inputs for `init` when none are given: the Inputs' shapes, batch as 1."""
        specs = [np.full(tuple(1 if d is None else d for d in t.shape), "", dtype="U1") if t.dtype == "string"
                 else _concrete_spec(t, 1, other=_UNKNOWN_FILL) for t in self._inputs]
        leaves, treedef = jax.tree_util.tree_flatten(self._inputs_struct, is_leaf=is_keras_tensor)
        return jax.tree_util.tree_unflatten(treedef, specs)

    def _fill(self, node, value_of):
        def sub(x):
            return value_of(x) if isinstance(x, KerasTensor) else x

        args = jax.tree_util.tree_map(sub, node.call_args, is_leaf=is_keras_tensor)
        kwargs = jax.tree_util.tree_map(sub, node.call_kwargs, is_leaf=is_keras_tensor)
        return args, kwargs

    def _run_graph(self, inputs, training):
        """Replay every recorded call on `inputs` through each facade layer's `__call__` (used while
        building, inside an init trace; `apply` and the train step run the pure `nn.functional.Graph`)."""
        flat = self._flatten_inputs(inputs)
        values = {id(t): v for t, v in zip(self._inputs, flat)}
        for node in self._call_order:
            layer = node.operation
            args, kw = self._fill(node, lambda t: values[id(t)])
            kw = _call_kwargs_for_apply(kw)
            if isinstance(layer, _PureLayer):  # InputLayer / implicit ops: no variables
                out, _ = layer.apply(Variables({}, {}), *args, training=bool(training), rng=None, **kw)
            else:
                if training is not None:
                    kw["training"] = training
                out = layer(*args, **kw)
            for t, v in zip(node.outputs, jax.tree_util.tree_leaves(out)):
                values[id(t)] = v
        return self._pack_outputs([values[id(t)] for t in self._outputs])

    def _fk_host_batch(self, batch):
        """A data batch `(x, ...)` with `x` replaced by the graph's `HostValues` when the model has string
        layers (they run here, eagerly, once per batch; the jitted steps get numbers only); else `batch`.
        The Trainer maps every batch through this before its steps."""
        graph = self._fk_container()
        if graph is None or not graph.has_host or isinstance(batch[0], HostValues):
            return batch
        return (graph.host_values(batch[0]),) + tuple(batch[1:])

    # -- config -------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Keras 3's functional config: `name`, `trainable`, `layers` (each with `inbound_nodes`),
        `input_layers`, `output_layers`."""
        reindex = {}
        for op in self._operations:
            kept = 1 if isinstance(op, Functional) else 0  # Keras counts a nested model's own node first
            for i, _ in enumerate(inbound_nodes(op)):
                key = _node_key(op, i)
                if key in self._nodes:
                    reindex[key] = kept
                    kept += 1

        def history_index(op, node_index):
            # index among this model's nodes of `op` (without Keras's nested-model offset)
            skipped = sum(1 for i in range(node_index) if _node_key(op, i) not in self._nodes)
            return node_index - skipped

        layer_configs = []
        for op in self._operations:
            nodes_data = []
            for i, node in enumerate(inbound_nodes(op)):
                if _node_key(op, i) in self._nodes and node.input_tensors:
                    nodes_data.append({"args": _serialize_call_value(node.call_args, history_index),
                                       "kwargs": _serialize_call_value(node.call_kwargs, history_index)})
            cfg = _serialize_layer(op)
            cfg["name"] = op.name
            cfg["inbound_nodes"] = nodes_data
            layer_configs.append(cfg)

        def tensor_config(t):
            op, node_index, tensor_index = t._keras_history
            key = _node_key(op, node_index)
            return [op.name, reindex[key], tensor_index]

        def map_tensors(s):
            return jax.tree_util.tree_map(tensor_config, s, is_leaf=is_keras_tensor)

        config = {"name": self.name, "trainable": getattr(self, "trainable", True), "layers": layer_configs,
                  "input_layers": map_tensors(self._inputs_struct),
                  "output_layers": map_tensors(self._outputs_struct)}
        return copy.deepcopy(config)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return functional_from_config(cls, config, custom_objects=custom_objects)


def functional_from_config(cls, config, custom_objects=None):
    """Rebuild a Functional model (same layers, same calls, same structure) from `get_config()`."""
    config = dict(config)
    for key in ("layers", "input_layers", "output_layers"):
        if key not in config:
            raise ValueError(f"Invalid Functional config: missing {key!r}; got keys {sorted(config)}.")
    created, pending = {}, {}
    for layer_data in config["layers"]:
        name = layer_data["name"]
        layer = _deserialize_layer(layer_data, custom_objects=custom_objects)
        created[name] = layer
        pending[name] = list(layer_data.get("inbound_nodes", []))

    def tensor_of(layer_name, node_index, tensor_index):
        layer = created.get(layer_name)
        if layer is None:
            raise ValueError(f"Invalid Functional config: unknown layer {layer_name!r}.")
        nodes = inbound_nodes(layer)
        if node_index >= len(nodes):
            raise IndexError(layer_name)  # not created yet: retry later
        return nodes[node_index].outputs[tensor_index]

    def call_node(layer, node_data):
        if isinstance(node_data, list):  # legacy [[name, node, tensor, kwargs], ...]
            tensors = [tensor_of(d[0], d[1], d[2]) for d in node_data]
            kwargs = node_data[0][3] if node_data and len(node_data[0]) > 3 else {}
            args = [tensors[0] if len(tensors) == 1 else tensors]
        else:
            args = _deserialize_call_value(node_data.get("args", []), tensor_of)
            kwargs = _deserialize_call_value(node_data.get("kwargs", {}), tensor_of)
        if hasattr(layer, "__call__") and not isinstance(layer, _PureLayer):
            return layer(*args, **kwargs)
        return symbolic_call(layer, args, kwargs)

    while any(pending.values()):
        progress = False
        for layer_data in config["layers"]:
            name = layer_data["name"]
            layer = created[name]
            while pending[name]:
                try:
                    call_node(layer, pending[name][0])
                except IndexError:
                    break
                pending[name].pop(0)
                progress = True
        if not progress:
            raise ValueError("Invalid Functional config: the graph has loops or disconnected nodes; unresolved: "
                             f"{ {k: v for k, v in pending.items() if v} }.")

    def get_tensor(layer_name, node_index, tensor_index):
        layer = created.get(layer_name)
        if isinstance(layer, Functional):
            node_index -= 1
        return tensor_of(layer_name, node_index, tensor_index)

    def map_tensors(t):
        if isinstance(t, list) and len(t) == 3 and isinstance(t[0], str):
            return get_tensor(*t)
        if isinstance(t, dict):
            return {k: map_tensors(v) for k, v in t.items()}
        if isinstance(t, tuple):
            return tuple(map_tensors(v) for v in t)
        return [map_tensors(v) for v in t]

    inputs = map_tensors(config["input_layers"])
    outputs = map_tensors(config["output_layers"])
    kwargs = {k: v for k, v in config.items() if k not in ("layers", "input_layers", "output_layers")}
    return cls(inputs=inputs, outputs=outputs, **kwargs)


class Functional(_GraphMixin, Model):
    """A Model defined as a graph of layer calls from `fkeras.Input` tensors to output tensors.

    Args (as `keras.Model`): `inputs` and `outputs` are KerasTensors or nested lists/tuples/dicts
    of them; `name`; `trainable`. Built on construction: every layer was built by its symbolic
    call, so `weights`, `summary()` and `predict` work at once. Its pure face is the facade's:
    `init(rng, *example_inputs)` (example inputs optional: the Inputs' shapes are known) and
    `apply(variables, *inputs, training=False, rng=None)`; params nest under layer names, a shared
    layer once, a nested model under its name.
    """

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        self._init_graph(inputs, outputs)
        Model.__init__(self, name=name, **kwargs)
        if not trainable:
            self.trainable = False
        self.__dict__["built"] = True
        self.__dict__["_fk_build_shapes"] = self.input_shape
        self.__dict__["_fk_output_shape"] = self.output_shape

    def call(self, *inputs, training=None, mask=None):
        """Run the graph (Keras's `Model.call` signature; `mask` is accepted for Keras configs)."""
        return self._run_graph(inputs, training)

    def init(self, rng, *example_inputs, **kwargs) -> Variables:
        """Fresh `Variables(params, state)` from the JAX key `rng` (each layer's key folded with its name)."""
        if not example_inputs:
            example_inputs = (self._default_specs(),)
        return Model.init(self, rng, *example_inputs, **kwargs)

    def compute_output_shape(self, *input_shapes):
        if not input_shapes or input_shapes == (None,):
            return self.output_shape
        return Model.compute_output_shape(self, *input_shapes)

    def __repr__(self):
        return f"<Functional name={self.name}, built=True>"


Model._fk_functional_class = Functional  # `Model(inputs, outputs)` builds one
