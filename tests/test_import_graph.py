"""The house has floors, and every room of `fkeras/` stands on one: a room imports only rooms on lower floors.

A room is a top-level module or package of `fkeras` (`fkeras.nn`, `fkeras.data`, `fkeras.config`, ...): what
is inside it may import itself freely. Parsed from the source (no import is executed), counting function-level
imports as well as module-level ones; optional frameworks (torch, tensorflow, PIL, ...) are not rooms of this
house, so importing them is never an upward arrow. Also: no import cycle between modules; an fkeras import inside
a function (another room's or its own) only where that module loads an optional framework; and FLOORS lists every room and no
other, so a new room has to be placed before it can be imported.
"""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = ROOT / "fkeras"

FLOORS = {
    # the package itself: `__version__`, and every other name handed on lazily (importlib), so it imports nothing
    "fkeras": 1,
    # the math vocabulary; the host process (console, seeds, tracebacks, optional packages)
    "fkeras.ops": 1, "fkeras.tree": 1, "fkeras.runtime": 1,
    # global settings (floatx, image format) and explicit randomness, over ops
    "fkeras.backend": 2, "fkeras.random": 2,
    # pure layers; the data fit reads (adapters, PyDataset, DLPack conversion)
    "fkeras.nn": 3, "fkeras.data": 3,
    # the Keras names of the nn families; device meshes and layouts
    "fkeras.activations": 4, "fkeras.initializers": 4, "fkeras.regularizers": 4, "fkeras.constraints": 4,
    "fkeras.quantizers": 4, "fkeras.dtype_policies": 4, "fkeras.distribution": 4,
    # the pure training engine
    "fkeras.train": 5,
    # the Keras names of the training pieces; the file formats
    "fkeras.losses": 6, "fkeras.metrics": 6, "fkeras.optimizers": 6, "fkeras.mixed_precision": 6,
    "fkeras.saving": 6,
    # the facade's layers; TrainState checkpoints
    "fkeras.layers": 7, "fkeras.io": 7,
    # beside the facade: callbacks, the other frameworks (shims, torch engine, wrapped foreign layers)
    "fkeras.callbacks": 8, "fkeras.interop": 8,
    "fkeras.export": 9,
    "fkeras.models": 10,
    # keras.utils: plot_model, FeatureSpace, get_file, the dataset utilities
    "fkeras.utils": 11,
    # namespaces built on all of the above, which nothing imports
    "fkeras.applications": 12, "fkeras.datasets": 12, "fkeras.preprocessing": 12, "fkeras.config": 12,
    "fkeras.visualization": 12,
}


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


def _imports(module, source=None):
    """[(imported fkeras module, lineno, function_level)] of `module` (its file, or `source` when given)."""
    path = MODULES.get(module, PKG / "_.py")
    tree = ast.parse(path.read_text() if source is None else source)
    found = []

    def visit(node, depth):
        for child in ast.iter_child_nodes(node):
            d = depth + isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            targets = []
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(module, path.name == "__init__.py", child)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in child.names]
            for t in targets:
                if t.split(".")[0] == "fkeras":
                    k = _known(t)
                    if k and k != module:
                        found.append((k, child.lineno, d > 0))
            visit(child, d)

    visit(tree, 0)
    return found


IMPORTS = {m: _imports(m) for m in MODULES}


def _room(module):
    return ".".join(module.split(".")[:2])

_MODULE_NAME = re.compile(r"fkeras(\.[A-Za-z_]\w*)+\Z")
_ENTRANCE = "fkeras"  # the top-level package hands every namespace on lazily: its lookups may point anywhere


def _is_import_call(node):
    func = node.func
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id in ("import_module", "__import__"))


def _named(text):
    """The fkeras module a lookup string names (its longest known prefix), or None when it names no room."""
    known = _known(text)
    return known if known and known != _ENTRANCE else None


