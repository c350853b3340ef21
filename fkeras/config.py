"""`fkeras.config`: global settings with Keras's names."""

from fkeras.backend import backend, epsilon, floatx, image_data_format, set_epsilon  # noqa: F401
from fkeras.nn.dtype_policies import dtype_policy, set_dtype_policy  # noqa: F401,E402
