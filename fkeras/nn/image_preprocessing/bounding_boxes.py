"""Bounding-box math (Keras 3.15's `keras.utils.bounding_boxes`), over `fkeras.ops`.

Boxes are arrays (N, 4) or (batch, N, 4) in one of `SUPPORTED_FORMATS`; a "bounding boxes" dict holds
`{"boxes": (..., N, 4), "labels": (..., N)}`. Formats (case-insensitive):
`xyxy` [left, top, right, bottom], `yxyx` [top, left, bottom, right], `xywh` [left, top, width, height],
`center_xywh` [cx, cy, width, height], `center_yxhw` [cy, cx, height, width], and the relative
`rel_xyxy`, `rel_yxyx`, `rel_xywh`, `rel_center_xywh` (fractions of the image `height`/`width`).
Every conversion goes through `xyxy`, in the same order of operations as Keras, so the numbers agree.
"""

from __future__ import annotations

import math

import numpy as np

from fkeras import backend, ops

SUPPORTED_FORMATS = ("xyxy", "yxyx", "xywh", "center_xywh", "center_yxhw", "rel_xyxy", "rel_yxyx", "rel_xywh",
                     "rel_center_xywh")

__all__ = ["affine_transform", "clip_to_image_size", "compute_ciou", "compute_iou", "convert_format", "crop",
           "decode_deltas_to_boxes", "encode_box_to_deltas", "pad"]


def _size(v, dtype):
    """An image size as a Python float (any framework takes it) or, for an array, cast to `dtype`."""
    return float(v) if isinstance(v, (int, float, np.integer, np.floating)) else ops.cast(v, dtype)


def _split4(boxes):
    return ops.split(boxes, 4, axis=-1)


def _cat(parts):
    return ops.concatenate(parts, axis=-1)


def _to_xyxy(fmt, boxes, height, width):
    a, b, c, d = _split4(boxes)
    if fmt == "xyxy":
        return boxes
    if fmt == "yxyx":
        return _cat([b, a, d, c])
    if fmt == "xywh":
        return _cat([a, b, a + c, b + d])
    if fmt == "center_xywh":
        hw, hh = c / 2.0, d / 2.0
        return _cat([a - hw, b - hh, a + hw, b + hh])
    if fmt == "center_yxhw":
        hw, hh = d / 2.0, c / 2.0
        return _cat([b - hw, a - hh, b + hw, a + hh])
    if fmt == "rel_xyxy":
        return _cat([a * width, b * height, c * width, d * height])
    if fmt == "rel_yxyx":
        return _cat([b * width, a * height, d * width, c * height])
    if fmt == "rel_xywh":
        return _cat([a * width, b * height, (a + c) * width, (b + d) * height])
    # rel_center_xywh
    hw, hh = c / 2.0, d / 2.0
    return _cat([(a - hw) * width, (b - hh) * height, (a + hw) * width, (b + hh) * height])


def _from_xyxy(fmt, boxes, height, width):
    x1, y1, x2, y2 = _split4(boxes)
    if fmt == "xyxy":
        return boxes
    if fmt == "yxyx":
        return _cat([y1, x1, y2, x2])
    if fmt == "xywh":
        return _cat([x1, y1, x2 - x1, y2 - y1])
    if fmt in ("center_xywh", "center_yxhw"):
        cx, cy = x1 + ((x2 - x1) / 2.0), y1 + ((y2 - y1) / 2.0)
        w, h = x2 - x1, y2 - y1
        return _cat([cx, cy, w, h] if fmt == "center_xywh" else [cy, cx, h, w])
    if fmt in ("rel_xyxy", "rel_yxyx"):
        rx1, ry1 = ops.divide(x1, width), ops.divide(y1, height)
        rx2, ry2 = ops.divide(x2, width), ops.divide(y2, height)
        return _cat([rx1, ry1, rx2, ry2] if fmt == "rel_xyxy" else [ry1, rx1, ry2, rx2])
    if fmt == "rel_xywh":
        return _cat([x1 / width, y1 / height, (x2 - x1) / width, (y2 - y1) / height])
    # rel_center_xywh
    return _cat([(x1 + ((x2 - x1) / 2.0)) / width, (y1 + ((y2 - y1) / 2.0)) / height, (x2 - x1) / width,
                 (y2 - y1) / height])


