"""Artifacts are written whole or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile


def atomic_path(filepath, write):
    """Run `write(tmp)` on a sibling temporary path, then move it onto `filepath` (a file or a folder):
    a failed export leaves any earlier artifact untouched and no partial one."""
    filepath = os.fspath(filepath)
    parent = os.path.dirname(os.path.abspath(filepath))
    if os.path.exists(parent) and not os.path.isdir(parent):
        raise FileExistsError(f"Cannot export to '{filepath}': its parent '{parent}' is a file, not a folder.")
    os.makedirs(parent, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix=".fkeras-export-", dir=parent)
    try:
        tmp = os.path.join(tmp_dir, os.path.basename(filepath) or "artifact")
        write(tmp)
        if os.path.lexists(filepath) and os.path.isdir(filepath) != os.path.isdir(tmp):
            kind = "folder" if os.path.isdir(filepath) else "file"
            raise FileExistsError(f"Cannot export to '{filepath}': a {kind} of that name exists and this artifact "
                                  f"is a {'folder' if os.path.isdir(tmp) else 'file'}; nothing was replaced.")
        if os.path.isdir(filepath) and not os.path.islink(filepath):
            previous = os.path.join(tmp_dir, "previous")
            os.replace(filepath, previous)
            try:
                os.replace(tmp, filepath)
            except BaseException:
                os.replace(previous, filepath)
                raise
        else:
            os.replace(tmp, filepath)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return filepath
