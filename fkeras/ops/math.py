"""`fkeras.ops.math`: Keras 3's `keras.ops.math` math ops (the same functions as `fkeras.ops.NAME`)."""

# ruff: noqa: A004
from fkeras.ops import (  # noqa: F401
    cdist,
    erf,
    erfc,
    erfinv,
    extract_sequences,
    fft,
    fft2,
    ifft2,
    in_top_k,
    irfft,
    istft,
    logdet,
    logsumexp,
    rfft,
    rsqrt,
    segment_max,
    segment_min,
    segment_prod,
    segment_sum,
    stft,
    top_k,
    view_as_complex,
    view_as_real,
)

__all__ = ["cdist", "erf", "erfc", "erfinv", "extract_sequences", "fft", "fft2", "ifft2", "in_top_k", "irfft", "istft", "logdet", "logsumexp", "rfft", "rsqrt", "segment_max", "segment_min", "segment_prod", "segment_sum", "stft", "top_k", "view_as_complex", "view_as_real"]
