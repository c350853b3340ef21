"""fkeras.visualization vs Keras 3.15's keras.visualization: names, signatures, drawn pixels (OpenCV boxes,
mask blending) and the saved gallery PNGs (matplotlib, headless "Agg")."""

import inspect
import sys

import keras  # noqa: F401  (KERAS_BACKEND=jax is set by conftest)
import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
pytest.importorskip("cv2")
matplotlib.use("Agg")

import fkeras  # noqa: E402
from fkeras import visualization as fv  # noqa: E402
from fkeras.runtime.extras import MissingExtraError  # noqa: E402

kv = keras.visualization
N, H, W = 3, 40, 56


def _images(dtype="uint8", seed=0):
    x = np.random.default_rng(seed).integers(0, 256, (N, H, W, 3))
    return x.astype(dtype) if dtype == "uint8" else (x / 255.0).astype(dtype)


def _boxes():
    boxes = np.array([[[4, 20, 30, 36], [10, 2, 50, 18], [0, 0, 0, 0]],
                      [[1, 1, 55, 39], [20.7, 15.2, 33.9, 30.1], [5, 5, 9, 9]],
                      [[30, 25, 50, 38], [3, 4, 12, 30], [6, 12, 40, 22]]], "float32")
    return {"boxes": boxes, "labels": np.array([[0, 1, -1], [2, 0, 1], [1, 1, 3]]),
            "confidences": np.array([[0.9, 0.25, 0.0], [0.5, 0.125, 1.0], [0.3, 0.7, 0.99]], "float32")}


def _masks(seed=1):
    return np.random.default_rng(seed).integers(-1, 4, (N, H, W, 1)).astype("int32")


def _png(path):
    from PIL import Image

    return np.asarray(Image.open(path))


def test_public_names_and_signatures_match_keras():
    names = sorted(n for n in dir(kv) if not n.startswith("_"))
    assert sorted(fv.__all__) == names
    assert fkeras.visualization is fv
    for name in names:
        assert inspect.signature(getattr(fv, name)) == inspect.signature(getattr(kv, name)), name


@pytest.mark.parametrize("kw", [{}, {"class_mapping": {0: "cat", 1: "dog", 3: "bird"}, "color": (255, 0, 0)},
                                {"class_mapping": {1: "x"}, "line_thickness": 1, "text_thickness": 2,
                                 "font_scale": 0.4}])
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
@pytest.mark.parametrize("fmt", ["xyxy", "center_xywh"])
def test_draw_bounding_boxes_matches_keras(kw, dtype, fmt):
    boxes = _boxes()
    boxes["boxes"] = np.asarray(keras.utils.bounding_boxes.convert_format(boxes["boxes"], "xyxy", fmt))
    images = _images(dtype)
    expected = kv.draw_bounding_boxes(images.copy(), dict(boxes), fmt, **kw)
    got = fv.draw_bounding_boxes(images.copy(), dict(boxes), fmt, **kw)
    assert got.dtype == np.uint8 and got.shape == (N, H, W, 3)
    np.testing.assert_array_equal(got, expected)
    assert (got != (images if dtype == "uint8" else np.round(images * 255))).any()


def test_draw_bounding_boxes_channels_first_draws_the_same_pixels():
    """Keras draws channels_first arrays as if they were images; fkeras draws on the images."""
    images = _images()
    expected = fv.draw_bounding_boxes(images, _boxes(), "xyxy", data_format="channels_last")
    got = fv.draw_bounding_boxes(images.transpose(0, 3, 1, 2), _boxes(), "xyxy", data_format="channels_first")
    np.testing.assert_array_equal(got, expected.transpose(0, 3, 1, 2))


def test_draw_bounding_boxes_errors():
    with pytest.raises(ValueError, match="batched 4D"):
        fv.draw_bounding_boxes(_images()[0], _boxes(), "xyxy")
    with pytest.raises(TypeError, match="should be a dict"):
        fv.draw_bounding_boxes(_images(), [1, 2], "xyxy")
    with pytest.raises(ValueError, match="'boxes' and 'labels'"):
        fv.draw_bounding_boxes(_images(), {"boxes": _boxes()["boxes"]}, "xyxy")


@pytest.mark.parametrize("kw", [{}, {"num_classes": 3, "alpha": 0.5}, {"blend": False, "num_classes": 4},
                                {"num_classes": 4, "color_mapping": {0: (255, 0, 0), 1: (0, 255, 0), 2: (0, 0, 255),
                                                                     3: (9, 9, 9)}, "ignore_index": 2}])
