"""`fkeras.tree`: Keras 3's `keras.tree` (nested-structure utilities) with the same semantics.

Structures are Python containers: `list`, `tuple`, namedtuples, `dict` (and `OrderedDict`,
`defaultdict`) and `collections.deque`; everything else, `None` included, is a leaf (Keras's
`none_is_leaf=True`). Dicts flatten in sorted key order (`OrderedDict` in insertion order) and are
rebuilt with their original key order. Other pytree registrations (JAX's) do not apply here, as
Keras's tree only knows its own.
"""

from __future__ import annotations

import collections
import warnings

__all__ = [
    "MAP_TO_NONE", "assert_same_paths", "assert_same_structure", "flatten", "flatten_with_path", "is_nested",
    "lists_to_tuples", "map_shape_structure", "map_structure", "map_structure_up_to", "pack_sequence_as",
    "traverse",
]


class MAP_TO_NONE:  # noqa: N801 (Keras's name)
    """Returned by a `traverse` function to put `None` in the output at that position."""


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _node(x, none_is_leaf=True):
    """(keys, children) of a container, or None for a leaf."""
    if isinstance(x, dict):
        if isinstance(x, collections.OrderedDict) and not isinstance(x, collections.defaultdict):
            keys = list(x.keys())
        else:
            try:
                keys = sorted(x.keys())
            except TypeError:
                keys = list(x.keys())
        return keys, [x[k] for k in keys]
    if isinstance(x, (list, tuple, collections.deque)):
        return list(range(len(x))), list(x)
    if x is None and not none_is_leaf:
        return [], []
    return None


def _rebuild(x, children):
    if isinstance(x, dict):
        keys = _node(x)[0]
        by_key = dict(zip(keys, children))
        ordered = [(k, by_key[k]) for k in x.keys()]
        if isinstance(x, collections.defaultdict):
            return type(x)(x.default_factory, ordered)
        return type(x)(ordered)
    if _is_namedtuple(x):
        return type(x)(*children)
    if isinstance(x, collections.deque):
        return collections.deque(children, maxlen=x.maxlen)
    if x is None:
        return None
    return type(x)(children)


def _kind(x):
    """Node identity for structure comparison: all dict flavours are one kind, namedtuples by class."""
    if isinstance(x, dict):
        return dict
    return type(x)


def is_nested(structure):
    """True for a list, tuple, dict, namedtuple or deque (even empty); False for leaves and None."""
    return _node(structure) is not None


def flatten(structure):
    """All leaves, depth first (dicts by sorted key)."""
    out = []

    def walk(x):
        node = _node(x)
        if node is None:
            out.append(x)
        else:
            for c in node[1]:
                walk(c)

    walk(structure)
    return out


def flatten_with_path(structure):
    """[(path, leaf)], a path being the tuple of keys / indices from the root."""
    out = []

    def walk(x, path):
        node = _node(x)
        if node is None:
            out.append((path, x))
        else:
            for k, c in zip(*node):
                walk(c, path + (k,))

    walk(structure, ())
    return out


def pack_sequence_as(structure, flat_sequence):
    """`flat_sequence`'s items placed into the shape of `structure` (inverse of `flatten`)."""
    flat = list(flat_sequence)
    pos = [0]

    def build(x):
        node = _node(x)
        if node is None:
            if pos[0] >= len(flat):
                raise ValueError(f"Too few leaves for the structure; expected: {len(flatten(structure))}, "
                                 f"got: {len(flat)}.")
            pos[0] += 1
            return flat[pos[0] - 1]
        return _rebuild(x, [build(c) for c in node[1]])

    out = build(structure)
    if pos[0] != len(flat):
        raise ValueError(f"Too many leaves for the structure; expected: {pos[0]}, got: {len(flat)}.")
    return out


def _mismatch(a, b):
    return ValueError(f"Structures don't have the same nested structure: {type(a).__name__} vs {type(b).__name__} "
                      f"({a!r} vs {b!r}).")


def _map(func, structures, none_is_leaf, shallow_only=False):
    first = structures[0]

    def walk(xs):
        node = _node(xs[0], none_is_leaf)
        if node is None:
            if not shallow_only:
                for other in xs[1:]:
                    if _node(other, none_is_leaf) is not None:
                        raise _mismatch(xs[0], other)
            return func(*xs)
        keys, _ = node
        children = []
        for other in xs[1:]:
            o = _node(other, none_is_leaf)
            if o is None or _kind(other) != _kind(xs[0]) or (sorted(map(repr, o[0])) != sorted(map(repr, keys))):
                raise _mismatch(xs[0], other)
        per = [dict(zip(*_node(x, none_is_leaf))) for x in xs]
        for k in keys:
            children.append(walk([p[k] for p in per]))
        return _rebuild(xs[0], children)

    return walk(list((first, *structures[1:])))


def map_structure(func, *structures, none_is_leaf=True):
    """`func` applied to the leaves (in parallel over several structures of the same nesting)."""
    if not structures:
        raise ValueError("Must provide at least one structure")
    return _map(func, structures, none_is_leaf)


def map_structure_up_to(shallow_structure, func, *structures):
    """`map_structure` stopping at the leaves of `shallow_structure` (deeper parts go to `func` whole)."""
    if not structures:
        raise ValueError("Must provide at least one structure")
    return _map(lambda _, *xs: func(*xs), (shallow_structure, *structures), True, shallow_only=True)


def assert_same_structure(a, b, check_types=None):
    """ValueError unless `a` and `b` nest the same way (list, tuple and each namedtuple class differ)."""
    if check_types is not None:
        warnings.warn("The `check_types` argument is deprecated and no longer has any effect, please remove.",
                      DeprecationWarning, stacklevel=2)
    _map(lambda *xs: None, (a, b), True)


def assert_same_paths(a, b):
    """ValueError unless `a` and `b` have the same set of leaf paths (container types ignored)."""
    a_paths = {p for p, _ in flatten_with_path(a)}
    b_paths = {p for p, _ in flatten_with_path(b)}
    if a_paths != b_paths:
        msg = "`a` and `b` don't have the same paths."
        if a_paths - b_paths:
            msg += f"\nPaths in `a` missing in `b`:\n{a_paths - b_paths}"
        if b_paths - a_paths:
            msg += f"\nPaths in `b` missing in `a`:\n{b_paths - a_paths}"
        raise ValueError(msg)


def traverse(func, structure, top_down=True):
    """Visit every node: `func(node)` returning None recurses into it (top-down) / keeps it (bottom-up);
    any other value replaces the node; `MAP_TO_NONE` puts None there."""

    def children(x):
        node = _node(x)
        if node is None:
            return x
        return _rebuild(x, [traverse(func, c, top_down) for c in node[1]])

    if top_down:
        ret = func(structure)
        if ret is None:
            return children(structure)
    else:
        structure = children(structure)
        ret = func(structure)
        if ret is None:
            return structure
    return None if ret is MAP_TO_NONE else ret


def lists_to_tuples(structure):
    """Every list (at any depth) becomes a tuple."""
    return traverse(lambda x: tuple(x) if isinstance(x, list) else None, structure, top_down=False)


def map_shape_structure(func, structure):
    """`map_structure` treating shape tuples/lists (of ints and None) as leaves."""

    def is_shape(x):
        return isinstance(x, (list, tuple)) and all(isinstance(e, (int, type(None))) for e in x)

    def walk(x):
        if is_shape(x):
            return func(x)
        node = _node(x)
        if node is None:
            return func(x)
        return _rebuild(x, [walk(c) for c in node[1]])

    return walk(structure)
