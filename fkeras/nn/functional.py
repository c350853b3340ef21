"""A pure graph container: layers called on each other's outputs (Keras's Functional model, as math).

    graph = Graph(inputs=[Slot(0)], nodes=[GraphNode(dense, (Slot(0),), {}, (Slot(1),)), ...],
                  outputs=Slot(2), input_info=[InputInfo("x", (None, 4), "float32")], name="model")
    variables = graph.init(rng)                                   # Variables(params, state)
    y, new_state = graph.apply(variables, x, training=False, rng=None)

A `Slot(i)` stands for the i-th value of the graph (an input or a layer's output); a node's
`args`/`kwargs` keep the call's structure (lists, dicts, constants) with Slots where tensors go.
Params and state are keyed by layer name, a layer called twice (shared) once; its state is
threaded from one call to the next. Each call's key is `fold_name(rng, layer.name)`, folded
again with the call count for the second and later calls of a shared layer. The facade's
Functional model builds one of these from its recorded Nodes (`fkeras.models.functional`).

String inputs (`InputInfo(dtype="string")`): JAX cannot hold or trace strings, so the nodes that read
strings (TextVectorization, StringLookup, Hashing: the *host nodes*) run eagerly as NumPy, outside
any jit, and the rest of the graph is the jitted numeric program. Eagerly, `apply` on string arrays
runs every node in order. The trainer instead calls `host_values(x)` once per batch (before the
jitted step): it runs the host nodes and returns a `HostValues` pytree of the values the numeric
rest reads; `apply` on a `HostValues` skips the host nodes. One graph, one set of variables (string
layers own none), the same keys. This is the split Keras needs too (its JAX backend cannot run
string layers inside a model at all; its TF backend runs them in the tf graph).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from fkeras import ops
from fkeras.nn import dtype_policies, masking
from fkeras.nn.base import Container, Layer, Variables, as_spec, as_variables, fold_name, init_child
from fkeras.nn.core import fit_input_rank


class Slot:
    """A placeholder for the graph value number `index` inside a node's arguments (a pytree leaf)."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        object.__setattr__(self, "index", int(index))

    def __setattr__(self, key, value):
        raise AttributeError("Slot is immutable.")

    def __eq__(self, other):
        return isinstance(other, Slot) and other.index == self.index

    def __hash__(self):
        return hash(("Slot", self.index))

    def __repr__(self):
        return f"Slot({self.index})"


class GraphNode(NamedTuple):
    """One call `outputs = layer(*args, **kwargs)`; `outputs` is the structure of Slots it defines."""

    layer: Layer
    args: tuple
    kwargs: dict
    outputs: object


class InputInfo(NamedTuple):
    """What one graph input accepts: `shape` with None for unknown dims, `dtype`, `optional`."""

    name: str
    shape: tuple
    dtype: str
    optional: bool = False


class TextSpec(NamedTuple):
    """The spec of a string value (`init` and shape checks): JAX has no string ShapeDtypeStruct."""

    shape: tuple
    dtype: str = "string"


def is_text(x) -> bool:
    """A string array (NumPy str/bytes/object, a TextSpec, an eager TF string tensor)."""
    if isinstance(x, TextSpec):
        return True
    dtype = getattr(x, "dtype", None)
    if dtype is None or isinstance(x, jax.core.Tracer):
        return False
    module = type(x).__module__
    if module.startswith("tensorflow"):
        return getattr(dtype, "name", "") == "string"
    if module.startswith("torch"):  # no string tensors (and np.dtype(torch.float32) raises under torch.compile)
        return False
    try:
        return np.dtype(dtype).kind in "USO"
    except TypeError:
        return False


