"""`fkeras.io`: orbax checkpoints of the TrainState (`fkeras.io.checkpoint`). The checkpoint callbacks
live in `fkeras.callbacks`; `.keras` archives in `fkeras.saving`; datasets in `fkeras.datasets`."""

from fkeras.runtime.lazy import lazy_attributes as _lazy_attributes

_SUBMODULES = {"checkpoint"}


__getattr__, __dir__ = _lazy_attributes(globals(), submodules=_SUBMODULES)
