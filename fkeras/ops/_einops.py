"""`rearrange` (einops-style) written once over `fkeras.ops` reshape/transpose, so it runs on
every framework: 'b (h w) c -> b h w c' splits, groups and permutes named axes."""

import math
import re

from fkeras import ops  # loaded with a framework's kernels (`_dispatch.backend`), after `fkeras.ops` is complete


def _parse(side):
    """'b (h w) c' -> [['b'], ['h', 'w'], ['c']] (a group per output/input axis)."""
    groups, i, tokens = [], 0, re.findall(r"\(|\)|[A-Za-z_][A-Za-z0-9_]*|1", side)
    while i < len(tokens):
        t = tokens[i]
        if t == "(":
            j = tokens.index(")", i)
            groups.append([a for a in tokens[i + 1:j] if a != "1"])
            i = j + 1
        elif t == ")":
            raise ValueError(f"fkeras.ops.rearrange: unbalanced parentheses in {side!r}.")
        else:
            groups.append([] if t == "1" else [t])
            i += 1
    return groups


def rearrange(tensor, pattern, **axes_lengths):
    if "->" not in pattern:
        raise ValueError(f"fkeras.ops.rearrange: pattern must contain '->', got {pattern!r}.")
    left, right = (_parse(s.strip()) for s in pattern.split("->"))
    shape = ops.shape(tensor)
    if len(left) != len(shape):
        raise ValueError(f"fkeras.ops.rearrange: pattern {pattern!r} has {len(left)} input axes, "
                         f"the tensor has shape {tuple(shape)}.")
    sizes = dict(axes_lengths)
    for group, dim in zip(left, shape):
        unknown = [a for a in group if a not in sizes]
        known = math.prod(sizes[a] for a in group if a in sizes)
        if len(unknown) > 1:
            raise ValueError(f"fkeras.ops.rearrange: cannot infer the sizes of {unknown} in {pattern!r}.")
        if unknown:
            sizes[unknown[0]] = dim // known
        elif known != dim:
            raise ValueError(f"fkeras.ops.rearrange: axes {group} have size {known}, the tensor's axis has {dim}.")
    flat_in = [a for g in left for a in g]
    flat_out = [a for g in right for a in g]
    if sorted(flat_in) != sorted(flat_out):
        raise ValueError(f"fkeras.ops.rearrange: both sides of {pattern!r} must name the same axes.")
    x = ops.reshape(tensor, [sizes[a] for a in flat_in])
    x = ops.transpose(x, [flat_in.index(a) for a in flat_out])
    return ops.reshape(x, [math.prod(sizes[a] for a in g) for g in right])
