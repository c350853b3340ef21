"""fkeras.utils.bounding_boxes vs Keras 3.15's keras.utils.bounding_boxes: names, signatures, numbers."""

import inspect

import chex
import keras
import numpy as np
import pytest

import fkeras
from fkeras.utils import bounding_boxes as fb

kb = keras.utils.bounding_boxes
FORMATS = ("xyxy", "yxyx", "xywh", "center_xywh", "center_yxhw", "rel_xyxy", "rel_yxyx", "rel_xywh", "rel_center_xywh")
H, W = 40, 60


def _boxes(shape=(2, 3), seed=0):
    """Valid xyxy boxes inside a (H, W) image, shape (*shape, 4)."""
    r = np.random.default_rng(seed)
    x = np.sort(r.uniform(-5, W + 5, shape + (2,)), axis=-1)
    y = np.sort(r.uniform(-5, H + 5, shape + (2,)), axis=-1)
    return np.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], axis=-1).astype("float32")


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x)) if not isinstance(x, np.ndarray) else x


def test_public_names_and_signatures_match_keras():
    keras_names = sorted(n for n in dir(kb) if not n.startswith("_"))
    assert sorted(fb.__all__) == keras_names
    assert "bounding_boxes" in dir(fkeras.utils)
    for name in keras_names:
        assert inspect.signature(getattr(fb, name)) == inspect.signature(getattr(kb, name)), name


@pytest.mark.parametrize("source", FORMATS)
@pytest.mark.parametrize("target", FORMATS)
def test_convert_format_matches_keras(source, target):
    boxes = kb.convert_format(_boxes(), "xyxy", source, height=H, width=W)
    expected = kb.convert_format(boxes, source, target, height=H, width=W)
    got = fb.convert_format(_np(boxes), source, target, height=H, width=W)
    chex.assert_trees_all_close(np.asarray(got), _np(expected), rtol=1e-6, atol=1e-5)


def test_convert_format_dict_dtype_and_errors():
    boxes = {"boxes": _boxes((3,)), "labels": np.array([0, 1, 2])}
    out = fb.convert_format(boxes, "XYXY", "center_yxhw", dtype="float16")
    assert str(out["boxes"].dtype) == "float16" and out["labels"] is boxes["labels"]
    chex.assert_trees_all_close(np.asarray(out["boxes"]).astype("float32"),
                                _np(kb.convert_format(_boxes((3,)), "xyxy", "center_yxhw")), rtol=1e-3)
    assert boxes["boxes"].dtype == np.float32  # the input dict is left alone
    with pytest.raises(ValueError, match="last dimension of 4"):
        fb.convert_format(np.zeros((2, 3)), "xyxy", "yxyx")
    with pytest.raises(ValueError, match="Invalid source or target format"):
        fb.convert_format(np.zeros((2, 4)), "xyxy", "ltrb")
    with pytest.raises(ValueError, match="must receive `height` and `width`"):
        fb.convert_format(np.zeros((2, 4)), "xyxy", "rel_xyxy")


@pytest.mark.parametrize("fmt,h,w", [("xyxy", H, W), ("rel_xyxy", None, None)])
def test_clip_to_image_size_matches_keras(fmt, h, w):
    boxes = _boxes((2, 4), seed=1)
    boxes[0, 0] = [-10, -10, -1, -2]  # fully outside: its label becomes -1
    if fmt == "rel_xyxy":
        boxes = boxes / np.array([W, H, W, H], "float32")
    labels = np.arange(8).reshape(2, 4)
    expected = kb.clip_to_image_size({"boxes": boxes, "labels": labels}, height=h, width=w, bounding_box_format=fmt)
    got = fb.clip_to_image_size({"boxes": boxes, "labels": labels}, height=h, width=w, bounding_box_format=fmt)
    chex.assert_trees_all_close(np.asarray(got["boxes"]), _np(expected["boxes"]), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(got["labels"]), _np(expected["labels"]))
    assert int(np.asarray(got["labels"])[0, 0]) == -1
    with pytest.raises(NotImplementedError):
        fb.clip_to_image_size({"boxes": boxes}, H, W, bounding_box_format="yxyx")
    with pytest.raises(ValueError, match="`height` and `width` must be set"):
        fb.clip_to_image_size({"boxes": boxes}, bounding_box_format="xyxy")


def test_affine_transform_matches_keras():
    boxes = _boxes((3, 2), seed=2)
    r = np.random.default_rng(3)
    args = dict(angle=r.uniform(-40, 40, 3).astype("float32"), translate_x=r.uniform(-.2, .2, 3).astype("float32"),
                translate_y=r.uniform(-.2, .2, 3).astype("float32"), scale=r.uniform(.8, 1.2, 3).astype("float32"),
                shear_x=r.uniform(-10, 10, 3).astype("float32"), shear_y=r.uniform(-10, 10, 3).astype("float32"))
    for centre in ({}, {"center_x": 0.3, "center_y": 0.7}):
        expected = kb.affine_transform(boxes, **args, height=H, width=W, **centre)
        got = fb.affine_transform(boxes, **args, height=H, width=W, **centre)
        chex.assert_trees_all_close(np.asarray(got), _np(expected), rtol=1e-5, atol=1e-3)
    with pytest.raises(NotImplementedError):
        fb.affine_transform(boxes, **args, height=H, width=W, bounding_box_format="yxyx")


