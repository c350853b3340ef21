"""Keras's `name_scope`: the stack of names that prefixes variable paths (`sequential/dense/kernel`).

A layer opens a scope under its own name when it is built or called; a weight created inside gets
the joined names as its `path`. A layer remembers the path around it when it is first called or
built (`_fk_parent_path`) and reopens its scope there later, so a layer built inside a Sequential
keeps `sequential/dense` when a Functional model calls it again (Keras 3.15's rule).
"""

from __future__ import annotations

import threading

import jax


class _Local(threading.local):
    def __init__(self):
        self.stack = []


_local = _Local()


class name_scope:
    """`with fkeras.name_scope("block"):` prefixes the paths of variables created inside with `block/`.

    `caller`: the object opening the scope (a layer); reopening the innermost scope with the same
    name and caller adds nothing (`deduplicate`). `override_parent`: an absolute path the scope sits
    under instead of the enclosing ones (default: the caller's remembered parent path). The scope also
    names the JAX operations traced inside (`jax.named_scope`), as Keras's JAX backend does.
    """

    def __init__(self, name, caller=None, deduplicate=True, override_parent=None):
        if not isinstance(name, str) or "/" in name:
            raise ValueError(f"Argument `name` must be a string and cannot contain character `/`. Received: "
                             f"name={name}")
        self.name = name
        self.caller = caller
        self.deduplicate = deduplicate
        if override_parent is None and deduplicate and caller is not None:
            override_parent = getattr(caller, "_fk_parent_path", None)
        self.override_parent = override_parent
        self._pop_on_exit = False
        self._jax_scope = None

    def __enter__(self):
        stack = _local.stack
        if self.deduplicate and stack and self.caller is not None and stack[-1].caller is self.caller \
                and stack[-1].name == self.name:
            return self
        stack.append(self)
        self._pop_on_exit = True
        if self.name:
            self._jax_scope = jax.named_scope(self.name)
            self._jax_scope.__enter__()
        return self

    def __exit__(self, *exc):
        if self._pop_on_exit:
            self._pop_on_exit = False
            if self._jax_scope is not None:
                self._jax_scope.__exit__(*exc)
                self._jax_scope = None
            stack = _local.stack
            if stack and stack[-1] is self:
                stack.pop()
            elif self in stack:
                stack.remove(self)


def current_path() -> str:
    """The joined names of the open scopes ("" outside any)."""
    parts = []
    for entry in _local.stack:
        if entry.override_parent is not None:
            parts = [p for p in entry.override_parent.split("/") if p]
        parts.append(entry.name)
    return "/".join(p for p in parts if p)


def join(*parts) -> str:
    """`"a/b" + "c"` → `"a/b/c"` (empty parts skipped)."""
    return "/".join(p for p in parts if p)