def convert_format(boxes, source, target, height=None, width=None, dtype="float32"):
    """Convert boxes (..., 4) from format `source` to `target` (see the module docstring); `height`/`width`
    are needed when either format is relative. A dict's `"boxes"` are converted (a new dict is returned).
    The result is cast to `dtype`."""
    if isinstance(boxes, dict):
        out = dict(boxes)
        out["boxes"] = convert_format(boxes["boxes"], source, target, height=height, width=width, dtype=dtype)
        return out
    shape = ops.shape(boxes)
    if not shape or shape[-1] != 4:
        raise ValueError(f"`boxes` must be a tensor with the last dimension of 4. Received: boxes.shape={shape}")
    source, target = str(source).lower(), str(target).lower()
    if source not in SUPPORTED_FORMATS or target not in SUPPORTED_FORMATS:
        raise ValueError(f"Invalid source or target format. Supported formats: {SUPPORTED_FORMATS}; received "
                         f"source={source!r}, target={target!r}.")
    if (source.startswith("rel_") or target.startswith("rel_")) and (width is None or height is None):
        raise ValueError("convert_format() must receive `height` and `width` transforming between relative and "
                         f"absolute formats. convert_format() received source=`{source}`, target=`{target}, but "
                         f"height={height} and width={width}.")
    boxes = ops.cast(boxes, dtype)
    if source == target:
        return boxes
    width = _size(width, dtype) if width is not None else None
    height = _size(height, dtype) if height is not None else None
    if source.startswith("rel_") and target.startswith("rel_"):
        source, target = source[4:], target[4:]
    return _from_xyxy(target, _to_xyxy(source, boxes, height, width), height, width)


def _area_xyxy(boxes):
    x1, y1, x2, y2 = _split4(boxes)
    return (x2 - x1) * (y2 - y1)


def clip_to_image_size(bounding_boxes, height=None, width=None, bounding_box_format="xyxy"):
    """Clip `bounding_boxes["boxes"]` ("xyxy" or "rel_xyxy") to the image: [0, width] x [0, height] (or
    [0, 1]); labels of boxes left with no area become -1. Returns a new dict."""
    if bounding_box_format not in ("xyxy", "rel_xyxy"):
        raise NotImplementedError(f"clip_to_image_size supports bounding_box_format 'xyxy' and 'rel_xyxy'; got "
                                  f"{bounding_box_format!r}.")
    if bounding_box_format == "xyxy" and (height is None or width is None):
        raise ValueError("`height` and `width` must be set if `format='xyxy'`.")
    if not isinstance(bounding_boxes, dict) or "boxes" not in bounding_boxes:
        raise ValueError(f"expected `bounding_boxes` as a dict with 'boxes' (and 'labels'); got {bounding_boxes!r}.")
    boxes = ops.convert_to_tensor(bounding_boxes["boxes"])
    labels = bounding_boxes.get("labels", None)
    dtype = ops.dtype(boxes)
    hi_x = 1.0 if bounding_box_format == "rel_xyxy" else _size(width, dtype)
    hi_y = 1.0 if bounding_box_format == "rel_xyxy" else _size(height, dtype)
    x1, y1, x2, y2 = _split4(boxes)
    boxes = _cat([ops.clip(x1, 0, hi_x), ops.clip(y1, 0, hi_y), ops.clip(x2, 0, hi_x), ops.clip(y2, 0, hi_y)])
    if labels is not None:
        areas = ops.squeeze(_area_xyxy(boxes), axis=-1)
        labels = ops.where(areas > 0, labels, -1)
    result = dict(bounding_boxes)
    result["boxes"] = boxes
    if labels is not None:
        result["labels"] = labels
    return result


