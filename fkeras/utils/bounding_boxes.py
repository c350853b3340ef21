"""`fkeras.utils.bounding_boxes` (Keras's `keras.utils.bounding_boxes`): box format conversion, clipping,
cropping, padding, affine moves, IoU/CIoU and anchor delta encoding. The math lives in
`fkeras.nn.image_preprocessing.bounding_boxes`; its names load on first use, so `fkeras.utils` stays cheap."""

import importlib

__all__ = ["affine_transform", "clip_to_image_size", "compute_ciou", "compute_iou", "convert_format", "crop",
           "decode_deltas_to_boxes", "encode_box_to_deltas", "pad"]


def __getattr__(name):
    if name not in __all__:
        raise AttributeError(f"module 'fkeras.utils.bounding_boxes' has no attribute {name!r}")
    value = getattr(importlib.import_module("fkeras.nn.image_preprocessing.bounding_boxes"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
