"""Files written whole or not at all: a temporary file beside the target, flushed to disk, then renamed over it."""

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_write(path, prefix, suffix="", verify=None):
    """Yield a binary file for `path`'s new content; leaving the block fsyncs and closes it, runs
    `verify(temporary path)` (which raises to refuse the file) and moves it over `path` (`os.replace`).

    The temporary file (`prefix` + random + `suffix`, in `path`'s folder, which must exist) is removed on
    any error, so a failed write, a failed check or a crash before the rename leaves `path` as it was.
    """
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        if verify is not None:
            verify(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