def _inverse_affine_matrix(center_x, center_y, angle, translate_x, translate_y, scale, shear_x, shear_y, height,
                           width):
    """(batch, 3, 3) inverse of the rotate/scale/shear/translate map (torchvision's `_get_inverse_affine_matrix`)."""
    batch = ops.shape(angle)[0]
    dtype = ops.dtype(angle)
    angle, shear_x, shear_y = -angle, -shear_x, -shear_y
    cx = ops.multiply(center_x, (width - 1))
    cy = ops.multiply(center_y, (height - 1))
    rot = ops.multiply(angle, 1.0 / 180.0 * math.pi)
    tx = ops.multiply(-translate_x, (width - 1))
    ty = ops.multiply(-translate_y, (height - 1))
    sx = ops.multiply(shear_x, 1.0 / 180.0 * math.pi)
    sy = ops.multiply(shear_y, 1.0 / 180.0 * math.pi)
    cos_sy, tan_sx = ops.cos(sy), ops.tan(sx)
    rot_minus_sy = rot - sy
    cx_plus_tx, cy_plus_ty = cx + tx, cy + ty
    a = ops.cos(rot_minus_sy) / cos_sy
    b = a * tan_sx + ops.sin(rot)
    c = -ops.sin(rot_minus_sy) / cos_sy
    d = ops.cos(rot) - c * tan_sx
    a0, a1 = ops.multiply(d, scale), ops.multiply(-b, scale)
    b0, b1 = ops.multiply(-c, scale), ops.multiply(a, scale)
    a2 = cx - a0 * cx_plus_tx - a1 * cy_plus_ty
    b2 = cy - b0 * cx_plus_tx - b1 * cy_plus_ty
    zeros, ones = ops.zeros_like(angle), ops.ones_like(angle)
    matrix = ops.stack([a0, a1, a2, b0, b1, b2, zeros, zeros, ones], axis=-1)
    return ops.reshape(matrix, [batch, 3, 3])


def affine_transform(boxes, angle, translate_x, translate_y, scale, shear_x, shear_y, height, width, center_x=None,
                     center_y=None, bounding_box_format="xyxy"):
    """Boxes (batch, N, 4) "xyxy" moved by an affine map per image (angle/shears in degrees, translations as
    fractions of the size, each (batch,)): the enclosing box of the four mapped corners, (batch, N, 4)."""
    if bounding_box_format != "xyxy":
        raise NotImplementedError(f"affine_transform supports bounding_box_format='xyxy' only; got "
                                  f"{bounding_box_format!r}.")
    shape = ops.shape(boxes)
    if len(shape) != 3 or shape[-1] != 4:
        raise ValueError(f"affine_transform expects boxes of shape (batch, num_boxes, 4); got {tuple(shape)}.")
    batch, n = shape[0], shape[1]
    angle = ops.convert_to_tensor(angle)
    matrix = _inverse_affine_matrix(0.5 if center_x is None else center_x, 0.5 if center_y is None else center_y,
                                    angle, translate_x, translate_y, scale, shear_x, shear_y, height, width)
    boxes = ops.cast(boxes, ops.dtype(matrix))
    transposed = ops.transpose(matrix[:, :2, :], [0, 2, 1])
    p = boxes
    points = ops.stack([p[..., 0], p[..., 1], p[..., 2], p[..., 1], p[..., 2], p[..., 3], p[..., 0], p[..., 3]],
                       axis=-1)
    points = ops.reshape(points, [batch, n, 4, 2])
    points = ops.concatenate([points, ops.ones_like(points[..., :1])], axis=-1)
    moved = ops.einsum("bnxy,byz->bnxz", points, transposed)
    return ops.concatenate([ops.amin(moved, axis=2), ops.amax(moved, axis=2)], axis=-1)


def crop(boxes, top, left, height, width, bounding_box_format="xyxy"):
    """Boxes "xyxy" (..., 4) in the frame of the crop at (`top`, `left`) of size (`height`, `width`), clipped
    to it."""
    if bounding_box_format != "xyxy":
        raise NotImplementedError(f"crop supports bounding_box_format='xyxy' only; got {bounding_box_format!r}.")
    x1, y1, x2, y2 = _split4(boxes)
    x1, y1, x2, y2 = x1 - left, y1 - top, x2 - left, y2 - top
    return _cat([ops.clip(x1, 0, width), ops.clip(y1, 0, height), ops.clip(x2, 0, width), ops.clip(y2, 0, height)])


