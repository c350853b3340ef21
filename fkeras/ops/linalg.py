"""`fkeras.ops.linalg`: Keras 3's `keras.ops.linalg` linear algebra (the same functions as `fkeras.ops.NAME`)."""

# ruff: noqa: A004
from fkeras.ops import (  # noqa: F401
    cholesky,
    cholesky_inverse,
    det,
    eig,
    eigh,
    inv,
    jvp,
    lstsq,
    lu_factor,
    matrix_rank,
    norm,
    pinv,
    qr,
    solve,
    solve_triangular,
    svd,
)

__all__ = ["cholesky", "cholesky_inverse", "det", "eig", "eigh", "inv", "jvp", "lstsq", "lu_factor", "matrix_rank", "norm", "pinv", "qr", "solve", "solve_triangular", "svd"]
