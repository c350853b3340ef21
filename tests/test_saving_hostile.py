"""A model file is untrusted input: hostile `.keras` / `.weights.h5` files built here are refused with a
clear error before anything is read into the model, and the model keeps its weights."""

from __future__ import annotations

import io
import json
import os
import zipfile

import h5py
import numpy as np
import pytest

import fkeras
from fkeras.saving import archive


def _model():
    model = fkeras.Sequential([fkeras.Input((4,)), fkeras.layers.Dense(3, name="d")])
    model.compile("sgd", "mse")
    return model


def _weights_bytes(build) -> bytes:
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        build(f)
    return buf.getvalue()


def _keras_file(tmp_path, model, weights: bytes, extra=None, compression=zipfile.ZIP_STORED) -> str:
    good = tmp_path / "good.keras"
    model.save(good)
    with zipfile.ZipFile(good) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    entries[archive.WEIGHTS] = weights
    entries.update(extra or {})
    path = tmp_path / "hostile.keras"
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return str(path)


def _dense_layout(f, kernel):
    g = f.create_group("layers/dense/vars")
    kernel(g)
    g["1"] = np.zeros(3, "float32")
    f.create_group("vars")


def test_external_storage_dataset_is_refused(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"s" * 48)
    data = _weights_bytes(lambda f: _dense_layout(
        f, lambda g: g.create_dataset("0", shape=(4, 3), dtype="float32", external=[(str(secret), 0, 48)])))
    model = _model()
    path = _keras_file(tmp_path, model, data)
    with pytest.raises(ValueError, match="external file"):
        fkeras.saving.load_model(path)
    wfile = tmp_path / "x.weights.h5"
    wfile.write_bytes(data)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="external file"):
        model.load_weights(str(wfile))
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("link", ["external", "soft"])
def test_links_are_refused(tmp_path, link):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["data"] = np.ones((4, 3), "float32")

    def kernel(g):
        g["0"] = h5py.ExternalLink(str(other), "/data") if link == "external" else h5py.SoftLink("/layers/dense/vars/1")

    data = _weights_bytes(lambda f: _dense_layout(f, kernel))
    wfile = tmp_path / "x.weights.h5"
    wfile.write_bytes(data)
    with pytest.raises(ValueError, match=f"{link} link"):
        _model().load_weights(str(wfile))
    with pytest.raises(ValueError, match=f"{link} link"):  # inside a .keras: named, not "corrupt HDF5"
        fkeras.saving.load_model(_keras_file(tmp_path, _model(), data))


def test_virtual_dataset_is_refused(tmp_path):
    other = tmp_path / "src.h5"
    with h5py.File(other, "w") as f:
        f["data"] = np.ones((4, 3), "float32")

    def kernel(g):
        layout = h5py.VirtualLayout(shape=(4, 3), dtype="float32")
        layout[:] = h5py.VirtualSource(str(other), "data", shape=(4, 3))
        g.create_virtual_dataset("0", layout)

    wfile = tmp_path / "x.weights.h5"
    with h5py.File(wfile, "w") as f:
        _dense_layout(f, kernel)
    with pytest.raises(ValueError, match="virtual dataset"):
        _model().load_weights(str(wfile))


def test_huge_declared_dataset_is_refused_before_reading(tmp_path):
    data = _weights_bytes(lambda f: _dense_layout(
        f, lambda g: g.create_dataset("0", shape=(10**6, 10**6), dtype="float32")))  # 4 TB declared, 0 stored
    wfile = tmp_path / "x.weights.h5"
    wfile.write_bytes(data)
    with pytest.raises(ValueError, match="max_compression_ratio"):
        _model().load_weights(str(wfile))


def test_non_numeric_dataset_is_refused(tmp_path):
    data = _weights_bytes(lambda f: _dense_layout(f, lambda g: g.create_dataset("0", data=np.array([b"x" * 8] * 12))))
    wfile = tmp_path / "x.weights.h5"
    wfile.write_bytes(data)
    with pytest.raises(ValueError, match="expected numbers"):
        _model().load_weights(str(wfile))


def test_zip_bomb_member_is_never_decompressed(tmp_path):
    """An unused member of 400 MB of zeros in a ~0.4 MB file: not read at all."""
    model = _model()
    good = tmp_path / "good.keras"
    model.save(good)
    with zipfile.ZipFile(good) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        info = zipfile.ZipInfo("assets/padding.bin")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as f:
            chunk = bytes(2**22)
            for _ in range(100):
                f.write(chunk)
    assert os.path.getsize(path) < 2_000_000
    loaded = fkeras.saving.load_model(path)  # the unknown member is skipped, so this is cheap
    np.testing.assert_allclose(loaded.get_weights()[0], model.get_weights()[0])


