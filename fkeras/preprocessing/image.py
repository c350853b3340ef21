"""`fkeras.preprocessing.image`: Keras's image file helpers and `smart_resize`."""

from fkeras.utils.image_utils import array_to_img, img_to_array, load_img, save_img, smart_resize  # noqa: F401

__all__ = ["array_to_img", "img_to_array", "load_img", "save_img", "smart_resize"]