@pytest.mark.parametrize("shape", [(5,), (2, 5)])
def test_crop_and_pad_match_keras(shape):
    boxes = _boxes(shape, seed=4)
    chex.assert_trees_all_close(np.asarray(fb.crop(boxes, 5, 7, 20, 30)), _np(kb.crop(boxes, 5, 7, 20, 30)), rtol=1e-6)
    chex.assert_trees_all_close(np.asarray(fb.pad(boxes, 3, 4)), _np(kb.pad(boxes, 3, 4)), rtol=1e-6)
    for fn in (fb.crop, fb.pad):
        with pytest.raises(NotImplementedError):
            fn(boxes, 1, 1, 2, 2, bounding_box_format="yxyx")


@pytest.mark.parametrize("encoding", ["center_yxhw", "center_xywh"])
@pytest.mark.parametrize("variance", [None, [0.1, 0.1, 0.2, 0.2]])
def test_encode_decode_deltas_match_keras(encoding, variance):
    anchors = _boxes((6,), seed=5) + np.array([0, 0, 2, 2], "float32")
    boxes = _boxes((2, 6), seed=6) + np.array([0, 0, 2, 2], "float32")
    rel = kb.convert_format(boxes, "xyxy", "rel_yxyx", height=H, width=W)
    kw = dict(anchor_format="xyxy", box_format="rel_yxyx", variance=variance, image_shape=(H, W, 3))
    expected = kb.encode_box_to_deltas(anchors, rel, encoding_format=encoding, **kw)
    got = fb.encode_box_to_deltas(anchors, _np(rel), encoding_format=encoding, **kw)
    chex.assert_trees_all_close(np.asarray(got), _np(expected), rtol=1e-5, atol=1e-5)
    back_k = kb.decode_deltas_to_boxes(anchors, expected, encoded_format=encoding, **kw)
    back_f = fb.decode_deltas_to_boxes(anchors, got, encoded_format=encoding, **kw)
    chex.assert_trees_all_close(np.asarray(back_f), _np(back_k), rtol=1e-5, atol=1e-5)
    chex.assert_trees_all_close(np.asarray(back_f), _np(rel), rtol=1e-4, atol=1e-5)
    levels = fb.decode_deltas_to_boxes({"p3": anchors}, {"p3": np.asarray(got)}, encoded_format=encoding, **kw)
    chex.assert_trees_all_close(np.asarray(levels["p3"]), np.asarray(back_f), rtol=1e-6)


def test_delta_errors_match_keras():
    a = _boxes((2,))
    for fn, kw in ((fb.encode_box_to_deltas, {"encoding_format": "xyxy"}),
                   (fb.decode_deltas_to_boxes, {"encoded_format": "xyxy"})):
        with pytest.raises(ValueError, match="center_xywh"):
            fn(a, a, "xyxy", "xyxy", **kw)
        with pytest.raises(ValueError, match="must be length 4"):
            fn(a, a, "xyxy", "xyxy", variance=[1.0, 1.0])


@pytest.mark.parametrize("shapes,masking", [(((4,), (5,)), False), (((4,), (5,)), True), (((2, 4), (2, 5)), False),
                                            (((2, 4), (2, 5)), True), (((2, 4), (5,)), False), (((4,), (2, 5)), False)])
def test_compute_iou_matches_keras(shapes, masking):  # (Keras's masking needs equal ranks)
    b1, b2 = _boxes(shapes[0], seed=7), _boxes(shapes[1], seed=8)
    b1[..., 0, :] = -1  # a padded box
    xywh1 = _np(kb.convert_format(b1, "xyxy", "xywh"))
    xywh2 = _np(kb.convert_format(b2, "xyxy", "xywh"))
    expected = kb.compute_iou(xywh1, xywh2, "xywh", use_masking=masking, mask_val=-2)
    got = fb.compute_iou(xywh1, xywh2, "xywh", use_masking=masking, mask_val=-2)
    chex.assert_trees_all_close(np.asarray(got), _np(expected), rtol=1e-5, atol=1e-6)
    rel1 = _np(kb.convert_format(b1, "xyxy", "rel_xyxy", height=H, width=W))
    rel2 = _np(kb.convert_format(b2, "xyxy", "rel_xyxy", height=H, width=W))
    chex.assert_trees_all_close(np.asarray(fb.compute_iou(rel1, rel2, "rel_xyxy", image_shape=(H, W, 3))),
                                _np(kb.compute_iou(rel1, rel2, "rel_xyxy", image_shape=(H, W, 3))),
                                rtol=1e-5, atol=1e-6)


def test_compute_iou_errors():
    with pytest.raises(ValueError, match="boxes1 to be batched"):
        fb.compute_iou(np.zeros((1, 2, 3, 4)), np.zeros((2, 4)), "xyxy")
    with pytest.raises(ValueError, match="`image_shape` argument must be provided"):
        fb.compute_iou(np.zeros((2, 4)), np.zeros((2, 4)), "rel_xyxy")


@pytest.mark.parametrize("fmt", ["xyxy", "center_xywh"])
def test_compute_ciou_matches_keras(fmt):
    b1 = _np(kb.convert_format(_boxes((2, 5), seed=9), "xyxy", fmt))
    b2 = _np(kb.convert_format(_boxes((2, 5), seed=10), "xyxy", fmt))
    chex.assert_trees_all_close(np.asarray(fb.compute_ciou(b1, b2, fmt)), _np(kb.compute_ciou(b1, b2, fmt)),
                                rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="image_shape"):
        fb.compute_ciou(b1, b2, "rel_xyxy")
