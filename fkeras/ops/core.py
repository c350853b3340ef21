"""`fkeras.ops.core`: Keras 3's `keras.ops.core` core ops and control flow (the same functions as `fkeras.ops.NAME`)."""

# ruff: noqa: A004
from fkeras.ops import (  # noqa: F401
    associative_scan,
    cast,
    cond,
    convert_to_numpy,
    convert_to_tensor,
    custom_gradient,
    dtype,
    fori_loop,
    is_tensor,
    map,
    saturate_cast,
    scan,
    scatter,
    scatter_update,
    shape,
    slice,
    slice_update,
    stop_gradient,
    switch,
    unstack,
    vectorized_map,
    while_loop,
)

__all__ = ["associative_scan", "cast", "cond", "convert_to_numpy", "convert_to_tensor", "custom_gradient", "dtype", "fori_loop", "is_tensor", "map", "saturate_cast", "scan", "scatter", "scatter_update", "shape", "slice", "slice_update", "stop_gradient", "switch", "unstack", "vectorized_map", "while_loop"]