def pad(boxes, top, left, height=None, width=None, bounding_box_format="xyxy"):
    """Boxes "xyxy" (..., 4) shifted by `top`/`left` pixels of padding (height/width unused, as in Keras)."""
    if bounding_box_format != "xyxy":
        raise NotImplementedError(f"pad supports bounding_box_format='xyxy' only; got {bounding_box_format!r}.")
    x1, y1, x2, y2 = _split4(boxes)
    return _cat([x1 + left, y1 + top, x2 + left, y2 + top])


def _check_variance(variance):
    if variance is None:
        return None
    variance = ops.convert_to_tensor(variance, "float32")
    if variance.shape[-1] != 4:
        raise ValueError(f"`variance` must be length 4, got {variance}")
    return variance


def _hw(image_shape):
    if image_shape is None:
        return None, None
    height, width, _ = image_shape
    return height, width


def encode_box_to_deltas(anchors, boxes, anchor_format, box_format, encoding_format="center_yxhw", variance=None,
                         image_shape=None):
    """Deltas (..., 4) of `boxes` against `anchors` (N, 4): centre offsets over the anchor size, then the log
    of the size ratios, in `encoding_format` order ("center_yxhw" or "center_xywh"), divided by `variance`."""
    variance = _check_variance(variance)
    if encoding_format not in ("center_xywh", "center_yxhw"):
        raise ValueError(f"`encoding_format` should be one of 'center_xywh' or 'center_yxhw', got {encoding_format}")
    height, width = _hw(image_shape)
    anchors = convert_format(anchors, anchor_format, encoding_format, height=height, width=width)
    boxes = convert_format(boxes, box_format, encoding_format, height=height, width=width)
    anchor_dims = ops.maximum(anchors[..., 2:], backend.epsilon())
    box_dims = ops.maximum(boxes[..., 2:], backend.epsilon())
    deltas = ops.concatenate([(boxes[..., :2] - anchors[..., :2]) / anchor_dims, ops.log(box_dims / anchor_dims)],
                             axis=-1)
    return deltas / variance if variance is not None else deltas


def decode_deltas_to_boxes(anchors, boxes_delta, anchor_format, box_format, encoded_format="center_yxhw",
                           variance=None, image_shape=None):
    """Inverse of `encode_box_to_deltas`: boxes (..., 4) in `box_format`. `anchors`/`boxes_delta` may be
    dicts of levels (same keys), giving a dict."""
    variance = _check_variance(variance)
    if encoded_format not in ("center_xywh", "center_yxhw"):
        raise ValueError(f"`encoded_format` should be 'center_xywh' or 'center_yxhw', but got '{encoded_format}'.")
    height, width = _hw(image_shape)

    def one_level(anchor, delta):
        anchor = convert_format(anchor, anchor_format, encoded_format, height=height, width=width)
        if variance is not None:
            delta = delta * variance
        box = ops.concatenate([delta[..., :2] * anchor[..., 2:] + anchor[..., :2],
                               ops.exp(delta[..., 2:]) * anchor[..., 2:]], axis=-1)
        return convert_format(box, encoded_format, box_format, height=height, width=width)

    if isinstance(anchors, dict) and isinstance(boxes_delta, dict):
        return {level: one_level(anchor, boxes_delta[level]) for level, anchor in anchors.items()}
    return one_level(anchors, boxes_delta)


def _rank(x, name):
    rank = len(ops.shape(x))
    if rank not in (2, 3):
        raise ValueError(f"compute_iou() expects {name} to be batched, or to be unbatched: rank 2 (N, 4) or 3 "
                         f"(batch, N, 4). Received len({name}.shape)={rank}.")
    return rank


