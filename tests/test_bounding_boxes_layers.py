"""Bounding boxes and segmentation masks through the image preprocessing layers vs Keras 3.15: given the
transformation Keras's layer draws, fkeras's `transform_bounding_boxes`/`transform_segmentation_masks` give
Keras's boxes, labels and masks; dict inputs through `apply` (batched, single, inference); configs; errors.
Where Keras 3.15 is inconsistent (named in each case) the cases use the inputs on which it is right."""

import chex
import jax
import jax.numpy as jnp
import keras  # noqa: F401  (KERAS_BACKEND=jax is set by conftest)
import numpy as np
import pytest
from image_preprocessing_common import to_jax

from fkeras import nn
from fkeras.nn.image_preprocessing._base import Rng

N, H, W = 3, 12, 16


def _images(data_format="channels_last", seed=0):
    shape = (N, 3, H, W) if data_format == "channels_first" else (N, H, W, 3)
    return (np.random.default_rng(seed).random(shape) * 255).astype("float32")


def _masks(data_format="channels_last", seed=1):
    shape = (N, 1, H, W) if data_format == "channels_first" else (N, H, W, 1)
    return np.random.default_rng(seed).integers(0, 4, shape).astype("uint8")


def _xyxy(seed=2, inside=None):
    """(N, 4, 4) boxes in a (H, W) image (or inside the window `inside` = (top, left, h, w)), one padded."""
    r = np.random.default_rng(seed)
    top, left, h, w = inside or (0, 0, H, W)
    x = np.sort(r.uniform(left, left + w, (N, 4, 2)), axis=-1)
    y = np.sort(r.uniform(top, top + h, (N, 4, 2)), axis=-1)
    boxes = np.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], axis=-1).astype("float32")
    boxes[0, 3] = 0.0
    return boxes


def _bounding_boxes(fmt, seed=2, inside=None):
    boxes = keras.utils.bounding_boxes.convert_format(_xyxy(seed, inside), "xyxy", fmt, height=H, width=W)
    return {"boxes": np.asarray(boxes), "labels": np.array([[0, 1, 2, -1], [1, 2, 3, 4], [2, 2, 0, 1]], "int32")}