@jax.tree_util.register_pytree_node_class
class HostValues:
    """Graph values computed on the host before the jitted program: `values[i]` for `Slot(slots[i])`,
    every value the numeric part of the graph reads (numeric inputs and the string layers' outputs,
    batch first). Made by `Graph.host_values`; a pytree, so it crosses `jax.jit` like any batch."""

    def __init__(self, slots, values):
        self.slots = tuple(slots)
        self.values = tuple(values)

    def tree_flatten(self):
        return self.values, self.slots

    @classmethod
    def tree_unflatten(cls, slots, values):
        return cls(slots, values)

    def __repr__(self):
        return f"HostValues({dict(zip(self.slots, (getattr(v, 'shape', v) for v in self.values)))})"


def _is_slot(x) -> bool:
    return isinstance(x, Slot)


def _fill(structure, values):
    return jax.tree_util.tree_map(lambda s: values[s.index] if isinstance(s, Slot) else s, structure,
                                  is_leaf=_is_slot)


def _slots(structure) -> list:
    return [s for s in jax.tree_util.tree_leaves(structure, is_leaf=_is_slot) if isinstance(s, Slot)]


def _arg_structure(node, arg, args, kwargs):
    """The node's Slot structure for the filled argument `arg` (found among `args`, then `kwargs`)."""
    for structure, value in zip(node.args, args):
        if value is arg:
            return structure
    for key, value in kwargs.items():
        if value is arg:
            return node.kwargs.get(key)
    return None


def _fill_masks(structure, masks):
    """The masks of the values a Slot structure names (None where a value has none or for constants)."""
    if isinstance(structure, Slot):
        return masks.get(structure.index)
    if isinstance(structure, dict):
        return {k: _fill_masks(v, masks) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_fill_masks(v, masks) for v in structure)
    return None


def _output_spec(layer, variables, args, kwargs):
    """`layer.apply(variables, *args, **kwargs)[0]` traced abstractly; only the ShapeDtypeStruct
    leaves are traced, constants (slices, axes, scalars) stay Python values."""
    leaves, treedef = jax.tree_util.tree_flatten((args, kwargs))
    dynamic = [i for i, x in enumerate(leaves) if isinstance(x, jax.ShapeDtypeStruct)]

    def run(v, specs):
        filled = list(leaves)
        for i, x in zip(dynamic, specs):
            filled[i] = x
        a, k = jax.tree_util.tree_unflatten(treedef, filled)
        return layer.apply(v, *a, **k)[0]

    return jax.eval_shape(run, variables, [leaves[i] for i in dynamic])


def _host_output_spec(layer, args):
    """The output spec of a string layer (`compute_output_shape` + `output_dtype`; unknown dims as 1)."""
    shapes = [tuple(a.shape) for a in args] if len(args) > 1 else tuple(args[0].shape)
    shape = tuple(1 if d is None else d for d in layer.compute_output_shape(shapes))
    dtype = getattr(layer, "output_dtype", "int64")
    return TextSpec(shape) if dtype == "string" else jax.ShapeDtypeStruct(shape, jax.dtypes.canonicalize_dtype(dtype))


