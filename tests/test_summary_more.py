"""model.summary() text vs Keras 3.15's for the same models: "Connected to", expand_nested, show_trainable,
layer_range, positions and line_length."""

import pytest

import fkeras


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # both libraries size the table from the terminal


def _branched(k):
    inner = k.Sequential([k.Input((4,)), k.layers.Dense(4, activation="relu", name="inner_dense")], name="inner")
    a, b = k.Input((4,), name="a"), k.Input((4,), name="b")
    shared = k.layers.Dense(4, name="shared")
    h = inner(k.layers.Add(name="add")([shared(a), shared(b)]))
    head = k.layers.Dense(2, name="head")
    head.trainable = False
    return k.Model([a, b], [head(h), k.layers.Dense(1, name="aux")(h)], name="net")


def _chain(k):
    x = k.Input((6,), name="x")
    h = k.layers.Dense(3, name="d1")(x)
    return k.Model(x, k.layers.Dropout(0.5, name="drop")(k.layers.Dense(2, name="d2")(h)), name="chain")


def _sequential(k):
    inner = k.Sequential([k.Input((3,)), k.layers.Dense(3, name="i1"), k.layers.BatchNormalization(name="bn")],
                         name="block")
    return k.Sequential([k.Input((3,)), inner, k.layers.Dense(1, name="out")], name="seq")


def _multi_output_node(k):
    x = k.Input((4, 2), name="x")
    lstm = k.layers.LSTM(3, return_state=True, name="lstm")
    out, h, c = lstm(x)
    return k.Model(x, k.layers.Concatenate(name="cat")([out, h, c]), name="states")


_MODELS = {}  # (library, build) -> model: built once, in a fresh session, and summarized with every option


def _model(k, build):
    if (k, build) not in _MODELS:
        k.backend.clear_session(free_memory=False)  # names only: a gc pass per call costs ~0.3 s
        _MODELS[k, build] = build(k)
    return _MODELS[k, build]


def _text(k, build, **kwargs):
    out = []
    _model(k, build).summary(print_fn=out.append, **kwargs)
    assert len(out) == 1
    return out[0]


@pytest.mark.parametrize("build", [_branched, _chain, _sequential, _multi_output_node])
@pytest.mark.parametrize("kwargs", [dict(), dict(expand_nested=True, show_trainable=True),
                                    dict(line_length=130, positions=[0.25, 0.5, 0.7, 1.0])])
def test_summary_text_matches_keras(build, kwargs):
    import keras

    if "positions" in kwargs and build in (_chain, _sequential):
        kwargs = dict(kwargs, positions=[0.4, 0.7, 1.0])
    assert _text(fkeras, build, **kwargs) == _text(keras, build, **kwargs)


@pytest.mark.parametrize("layer_range", [["shared", "add"], ["in.*", "head"], ["aux", "shared"]])
def test_layer_range_matches_keras(layer_range):
    import keras

    assert _text(fkeras, _branched, layer_range=layer_range) == _text(keras, _branched, layer_range=layer_range)


@pytest.mark.parametrize("bad, message", [(["a"], "length 2"), ([1, 2], "string type only"),
                                          (["nope", "head"], "do not match")])
def test_layer_range_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        _text(fkeras, _branched, layer_range=bad)


def test_non_interactive_logging_sends_summary_to_absl(capsys):
    fkeras.utils.disable_interactive_logging()
    try:
        _chain(fkeras).summary()
    finally:
        fkeras.utils.enable_interactive_logging()
    assert "chain" not in capsys.readouterr().out


def _with_ops(k):
    x = k.Input((4,), name="x")
    h = k.layers.Dense(4, name="d")(x)
    y = k.ops.concatenate([k.ops.relu(h) * 2.0, x], axis=-1)
    return k.Model(x, y, name="ops")


def test_implicit_ops_rows_match_keras():
    import keras

    assert _text(fkeras, _with_ops) == _text(keras, _with_ops)
