"""The `*_dataset_from_directory` functions, `timeseries_dataset_from_array` and `split_dataset` vs Keras 3.15.

With TensorFlow both build the same tf.data pipeline, so batches must be equal; the no-TensorFlow path
(`MapDataset`, forced by patching `tf_available`) must give the same elements in the unshuffled order.
"""

import os
import wave

import numpy as np
import pytest
from PIL import Image

import fkeras
from fkeras.utils import dataset_utils


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for c in ("cat", "dog"):
        os.makedirs(d / c / "nested")
        for i in range(5):
            Image.fromarray(rng.integers(0, 255, (10 + i, 12, 3), dtype=np.uint8)).save(d / c / f"{i}.png")
        Image.fromarray(rng.integers(0, 255, (9, 9), dtype=np.uint8)).save(d / c / "nested" / "g.jpg")
    (d / "cat" / "notes.txt").write_text("not an image")
    (d / ".hidden").mkdir()
    return d


@pytest.fixture(scope="module")
def png_dir(tmp_path_factory):
    """PNGs only: Pillow and TF decode PNG identically (their JPEG decoders differ by a few levels)."""
    d = tmp_path_factory.mktemp("pngs")
    rng = np.random.default_rng(2)
    for c in ("cat", "dog"):
        os.makedirs(d / c)
        for i in range(5):
            Image.fromarray(rng.integers(0, 255, (10 + i, 12 - i, 3), dtype=np.uint8)).save(d / c / f"{i}.png")
    return d


@pytest.fixture(scope="module")
def text_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("texts")
    for c, words in (("neg", ["bad", "awful", "poor"]), ("pos", ["good", "great", "fine", "nice"])):
        os.makedirs(d / c)
        for i, w in enumerate(words):
            (d / c / f"{i}.txt").write_text(f"{w} movie, é unicode {i}")
    return d


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(1)
    for c in ("a", "b"):
        os.makedirs(d / c)
        for i in range(3):
            with wave.open(str(d / c / f"{i}.wav"), "wb") as w:
                w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
                w.writeframes(rng.integers(-30000, 30000, 50 + 10 * i, dtype=np.int16).tobytes())
    return d