def _check_boxes(got, expected):
    chex.assert_trees_all_close(np.asarray(got["boxes"]), np.asarray(expected["boxes"]), rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(np.asarray(got["labels"]), np.asarray(expected["labels"]))


BOX_CASES = [
    ("RandomFlip", {}, "xyxy"),
    ("RandomFlip", {"mode": "horizontal"}, "rel_xyxy"),
    ("RandomFlip", {"mode": "vertical", "data_format": "channels_first"}, "center_xywh"),
    ("RandomRotation", {"factor": 0.2}, "xyxy"),  # Keras reads the input as xyxy whatever the format
    ("RandomRotation", {"factor": 0.3, "data_format": "channels_first"}, "xyxy"),
    ("RandomZoom", {"height_factor": 0.3, "width_factor": (-0.2, 0.4)}, "xyxy"),
    ("RandomZoom", {"height_factor": (-0.5, -0.1)}, "yxyx"),
    ("RandomTranslation", {"height_factor": 0.2, "width_factor": 0.3}, "xywh"),
    ("RandomTranslation", {"height_factor": 0.4, "width_factor": 0.4, "data_format": "channels_first"}, "xyxy"),
    ("RandomShear", {"x_factor": 0.3, "y_factor": 0.2}, "xyxy"),
    ("RandomShear", {"x_factor": 0.5}, "rel_yxyx"),
    ("RandomPerspective", {"factor": 0.7, "scale": 0.5}, "xyxy"),  # Keras returns xyxy whatever the format
    ("Resizing", {"height": 8, "width": 8}, "xyxy"),
    ("Resizing", {"height": 10, "width": 6, "pad_to_aspect_ratio": True}, "center_yxhw"),
    ("Resizing", {"height": 10, "width": 6, "crop_to_aspect_ratio": True}, "xyxy"),
    ("Resizing", {"height": 6, "width": 14, "crop_to_aspect_ratio": True}, "rel_xywh"),
    ("CenterCrop", {"height": 8, "width": 10}, "xyxy"),
    ("CenterCrop", {"height": 14, "width": 10}, "rel_center_xywh"),
    ("MixUp", {"alpha": 0.7}, "xyxy"),
    ("RandomContrast", {"factor": 0.5}, "xyxy"),
    ("RandomHue", {"factor": 0.5}, "yxyx"),
    ("RandAugment", {"num_ops": 3, "factor": 0.3}, "xyxy"),
]


def _case_id(case):
    name, kw, fmt = case
    return "-".join([name, fmt] + [f"{k}={v}" for k, v in kw.items()])


@pytest.mark.parametrize("case", BOX_CASES, ids=[_case_id(c) for c in BOX_CASES])
def test_transform_bounding_boxes_matches_keras(case):
    name, kw, fmt = case
    x = _images(kw.get("data_format", "channels_last"))
    keras.utils.set_random_seed(7)
    klayer = getattr(keras.layers, name)(**kw, bounding_box_format=fmt)
    flayer = getattr(nn, name)(**kw, bounding_box_format=fmt)
    t = klayer.get_random_transformation(x, training=True)
    expected = klayer.transform_bounding_boxes(_bounding_boxes(fmt), t)
    got = flayer.transform_bounding_boxes(jax.tree.map(jnp.asarray, _bounding_boxes(fmt)), to_jax(t))
    if name == "MixUp":  # Keras stacks the partner labels along the batch axis; fkeras beside each image's own
        labels = _bounding_boxes(fmt)["labels"]
        np.testing.assert_array_equal(np.asarray(expected["labels"]),
                                      np.concatenate([labels, labels[np.asarray(t["permutation_order"])]], axis=0))
        expected = dict(expected, labels=np.concatenate(np.split(np.asarray(expected["labels"]), 2), axis=1))
    _check_boxes(got, expected)
    if name in ("RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomShear", "Resizing",
                "CenterCrop"):
        assert not np.allclose(np.asarray(got["boxes"]), _bounding_boxes(fmt)["boxes"]), "the case must move boxes"


def test_random_crop_boxes_match_keras_where_keras_is_right():
    """Keras 3.15 subtracts the row offset from x and the column offset from y and never clips above:
    with equal offsets and boxes inside the window it is right, and fkeras agrees."""
    klayer = keras.layers.RandomCrop(6, 8, bounding_box_format="xyxy")
    flayer = nn.RandomCrop(6, 8, bounding_box_format="xyxy")
    boxes = _bounding_boxes("xyxy", inside=(3, 3, 6, 8))
    expected = klayer.transform_bounding_boxes(dict(boxes), (3, 3))
    got = flayer.transform_bounding_boxes(jax.tree.map(jnp.asarray, boxes),
                                          {"offsets": (3, 3), "input_shape": (N, H, W, 3)})
    _check_boxes(got, expected)
    # offsets differ and boxes leave the window: shifted by (left, top), clipped, emptied boxes labelled -1
    boxes = _bounding_boxes("xyxy")
    got = flayer.transform_bounding_boxes(jax.tree.map(jnp.asarray, boxes),
                                          {"offsets": (2, 5), "input_shape": (N, H, W, 3)})
    want = np.clip(boxes["boxes"] - np.array([5, 2, 5, 2], "float32"), 0, [8, 6, 8, 6])
    chex.assert_trees_all_close(np.asarray(got["boxes"]), want, atol=1e-5)
    empty = (want[..., 2] - want[..., 0]) * (want[..., 3] - want[..., 1]) <= 0
    np.testing.assert_array_equal(np.asarray(got["labels"]), np.where(empty, -1, boxes["labels"]))


@pytest.mark.parametrize("max_number", [2, 6])
def test_max_num_bounding_boxes_matches_keras(max_number):
    boxes = _bounding_boxes("xyxy")
    expected = keras.layers.MaxNumBoundingBoxes(max_number, bounding_box_format="xyxy").transform_bounding_boxes(
        dict(boxes), None)
    got = nn.MaxNumBoundingBoxes(max_number, bounding_box_format="xyxy").transform_bounding_boxes(
        jax.tree.map(jnp.asarray, boxes), None)
    _check_boxes(got, expected)
    assert np.asarray(got["boxes"]).shape == (N, max_number, 4)


MASK_CASES = [
    ("RandomFlip", {}),
    ("RandomRotation", {"factor": 0.2}),
    ("RandomZoom", {"height_factor": 0.3, "data_format": "channels_first"}),
    ("RandomTranslation", {"height_factor": 0.2, "width_factor": 0.3}),
    ("RandomShear", {"x_factor": 0.3, "y_factor": 0.2}),
    ("RandomPerspective", {"factor": 0.7, "scale": 0.5}),
    ("Resizing", {"height": 8, "width": 10, "pad_to_aspect_ratio": True}),
    ("CenterCrop", {"height": 8, "width": 10}),
    ("CenterCrop", {"height": 14, "width": 10}),
    ("CutMix", {"factor": 0.5}),
    ("RandomContrast", {"factor": 0.5}),
    ("RandAugment", {"num_ops": 3, "factor": 0.3}),
]


@pytest.mark.parametrize("case", MASK_CASES, ids=[_case_id(c + ("",)) for c in MASK_CASES])
def test_transform_segmentation_masks_matches_keras(case):
    name, kw = case
    fmt = kw.get("data_format", "channels_last")
    x, masks = _images(fmt), _masks(fmt)
    keras.utils.set_random_seed(7)
    klayer = getattr(keras.layers, name)(**kw)
    flayer = getattr(nn, name)(**kw)
    t = klayer.get_random_transformation(x, training=True)
    expected = np.asarray(klayer.transform_segmentation_masks(masks, t))
    got = np.asarray(flayer.transform_segmentation_masks(jnp.asarray(masks), to_jax(t)))
    if name == "CutMix":  # Keras broadcasts the 1-channel masks against the images' 3-channel paste window
        expected = expected[..., :1]
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_random_crop_masks_match_keras():
    t = (2, 3)
    expected = np.asarray(keras.layers.RandomCrop(6, 8).transform_segmentation_masks(_masks(), t))
    got = np.asarray(nn.RandomCrop(6, 8).transform_segmentation_masks(jnp.asarray(_masks()), to_jax(t)))
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_mixup_masks_blend_like_the_images():
    """Keras 3.15 gathers MixUp's partner masks from the flattened array; fkeras blends them as the images."""
    layer = nn.MixUp(alpha=0.7)
    masks = _masks()
    t = layer.get_random_transformation(jnp.asarray(_images()), Rng(jax.random.key(0)))
    w, order = np.asarray(t["mix_weight"]).reshape(-1, 1, 1, 1), np.asarray(t["permutation_order"])
    got = np.asarray(layer.transform_segmentation_masks(jnp.asarray(masks), t))
    chex.assert_trees_all_close(got, w * masks + (1 - w) * masks[order], rtol=1e-6)


@pytest.mark.parametrize("fmt", ["xyxy", "rel_yxyx"])
def test_apply_on_a_dict_moves_boxes_with_the_images(fmt):
    """A flip and an integer shift: each box drawn as a filled rectangle in a mask lands where its
    transformed box says, for every image; labels and masks ride along."""
    boxes = np.array([[[2, 3, 7, 9]], [[10, 1, 15, 4]], [[0, 6, 5, 12]]], "float32")  # xyxy, integer corners
    masks = np.zeros((N, H, W, 1), "float32")
    for i, (x1, y1, x2, y2) in enumerate(boxes[:, 0].astype(int)):
        masks[i, y1:y2, x1:x2] = 1.0
    data = {"images": masks * 255, "labels": np.eye(N, dtype="float32"), "segmentation_masks": masks,
            "bounding_boxes": {"boxes": np.asarray(keras.utils.bounding_boxes.convert_format(
                boxes, "xyxy", fmt, height=H, width=W)), "labels": np.arange(N).reshape(N, 1)}}
    for layer in (nn.RandomFlip(bounding_box_format=fmt, seed=1),
                  nn.RandomTranslation((-0.25, 0.25), (-0.25, 0.25), interpolation="nearest", fill_mode="constant",
                                       bounding_box_format=fmt)):
        out, _ = layer.apply(layer.init(jax.random.key(0), data), data, training=True, rng=jax.random.key(5))
        moved = np.asarray(keras.utils.bounding_boxes.convert_format(
            np.asarray(out["bounding_boxes"]["boxes"]), fmt, "xyxy", height=H, width=W))
        for i in range(N):
            ys, xs = np.nonzero(np.asarray(out["segmentation_masks"])[i, ..., 0] > 0.5)
            if len(xs):
                want = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
                chex.assert_trees_all_close(moved[i, 0], np.asarray(want, "float32"), atol=1.01)
        np.testing.assert_array_equal(np.asarray(out["segmentation_masks"]), np.asarray(out["images"]) / 255)
        np.testing.assert_array_equal(np.asarray(out["labels"]), data["labels"])


def test_single_image_inference_and_framework_paths():
    boxes = _bounding_boxes("xyxy")
    single = {"images": _images()[0], "bounding_boxes": {"boxes": boxes["boxes"][0], "labels": boxes["labels"][0]},
              "segmentation_masks": _masks()[0]}
    layer = nn.RandomRotation(0.2, bounding_box_format="xyxy")
    out, _ = layer.apply(layer.init(jax.random.key(0), single), single, training=True, rng=jax.random.key(1))
    assert out["bounding_boxes"]["boxes"].shape == (4, 4) and out["bounding_boxes"]["labels"].shape == (4,)
    assert out["segmentation_masks"].shape == (H, W, 1)
    # inference: a random layer leaves boxes (made float32) and masks alone; Resizing still resizes them
    out, _ = layer.apply(layer.init(jax.random.key(0), single), single, training=False)
    np.testing.assert_array_equal(np.asarray(out["bounding_boxes"]["boxes"]), boxes["boxes"][0])
    assert out["bounding_boxes"]["boxes"].dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(out["segmentation_masks"]), _masks()[0])
    resize = nn.Resizing(6, 8, bounding_box_format="xyxy")
    out, _ = resize.apply(resize.init(jax.random.key(0), single), single, training=False)
    expected = keras.layers.Resizing(6, 8, bounding_box_format="xyxy")(
        {k: (dict(v) if isinstance(v, dict) else v) for k, v in single.items()}, training=False)
    _check_boxes(out["bounding_boxes"], expected["bounding_boxes"])
    np.testing.assert_array_equal(np.asarray(out["segmentation_masks"]), np.asarray(expected["segmentation_masks"]))
    # jit: the same dict through a jitted apply
    jitted = jax.jit(lambda d, k: layer.apply(layer.init(jax.random.key(0), d), d, training=True, rng=k)[0])
    eager = layer.apply(layer.init(jax.random.key(0), single), single, training=True, rng=jax.random.key(1))[0]
    chex.assert_trees_all_close(jitted(single, jax.random.key(1))["bounding_boxes"], eager["bounding_boxes"],
                                atol=1e-4)


