"""How the image layers carry bounding boxes and segmentation masks beside the images.

A dict input `{"images", "labels"?, "bounding_boxes"?: {"boxes": (N, B, 4), "labels": (N, B)},
"segmentation_masks"?: (N, H, W, 1)}` (or unbatched: (B, 4), (B,), (H, W, 1)) goes through the layer's
`transform_bounding_boxes` / `transform_segmentation_masks` with the same transformation as the images
(Keras 3.15's rule). Boxes are in the layer's `bounding_box_format`, made float32 first (Keras's densify).
"""

from __future__ import annotations

import numpy as np

from fkeras import ops


def _shape(layer, x, what):
    if not isinstance(x, (list, tuple)):
        return tuple(x.shape)
    try:
        return tuple(np.shape(x))
    except ValueError:
        raise layer.error(f"bounding_boxes[{what!r}] is ragged (images with different numbers of boxes); pad them "
                          "to one array, e.g. with -1 boxes and labels (MaxNumBoundingBoxes).") from None


def check_boxes(layer, bounding_boxes, batched):
    """Refuse, before anything runs, boxes the layer cannot take: no `bounding_box_format`, a layer Keras
    does not transform boxes for, or boxes/labels of the wrong shape."""
    name = type(layer).__name__
    if not layer.bounding_box_format:
        raise layer.error("You passed an input with a 'bounding_boxes' key, but you didn't specify a bounding box "
                          f"format. Pass a `bounding_box_format` argument to your {name} layer, e.g. "
                          "`bounding_box_format='xyxy'`.")
    if not getattr(layer, "transforms_boxes", True):
        raise NotImplementedError(f"{name} does not transform bounding boxes (neither does Keras 3.15's); call it "
                                  "on images (and segmentation masks) only.")
    if not isinstance(bounding_boxes, dict) or "boxes" not in bounding_boxes or "labels" not in bounding_boxes:
        raise layer.error("Expected `bounding_boxes` to be a dict with keys 'boxes' and 'labels'. Received: "
                          f"bounding_boxes={bounding_boxes!r}")
    boxes, labels = _shape(layer, bounding_boxes["boxes"], "boxes"), _shape(layer, bounding_boxes["labels"], "labels")
    want = 3 if batched else 2
    if len(boxes) != want or boxes[-1] != 4:
        raise layer.error(f"expected bounding_boxes['boxes'] of shape {'(batch, ' if batched else '('}num_boxes, 4) "
                          f"for {'batched' if batched else 'single'} images, got shape {boxes}.")
    if labels[:want - 1] != boxes[:want - 1] or len(labels) not in (want - 1, want):
        raise layer.error(f"expected bounding_boxes['labels'] of shape {boxes[:-1]} to match the boxes {boxes}, "
                          f"got shape {labels}.")


def batch_extras(data, unbatched, to_framework):
    """The boxes (float32) and masks of `data`, batched, on the images' framework (`to_framework`)."""
    out = {}

    def arr(x):
        return to_framework(np.asarray(x)) if isinstance(x, (list, tuple, np.ndarray)) else x

    def batch(x):
        return ops.expand_dims(x, 0) if unbatched else x

    if "bounding_boxes" in data:
        b = data["bounding_boxes"]
        out["bounding_boxes"] = dict(b, boxes=batch(ops.cast(arr(b["boxes"]), "float32")),
                                     labels=batch(ops.convert_to_tensor(arr(b["labels"]))))
    if "segmentation_masks" in data:
        out["segmentation_masks"] = batch(ops.convert_to_tensor(arr(data["segmentation_masks"])))
    return out


def transform_extras(layer, extras, transformation):
    out = dict(extras)
    if "bounding_boxes" in extras:
        out["bounding_boxes"] = layer.transform_bounding_boxes(dict(extras["bounding_boxes"]), transformation)
    if "segmentation_masks" in extras:
        out["segmentation_masks"] = layer.transform_segmentation_masks(extras["segmentation_masks"], transformation)
    return out


def unbatch_extras(extras, unbatched):
    if not unbatched:
        return extras
    out = dict(extras)
    if "bounding_boxes" in extras:
        b = extras["bounding_boxes"]
        out["bounding_boxes"] = dict(b, boxes=ops.squeeze(b["boxes"], 0), labels=ops.squeeze(b["labels"], 0))
    if "segmentation_masks" in extras:
        out["segmentation_masks"] = ops.squeeze(extras["segmentation_masks"], 0)
    return out
