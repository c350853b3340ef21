"""`fkeras.interop.dlpack`: zero-copy array conversion between JAX, torch, TF and NumPy (`to_jax`, `to_torch`,
`to_tf`, `to_numpy`); defined in `fkeras.data.dlpack`, where the data adapters use it too."""

from fkeras.data.dlpack import __all__, to_jax, to_numpy, to_tf, to_torch  # noqa: F401
