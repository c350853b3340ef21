"""`model.summary()`: Keras 3's table (rich), with the same counts and sizes."""

from __future__ import annotations

import math
import re
import shutil

import numpy as np
import rich.console
import rich.markup
import rich.table

from fkeras.layers.symbolic import inbound_nodes
from fkeras.runtime import io_utils


def _count(weights):
    return int(sum(math.prod(w.shape) for w in weights))


def _memory(weights):
    seen, total = set(), 0
    for w in weights:
        if id(w) in seen:
            continue
        seen.add(id(w))
        total += math.prod(w.shape) * np.dtype(w.dtype).itemsize
    return total


def readable_memory_size(size):
    for unit in ["B", "KB", "MB", "GB", "TB", "PB"]:
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _num(x):
    return f"[color(45)]{x}[/]" if x is None else f"[color(34)]{x}[/]"


def _node_output_shape(layer):
    """The output shape(s) of the layer's last recorded call (how Keras finds an implicit op's shape)."""

    nodes = inbound_nodes(layer)
    if not nodes:
        return None
    outputs = nodes[-1].outputs
    return tuple(outputs[0].shape) if len(outputs) == 1 else [tuple(t.shape) for t in outputs]


def _shape_text(layer):
    shape = getattr(layer, "_fk_output_shape", None)
    if shape is None:
        try:
            shape = layer.output_shape
        except (AttributeError, ValueError, NotImplementedError):
            shape = None
    if shape is None:
        shape = _node_output_shape(layer)
    if shape is None:
        return "?"

    def fmt(s):
        return "(" + ", ".join(_num(d) for d in s) + ")"

    if isinstance(shape, tuple) and all(d is None or isinstance(d, int) for d in shape):
        return fmt(shape)
    if isinstance(shape, (list, tuple)):
        return "[" + ", ".join(fmt(s) for s in shape) + "]"
    if isinstance(shape, dict):
        return "{" + ", ".join(f"{k}: {fmt(s)}" for k, s in shape.items()) + "}"
    return str(shape)


def _layer_range(layers, layer_range):
    """`[start, stop)` of the layers from the first matching `layer_range[0]` to the last matching
    `layer_range[1]` (regexes over names), Keras's rule."""
    if layer_range is None:
        return 0, len(layers)
    if len(layer_range) != 2:
        raise ValueError(f"layer_range must be a list or tuple of length 2. Received: layer_range = {layer_range} "
                         f"of length {len(layer_range)}")
    if not isinstance(layer_range[0], str) or not isinstance(layer_range[1], str):
        raise ValueError(f"layer_range should contain string type only. Received: {layer_range}")
    lo = [i for i, l in enumerate(layers) if re.match(layer_range[0], l.name)]
    hi = [i for i, l in enumerate(layers) if re.match(layer_range[1], l.name)]
    if not lo or not hi:
        raise ValueError(f"Passed layer_names do not match the layer names in the model. Received: {layer_range}")
    if min(lo) > max(hi):
        return min(hi), max(lo) + 1
    return min(lo), max(hi) + 1


def _graph_rows(model):
    """`(operations, sequential_like, nodes of the model)`: a Functional model's rows are its operations
    (inputs and implicit ops included); it gets the "Connected to" column unless it is a plain chain
    (one node per depth, each with one input, no layer called twice), Keras's rule."""

    nodes_by_depth = getattr(model, "_nodes_by_depth", None)
    if nodes_by_depth is None or type(model).__name__ == "Sequential" or not hasattr(model, "_operations"):
        return list(model.layers), True, None
    nodes, sequential_like = [], True
    for group in nodes_by_depth.values():
        if len(group) > 1 or (len(group) == 1 and len(group[0].input_tensors) > 1):
            sequential_like = False
            break
        nodes += group
    if sequential_like:
        for layer in model.layers:
            if sum(1 for n in inbound_nodes(layer) if any(n is m for m in nodes)) > 1:
                sequential_like = False
                break
    relevant = [n for group in nodes_by_depth.values() for n in group]
    return list(model._operations), sequential_like, relevant


