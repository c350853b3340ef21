"""`fkeras.utils`: Keras's utilities (`keras.utils`).

Names load on first use; `PyDataset` needs neither JAX nor any other framework.
"""

import importlib

_NAMES = {
    "PyDataset": "fkeras.utils.py_dataset",
    "Sequence": "fkeras.utils.py_dataset",
    "to_categorical": "fkeras.utils.numerical_utils",
    "normalize": "fkeras.utils.numerical_utils",
    "set_random_seed": "fkeras.utils.rng_utils",
    "get_random_seed": "fkeras.utils.rng_utils",
    "pack_x_y_sample_weight": "fkeras.interop.data.base",
    "unpack_x_y_sample_weight": "fkeras.interop.data.base",
    "pad_sequences": "fkeras.utils.sequence_utils",
}
# Defined by other fkeras packages; re-exported here under Keras's names when present.
_ELSEWHERE = {
    "Progbar": "fkeras.callbacks.progbar",
}


def __getattr__(name):
    module = _NAMES.get(name) or _ELSEWHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'fkeras.utils' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_NAMES))