def test_torch_tensors_carry_boxes():
    torch = pytest.importorskip("torch")
    boxes = _bounding_boxes("xyxy")
    data = {"images": torch.tensor(_images()), "bounding_boxes": boxes}
    layer = nn.RandomFlip(bounding_box_format="xyxy", seed=4)
    out, _ = layer.apply(layer.init(jax.random.key(0), {"images": jnp.asarray(_images())}), data, training=True)
    assert isinstance(out["bounding_boxes"]["boxes"], torch.Tensor)
    ref, _ = layer.apply(layer.init(jax.random.key(0), {"images": jnp.asarray(_images())}),
                         {"images": jnp.asarray(_images()), "bounding_boxes": boxes}, training=True)
    chex.assert_trees_all_close(out["bounding_boxes"]["boxes"].numpy(), np.asarray(ref["bounding_boxes"]["boxes"]))


@pytest.mark.parametrize("name,kw", [("RandomFlip", {}), ("Resizing", {"height": 4, "width": 5}),
                                     ("RandomZoom", {"height_factor": 0.2}), ("MaxNumBoundingBoxes", {"max_number": 3}),
                                     ("CenterCrop", {"height": 4, "width": 4})])
def test_config_has_bounding_box_format_as_keras(name, kw):
    for fmt in (None, "center_xywh"):
        extra = {"bounding_box_format": fmt} if fmt else {}
        k = getattr(keras.layers, name)(**kw, **extra).get_config()
        f = getattr(nn, name)(**kw, **extra).get_config()
        assert ("bounding_box_format" in f) == ("bounding_box_format" in k)
        assert f.get("bounding_box_format") == k.get("bounding_box_format")
        assert getattr(nn, name).from_config(f).bounding_box_format == fmt


