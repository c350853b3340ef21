"""plot_model / model_to_dot vs Keras 3.15: the same nodes (labels) and edges for the same models."""

import re
import shutil

import pytest

import fkeras
from fkeras.utils import model_visualization as mv


def _build(k):
    """A functional model with a branch, a shared layer and a nested Sequential, in library `k`."""
    inner = k.Sequential([k.Input((4,)), k.layers.Dense(4, activation="relu", name="inner_dense")], name="inner")
    a = k.Input((4,), name="a")
    b = k.Input((4,), name="b")
    shared = k.layers.Dense(4, activation="tanh", name="shared")
    h = k.layers.Add(name="add")([shared(a), shared(b)])
    h = inner(h)
    frozen = k.layers.Dense(2, name="head")
    frozen.trainable = False
    return k.Model([a, b], frozen(h), name="net")


def _graph(dot):
    """(sorted labels with ids replaced by names, sorted edges as name pairs, graph attributes)."""
    names = {}

    def walk(g):
        for n in g.get_nodes():
            label = n.get("label")
            if label:
                m = re.search(r"<b>(.*?)</b>", label)
                names[n.get_name().strip('"')] = (m.group(1) if m else "?", label)
        for s in g.get_subgraphs():
            walk(s)

    walk(dot)
    edges = []

    def walk_edges(g):
        for e in g.get_edges():
            edges.append((names[e.get_source().strip('"')][0], names[e.get_destination().strip('"')][0]))
        for s in g.get_subgraphs():
            walk_edges(s)

    walk_edges(dot)
    subgraphs = sorted(s.get_name() for s in dot.get_subgraphs())
    return sorted(v[1] for v in names.values()), sorted(edges), subgraphs


@pytest.mark.parametrize("kwargs", [dict(), dict(show_shapes=True, show_dtype=True, show_layer_activations=True,
                                                 show_trainable=True), dict(expand_nested=True, show_shapes=True),
                                    dict(show_layer_names=False, rankdir="LR", dpi=96)])
def test_model_to_dot_matches_keras(kwargs):
    import keras

    ours, theirs = mv.model_to_dot(_build(fkeras), **kwargs), keras.utils.model_to_dot(_build(keras), **kwargs)
    assert _graph(ours) == _graph(theirs)
    for attr in ("rankdir", "dpi", "splines", "concentrate"):
        assert ours.get(attr) == theirs.get(attr)


def test_sequential_to_dot_matches_keras():
    import keras

    def build(k):
        return k.Sequential([k.Input((3,)), k.layers.Dense(2, name="d1"), k.layers.Dense(1, name="d2")], name="s")

    assert _graph(mv.model_to_dot(build(fkeras), show_shapes=True)) == \
        _graph(keras.utils.model_to_dot(build(keras), show_shapes=True))


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's `dot` is not installed (setup.sh installs it)")
@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), ("", b"\x89PNG"), (".svg", b"<?xml"),
                                           (".pdf", b"%PDF")])
def test_plot_model_writes_file(tmp_path, suffix, magic):
    path = tmp_path / f"model{suffix}"
    fkeras.utils.plot_model(_build(fkeras), to_file=path, show_shapes=True, expand_nested=True)
    assert path.read_bytes().startswith(magic)


def test_missing_pydot_or_graphviz_is_explained(monkeypatch, tmp_path, capsys):
    import sys

    model = _build(fkeras)
    monkeypatch.setattr(mv, "check_graphviz", lambda: False)
    monkeypatch.setitem(sys.modules, "IPython.core.magics.namespace", object())
    assert fkeras.utils.plot_model(model, to_file=tmp_path / "m.png") is None  # in IPython: printed, not raised
    assert "graphviz" in capsys.readouterr().out
    monkeypatch.delitem(sys.modules, "IPython.core.magics.namespace")
    with pytest.raises(ImportError, match="graphviz"):
        fkeras.utils.plot_model(model, to_file=tmp_path / "m.png")
    monkeypatch.setattr(mv, "_pydot", lambda: None)
    with pytest.raises(ImportError, match=r'pip install "fkeras\[plot\]"'):
        fkeras.utils.plot_model(model, to_file=tmp_path / "m.png")
    with pytest.raises(ImportError, match="pydot"):
        fkeras.utils.model_to_dot(model)
    assert not (tmp_path / "m.png").exists()


def test_bad_arguments():
    model = _build(fkeras)
    with pytest.raises(ValueError, match="layer_range"):
        mv.model_to_dot(model, layer_range=["a", "b"])
    with pytest.raises(ValueError, match="Unrecognized keyword"):
        mv.model_to_dot(model, colour="red")
    unbuilt = fkeras.Sequential([fkeras.layers.Dense(2)])
    with pytest.raises(ValueError, match="not yet been built"):
        fkeras.utils.plot_model(unbuilt)
