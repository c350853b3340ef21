"""`fkeras.config`: global settings with Keras's names."""

from fkeras.backend import backend, epsilon, floatx, image_data_format, set_epsilon  # noqa: F401
