"""fkeras.tree has keras.tree's API and semantics (Keras 3.15): every function on a shared set of
nested structures gives Keras's result; errors are ValueErrors where Keras raises them."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import fkeras
from fkeras import tree as ftree

Point = collections.namedtuple("Point", "x y")
AlsoPoint = collections.namedtuple("Point", "x y")

STRUCTURES = [
    1,
    None,
    "leaf",
    [],
    (),
    {},
    [1, 2, 3],
    (1, [2, None], {"b": 3, "a": (4, 5)}),
    {"z": [1, {"y": 2, "x": None}], "a": Point(3, [4])},
    collections.OrderedDict([("b", 1), ("a", [2, 3])]),
    collections.defaultdict(list, {"k": [1], "c": 2}),
    collections.deque([1, (2, 3)]),
    [np.zeros(2), {"w": np.ones(3)}],
    [[[]], ((),), {"e": {}}],
]


def _ktree():
    import keras

    return keras.tree


def _same(a, b):
    """Equal values with equal container types at every level."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a.keys()) == list(b.keys())
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple, collections.deque)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


def test_public_names_match_keras():
    want = {n for n in dir(_ktree()) if not n.startswith("_")}
    assert want <= set(dir(ftree)), want - set(dir(ftree))
    assert fkeras.tree is ftree


@pytest.mark.parametrize("s", STRUCTURES, ids=range(len(STRUCTURES)))
def test_flatten_pack_is_nested(s):
    k = _ktree()
    _same(ftree.flatten(s), k.flatten(s))
    assert ftree.is_nested(s) == k.is_nested(s)
    flat = list(range(len(k.flatten(s))))
    _same(ftree.pack_sequence_as(s, flat), k.pack_sequence_as(s, flat))
    got = ftree.flatten_with_path(s)
    want = k.flatten_with_path(s)
    assert [p for p, _ in got] == [p for p, _ in want]


@pytest.mark.parametrize("s", STRUCTURES, ids=range(len(STRUCTURES)))
def test_maps_and_traversals(s):
    k = _ktree()

    def f(x):
        return ("seen", None if isinstance(x, np.ndarray) else x)

    _same(ftree.map_structure(f, s), k.map_structure(f, s))
    _same(ftree.map_structure(lambda a, b: (a, b), s, s), k.map_structure(lambda a, b: (a, b), s, s))
    _same(ftree.lists_to_tuples(s), k.lists_to_tuples(s))
    _same(ftree.map_shape_structure(f, s), k.map_shape_structure(f, s))
    _same(ftree.traverse(lambda x: None, s), k.traverse(lambda x: None, s))
    ftree.assert_same_structure(s, s)
    ftree.assert_same_paths(s, s)


def test_map_structure_none_is_leaf_false():
    k = _ktree()
    s = [1, None, {"a": None, "b": 2}]
    _same(ftree.map_structure(lambda x: x * 10, s, none_is_leaf=False),
          k.map_structure(lambda x: x * 10, s, none_is_leaf=False))


def test_traverse_replace_and_map_to_none():
    k = _ktree()
    s = [1, [2, 3], (4, [5])]

    def fk(x):
        return k.MAP_TO_NONE if x == 3 else (x * 2 if isinstance(x, int) else None)

    def ff(x):
        return ftree.MAP_TO_NONE if x == 3 else (x * 2 if isinstance(x, int) else None)

    for top_down in (True, False):
        _same(ftree.traverse(ff, s, top_down=top_down), k.traverse(fk, s, top_down=top_down))
    _same(ftree.traverse(lambda x: "cut" if isinstance(x, tuple) else None, s),
          k.traverse(lambda x: "cut" if isinstance(x, tuple) else None, s))


def test_map_structure_up_to():
    k = _ktree()
    shallow = [0, {"a": 0}]
    deep = [[1, 2], {"a": (3, 4)}]
    f = lambda x: len(x) if isinstance(x, (list, tuple)) else x  # noqa: E731
    _same(ftree.map_structure_up_to(shallow, f, deep), k.map_structure_up_to(shallow, f, deep))


@pytest.mark.parametrize("a,b", [
    ([1, 2], [1, [2]]),
    ([1, 2], (1, 2)),
    (Point(1, 2), AlsoPoint(1, 2)),
    ({"a": 1}, {"b": 1}),
    ([1], [1, 2]),
    ({"a": [1]}, {"a": 1}),
])
def test_structure_mismatches_are_value_errors(a, b):
    k = _ktree()
    with pytest.raises(ValueError):
        k.assert_same_structure(a, b)
    with pytest.raises(ValueError):
        ftree.assert_same_structure(a, b)
    with pytest.raises(ValueError):
        ftree.map_structure(lambda x, y: x, a, b)


def test_dict_flavours_are_the_same_structure_and_paths_ignore_container_types():
    k = _ktree()
    od = collections.OrderedDict([("a", 1), ("b", 2)])
    k.assert_same_structure({"a": 1, "b": 2}, od)
    ftree.assert_same_structure({"a": 1, "b": 2}, od)
    ftree.assert_same_paths([1, 2], (3, 4))
    k.assert_same_paths([1, 2], (3, 4))
    with pytest.raises(ValueError, match="same paths"):
        ftree.assert_same_paths({"a": 1}, {"b": 1})


def test_pack_sequence_as_count_errors():
    with pytest.raises(ValueError):
        ftree.pack_sequence_as([0, 0], [1])
    with pytest.raises(ValueError):
        ftree.pack_sequence_as([0, 0], [1, 2, 3])
    with pytest.raises(ValueError):
        _ktree().pack_sequence_as([0, 0], [1, 2, 3])


def test_check_types_is_deprecated():
    with pytest.warns(DeprecationWarning):
        ftree.assert_same_structure([1], [2], check_types=True)
