"""The `.keras` / `.weights.h5` format layer against files written by keras==3.15.1.

These tests drive fkeras.saving with Keras's own model objects (the walk is duck-typed), so the
layout rules (layers/<snake>[_N]/vars/<i>, attribute paths of subclassed models, optimizer/vars with
iterations and learning rate first) are checked against Keras byte for byte, independent of the
fkeras facade. Also: safety (zip paths, truncation, corrupt HDF5, lambdas, unknown classes) and
atomic writes.
"""

import json
import os
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import fkeras.saving as fs  # noqa: E402
from fkeras.saving import archive, saving_lib  # noqa: E402


def _seq():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).random((8, 6, 6, 1), dtype=np.float32)
    y = np.arange(8) % 3
    m = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                          keras.layers.BatchNormalization(), keras.layers.Flatten(), keras.layers.Dropout(0.1),
                          keras.layers.Dense(3), keras.layers.Dense(3)])
    m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    _one_step(m)
    return m, x


def _one_step(m):
    """One eager optimizer step with fixed gradients (cheaper than fit's compile)."""
    m.optimizer.build(m.trainable_variables)
    m.optimizer.apply_gradients([(np.full(v.shape, 0.1, np.float32), v) for v in m.trainable_variables])


def _functional():
    inp = keras.Input((5,), name="inp")
    a, b = keras.layers.Dense(4, name="d1")(inp), keras.layers.Dense(4)(inp)
    m = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Add()([a, b])))
    m.compile("sgd", "mse")
    return m, np.random.default_rng(1).random((3, 5), dtype=np.float32)


class Scale(keras.layers.Layer):
    def build(self, s):
        self.w = self.add_weight(shape=(s[-1],), initializer="ones", name="w")

    def call(self, x):
        return x * self.w


class _Sub(keras.Model):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.d = keras.layers.Dense(3)
        self.s = Scale()
        self.blocks = [keras.layers.Dense(3), keras.layers.Dense(3)]

    def call(self, x):
        return self.blocks[1](self.blocks[0](self.s(self.d(x))))


def _subclassed():
    m = _Sub()
    x = np.ones((4, 5), np.float32)
    m(x)
    m.compile("adam", "mse")
    _one_step(m)
    return m, x


def _nested():
    inner = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4), keras.layers.Dense(4)], name="inner")
    inp = keras.Input((5,))
    m = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Concatenate()([inner(inp), keras.layers.Dense(3)(inp)])))
    m.compile("rmsprop", "mse")
    _one_step(m)
    return m, np.ones((2, 5), np.float32)


def _groups_of_keras_file(path):
    return archive.read_weights_h5(archive.read_keras_zip(path)[archive.WEIGHTS])


@pytest.mark.parametrize("make", [_seq, _functional, _subclassed, _nested],
                         ids=["sequential", "functional", "subclassed", "nested"])
def test_weight_layout_matches_keras(tmp_path, make):
    model, x = make()
    model.save(tmp_path / "k.keras")
    ours = {p: arrays for p, _, arrays in saving_lib.weight_groups(model)}
    theirs = _groups_of_keras_file(tmp_path / "k.keras")
    assert sorted(ours) == sorted(theirs)
    for p in theirs:
        assert len(ours[p]) == len(theirs[p]), p
        for a, b in zip(ours[p], theirs[p]):
            np.testing.assert_array_equal(a, b)
    # and Keras reads our weights file back into a fresh copy with identical predictions
    fs.save_weights(model, tmp_path / "ours.weights.h5")
    clone = make()[0]
    clone.load_weights(tmp_path / "ours.weights.h5")
    for a, b in zip(clone.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(clone.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_known_layout_details(tmp_path):
    model, _ = _subclassed()
    paths = [p for p, _, _ in saving_lib.weight_groups(model)]
    # attribute paths; `s` is first reached through the `layers` list (sorted before `s`), like Keras
    assert paths[:5] == ["", "blocks/dense", "blocks/dense_1", "d", "layers/scale"]
    assert "optimizer" in paths
    opt = dict((p, a) for p, _, a in saving_lib.weight_groups(model))["optimizer"]
    assert opt[0].dtype == np.int32 and opt[0] == 1 and opt[1].dtype == np.float32  # iterations, learning_rate
    assert [a.shape for a in opt[2:6]] == [(5, 3), (5, 3), (3,), (3,)]  # Adam interleaves m, v per variable


def test_keras_reads_archive_written_by_fkeras(tmp_path):
    model, x = _functional()
    model.save(tmp_path / "k.keras")
    entries = archive.read_keras_zip(tmp_path / "k.keras")
    weights = archive.write_weights_h5(saving_lib.weight_groups(model))
    archive.write_keras_zip(tmp_path / "f.keras", {archive.METADATA: entries[archive.METADATA],
                                                   archive.CONFIG: entries[archive.CONFIG],
                                                   archive.WEIGHTS: weights})
    with zipfile.ZipFile(tmp_path / "f.keras") as zf:
        assert zf.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
    back = keras.saving.load_model(tmp_path / "f.keras")
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0), rtol=0, atol=0)


