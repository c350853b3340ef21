"""Control flow unrolled in Python, written once for the torch and TF backends (eager torch tensors; TF tensors of
a static length, also inside `tf.function`): `scan`, `associative_scan` and `map` over a framework's
`stack(list, axis)`, `flip(x, axis)` and `take(x, i, axis)`. JAX keeps `jax.lax`'s traced loops."""

from __future__ import annotations

import jax

_tree = jax.tree_util


def leading(tree):
    """The leading size of a pytree's first leaf (None for a tree without leaves)."""
    leaves = _tree.tree_leaves(tree)
    return leaves[0].shape[0] if leaves else None


def stack_trees(trees, stack):
    """A list of like pytrees -> one pytree whose leaves are `stack(list)`s along a new axis 0 (None for no trees)."""
    if not trees:
        return None
    return _tree.tree_map(lambda *xs: stack(xs), *trees)


def scan(f, init, xs, length, reverse, stack, xs_hint="", check_length=True):
    """`lax.scan` as a Python loop: `f(carry, x) -> (carry, y)` over axis 0 of `xs` (or `length` times with
    x=None), the ys stacked by `stack`. `xs_hint` qualifies `xs` in the missing-length error; `check_length`
    rejects a `length` other than xs's."""
    n = leading(xs) if xs is not None else None
    if n is None:
        if length is None:
            raise ValueError(f"fkeras.ops.scan: give `xs`{xs_hint} or `length`.")
        n = length
    elif check_length and length is not None and length != n:
        raise ValueError(f"fkeras.ops.scan: length={length} but xs has leading size {n}.")
    carry, ys = init, []
    for i in range(n - 1, -1, -1) if reverse else range(n):
        x = None if xs is None else _tree.tree_map(lambda v: v[i], xs)
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    return carry, stack_trees(ys, stack)


def associative_scan(f, elems, reverse, axis, convert, stack, flip, take):
    """`lax.associative_scan` as a running fold along `axis` (the same prefix results, computed in order): each
    leaf `convert`ed, `take(leaf, i, axis)` its i-th slice, results `stack(list, axis)`ed."""
    leaves, treedef = _tree.tree_flatten(elems)
    leaves = [convert(v) for v in leaves]
    if reverse:
        leaves = [flip(v, axis) for v in leaves]
    outs, acc = [], None
    for i in range(leaves[0].shape[axis]):
        cur = _tree.tree_unflatten(treedef, [take(v, i, axis) for v in leaves])
        acc = cur if acc is None else f(acc, cur)
        outs.append(_tree.tree_leaves(acc))
    res = [stack([o[j] for o in outs], axis) for j in range(len(leaves))]
    if reverse:
        res = [flip(v, axis) for v in res]
    return _tree.tree_unflatten(treedef, res)


def map(f, xs, stack):  # noqa: A001
    """`lax.map`: `f` on each slice along axis 0 of `xs`, the results stacked by `stack`."""
    return stack_trees([f(_tree.tree_map(lambda v: v[i], xs)) for i in range(leading(xs))], stack)
