"""`plot_model` / `model_to_dot`: a model's layer graph drawn with pydot and graphviz, as Keras draws it;
`get_source_inputs`: the Input tensors a symbolic tensor depends on.

One graph node per layer (an HTML table: name and class, optionally activation, input/output shapes,
dtype, trainable), one edge per connection; nested models become dashed clusters with `expand_nested`.
"""

from __future__ import annotations

import os
import sys

from fkeras.layers.symbolic import inbound_nodes
from fkeras.models.functional import Functional
from fkeras.models.sequential import Sequential
from fkeras.runtime import io_utils


def _pydot():
    try:
        import pydot
    except ImportError:
        return None
    return pydot


def check_pydot() -> bool:
    return _pydot() is not None


def check_graphviz() -> bool:
    """True when graphviz's `dot` program runs (pydot calls it to render)."""
    pydot = _pydot()
    if pydot is None:
        return False
    try:
        pydot.Dot.create(pydot.Dot())
        return True
    except (OSError, getattr(pydot, "PydotException", OSError)):
        return False


def _nodes_of(operation):
    return inbound_nodes(operation)


def get_source_inputs(tensor):
    """The list of Input tensors needed to compute `tensor` (a non-symbolic value is returned as is)."""
    history = getattr(tensor, "_keras_history", None)
    if not hasattr(tensor, "_keras_history"):
        return tensor
    if history is None or history.operation is None or not _nodes_of(history.operation):
        return [tensor]
    node = _nodes_of(history.operation)[history.node_index]
    if node.is_input:
        return list(node.output_tensors)
    sources = []
    for x in node.input_tensors:
        for s in get_source_inputs(x):
            if all(s is not t for t in sources):
                sources.append(s)
    return sources


def _add_edge(dot, src, dst):
    pydot = _pydot()
    src_id, dst_id = str(id(src)), str(id(dst))
    if not dot.get_edge(src_id, dst_id):
        edge = pydot.Edge(src_id, dst_id)
        edge.set("penwidth", "2")
        dot.add_edge(edge)


def _activation_name(layer):
    act = layer.activation
    return getattr(act, "name", None) or getattr(act, "__name__", None) or str(act)


def _map(fn, structure):
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: _map(fn, v) for k, v in structure.items()}
    return fn(structure)


def _format_shape(shape):
    if shape is None:
        return "?"
    text = ", ".join(f"{k}: {v}" for k, v in shape.items()) if isinstance(shape, dict) else f"{shape}"
    return text.replace("}", "").replace("{", "")


def _layer_label(layer, show_layer_names, show_layer_activations, show_dtype, show_shapes, show_trainable):
    class_name = type(layer).__name__
    span = max(1, int(show_dtype) + int(show_trainable) + (2 if show_shapes else 0))
    title = f"<b>{layer.name}</b> ({class_name})" if show_layer_names else f"<b>{class_name}</b>"
    html = ('<<table border="0" cellborder="1" bgcolor="black" cellpadding="10">'
            f'<tr><td colspan="{span}" bgcolor="black"><font point-size="16" color="white">{title}</font></td></tr>')
    if show_layer_activations and getattr(layer, "activation", None) is not None:
        html += (f'<tr><td bgcolor="white" colspan="{span}"><font point-size="14">Activation: '
                 f"<b>{_activation_name(layer)}</b></font></td></tr>")
    cols = []
    if show_shapes:
        in_shape = out_shape = None
        try:
            in_shape = _map(lambda x: x.shape, layer.input)
            out_shape = _map(lambda x: x.shape, layer.output)
        except (ValueError, AttributeError):
            pass
        if class_name != "InputLayer":
            cols.append(f'<td bgcolor="white"><font point-size="14">Input shape: <b>{_format_shape(in_shape)}</b>'
                        "</font></td>")
        cols.append(f'<td bgcolor="white"><font point-size="14">Output shape: <b>{_format_shape(out_shape)}</b>'
                    "</font></td>")
    if show_dtype:
        dtype = None
        try:
            dtype = _map(lambda x: x.dtype, layer.output)
        except (ValueError, AttributeError):
            pass
        cols.append(f'<td bgcolor="white"><font point-size="14">Output dtype: <b>{dtype or "?"}</b></font></td>')
    if show_trainable and hasattr(layer, "trainable") and layer.weights:
        cols.append('<td bgcolor="forestgreen"><font point-size="14" color="white"><b>Trainable</b></font></td>'
                    if layer.trainable else
                    '<td bgcolor="firebrick"><font point-size="14" color="white"><b>Non-trainable</b></font></td>')
    if cols:
        html += f"<tr>{''.join(cols)}</tr>"
    return html + "</table>>"


