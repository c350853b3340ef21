"""The house has floors: ops (1) -> nn (2) -> train (3) -> the facade, with interop, io and saving beside.

Parsed from the source (no import is executed): no import cycle among module-level imports anywhere in
`fkeras/`, none either when function-level imports are counted, and no module under `fkeras/ops`, `fkeras/nn` or `fkeras/train` imports from a higher floor.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = ROOT / "fkeras"

# floor of a module: the longest matching prefix wins; modules not listed are above floor 3.
FLOORS = {
    "fkeras.ops": 1, "fkeras.random": 1, "fkeras.tree": 1, "fkeras.backend": 1,
    "fkeras.nn": 2,
    "fkeras.train": 3, "fkeras.interop.data": 3, "fkeras.interop.dlpack": 3, "fkeras.interop._extras": 3,
    "fkeras.distribution": 3, "fkeras.utils.py_dataset": 3, "fkeras.utils.rng_utils": 1,
}
CHECKED_FLOORS = ("fkeras.ops", "fkeras.random", "fkeras.tree", "fkeras.backend", "fkeras.nn", "fkeras.train")


def _modules():
    out = {}
    for path in PKG.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(module, is_package, node):
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))
    return node.module


def _known(name):
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module):
    """[(imported fkeras module, lineno, function_level)] of `module`, and whether it imports torch/tf."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    found, optional = [], False

    def visit(node, depth):
        nonlocal optional
        for child in ast.iter_child_nodes(node):
            d = depth + isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            targets = []
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(module, path.name == "__init__.py", child)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in child.names]
            for t in targets:
                if t.split(".")[0] in ("torch", "tensorflow"):
                    optional = optional or d == 0
                elif t.split(".")[0] == "fkeras":
                    k = _known(t)
                    if k and k != module:
                        found.append((k, child.lineno, d > 0))
            visit(child, d)

    visit(tree, 0)
    return found, optional


IMPORTS = {m: _imports(m) for m in MODULES}


def _floor(module):
    best = None
    for prefix, floor in FLOORS.items():
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, floor)
    return best[1] if best else 4


def _cycles(function_level: bool):
    graph = {m: {t for t, _, fn in IMPORTS[m][0] if function_level or not fn} for m in MODULES}
    # a package's __init__ is run when any of its submodules is imported: an edge submodule -> package
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in MODULES:
        if v not in index:
            strong(v)
    return comps


def test_no_import_cycles_at_module_level():
    assert _cycles(function_level=False) == []


def test_no_import_cycles_counting_function_level_imports():
    assert _cycles(function_level=True) == []


@pytest.mark.parametrize("floor_prefix", CHECKED_FLOORS)
def test_lower_floors_import_nothing_above_them(floor_prefix):
    bad = []
    for module, (imports, _) in IMPORTS.items():
        if not (module == floor_prefix or module.startswith(floor_prefix + ".")):
            continue
        for target, line, _ in imports:
            if _floor(target) > _floor(module):
                bad.append(f"{module}:{line} -> {target} (floor {_floor(target)} > {_floor(module)})")
    assert not bad, "\n".join(bad)
