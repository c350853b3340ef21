"""`draw_bounding_boxes` and `draw_segmentation_masks`: Keras 3.15's drawing on a batch of images,
returned as NumPy arrays. Boxes are drawn with OpenCV (`cv2.rectangle`/`cv2.putText`), as Keras draws
them, so the pixels are Keras's."""

from __future__ import annotations

import importlib

import numpy as np

from fkeras import backend, ops
from fkeras.nn.image_preprocessing.bounding_boxes import convert_format
from fkeras.runtime.extras import MissingExtraError

_DISTRIBUTIONS = {"cv2": "opencv-python-headless", "matplotlib": "matplotlib"}


def require(module, feature):
    """Import `module` (cv2, matplotlib...) or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        top = module.split(".")[0]
        if e.name is not None and e.name.split(".")[0] != top:
            raise
        raise MissingExtraError(f"{feature} needs {_DISTRIBUTIONS[top]}, which is not installed: "
                                'pip install "fkeras[visualization]"', name=top) from None


def _batched(images, what="images"):
    shape = tuple(ops.shape(images))
    if len(shape) != 4:
        raise ValueError(f"`{what}` must be batched 4D tensor. Received: {what}.shape={shape}")
    return shape


def _numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def _text_origin(x, y, font_scale, thickness):
    """Where Keras puts a box's label: above the box when there is room, else inside it."""
    font_height = int(font_scale * 12)
    if y - 8 - 2 * font_height > 0:
        return x, y - 8
    return x + 3, y + 2 * font_height + thickness + 3


def draw_bounding_boxes(images, bounding_boxes, bounding_box_format, class_mapping=None, color=(128, 128, 128),
                        line_thickness=2, text_thickness=1, font_scale=1.0, data_format=None):
    """Draw `bounding_boxes` ({"boxes": (N, B, 4), "labels": (N, B), "confidences"?: (N, B)}) on `images`
    (N, H, W, C), skipping label -1; labels in `class_mapping` are written above their boxes (with the
    confidence). Float images are read as [0, 1] when their max is <= 1, else [0, 255]. Returns uint8
    (N, H, W, C) (channels_first input: (N, C, H, W))."""
    cv2 = require("cv2", "keras.visualization.draw_bounding_boxes")
    class_mapping = class_mapping or {}
    text_thickness = text_thickness or line_thickness
    data_format = data_format or backend.image_data_format()
    shape = _batched(images)
    if not isinstance(bounding_boxes, dict):
        raise TypeError(f"`bounding_boxes` should be a dict. Received: bounding_boxes={bounding_boxes} of type "
                        f"{type(bounding_boxes)}")
    if "boxes" not in bounding_boxes or "labels" not in bounding_boxes:
        raise ValueError("`bounding_boxes` should be a dict containing 'boxes' and 'labels' keys. Received: "
                         f"bounding_boxes={bounding_boxes}")
    first = data_format == "channels_first"
    height, width = (shape[2], shape[3]) if first else (shape[1], shape[2])
    boxes = _numpy(convert_format(bounding_boxes["boxes"], bounding_box_format, "xyxy", height, width))
    labels = _numpy(bounding_boxes["labels"])
    confidences = _numpy(bounding_boxes["confidences"]) if "confidences" in bounding_boxes else None
    images = _numpy(images)
    if first:
        images = images.transpose(0, 2, 3, 1)
    if images.dtype.kind == "f" and images.size > 0:
        images = np.clip(images, 0, 1) * 255 if images.max() <= 1.0 else np.clip(images, 0, 255)
    images = np.ascontiguousarray(images.astype("uint8"))
    for i, image in enumerate(images):
        for j, box in enumerate(boxes[i]):
            c = int(labels[i][j].astype("int32"))
            if c == -1:
                continue
            x1, y1, x2, y2 = (int(v) for v in box.astype("int32"))
            cv2.rectangle(image, (x1, y1), (x2, y2), color, line_thickness)
            if c in class_mapping:
                label = class_mapping[c]
                if confidences is not None:
                    label = f"{label} | {confidences[i][j]:.2f}"
                cv2.putText(img=image, text=label, org=_text_origin(x1, y1, font_scale, text_thickness),
                            fontFace=cv2.FONT_HERSHEY_SIMPLEX, fontScale=font_scale, color=color,
                            thickness=text_thickness)
    return images.transpose(0, 3, 1, 2) if first else images


def _palette(num_classes):
    base = np.array([2 ** 25 - 1, 2 ** 15 - 1, 2 ** 21 - 1])
    return [((i * base) % 255).tolist() for i in range(num_classes)]


def draw_segmentation_masks(images, segmentation_masks, num_classes=None, color_mapping=None, alpha=0.8, blend=True,
                            ignore_index=-1, data_format=None):
    """Colour each pixel of `images` (N, H, W, C) by its class in the integer `segmentation_masks`
    (N, H, W, 1): class i gets `color_mapping[i]` (else Keras's palette); with `blend`, mixed as
    `(1 - alpha) * image + alpha * colour` where the mask is not `ignore_index`, as uint8; without,
    the coloured images as float32. Channels_first inputs are read as (N, C, H, W); the result is
    channels_last, as Keras's."""
    data_format = data_format or backend.image_data_format()
    _batched(images)
    images, masks = _numpy(images), _numpy(segmentation_masks)
    if data_format == "channels_first":
        images, masks = images.transpose(0, 2, 3, 1), masks.transpose(0, 2, 3, 1)
    images = images.astype("float32")
    if masks.dtype.kind not in "iu":
        raise TypeError(f"`segmentation_masks` must be in integer dtype. Received: segmentation_masks.dtype="
                        f"{backend.standardize_dtype(masks.dtype)}")
    if masks.shape[:3] != images.shape[:3] or masks.shape[-1] != 1:
        raise ValueError(f"`segmentation_masks` must be (N, H, W, 1) for images {images.shape}; received "
                         f"{masks.shape}.")
    if num_classes is None:
        num_classes = int(masks.max())
    colors = _palette(num_classes) if color_mapping is None else [color_mapping[i] for i in range(num_classes)]
    valid = (masks != ignore_index)[..., 0]
    drawn = images.copy()
    for i, color in enumerate(colors):
        drawn[masks[..., 0] == i] = np.array(color, dtype=drawn.dtype)[None, :]
    if not blend:
        return drawn
    out = images * (1 - alpha) + drawn * alpha
    return np.where(valid[..., None], out, images).astype("uint8")