def compute_iou(boxes1, boxes2, bounding_box_format, use_masking=False, mask_val=-1, image_shape=None):
    """Pairwise IoU of boxes1 (M, 4)/(B, M, 4) and boxes2 (N, 4)/(B, N, 4): (M, N) or (B, M, N). With
    `use_masking`, pairs where either box is all-negative get `mask_val`."""
    rank1, _ = _rank(boxes1, "boxes1"), _rank(boxes2, "boxes2")
    if "rel" in bounding_box_format and image_shape is None:
        raise ValueError("When using relative bounding box formats (e.g. `rel_yxyx`) the `image_shape` argument "
                         f"must be provided.Received `image_shape`: {image_shape}")
    height, width = _hw(image_shape)
    boxes1 = convert_format(boxes1, bounding_box_format, "yxyx", height=height, width=width)
    boxes2 = convert_format(boxes2, bounding_box_format, "yxyx", height=height, width=width)
    ymin1, xmin1, ymax1, xmax1 = _split4(boxes1[..., :4])
    ymin2, xmin2, ymax2, xmax2 = _split4(boxes2[..., :4])
    perm = [1, 0] if len(ops.shape(boxes2)) == 2 else [0, 2, 1]
    ih = ops.minimum(ymax1, ops.transpose(ymax2, perm)) - ops.maximum(ymin1, ops.transpose(ymin2, perm))
    iw = ops.minimum(xmax1, ops.transpose(xmax2, perm)) - ops.maximum(xmin1, ops.transpose(xmin2, perm))
    zero = ops.cast(0, ops.dtype(ih))
    intersection = ops.maximum(zero, ih) * ops.maximum(zero, iw)
    area1 = ops.squeeze((ymax1 - ymin1) * (xmax1 - xmin1), axis=-1)
    area2 = ops.squeeze((ymax2 - ymin2) * (xmax2 - xmin2), axis=-1)
    area1 = ops.expand_dims(area1, axis=-1)
    area2 = ops.expand_dims(area2, axis=1 if len(ops.shape(area2)) == 2 else 0)
    union = area1 + area2 - intersection
    iou = ops.divide(intersection, union + backend.epsilon())
    if not use_masking:
        return iou
    perm = [1, 0] if rank1 == 2 else [0, 2, 1]
    masked = ops.cast(mask_val, ops.dtype(iou)) * ops.ones_like(iou)
    mask1 = ops.less(ops.max(boxes1, axis=-1, keepdims=True), 0.0)
    mask2 = ops.less(ops.max(boxes2, axis=-1, keepdims=True), 0.0)
    return ops.where(ops.logical_or(mask1, ops.transpose(mask2, perm)), masked, iou)


def compute_ciou(boxes1, boxes2, bounding_box_format, image_shape=None):
    """Complete IoU of matching boxes (..., 4): IoU minus the normalised centre distance and the aspect-ratio
    penalty; shape (...)."""
    if "rel" in bounding_box_format:
        raise ValueError("When using relative bounding box formats (e.g. `rel_yxyx`) the `image_shape` argument "
                         f"must be provided.Received `image_shape`: {image_shape}")
    height, width = _hw(image_shape)
    boxes1 = convert_format(boxes1, bounding_box_format, "xyxy", height=height, width=width)
    boxes2 = convert_format(boxes2, bounding_box_format, "xyxy", height=height, width=width)
    eps = backend.epsilon()
    x_min1, y_min1, x_max1, y_max1 = _split4(boxes1[..., :4])
    x_min2, y_min2, x_max2, y_max2 = _split4(boxes2[..., :4])
    width_1, height_1 = x_max1 - x_min1, y_max1 - y_min1 + eps
    width_2, height_2 = x_max2 - x_min2, y_max2 - y_min2 + eps
    intersection = (ops.maximum(ops.minimum(x_max1, x_max2) - ops.maximum(x_min1, x_min2), 0)
                    * ops.maximum(ops.minimum(y_max1, y_max2) - ops.maximum(y_min1, y_min2), 0))
    union = width_1 * height_1 + width_2 * height_2 - intersection + eps
    iou = ops.squeeze(ops.divide(intersection, union + eps), axis=-1)
    convex_w = ops.maximum(x_max1, x_max2) - ops.minimum(x_min1, x_min2)
    convex_h = ops.maximum(y_max1, y_max2) - ops.minimum(y_min1, y_min2)
    diagonal = ops.squeeze(convex_w ** 2 + convex_h ** 2 + eps, axis=-1)
    centers = ops.squeeze(((x_min1 + x_max1) / 2 - (x_min2 + x_max2) / 2) ** 2
                          + ((y_min1 + y_max1) / 2 - (y_min2 + y_max2) / 2) ** 2, axis=-1)
    v = ops.squeeze((4 / math.pi ** 2) * ops.power(ops.arctan(width_2 / height_2) - ops.arctan(width_1 / height_1), 2),
                    axis=-1)
    alpha = v / (v - iou + (1 + eps))
    return iou - (centers / diagonal + v * alpha)
