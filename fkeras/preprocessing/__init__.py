"""`fkeras.preprocessing`: Keras's `keras.preprocessing` namespace (the dataset functions, `image`, `sequence`)."""

from fkeras.preprocessing import image, sequence  # noqa: F401
from fkeras.utils.image_dataset_utils import image_dataset_from_directory  # noqa: F401
from fkeras.utils.text_dataset_utils import text_dataset_from_directory  # noqa: F401
from fkeras.utils.timeseries_dataset_utils import timeseries_dataset_from_array  # noqa: F401

__all__ = ["image", "sequence", "image_dataset_from_directory", "text_dataset_from_directory",
           "timeseries_dataset_from_array"]