def _make_node(layer, **label):
    node = _pydot().Node(str(id(layer)), label=_layer_label(layer, **label))
    node.set("fontname", "Helvetica")
    node.set("border", "0")
    node.set("margin", "0")
    return node


def _not_built_error():
    return ValueError("This model has not yet been built. Build the model first by calling `build()` or by calling "
                      "the model on a batch of data.")


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True, rankdir="TB", expand_nested=False,
                 dpi=200, subgraph=False, show_layer_activations=False, show_trainable=False, splines="ortho",
                 **kwargs):
    """The model's graph as a `pydot.Dot` (a `pydot.Cluster` with `subgraph=True`), as Keras builds it."""
    if not model.built:
        raise _not_built_error()
    pydot = _pydot()
    if pydot is None:
        raise ImportError('model_to_dot needs pydot, which is not installed: pip install "fkeras[plot]" '
                          "(or pip install pydot).")
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("Argument `layer_range` is no longer supported.")
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
    if subgraph:
        dot = pydot.Cluster(style="dashed", graph_name=model.name)
        dot.set("label", model.name)
        dot.set("labeljust", "l")
    else:
        dot = pydot.Dot()
        dot.set("rankdir", rankdir)
        dot.set("concentrate", True)
        dot.set("dpi", dpi)
        dot.set("splines", splines)
        dot.set_node_defaults(shape="record")
    label = dict(show_layer_names=show_layer_names, show_layer_activations=show_layer_activations,
                 show_dtype=show_dtype, show_shapes=show_shapes, show_trainable=show_trainable)
    if isinstance(model, Sequential):
        layers = model.layers
    elif not isinstance(model, Functional):
        dot.add_node(_make_node(model, **label))
        return dot
    else:
        layers = model._operations
    for layer in layers:
        if expand_nested and isinstance(layer, (Functional, Sequential)):
            dot.add_subgraph(model_to_dot(layer, show_shapes, show_dtype, show_layer_names, rankdir, expand_nested,
                                          subgraph=True, show_layer_activations=show_layer_activations,
                                          show_trainable=show_trainable))
        else:
            dot.add_node(_make_node(layer, **label))
    if isinstance(model, Sequential):
        if not expand_nested:
            for a, b in zip(layers, layers[1:]):
                _add_edge(dot, a, b)
            return dot
        layers = model.layers[1:]
    mine = None
    if isinstance(model, Functional):
        mine = {id(n) for group in model._nodes_by_depth.values() for n in group}
    for layer in layers:
        for node in _nodes_of(layer):
            if mine is not None and id(node) not in mine:
                continue
            for input_index, x in enumerate(node.input_tensors):
                history = x._keras_history
                if history is None or history.operation is None:
                    continue
                source, output_index, destination = history.operation, history.tensor_index, layer
                if not expand_nested:
                    _add_edge(dot, source, layer)
                    continue
                while isinstance(source, (Functional, Sequential)):
                    source, _, output_index = source.outputs[output_index]._keras_history
                while isinstance(destination, (Functional, Sequential)):
                    destination = (destination.inputs[input_index]._keras_history.operation
                                   if isinstance(destination, Functional) else destination.layers[0])
                _add_edge(dot, source, destination)
    return dot


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False, show_layer_names=False, rankdir="TB",
               expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False, splines="ortho",
               **kwargs):
    """Draw the model's graph into `to_file` (format from its suffix, PNG by default) with graphviz.

    Raises ImportError naming what to install when pydot or graphviz's `dot` is missing (in IPython it
    prints the message instead, as Keras does). Returns an `IPython.display.Image` (`SVG` for .svg) when
    IPython is there.
    """
    if not model.built:
        raise _not_built_error()
    message = None
    if not check_pydot():
        message = 'plot_model needs pydot, which is not installed: pip install "fkeras[plot]" (or pip install pydot).'
    elif not check_graphviz():
        message = ("plot_model needs graphviz's `dot` program, which was not found: install graphviz (e.g. apt-get "
                   "install graphviz, brew install graphviz; see https://graphviz.gitlab.io/download/).")
    if message is not None:
        if "IPython.core.magics.namespace" in sys.modules:
            io_utils.print_msg(message)
            return None
        raise ImportError(message)
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("Argument `layer_range` is no longer supported.")
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                       rankdir=rankdir, expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations, show_trainable=show_trainable, splines=splines)
    to_file = str(to_file)
    extension = os.path.splitext(to_file)[1][1:] or "png"
    dot.write(to_file, format=extension)
    if extension == "pdf":
        return None
    try:
        from IPython import display
    except ImportError:
        return None
    if extension == "svg":
        return display.SVG(filename=to_file)
    try:
        return display.Image(filename=to_file, format=extension)
    except ValueError:  # a format IPython cannot embed: the file is written, nothing to show
        return None