def test_wrong_shapes_leave_model_untouched(tmp_path):
    model, x = _functional()
    other = keras.Model(model.inputs, keras.layers.Dense(2)(keras.layers.Dense(7)(model.inputs[0])))
    before = [w.copy() for w in model.get_weights()]
    fs.save_weights(other, tmp_path / "o.weights.h5")
    with pytest.raises(ValueError, match="unchanged"):
        fs.load_weights(model, tmp_path / "o.weights.h5")
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def _write_zip(path, entries):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)


@pytest.mark.parametrize("bad", ["../evil.txt", "/abs/evil.txt", "assets/../../x", "C:/x", "a\\..\\b"])
def test_unsafe_zip_entries_refused(tmp_path, bad):
    _write_zip(tmp_path / "m.keras", {"config.json": b"{}", bad: b"x"})
    with pytest.raises(ValueError, match="unsafe entry name"):
        fs.load_model(tmp_path / "m.keras")


def test_truncated_archive_is_clear_error(tmp_path):
    model, _ = _functional()
    model.save(tmp_path / "k.keras")
    data = (tmp_path / "k.keras").read_bytes()
    (tmp_path / "t.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        fs.load_model(tmp_path / "t.keras")


def test_corrupt_weights_is_clear_error(tmp_path):
    (tmp_path / "c.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    model, _ = _functional()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="not a readable Keras weights file"):
        fs.load_weights(model, tmp_path / "c.weights.h5")
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_lambda_needs_unsafe_mode(tmp_path):
    inp = keras.Input((3,))
    m = keras.Model(inp, keras.layers.Lambda(lambda t: t * 2.0)(inp))
    m.save(tmp_path / "l.keras")
    with pytest.raises(ValueError, match="safe_mode=False"):
        fs.load_model(tmp_path / "l.keras")


def test_unknown_class_is_clear_error(tmp_path):
    config = {"module": "my.pkg", "class_name": "Mystery", "config": {}, "registered_name": "my>Mystery"}
    _write_zip(tmp_path / "u.keras", {"metadata.json": b"{}", "config.json": json.dumps(config).encode()})
    with pytest.raises(ValueError, match="Could not locate class 'Mystery'.*register_keras_serializable"):
        fs.load_model(tmp_path / "u.keras")


def test_atomic_write_keeps_previous_file_on_crash(tmp_path, monkeypatch):
    target = tmp_path / "w.keras"
    archive.write_keras_zip(target, {"config.json": b'{"v": 1}'})
    original = target.read_bytes()

    def crash(*a, **k):
        raise KeyboardInterrupt("simulated crash before the rename")

    monkeypatch.setattr(archive.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        archive.write_keras_zip(target, {"config.json": b'{"v": 2}'})
    assert target.read_bytes() == original
    assert os.listdir(tmp_path) == ["w.keras"]  # temp file cleaned up


def test_registration_and_serialization_round_trip():
    @fs.register_keras_serializable(package="tests")
    class Thing:
        def __init__(self, a=1, arr=None):
            self.a, self.arr = a, arr

        def get_config(self):
            return {"a": self.a, "arr": self.arr}

        @classmethod
        def from_config(cls, config):  # like Keras, nested objects are deserialized by the class itself
            return cls(config["a"], fs.deserialize_keras_object(config["arr"]))

    cfg = fs.serialize_keras_object(Thing(3, np.arange(3, dtype=np.int32)))
    assert cfg["registered_name"] == "tests>Thing" and cfg["class_name"] == "Thing"
    assert cfg["config"]["arr"] == {"class_name": "__numpy__", "config": {"value": [0, 1, 2], "dtype": "int32"}}
    back = fs.deserialize_keras_object(json.loads(json.dumps(cfg)))
    assert isinstance(back, Thing) and back.a == 3
    np.testing.assert_array_equal(back.arr, np.arange(3))
    with pytest.raises(ValueError, match="Could not locate class"):
        fs.deserialize_keras_object({**cfg, "registered_name": "nope>Thing", "class_name": "Nope"})
    with fs.custom_object_scope({"Nope": Thing}):
        assert isinstance(fs.deserialize_keras_object({**cfg, "registered_name": None, "class_name": "Nope"}), Thing)


def test_invalid_config_json_and_missing_config(tmp_path):
    _write_zip(tmp_path / "j.keras", {"metadata.json": b"{}", "config.json": b"{not json"})
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        fs.load_model(tmp_path / "j.keras")
    _write_zip(tmp_path / "n.keras", {"metadata.json": b"{}"})
    with pytest.raises(ValueError, match="has no config.json"):
        fs.load_model(tmp_path / "n.keras")
    with pytest.raises(ValueError, match="ending in '.keras'"):
        fs.load_model(tmp_path / "model.h5")