def _connections(layer, relevant):

    parts = []
    for node in inbound_nodes(layer):
        if relevant and not any(node is n for n in relevant):
            continue
        for t in node.input_tensors:
            h = t._keras_history
            parts.append(f"{h.operation.name}[{_num(h.node_index)}][{_num(h.tensor_index)}]")
    return ", ".join(parts) or "-"


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False, layer_range=None):
    """Keras's summary table: Layer (type) / Output Shape / Param # (+ Connected to for a branched
    Functional model, + Trainable with `show_trainable`; nested models' layers indented with
    `expand_nested`), then the parameter totals. `print_fn` receives the whole text once."""

    if not print_fn and not io_utils.is_interactive_logging_enabled():
        print_fn = io_utils.print_msg
    layers, sequential_like, relevant = _graph_rows(model)
    if sequential_like:
        default_length = 88
        positions = positions or [0.45, 0.80, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #"]
        alignment = ["left", "left", "right"]
    else:
        default_length = 108
        positions = positions or [0.3, 0.56, 0.74, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        alignment = ["left", "left", "right", "left"]
    if show_trainable:
        default_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        alignment.append("center")
    default_length = min(default_length, shutil.get_terminal_size().columns - 4)
    line_length = line_length or default_length
    widths, current = [], 0
    for pos in positions:
        width = int(pos * line_length) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        widths.append(width)
        current += width
    columns = [rich.table.Column(h, justify=a, width=w) for h, a, w in zip(header, alignment, widths)]
    table = rich.table.Table(*columns, width=line_length, show_lines=True)

    def fields(layer, prefix=""):
        name = rich.markup.escape(f"{prefix}{layer.name}")
        cls_name = getattr(layer, "class_name", None) if type(layer).__name__ == "OpLayer" else None
        name += f" ([color(33)]{rich.markup.escape(cls_name or type(layer).__name__)}[/])"
        if not hasattr(layer, "built"):
            params = _num(0)
        elif not layer.built:
            params = f"{_num(0)} (unbuilt)"
        else:
            params = _num(f"{_count(getattr(layer, 'weights', [])):,}")
        row = [name, _shape_text(layer), params]
        if not sequential_like:
            row.append(_connections(layer, relevant))
        if show_trainable:
            if getattr(layer, "weights", None):
                row.append("[bold][color(34)]Y[/][/]" if layer.trainable else "[bold][color(9)]N[/][/]")
            else:
                row.append("[bold]-[/]")
        return row

    def rows(layer, level=0):
        out = [fields(layer, "   " * level + "└ " if level else "")]
        if expand_nested and getattr(layer, "layers", None):
            for sub in layer.layers:
                out.extend(rows(sub, level + 1))
        return out

    start, stop = _layer_range(layers, layer_range)
    for layer in layers[start:stop]:
        for row in rows(layer):
            table.add_row(*row)

    trainable = model.trainable_weights
    non_trainable = model.non_trainable_weights
    t_count, n_count = _count(trainable), _count(non_trainable)
    t_mem, n_mem = _memory(trainable), _memory(non_trainable)
    # Keras adds the optimizer's variables (iterations, learning rate, slots) once it is built (after fit).
    optimizer = getattr(model, "optimizer", None) if getattr(model, "compiled", False) else None
    o_vars = list(getattr(optimizer, "variables", None) or []) if optimizer is not None else []
    o_count, o_mem = _count(o_vars), _memory(o_vars)

    if print_fn:
        console = rich.console.Console(highlight=False, force_terminal=False, color_system=None)
        console.begin_capture()
    else:
        console = rich.console.Console(highlight=False)
    console.print(f'[bold]Model: "{rich.markup.escape(model.name)}"[/]')
    console.print(table)
    console.print("[bold] Total params: [/]" + _num(f"{t_count + n_count + o_count:,}")
                  + f" ({readable_memory_size(t_mem + n_mem + o_mem)})")
    console.print("[bold] Trainable params: [/]" + _num(f"{t_count:,}") + f" ({readable_memory_size(t_mem)})")
    console.print("[bold] Non-trainable params: [/]" + _num(f"{n_count:,}")
                  + f" ({readable_memory_size(n_mem)})")
    if o_vars:
        console.print("[bold] Optimizer params: [/]" + _num(f"{o_count:,}") + f" ({readable_memory_size(o_mem)})")
    if print_fn:
        if print_fn is io_utils.print_msg:
            print_fn(console.end_capture(), line_break=False)
        else:
            print_fn(console.end_capture())