def _string_lookups(module, source=None):
    """[(named fkeras module or None, lineno, what)] of `module`'s lookups by name, which no import statement shows.

    In a module that calls `importlib.import_module` / `__import__`, every `"fkeras...."` string and every f-string
    with an `fkeras.` head (named by its head: `f"fkeras.io.{x}"` names `fkeras.io`; None when the head names no
    room, `f"fkeras.{x}"`) is a lookup, wherever it stands (an argument, a loop's tuple); in any module, the
    `"fkeras...."` strings of a module-level dict/tuple/list/set are (a lazy table, `{"Trainer": "fkeras.train.trainer"}`)."""
    path = MODULES.get(module, PKG / "_.py")
    tree = ast.parse(path.read_text() if source is None else source)
    found = []

    def strings(root):
        for node in ast.walk(root):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_NAME.match(node.value):
                yield _named(node.value), node.lineno, repr(node.value)
            elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
                head = str(node.values[0].value)
                if head.startswith(_ENTRANCE + ".") and _MODULE_NAME.match(head.rstrip(".") or "-") or \
                        head == _ENTRANCE + ".":
                    yield _named(head.rstrip(".")), node.lineno, ast.unparse(node)

    if any(isinstance(n, ast.Call) and _is_import_call(n) for n in ast.walk(tree)):
        found += strings(tree)
    else:
        for node in tree.body:
            value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
            if isinstance(value, (ast.Dict, ast.Tuple, ast.List, ast.Set)):
                found += strings(value)
    return sorted(set(found), key=lambda f: (f[1], f[2]))


LOOKUPS = {m: _string_lookups(m) for m in MODULES if _room(m) != _ENTRANCE}


def _upward_lookups(room, lookups_of):
    bad = []
    for module, lookups in lookups_of.items():
        if _room(module) != room:
            continue
        for target, line, what in lookups:
            if target is None:
                bad.append(f"{module}:{line} -> {what} (a lookup by name that names no room)")
            elif _room(target) != room and FLOORS[_room(target)] >= FLOORS[room]:
                bad.append(f"{module}:{line} -> {target} (string lookup {what}; floor {FLOORS[_room(target)]} >= "
                           f"{FLOORS[room]})")
    return sorted(set(bad))


def _cycles(function_level: bool):
    graph = {m: {t for t, _, fn in IMPORTS[m] if function_level or not fn} for m in MODULES}
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


def test_floors_name_every_room_and_no_other():
    rooms = {_room(m) for m in MODULES}
    assert sorted(rooms - set(FLOORS)) == [], "rooms without a floor: place them in FLOORS"
    assert sorted(set(FLOORS) - rooms) == [], "FLOORS names rooms that no longer exist"


def test_no_import_cycles_at_module_level():
    assert _cycles(function_level=False) == []


def test_no_import_cycles_counting_function_level_imports():
    assert _cycles(function_level=True) == []


def _upward(room, imports_of):
    bad = []
    for module, imports in imports_of.items():
        if _room(module) != room:
            continue
        for target, line, function_level in imports:
            there = _room(target)
            if there != room and FLOORS[there] >= FLOORS[room]:
                kind = "function-level" if function_level else "module-level"
                bad.append(f"{module}:{line} -> {target} ({kind}; floor {FLOORS[there]} >= {FLOORS[room]})")
    return sorted(set(bad))


@pytest.mark.parametrize("room", sorted(FLOORS))
def test_room_imports_only_lower_floors(room):
    """Module- and function-level imports alike: an import from a room to one on its own floor or higher is an
    arrow that runs back up (a lower floor that needs something above gets a hook it registers instead)."""
    bad = _upward(room, IMPORTS)
    assert not bad, "\n".join(bad)


_FRAMEWORKS = ("torch", "tensorflow", "flax")


def _loads_a_framework(module):
    """True when importing `module` imports torch/TensorFlow/flax: a module-level import of one, or a module-level
    `require(...)` / `import_tensorflow(...)` (fkeras.runtime.extras) call."""
    for node in ast.parse(MODULES[module].read_text()).body:
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        elif isinstance(node, (ast.Assign, ast.Expr)) and isinstance(node.value, ast.Call):
            func = node.value.func
            if getattr(func, "id", getattr(func, "attr", None)) in ("require", "import_tensorflow"):
                return True
        if any(n.split(".")[0] in _FRAMEWORKS for n in names):
            return True
    return False


