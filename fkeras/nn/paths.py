"""Paths into nested-dict pytrees (`("dense", "kernel")` into params): read, test and copy-on-write.

The facade's Variables, the Trainer and saving address weights this way; written once here.
"""

from __future__ import annotations


def get_path(tree, path):
    """`tree[path[0]][path[1]]...`; KeyError/TypeError when a step is missing."""
    for k in path:
        tree = tree[k]
    return tree


def find_path(tree, path):
    """Like `get_path`, but None when a step is missing."""
    for k in path:
        if not isinstance(tree, dict) or k not in tree:
            return None
        tree = tree[k]
    return tree


def has_path(tree, path) -> bool:
    try:
        get_path(tree, path)
        return True
    except (KeyError, TypeError, IndexError):
        return False


def set_path(tree, path, value):
    """A copy of nested dict `tree` with `value` at `path` (only the dicts on the path are copied;
    missing dicts on the path are created)."""
    if not path:
        return value
    new = dict(tree)
    new[path[0]] = set_path(tree.get(path[0], {}), path[1:], value)
    return new