def _np(x):
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def _assert_same(ours, theirs, atol=0.0, same_dtype=True):
    ours, theirs = list(ours), list(theirs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        a, b = (a, b) if isinstance(a, tuple) else ((a,), (b,))
        for u, v in zip(a, b):
            u, v = _np(u), _np(v)
            assert u.shape == v.shape and (u.dtype == v.dtype or not same_dtype)
            if atol and u.dtype.kind == "f":
                np.testing.assert_allclose(u, v, rtol=0, atol=atol)
            else:
                np.testing.assert_array_equal(u, v)


@pytest.fixture
def no_tf(monkeypatch):
    monkeypatch.setattr(dataset_utils, "tf_available", lambda: False)


IMAGE_CASES = [dict(), dict(label_mode="categorical", crop_to_aspect_ratio=True, interpolation="nearest"),
               dict(label_mode="binary", pad_to_aspect_ratio=True, validation_split=0.3, subset="training"),
               dict(labels=None, color_mode="grayscale", batch_size=None, validation_split=0.3, subset="validation"),
               dict(class_names=["dog", "cat"], data_format="channels_first", batch_size=3)]


@pytest.mark.parametrize("kwargs", IMAGE_CASES)
def test_image_dataset_tf_matches_keras(image_dir, kwargs):
    import keras

    kwargs = dict(kwargs)
    batch_size = kwargs.pop("batch_size", 4)
    ours = fkeras.utils.image_dataset_from_directory(image_dir, image_size=(8, 7), batch_size=batch_size, seed=3,
                                                     verbose=False, **kwargs)
    theirs = keras.utils.image_dataset_from_directory(image_dir, image_size=(8, 7), batch_size=batch_size, seed=3,
                                                      verbose=False, **kwargs)
    assert ours.class_names == theirs.class_names and ours.file_paths == theirs.file_paths
    _assert_same(ours, theirs)


@pytest.mark.parametrize("kwargs", [dict(shuffle=False), dict(shuffle=False, label_mode="categorical",
                                                              crop_to_aspect_ratio=True),
                                    dict(shuffle=False, labels=None, color_mode="grayscale"),
                                    dict(shuffle=False, interpolation="nearest", pad_to_aspect_ratio=True,
                                         label_mode="binary"),
                                    dict(shuffle=False, interpolation="bicubic", image_size=(16, 5))])
def test_image_dataset_without_tf_matches_keras(png_dir, no_tf, kwargs):
    import keras

    kwargs = dict(kwargs)
    size = kwargs.pop("image_size", (8, 7))
    ours = fkeras.utils.image_dataset_from_directory(png_dir, image_size=size, batch_size=4, verbose=False,
                                                     **kwargs)
    assert isinstance(ours, dataset_utils.MapDataset) and ours.class_names == (None if "labels" in kwargs
                                                                               else ["cat", "dog"])
    theirs = keras.utils.image_dataset_from_directory(png_dir, image_size=size, batch_size=4, verbose=False,
                                                      **kwargs)
    # fkeras.ops.image.resize vs tf.image.resize differ by float rounding only; for grayscale, TF's decoder and
    # Pillow's "L" conversion (which Keras's own grain path uses) round RGB -> gray differently, by <= 1 level.
    # bicubic: TF's Keys kernel (a=-0.5) vs JAX's (a=-0.5, same) still round differently near edges.
    atol = {"grayscale": 1.01}.get(kwargs.get("color_mode"), 0.5 if kwargs.get("interpolation") == "bicubic" else 1e-3)
    # TF's nearest resize keeps uint8; without TF (ours, and Keras's own grain path) images are float32.
    _assert_same(ours, theirs, atol=atol, same_dtype=kwargs.get("interpolation") != "nearest")


def test_image_dataset_both_and_shuffle_without_tf(image_dir, no_tf, capsys):
    train, val = fkeras.utils.image_dataset_from_directory(image_dir, image_size=(6, 6), batch_size=2, seed=1,
                                                           validation_split=0.4, subset="both")
    out = capsys.readouterr().out
    assert "Found 12 files belonging to 2 classes." in out and "Using 8 files for training." in out
    assert len(train) == 4 and len(val) == 2
    first = [_np(y).tolist() for _, y in train]
    again = [_np(y).tolist() for _, y in train]
    assert sorted(sum(first, [])) == sorted(sum(again, [])) and first != again  # reshuffled each pass
    assert [_np(y).tolist() for _, y in val] == [_np(y).tolist() for _, y in val]  # validation is not shuffled
    assert not set(train.file_paths) & set(val.file_paths)


def test_fit_reads_both_kinds(image_dir, monkeypatch):
    model = fkeras.Sequential([fkeras.Input((6, 6, 3)), fkeras.layers.Rescaling(1 / 255), fkeras.layers.Flatten(),
                               fkeras.layers.Dense(2)])
    model.compile("adam", fkeras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ds = fkeras.utils.image_dataset_from_directory(image_dir, image_size=(6, 6), batch_size=4, seed=0, verbose=False)
    assert len(model.fit(ds, epochs=1, verbose=0).history["loss"]) == 1
    monkeypatch.setattr(dataset_utils, "tf_available", lambda: False)
    ds = fkeras.utils.image_dataset_from_directory(image_dir, image_size=(6, 6), batch_size=4, seed=0, verbose=False)
    ds = ds.map(lambda x, y: (x / 2, y)).prefetch(2)
    assert np.isfinite(model.fit(ds, epochs=2, verbose=0).history["loss"]).all()


@pytest.mark.parametrize("kwargs", [dict(), dict(label_mode="binary", max_length=6),
                                    dict(labels=None, validation_split=0.25, subset="validation")])
def test_text_dataset_matches_keras(text_dir, kwargs):
    import keras

    ours = fkeras.utils.text_dataset_from_directory(text_dir, batch_size=3, seed=2, verbose=False, **kwargs)
    theirs = keras.utils.text_dataset_from_directory(text_dir, batch_size=3, seed=2, verbose=False, **kwargs)
    assert ours.class_names == theirs.class_names
    _assert_same(ours, theirs)


def test_text_dataset_without_tf(text_dir, no_tf):
    import keras

    ours = fkeras.utils.text_dataset_from_directory(text_dir, batch_size=3, shuffle=False, max_length=8,
                                                    label_mode="categorical", verbose=False)
    theirs = keras.utils.text_dataset_from_directory(text_dir, batch_size=3, shuffle=False, max_length=8,
                                                     label_mode="categorical", verbose=False)
    for (xa, ya), (xb, yb) in zip(ours, theirs):
        assert [s for s in xa] == [s.decode() for s in xb.numpy()]
        np.testing.assert_array_equal(ya, yb.numpy())


@pytest.mark.parametrize("kwargs", [dict(), dict(output_sequence_length=55, label_mode="categorical")])
def test_audio_dataset_matches_keras(audio_dir, kwargs, monkeypatch):
    import keras

    theirs = keras.utils.audio_dataset_from_directory(audio_dir, batch_size=4, shuffle=False, verbose=False, **kwargs)
    ours = fkeras.utils.audio_dataset_from_directory(audio_dir, batch_size=4, shuffle=False, verbose=False, **kwargs)
    _assert_same(ours, theirs)
    monkeypatch.setattr(dataset_utils, "tf_available", lambda: False)
    ours = fkeras.utils.audio_dataset_from_directory(audio_dir, batch_size=4, shuffle=False, verbose=False, **kwargs)
    assert isinstance(ours, dataset_utils.MapDataset)
    _assert_same(ours, theirs)


@pytest.mark.parametrize("kwargs", [dict(), dict(sequence_stride=2, sampling_rate=2, batch_size=4, shuffle=True,
                                                  seed=4), dict(start_index=3, end_index=40, batch_size=None)])
def test_timeseries_matches_keras(kwargs, monkeypatch):
    import keras

    data = np.arange(100, dtype="float32").reshape(50, 2)
    targets = np.arange(50) * 10
    ours = fkeras.utils.timeseries_dataset_from_array(data, targets, sequence_length=5, **kwargs)
    theirs = keras.utils.timeseries_dataset_from_array(data, targets, sequence_length=5, **kwargs)
    _assert_same(ours, theirs)
    if not kwargs.get("shuffle"):
        monkeypatch.setattr(dataset_utils, "tf_available", lambda: False)
        _assert_same(fkeras.utils.timeseries_dataset_from_array(data, targets, sequence_length=5, **kwargs), theirs)


def test_timeseries_errors():
    with pytest.raises(ValueError, match="sampling_rate"):
        fkeras.utils.timeseries_dataset_from_array(np.zeros(10), None, 3, sampling_rate=0)
    with pytest.raises(ValueError, match="end_index"):
        fkeras.utils.timeseries_dataset_from_array(np.zeros(10), None, 3, end_index=10)


def test_split_dataset_matches_keras(monkeypatch):
    import keras

    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    for kwargs in (dict(left_size=0.7), dict(right_size=3, shuffle=True, seed=9)):
        ours = fkeras.utils.split_dataset((x, y), **kwargs)
        theirs = keras.utils.split_dataset((x, y), **kwargs)
        for a, b in zip(ours, theirs):
            _assert_same(a, b)
    ours = fkeras.utils.split_dataset(x, left_size=4, shuffle=True, seed=1)
    theirs = keras.utils.split_dataset(x, left_size=4, shuffle=True, seed=1)
    for a, b in zip(ours, theirs):
        _assert_same(a, b)
    monkeypatch.setattr(dataset_utils, "tf_available", lambda: False)
    left, right = fkeras.utils.split_dataset((x, y), left_size=0.7, shuffle=True, seed=9)
    k_left, k_right = keras.utils.split_dataset((x, y), left_size=0.7, shuffle=True, seed=9)
    _assert_same(left, k_left)
    _assert_same(right, k_right)
    with pytest.raises(ValueError, match="At least one"):
        fkeras.utils.split_dataset(x)
    with pytest.raises(ValueError, match="left_size"):
        fkeras.utils.split_dataset(x, left_size=10)


def test_directory_errors(image_dir, tmp_path):
    f = fkeras.utils.image_dataset_from_directory
    with pytest.raises(ValueError, match="seed"):
        f(image_dir, validation_split=0.2, subset="training")
    with pytest.raises(ValueError, match="label_mode"):
        f(image_dir, label_mode="sparse")
    with pytest.raises(ValueError, match="exactly 2"):
        f(image_dir, label_mode="binary", class_names=["cat"], verbose=False)
    with pytest.raises(ValueError, match="No images found"):
        f(tmp_path, verbose=False)
    with pytest.raises(ValueError, match="class_names"):
        f(image_dir, class_names=["cow"], verbose=False)


@pytest.mark.parametrize("name", ["image_dataset_from_directory", "text_dataset_from_directory",
                                  "audio_dataset_from_directory", "timeseries_dataset_from_array", "split_dataset"])
def test_signatures_match_keras(name):
    import inspect

    import keras

    assert str(inspect.signature(getattr(fkeras.utils, name))) == str(inspect.signature(getattr(keras.utils, name)))


def test_split_dataset_tf_batched_and_torch_match_keras():
    import keras
    import tensorflow as tf
    import torch

    x, y = np.arange(20, dtype="float32").reshape(10, 2), np.arange(10)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(3)
    for a, b in zip(fkeras.utils.split_dataset(ds, left_size=0.6), keras.utils.split_dataset(ds, left_size=0.6)):
        _assert_same(a, b)  # batched like the input
    td = torch.utils.data.TensorDataset(torch.from_numpy(x))
    ours = fkeras.utils.split_dataset(td, left_size=0.5, shuffle=True, seed=1)
    theirs = keras.utils.split_dataset(td, left_size=0.5, shuffle=True, seed=1)
    assert [list(s.indices) for s in ours] == [list(s.indices) for s in theirs]