def test_draw_segmentation_masks_matches_keras(kw):
    images, masks = _images(), _masks()
    expected = np.asarray(kv.draw_segmentation_masks(images, masks, **kw))
    got = fv.draw_segmentation_masks(images, masks, **kw)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    first = fv.draw_segmentation_masks(images.transpose(0, 3, 1, 2), masks.transpose(0, 3, 1, 2),
                                       data_format="channels_first", **kw)
    np.testing.assert_array_equal(first, got)


def test_draw_segmentation_masks_errors():
    with pytest.raises(TypeError, match="integer dtype"):
        fv.draw_segmentation_masks(_images(), _masks().astype("float32"))
    with pytest.raises(ValueError, match="batched 4D"):
        fv.draw_segmentation_masks(_images()[0], _masks()[0])
    with pytest.raises(ValueError, match=r"\(N, H, W, 1\)"):
        fv.draw_segmentation_masks(_images(), _masks()[:, :10])


def test_plot_image_gallery_saves_keras_png(tmp_path):
    images = _images("float32")
    kw = dict(y_true=np.array([0, 1, 2]), y_pred=np.array([1, 1, 0]), label_map={0: "a", 1: "b"},
              value_range=(0, 1), rows=2, cols=2, scale=1)
    with pytest.raises(IndexError):  # 2 x 2 cells for 3 images: Keras's loop runs past the batch too
        fv.plot_image_gallery(images, path=str(tmp_path / "x.png"), **kw)
    kw.update(rows=1, cols=3)
    kv.plot_image_gallery(images, path=str(tmp_path / "keras.png"), **kw)
    fv.plot_image_gallery(images, path=str(tmp_path / "fkeras.png"), **kw)
    np.testing.assert_array_equal(_png(tmp_path / "fkeras.png"), _png(tmp_path / "keras.png"))
    with pytest.raises(ValueError, match="either `path` to be set, or `show`"):
        fv.plot_image_gallery(images, path=str(tmp_path / "y.png"), show=True)
    with pytest.raises(ValueError, match="`label_map` must also be provided"):
        fv.plot_image_gallery(images, y_true=np.array([0, 1, 2]))


def test_plot_bounding_box_gallery_saves_keras_png(tmp_path):
    boxes = _boxes()
    kw = dict(y_true=boxes, y_pred={"boxes": boxes["boxes"] + 2, "labels": boxes["labels"]},
              class_mapping={0: "cat", 1: "dog"}, legend=True, rows=1, cols=3, scale=1, font_scale=0.3)
    kv.plot_bounding_box_gallery(_images(), "xyxy", path=str(tmp_path / "keras.png"),
                                 **{k: (dict(v) if isinstance(v, dict) else v) for k, v in kw.items()})
    fv.plot_bounding_box_gallery(_images(), "xyxy", path=str(tmp_path / "fkeras.png"), **kw)
    np.testing.assert_array_equal(_png(tmp_path / "fkeras.png"), _png(tmp_path / "keras.png"))
    with pytest.raises(ValueError, match="Only pass `legend` OR `legend_handles`"):
        fv.plot_bounding_box_gallery(_images(), "xyxy", legend=True, legend_handles=[object()])


def test_plot_segmentation_mask_gallery_saves_keras_png(tmp_path):
    masks = np.clip(_masks(), 0, 3)
    kw = dict(y_true=masks, y_pred=np.roll(masks, 3, axis=2), alpha=0.6, scale=1)
    kv.plot_segmentation_mask_gallery(_images(), 4, path=str(tmp_path / "keras.png"), **kw)
    fv.plot_segmentation_mask_gallery(_images(), 4, path=str(tmp_path / "fkeras.png"), **kw)
    np.testing.assert_array_equal(_png(tmp_path / "fkeras.png"), _png(tmp_path / "keras.png"))


def test_missing_packages_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(MissingExtraError, match=r'opencv-python-headless.*pip install "fkeras\[visualization\]"'):
        fv.draw_bounding_boxes(_images(), _boxes(), "xyxy")
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(MissingExtraError, match=r'matplotlib.*pip install "fkeras\[visualization\]"'):
        fv.plot_image_gallery(_images(), path="unused.png")