def test_errors_are_clear_and_early():
    data = {"images": _images(), "bounding_boxes": _bounding_boxes("xyxy")}
    with pytest.raises(ValueError, match="didn't specify a bounding box format"):
        nn.RandomFlip().apply(nn.RandomFlip().init(jax.random.key(0), data), data, training=True,
                              rng=jax.random.key(0))
    with pytest.raises(ValueError, match="bounding_box_format"):
        nn.RandomFlip(bounding_box_format="ltrb")
    for layer in (nn.CutMix(bounding_box_format="xyxy"), nn.RandomElasticTransform(bounding_box_format="xyxy")):
        with pytest.raises(NotImplementedError, match="does not transform bounding boxes"):
            layer.apply(layer.init(jax.random.key(0), data), data, training=True, rng=jax.random.key(0))
    layer = nn.RandomFlip(bounding_box_format="xyxy")
    for bad, match in (({"boxes": np.zeros((N, 4))}, "keys 'boxes' and 'labels'"),
                       ({"boxes": np.zeros((N, 2, 3)), "labels": np.zeros((N, 2))}, r"num_boxes, 4\)"),
                       ({"boxes": np.zeros((N, 2, 4)), "labels": np.zeros((N, 3))}, "to match the boxes"),
                       ({"boxes": [[[0, 0, 1, 1]], [], [[0, 0, 2, 2], [1, 1, 3, 3]]], "labels": [[1], [], [1, 2]]},
                        "ragged")):
        with pytest.raises(ValueError, match=match):
            layer.apply({}, {"images": _images(), "bounding_boxes": bad}, training=True, rng=jax.random.key(0))
    with pytest.raises(ValueError, match="may hold 'labels', 'bounding_boxes' and 'segmentation_masks'"):
        layer.apply({}, {"images": _images(), "masks": _masks()}, training=True, rng=jax.random.key(0))


