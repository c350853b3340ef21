"""fkeras.utils / config / preprocessing names vs Keras 3.15, image file helpers, Config, logging switches."""

import inspect
import io

import numpy as np
import pytest
from PIL import Image

import fkeras

# Keras names not provided, each with the reason.
# bounding_boxes: box-format converters for the image-augmentation layers; legacy: tf.keras-era savers.
NOT_PROVIDED = {"utils": {"bounding_boxes", "legacy"}}


@pytest.mark.parametrize("ns", ["utils", "config", "preprocessing", "preprocessing.image", "preprocessing.sequence"])
def test_every_keras_name_exists(ns):
    import importlib

    keras_ns = importlib.import_module(f"keras.{ns}")
    ours = importlib.import_module(f"fkeras.{ns}")
    names = {n for n in dir(keras_ns) if not n.startswith("_")} - NOT_PROVIDED.get(ns, set())
    missing = sorted(n for n in names if not hasattr(ours, n))
    assert not missing


@pytest.mark.parametrize("name", ["load_img", "img_to_array", "array_to_img", "save_img", "get_source_inputs",
                                  "plot_model", "model_to_dot"])
def test_utils_signatures(name):
    import keras

    assert str(inspect.signature(getattr(fkeras.utils, name))) == str(inspect.signature(getattr(keras.utils, name)))


def test_smart_resize_signature_and_values():
    import keras

    f, k = fkeras.preprocessing.image.smart_resize, keras.preprocessing.image.smart_resize
    assert str(inspect.signature(f)) == str(inspect.signature(k))
    x = np.random.default_rng(0).uniform(0, 255, (2, 13, 9, 3)).astype("float32")
    for size in ((5, 5), (4, 8)):
        got, want = f(x, size), k(x, size)
        assert isinstance(got, np.ndarray) and got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-3)
    np.testing.assert_allclose(f(x[0], (6, 3), interpolation="nearest"), k(x[0], (6, 3), interpolation="nearest"))


@pytest.mark.parametrize("kwargs", [dict(), dict(color_mode="grayscale", target_size=(5, 7)),
                                    dict(color_mode="rgba", target_size=(6, 6), interpolation="bicubic",
                                         keep_aspect_ratio=True)])
def test_load_img_matches_keras(tmp_path, kwargs):
    import keras

    path = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (9, 14, 3), dtype=np.uint8)).save(path)
    for source in (str(path), path, io.BytesIO(path.read_bytes())):
        ours = fkeras.utils.load_img(source, **kwargs)
        theirs = keras.utils.load_img(io.BytesIO(path.read_bytes()) if isinstance(source, io.BytesIO) else source,
                                      **kwargs)
        assert ours.mode == theirs.mode and ours.size == theirs.size
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_array_image_round_trip_matches_keras(tmp_path):
    import keras

    rng = np.random.default_rng(2)
    for channels in (1, 3, 4):
        x = rng.uniform(-1, 3, (5, 6, channels)).astype("float32")
        for fmt, arr in (("channels_last", x), ("channels_first", x.transpose(2, 0, 1))):
            for scale in (True, False):
                a = fkeras.utils.array_to_img(arr, data_format=fmt, scale=scale)
                b = keras.utils.array_to_img(arr, data_format=fmt, scale=scale)
                assert a.mode == b.mode
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
                np.testing.assert_array_equal(fkeras.utils.img_to_array(a, data_format=fmt),
                                              keras.utils.img_to_array(b, data_format=fmt))
    fkeras.utils.save_img(tmp_path / "o.jpg", rng.uniform(0, 255, (4, 4, 3)))
    assert Image.open(tmp_path / "o.jpg").format == "JPEG"
    with pytest.warns(UserWarning, match="RGBA"):
        fkeras.utils.save_img(str(tmp_path / "p.jpg"), rng.uniform(0, 255, (4, 4, 4)))
    with pytest.raises(ValueError, match="rank 3"):
        fkeras.utils.array_to_img(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="Unsupported channel number: 2"):
        fkeras.utils.array_to_img(np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match="color_mode"):
        fkeras.utils.load_img(tmp_path / "o.jpg", color_mode="cmyk")
    with pytest.raises(TypeError, match="path should be path-like"):
        fkeras.utils.load_img(3)


