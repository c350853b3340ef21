"""Public namespaces name their members: `__all__` of the defining module is the one list, the facade
module re-exports exactly it, `dir()` and `from fkeras.X import Name` see every name, and the `get`
registries (names `get("...")` resolves) agree with the exported classes."""

from __future__ import annotations

import importlib
import inspect

import pytest

FAMILIES = {
    "fkeras.losses": "fkeras.train.losses",
    "fkeras.metrics": "fkeras.train.metrics",
    "fkeras.activations": "fkeras.nn.activations",
    "fkeras.initializers": "fkeras.nn.initializers",
    "fkeras.regularizers": "fkeras.nn.regularizers",
    "fkeras.constraints": "fkeras.nn.constraints",
}


@pytest.mark.parametrize("facade,source", sorted(FAMILIES.items()))
def test_facade_exports_exactly_the_source_list(facade, source):
    fac, src = importlib.import_module(facade), importlib.import_module(source)
    assert fac.__all__ == src.__all__
    assert len(set(fac.__all__)) == len(fac.__all__), "duplicate names in __all__"
    public = {n for n in dir(fac) if not n.startswith("_")}
    assert public == set(fac.__all__), f"{facade} has names outside __all__: {sorted(public - set(fac.__all__))}"
    for name in fac.__all__:
        assert getattr(fac, name) is getattr(src, name)
    ns: dict = {}
    exec(f"from {facade} import *", ns)  # noqa: S102 - the star import honours __all__
    assert set(fac.__all__) <= set(ns)


def _registered(src):
    """Classes and functions in a family's `get` tables (`_BY_NAME`, `_CLASSES`, `_FUNCTIONS`)."""
    out = []
    for attr in ("_BY_NAME", "_CLASSES", "_FUNCTIONS"):
        table = getattr(src, attr, None)
        items = table.values() if isinstance(table, dict) else (table or ())
        out += [obj for obj in items if inspect.isclass(obj) or inspect.isfunction(obj)]
    return out


@pytest.mark.parametrize("facade,source", sorted(FAMILIES.items()))
def test_get_registry_and_namespace_agree(facade, source):
    """Everything `get` can build by name is exported (nothing registered but unreachable)."""
    src = importlib.import_module(source)
    registered = _registered(src)
    assert registered, f"{source} has no get() table"
    exported = {id(getattr(src, n)) for n in src.__all__}
    missing = sorted({obj.__name__ for obj in registered if id(obj) not in exported})
    assert not missing, f"{source}: in the get() registry but not in __all__: {missing}"


def test_deserialize_everywhere():
    for facade in FAMILIES:
        assert callable(importlib.import_module(facade).deserialize), facade


def _gen_api():
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "tools" / "gen_api.py"
    spec = importlib.util.spec_from_file_location("gen_api", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_namespaces_are_current():
    """`fkeras/layers/builtin.py` is what `python tools/gen_api.py` writes from fkeras.nn's exports."""
    assert _gen_api().main(["--check"]) == 0, "run `python tools/gen_api.py`"


def test_every_nn_layer_is_a_named_facade_layer():
    import fkeras.layers
    import fkeras.nn
    from fkeras.nn.base import Layer

    names = set(fkeras.layers.__all__)
    for name, canonical in _gen_api().layer_names():
        assert name in names, name
        facade = getattr(fkeras.layers, name)
        assert facade.nn_layer.fget is not None and facade._fk_nn_class is getattr(fkeras.nn, canonical)
    for name in fkeras.layers.__all__:
        assert getattr(fkeras.layers, name) is not None
    ns: dict = {}
    exec("from fkeras.layers import *", ns)  # noqa: S102
    assert {"Dense", "Conv2D", "Layer", "Input"} <= set(ns)
    assert issubclass(fkeras.nn.Dense, Layer)