def test_augmix_masks_match_keras():
    x, masks = _images(), _masks()
    keras.utils.set_random_seed(7)
    kw = {"num_chains": 2, "chain_depth": 1}
    klayer, flayer = keras.layers.AugMix(**kw), nn.AugMix(**kw)
    t = klayer.get_random_transformation(x, training=True)
    expected = np.asarray(klayer.transform_segmentation_masks(masks, t))
    got = np.asarray(flayer.transform_segmentation_masks(jnp.asarray(masks), to_jax(t)))
    assert got.dtype == expected.dtype
    chex.assert_trees_all_close(got, expected, rtol=1e-5, atol=1e-4)


def test_facade_layers_and_pipeline_take_dicts_as_keras():
    import fkeras

    data = {"images": _images(), "bounding_boxes": _bounding_boxes("xyxy"), "segmentation_masks": _masks()}
    steps = [("CenterCrop", {"height": 8, "width": 10}), ("Resizing", {"height": 6, "width": 6})]
    fpipe = fkeras.layers.Pipeline([getattr(fkeras.layers, n)(**kw, bounding_box_format="xyxy") for n, kw in steps])
    kpipe = keras.layers.Pipeline([getattr(keras.layers, n)(**kw, bounding_box_format="xyxy") for n, kw in steps])
    got = fpipe(data)
    expected = kpipe({"images": data["images"], "bounding_boxes": dict(data["bounding_boxes"]),
                      "segmentation_masks": data["segmentation_masks"]})
    _check_boxes(got["bounding_boxes"], expected["bounding_boxes"])
    chex.assert_trees_all_close(np.asarray(got["images"]), np.asarray(expected["images"]), atol=1e-3)
    np.testing.assert_array_equal(np.asarray(got["segmentation_masks"]), np.asarray(expected["segmentation_masks"]))


def test_tf_data_map_carries_boxes_and_masks():
    """In a tf.data map each image's boxes and mask are flipped exactly when the image is."""
    tf = pytest.importorskip("tensorflow")
    import fkeras

    boxes = _bounding_boxes("xyxy")
    data = {"images": np.concatenate([_images()] * 4), "segmentation_masks": np.concatenate([_masks()] * 4),
            "bounding_boxes": {k: np.concatenate([v] * 4) for k, v in boxes.items()}}
    n = 4 * N
    layer = fkeras.layers.RandomFlip(bounding_box_format="xyxy", seed=11)
    ds = tf.data.Dataset.from_tensor_slices(data).batch(n).map(lambda d: layer(d, training=True))
    got = next(iter(ds))
    assert got["bounding_boxes"]["boxes"].dtype == tf.float32
    flips = np.array([np.array_equal(got["images"].numpy()[i], data["images"][i, ::-1, ::-1]) for i in range(n)])
    assert all(flips[i] or np.array_equal(got["images"].numpy()[i], data["images"][i]) for i in range(n))
    assert flips.any() and not flips.all()
    t = {"flips": jnp.asarray(flips.reshape(n, 1, 1, 1)), "input_shape": data["images"].shape}
    expected = nn.RandomFlip(bounding_box_format="xyxy").transform_bounding_boxes(
        jax.tree.map(jnp.asarray, data["bounding_boxes"]), t)
    _check_boxes({k: v.numpy() for k, v in got["bounding_boxes"].items()}, expected)
    masks = np.where(flips[:, None, None, None], data["segmentation_masks"][:, ::-1, ::-1], data["segmentation_masks"])
    np.testing.assert_array_equal(got["segmentation_masks"].numpy(), masks)