def test_zip_bomb_in_a_defined_member_is_refused(tmp_path):
    model = _model()
    bomb_weights = _weights_bytes(lambda f: (_dense_layout(f, lambda g: g.__setitem__("0", np.zeros((4, 3), "f4"))),
                                             f.create_dataset("pad", data=np.zeros(2**22, "f4"))))
    path = _keras_file(tmp_path, model, bomb_weights, compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(ValueError, match=r"zip bomb.*max_compression_ratio"):
        fkeras.saving.load_model(path)
    with fkeras.saving.load_limits(max_compression_ratio=1e6):  # a trusted file: the documented way through
        fkeras.saving.load_model(path)


def test_limits_are_checked_and_restored():
    before = fkeras.saving.get_load_limits()
    with pytest.raises(TypeError, match="unknown limit"):
        fkeras.saving.set_load_limits(max_bananas=1)
    with pytest.raises(ValueError, match="max_json_depth > 0"):
        fkeras.saving.set_load_limits(max_json_depth=0)
    with fkeras.saving.load_limits(max_json_bytes=10) as inner:
        assert inner.max_json_bytes == 10
        assert fkeras.saving.get_load_limits().max_json_bytes == 10
    assert fkeras.saving.get_load_limits() is before


def test_oversized_config_and_deep_nesting_are_refused(tmp_path):
    model = _model()
    deep = {"class_name": "Sequential", "config": {}}
    node = deep["config"]
    for _ in range(300):
        node["x"] = {}
        node = node["x"]
    path = _keras_file(tmp_path, model, _weights_bytes(lambda f: None),
                       extra={archive.CONFIG: json.dumps(deep).encode()})
    with pytest.raises(ValueError, match="max_json_depth"):
        fkeras.saving.load_model(path)
    with fkeras.saving.load_limits(max_json_bytes=100):
        with pytest.raises(ValueError, match="max_json_bytes"):
            fkeras.saving.load_model(_keras_file(tmp_path, model, _weights_bytes(lambda f: None)))


def test_saving_under_a_file_says_so(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("I am a file")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        _model().save(blocker / "sub" / "m.keras")
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        archive.atomic_write_bytes(tmp_path, b"x")


def test_orphan_temporaries_of_killed_saves_are_cleaned(tmp_path):
    target = tmp_path / "model.keras"
    old = tmp_path / ".model.keras.abc123.tmp"  # what a save killed mid-write leaves
    old.write_bytes(b"x" * 1000)
    os.utime(old, (0, 0))
    fresh = tmp_path / ".model.keras.live99.tmp"  # another process saving right now: kept
    fresh.write_bytes(b"y")
    other = tmp_path / ".other.keras.zzz.tmp"  # a different target: not ours to remove
    other.write_bytes(b"z")
    os.utime(other, (0, 0))
    _model().save(target)
    assert target.exists() and not old.exists()
    assert fresh.exists() and other.exists()


@pytest.mark.parametrize("class_name", ["__loader__", "_FakePrivate", "get", "deserialize"])
def test_config_names_only_resolve_to_public_classes(tmp_path, class_name):
    """A config naming a module attribute that is not a public class is an unknown class, not a call."""
    from fkeras.saving import serialization_lib

    with pytest.raises(ValueError, match="Could not locate class"):
        serialization_lib.deserialize_keras_object({"module": "keras.layers", "class_name": class_name, "config": {}})


def test_huge_declared_layer_in_config_is_refused_before_allocating(tmp_path):
    """A config declaring Dense(10**12) is refused by size, computed abstractly, naming the layer."""
    model = _model()
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(entries[archive.CONFIG])
    config["config"]["layers"][1]["config"]["units"] = 10**12
    entries[archive.CONFIG] = json.dumps(config).encode()
    huge = tmp_path / "huge.keras"
    with zipfile.ZipFile(huge, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    with pytest.raises(ValueError, match=r"Layer 'd'.*over the limit.*max_weights_bytes"):
        fkeras.saving.load_model(huge)
    model.save(path)  # an ordinary file still loads under the same limit
    fkeras.saving.load_model(path)