def test_function_level_imports_only_keep_a_framework_lazy():
    """An fkeras import inside a function (across rooms or inside one) is there only because the module it loads
    imports an optional framework (the torch / TF kernels and shims); everything else is imported at module level,
    where the floors and the cycle check see it."""
    bad = [f"{m}:{line} -> {t}" for m, imports in IMPORTS.items() for t, line, fn in imports
           if fn and not _loads_a_framework(t)]
    assert not bad, "\n".join(bad)


def test_an_upward_import_is_caught():
    """The check itself: a function-level import of the facade from nn, and a same-floor import, are reported;
    optional frameworks and imports inside the room are not."""
    source = ("import torch\nfrom fkeras.nn import base\nfrom . import core\n\n\ndef f():\n"
              "    from fkeras.models import Model\n    import fkeras.data.adapters\n")
    imports = {"fkeras.nn.probe": _imports("fkeras.nn.probe", source)}
    assert [(t, fn) for t, _, fn in imports["fkeras.nn.probe"]] == [
        ("fkeras.nn.base", False), ("fkeras.nn.core", False), ("fkeras.models", True), ("fkeras.data.adapters", True)]
    assert _loads_a_framework("fkeras.interop.torch") and not _loads_a_framework("fkeras.nn.base")
    assert _upward("fkeras.nn", imports) == [
        "fkeras.nn.probe:7 -> fkeras.models (function-level; floor 10 >= 3)",
        "fkeras.nn.probe:8 -> fkeras.data.adapters (function-level; floor 3 >= 3)"]


@pytest.mark.parametrize("room", sorted(set(FLOORS) - {_ENTRANCE}))
def test_room_looks_up_by_name_only_lower_floors(room):
    """The same floors for lookups no import statement shows: `importlib.import_module("fkeras....")` and lazy tables
    of module names. A room that needs a name from above learns it by a hook the room above registers, or asks the
    entrance package (`fkeras.<namespace>`, which hands every namespace on)."""
    bad = _upward_lookups(room, LOOKUPS)
    assert not bad, "\n".join(bad)


def test_string_lookups_are_read():
    """The check itself: literals, f-strings by their head and module-level tables are read (and placed); a lookup of
    the facade from nn, and one whose f-string names no room, are reported; a same-room lookup is not."""
    source = ('import importlib\n_LAZY = {"A": "fkeras.layers.core", "B": ("fkeras.nn.base",)}\nNOTE = "fkeras.x y"\n'
              '\n\ndef f(name):\n    importlib.import_module("fkeras.models")\n    importlib.import_module(f"fkeras.{name}")\n'
              '    return __import__(f"fkeras.nn.{name}")\n')
    lookups = {"fkeras.nn.probe": _string_lookups("fkeras.nn.probe", source)}
    assert [(t, line) for t, line, _ in lookups["fkeras.nn.probe"]] == [
        ("fkeras.layers.core", 2), ("fkeras.nn.base", 2), ("fkeras.models", 7), (None, 8), ("fkeras.nn", 9)]
    table_only = _string_lookups("fkeras.nn.probe", '_T = ("fkeras.models",)\n\n\ndef f():\n    return "fkeras.data"\n')
    assert [t for t, _, _ in table_only] == ["fkeras.models"]  # no lookup call: only the module-level table counts
    assert _upward_lookups("fkeras.nn", lookups) == [
        "fkeras.nn.probe:2 -> fkeras.layers.core (string lookup 'fkeras.layers.core'; floor 7 >= 3)",
        "fkeras.nn.probe:7 -> fkeras.models (string lookup 'fkeras.models'; floor 10 >= 3)",
        "fkeras.nn.probe:8 -> f'fkeras.{name}' (a lookup by name that names no room)"]
    # and fkeras's own lazy tables are found: a downward one of utils, same-room ones of ops and train
    assert ("fkeras.nn.image_preprocessing.bounding_boxes" in
            [t for t, _, _ in LOOKUPS["fkeras.utils.bounding_boxes"]])
    assert "fkeras.ops._sparse_jax" in [t for t, _, _ in LOOKUPS["fkeras.ops._sparse"]]
    assert "fkeras.train.trainer" in [t for t, _, _ in LOOKUPS["fkeras.train"]]