class Graph(Container):
    """Run `nodes` (in order) from the graph inputs to `outputs`. See the module docstring.

    Args: `inputs`, a structure of Slots (dict inputs match by key, else by `input_info` names);
    `nodes`, GraphNodes in a valid order; `outputs`, a structure of Slots; `input_info`, one
    InputInfo per input Slot (flatten order) for checking and casting inputs.
    """

    stateful = True
    autocast = False  # each layer casts for itself

    def __init__(self, inputs, nodes, outputs, input_info=(), name=None, dtype=None, trainable=True,
                 string_slots=()):
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        self.inputs = inputs
        self.nodes = tuple(nodes)
        self.outputs = outputs
        self.input_slots = _slots(inputs)
        info = tuple(input_info) or tuple(InputInfo(f"input_{i}", None, None) for i in range(len(self.input_slots)))
        if len(info) != len(self.input_slots):
            raise self.error(f"expected one InputInfo per input ({len(self.input_slots)}), got {len(info)}.")
        self.input_info = info
        layers, seen = [], {}
        for node in self.nodes:
            if not isinstance(node.layer, Layer):
                raise TypeError(f"Graph '{self.name}': expected fkeras.nn layers in the nodes, got "
                                f"{type(node.layer).__name__}.")
            other = seen.get(node.layer.name)
            if other is None:
                seen[node.layer.name] = node.layer
                layers.append(node.layer)
            elif other is not node.layer:
                raise ValueError(f"Graph '{self.name}': two layers are named {node.layer.name!r}; names must be "
                                 "unique.")
        self.layers = tuple(layers)
        self._split_host(string_slots)

    def _split_host(self, string_slots):
        """Mark the host nodes (those reading a string value: an input of dtype "string" or a slot in
        `string_slots`) and the boundary slots the numeric rest reads (see the module docstring)."""
        strings = {s.index for s, info in zip(self.input_slots, self.input_info) if info.dtype == "string"}
        strings |= {int(getattr(s, "index", s)) for s in string_slots}
        self.host_nodes = tuple(any(s.index in strings for s in _slots((n.args, n.kwargs))) for n in self.nodes)
        self.has_host = any(self.host_nodes)
        made, needed = set(), set()
        for node, host in zip(self.nodes, self.host_nodes):
            if not host:
                needed.update(s.index for s in _slots((node.args, node.kwargs)) if s.index not in made)
                made.update(s.index for s in _slots(node.outputs))
        needed.update(s.index for s in _slots(self.outputs) if s.index not in made)
        self.host_boundary = tuple(sorted(needed))
        self._string_slots = frozenset(strings)

    # -- inputs ----------------------------------------------------------------------------
    def _flatten_inputs(self, inputs: tuple) -> list:
        """Inputs (one structure, or several positional arrays) as a flat list in input order, each
        checked against its InputInfo. Dicts match by key (the inputs structure's), or by input name."""
        struct = self.inputs
        x = inputs[0] if len(inputs) == 1 else list(inputs)
        is_array = lambda v: v is None or hasattr(v, "shape")  # noqa: E731
        names = [i.name for i in self.input_info]
        if isinstance(x, dict):
            if isinstance(struct, dict) and all(k in x for k in struct):
                flat = jax.tree_util.tree_leaves({k: x[k] for k in struct}, is_leaf=is_array)
            elif all(k in x for k in names):
                flat = [x[k] for k in names]
            else:
                expected = sorted(struct) if isinstance(struct, dict) else names
                raise ValueError(f"Model '{self.name}' expects inputs {expected}; got keys {sorted(x)} "
                                 f"(missing {[k for k in expected if k not in x]}).")
        elif isinstance(x, (list, tuple)):
            flat = jax.tree_util.tree_leaves(x, is_leaf=is_array)
        else:
            flat = [x]
        if len(flat) != len(names):
            raise ValueError(f"Model '{self.name}' expects {len(names)} input(s) {names}, got {len(flat)}.")
        return [self._check_input(v, info) for v, info in zip(flat, self.input_info)]

    def _check_input(self, x, info: InputInfo):
        """`x` fitted to `info` as Keras does: a trailing 1 squeezed or added, NumPy/JAX arrays cast to
        the input's dtype; a shape that does not fit is a ValueError naming the input."""
        if x is None:
            if info.optional:
                return None
            raise ValueError(f"Model '{self.name}': input '{info.name}' is not optional, but None was passed.")
        if info.dtype == "string":
            return self._check_text_input(x, info)
        if info.shape is None:
            return x
        if not hasattr(x, "shape"):
            x = ops.convert_to_tensor(x, dtype=info.dtype)
        given = tuple(x.shape)
        x = fit_input_rank(x, info.shape)
        shape = tuple(x.shape)
        if len(shape) != len(info.shape) or any(r is not None and r != d for r, d in zip(info.shape, shape)):
            raise ValueError(f"Model '{self.name}': input '{info.name}' expects shape {info.shape}, "
                             f"got an array of shape {given}.")
        if isinstance(x, (np.ndarray, jax.Array)) and np.dtype(x.dtype).name != info.dtype:
            x = x.astype(info.dtype) if isinstance(x, np.ndarray) else ops.cast(x, info.dtype)
        return x

    def _check_text_input(self, x, info: InputInfo):
        """A string input as a NumPy array (str, bytes or object), rank fitted as for numbers."""
        if isinstance(x, TextSpec):
            shape = tuple(x.shape)
        else:
            if type(x).__module__.startswith("tensorflow") and hasattr(x, "numpy"):
                x = x.numpy()
            if isinstance(x, (str, bytes, list, tuple)):
                x = np.asarray(x, dtype=object)
            if not is_text(x):
                raise ValueError(f"Model '{self.name}': input '{info.name}' expects strings (dtype string), got "
                                 f"{type(x).__name__} of dtype {getattr(x, 'dtype', None)}.")
            x = np.asarray(x)
            want = info.shape
            if want is not None and x.ndim == len(want) + 1 and x.shape[-1] == 1:
                x = x[..., 0]
            elif want is not None and x.ndim == len(want) - 1 and want and want[-1] == 1:
                x = x[..., None]
            shape = x.shape
        want = info.shape
        if want is not None and (len(shape) != len(want) or any(r is not None and r != d for r, d in zip(want, shape))):
            raise ValueError(f"Model '{self.name}': input '{info.name}' expects shape {want}, got an array of "
                             f"shape {tuple(shape)}.")
        return x

    def input_specs(self):
        """Example inputs (ShapeDtypeStructs, unknown dims as 1) in the inputs' structure."""
        specs = {s.index: TextSpec(tuple(1 if d is None else d for d in info.shape)) if info.dtype == "string"
                 else as_spec(tuple(info.shape), info.dtype or "float32")
                 for s, info in zip(self.input_slots, self.input_info)}
        return _fill(self.inputs, specs)

    # -- the pure protocol --------------------------------------------------------------------
    def init(self, rng, *input_specs) -> Variables:
        """Variables for inputs like `input_specs` (the declared inputs' shapes when none are given):
        each layer is initialised with the specs of its first call and `fold_name(rng, layer.name)`."""
        if not input_specs:
            input_specs = (self.input_specs(),)
        spec = lambda v: TextSpec(tuple(v.shape)) if is_text(v) else as_spec(v)  # noqa: E731
        flat = self._flatten_inputs(tuple(spec(s) if not isinstance(s, (dict, list)) else s
                                          for s in input_specs))
        values = {s.index: spec(v) for s, v in zip(self.input_slots, flat)}
        params, state = {}, {}
        done = set()
        for node, host in zip(self.nodes, self.host_nodes):
            layer = node.layer
            args, kwargs = _fill(node.args, values), _fill(node.kwargs, values)
            if host:  # a string layer: no variables; its output spec from its shape rule
                out = _host_output_spec(layer, args)
                for slot, o in zip(_slots(node.outputs), jax.tree_util.tree_leaves(out, is_leaf=is_text)):
                    values[slot.index] = o
                continue
            if layer.name not in done:
                done.add(layer.name)
                init_child(layer, rng, args, params, state)
            child = Variables(params.get(layer.name, {}), state.get(layer.name, {}))
            out = _output_spec(layer, child, args, kwargs)
            for slot, spec in zip(_slots(node.outputs), jax.tree_util.tree_leaves(out)):
                values[slot.index] = spec
        return Variables(params, state)

    collects_with_mask = True  # `_apply_collect` takes `mask=`

    def apply(self, variables, *inputs, training: bool = False, rng=None, mask=None):
        """`(outputs, new_state)`. Masks (`mask=`, one per input in the inputs' structure, or masks
        attached to the inputs) travel along the graph with Keras's rules (`fkeras.nn.masking`); the
        outputs carry theirs (`_keras_mask`)."""
        out, new_state, _ = self._run(as_variables(variables), inputs, training, rng, collect=False, mask=mask)
        return out, new_state

    def _apply_collect(self, variables, *inputs, training=False, rng=None, mask=None):
        out, new_state, total = self._run(as_variables(variables), inputs, training, rng, collect=True, mask=mask)
        return out, new_state, total + self.activity_loss(out)

    def _run(self, variables, inputs, training, rng, collect, mask=None):
        prepared = len(inputs) == 1 and isinstance(inputs[0], HostValues)
        if prepared:  # the host nodes ran already (`host_values`)
            values = dict(zip(inputs[0].slots, inputs[0].values))
            masks = {}
        else:
            raw = inputs[0] if len(inputs) == 1 else list(inputs)
            given = masking.masks_of(raw) if mask is None else mask
            given = jax.tree_util.tree_leaves(given, is_leaf=lambda m: m is None or hasattr(m, "shape"))
            flat = self._flatten_inputs(inputs)
            if len(given) != len(flat):
                given = [None] * len(flat)
            values = {s.index: v for s, v in zip(self.input_slots, flat)}
            masks = {s.index: m for s, m in zip(self.input_slots, given)}
        state = dict(variables.state)
        calls: dict = {}
        total = 0.0
        for node, host in zip(self.nodes, self.host_nodes):
            if prepared and host:
                continue
            layer = node.layer
            name = layer.name
            args, kwargs = _fill(node.args, values), _fill(node.kwargs, values)
            key = fold_name(rng, name)
            n = calls.get(name, 0)
            calls[name] = n + 1
            if n and key is not None:
                key = jax.random.fold_in(key, n)
            child = Variables(variables.params.get(name, {}), state.get(name, {}))

            def run(a, kw, layer=layer, child=child, key=key):
                if collect and (not kw or getattr(layer, "collects_with_mask", False) and set(kw) <= {"mask"}):
                    return layer._apply_collect(child, *a, training=training, rng=key, **kw)
                out, new = layer.apply(child, *a, training=training, rng=key, **kw)
                return out, new, layer.activity_loss(out) if collect else 0.0

            def masks_of_arg(arg, node=node, args=args, kwargs=kwargs):
                return _fill_masks(_arg_structure(node, arg, args, kwargs), masks)

            (out, new, loss), out_masks = masking.call_with_masks(layer, run, args, kwargs, masks_of_arg)
            total = total + loss
            if new:
                state[name] = new
            out_mask_leaves = jax.tree_util.tree_leaves(out_masks, is_leaf=lambda m: m is None)
            for i, (slot, value) in enumerate(zip(_slots(node.outputs), jax.tree_util.tree_leaves(out))):
                values[slot.index] = value
                masks[slot.index] = out_mask_leaves[i] if i < len(out_mask_leaves) else None
        return _fill(self.outputs, values), state, total

    def host_values(self, *inputs) -> HostValues:
        """Run the host nodes (string layers) eagerly on `inputs` and return the values the numeric rest
        of the graph reads, as NumPy arrays; `apply(variables, host_values(x))` equals `apply(variables, x)`."""
        flat = self._flatten_inputs(inputs)
        values = {s.index: v for s, v in zip(self.input_slots, flat)}
        for node, host in zip(self.nodes, self.host_nodes):
            if not host:
                continue
            args, kwargs = _fill(node.args, values), _fill(node.kwargs, values)
            out, _ = node.layer.apply(Variables({}, {}), *args, training=False, rng=None, **kwargs)
            for slot, value in zip(_slots(node.outputs), jax.tree_util.tree_leaves(out)):
                values[slot.index] = value
        out = []
        for i in self.host_boundary:
            v = values[i]
            if i in self._string_slots or is_text(v):
                raise ValueError(f"Model '{self.name}': a value the compiled program needs holds strings (a string "
                                 "output, or strings reaching a numeric layer); fit/evaluate/predict run only "
                                 "numbers under jit. Call the model eagerly (`model(x)`) for string outputs.")
            out.append(np.asarray(v))
        return HostValues(self.host_boundary, out)

    def get_config(self):
        """The container's own config (the graph itself is serialized by the facade's Functional)."""
        return {"name": self.name, "trainable": self.trainable, "dtype": dtype_policies.serialize(self.dtype_policy)}