def test_config_class_matches_keras():
    import keras

    for cls in (fkeras.utils.Config, keras.utils.Config):
        c = cls(lr=0.1, batch=32)
        c.epochs = 3
        c["seed"] = 1
        assert c.lr == 0.1 and c["epochs"] == 3 and list(c) == ["batch", "epochs", "lr", "seed"] and len(c) == 4
        assert c.as_dict() == {"lr": 0.1, "batch": 32, "epochs": 3, "seed": 1} and "lr" in c
        assert c.to_json() == '{"lr": 0.1, "batch": 32, "epochs": 3, "seed": 1}'
        with pytest.raises(AttributeError, match="Did you mean 'batch'"):
            c.batc  # noqa: B018
        c.freeze()
        assert c.frozen
        with pytest.raises(ValueError, match="frozen"):
            c.lr = 1
        with pytest.raises(ValueError, match="frozen"):
            del c["lr"]
        c.unfreeze()
        assert c.pop("lr") == 0.1 and repr(c).startswith("<Config {")


def test_switches_match_keras(monkeypatch, capsys):
    import keras

    from fkeras.runtime import io_utils

    for ours, theirs in ((fkeras.config, keras.config),):
        for on, off, is_on in (("enable_interactive_logging", "disable_interactive_logging",
                                "is_interactive_logging_enabled"),
                               ("enable_traceback_filtering", "disable_traceback_filtering",
                                "is_traceback_filtering_enabled"),
                               ("enable_flash_attention", "disable_flash_attention", "is_flash_attention_enabled")):
            assert getattr(ours, is_on)() == getattr(theirs, is_on)()
            getattr(ours, off)(), getattr(theirs, off)()
            assert getattr(ours, is_on)() == getattr(theirs, is_on)()
            getattr(ours, on)(), getattr(theirs, on)()
            assert getattr(ours, is_on)() == getattr(theirs, is_on)()
    fkeras.utils.disable_interactive_logging()
    try:
        io_utils.print_msg("to absl")
        assert "to absl" not in capsys.readouterr().out
    finally:
        fkeras.utils.enable_interactive_logging()
    io_utils.print_msg("to stdout")
    assert capsys.readouterr().out == "to stdout\n"


def test_image_data_format_and_limits():
    import keras

    try:
        fkeras.config.set_image_data_format("Channels_First")
        assert fkeras.backend.image_data_format() == fkeras.config.image_data_format() == "channels_first"
        with pytest.raises(ValueError, match="channels_first"):
            fkeras.config.set_image_data_format("nhwc")
    finally:
        fkeras.config.set_image_data_format("channels_last")
    assert fkeras.backend.set_image_data_format is fkeras.config.set_image_data_format
    assert keras.backend.set_image_data_format is keras.config.set_image_data_format
    assert fkeras.config.max_epochs() is keras.config.max_epochs() is None
    fkeras.config.set_max_epochs(2), fkeras.config.set_max_steps_per_epoch(5)
    try:
        assert fkeras.config.max_epochs() == 2 and fkeras.config.max_steps_per_epoch() == 5
    finally:
        fkeras.config.set_max_epochs(None), fkeras.config.set_max_steps_per_epoch(None)


def test_get_source_inputs():
    import keras

    a, b = fkeras.Input((3,)), fkeras.Input((3,))
    h = fkeras.layers.Dense(2)(fkeras.layers.Add()([a, b]))
    out = fkeras.layers.Dense(1)(fkeras.layers.Concatenate()([h, a]))
    assert [id(t) for t in fkeras.utils.get_source_inputs(out)] == [id(a), id(b)]
    assert fkeras.utils.get_source_inputs(a) == [a]
    ka, kb = keras.Input((3,)), keras.Input((3,))
    kout = keras.layers.Dense(1)(keras.layers.Concatenate()([keras.layers.Dense(2)(keras.layers.Add()([ka, kb])), ka]))
    assert [id(t) for t in keras.utils.get_source_inputs(kout)] == [id(ka), id(kb)]
    assert fkeras.utils.get_source_inputs(5) == 5 == keras.utils.get_source_inputs(5)
