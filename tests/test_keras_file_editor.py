"""`fkeras.saving.KerasFileEditor` against keras==3.15.1's editor on the same files (Keras-saved and
fkeras-saved `.keras` / `.weights.h5`): the same `weights_dict` (keys, order, arrays exactly),
`object_metadata`, summary tree, comparison status, edits and resaved files; hostile files refused by
fkeras's archive checks."""

import io
from contextlib import redirect_stdout

import chex
import numpy as np
import pytest

import fkeras
from fkeras.saving import KerasFileEditor

keras = pytest.importorskip("keras")  # KERAS_BACKEND=jax is set by conftest
h5py = pytest.importorskip("h5py")

X = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
Y = np.random.default_rng(1).normal(size=(8, 2)).astype("float32")


def _model(lib, units=4):
    m = lib.Sequential([lib.Input((3,)), lib.layers.Dense(units), lib.layers.Dense(2)])
    m.compile(lib.optimizers.Adam(0.01), "mse")
    m.fit(X, Y, epochs=1, batch_size=4, verbose=0)
    return m


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("editor")
    out = {}
    for lib in (keras, fkeras):
        m = _model(lib)
        out[lib.__name__] = (m, str(d / f"{lib.__name__}.keras"), str(d / f"{lib.__name__}.weights.h5"))
        m.save(out[lib.__name__][1])
        m.save_weights(out[lib.__name__][2])
    return out


def _quiet(fn, *args):
    buf = io.StringIO()
    with redirect_stdout(buf):
        result = fn(*args)
    return result, buf.getvalue()


def _same_tree(ours, theirs, ordered=True):
    assert list(ours) == list(theirs) if ordered else sorted(ours) == sorted(theirs)
    for k in ours:
        if isinstance(theirs[k], dict):
            _same_tree(ours[k], theirs[k], ordered)
        else:
            np.testing.assert_array_equal(ours[k], np.asarray(theirs[k]))
            assert np.asarray(ours[k]).dtype == np.asarray(theirs[k]).dtype


@pytest.mark.parametrize("saver", ["keras", "fkeras"])
@pytest.mark.parametrize("kind", [1, 2], ids=["keras_zip", "weights_h5"])
def test_reads_like_keras(files, saver, kind):
    path = files[saver][kind]
    ours, _ = _quiet(KerasFileEditor, path)
    theirs, _ = _quiet(keras.saving.KerasFileEditor, path)
    _same_tree(ours.weights_dict, theirs.weights_dict)
    assert list(ours.weights_dict) == ["layers", "optimizer"]
    assert ours.object_metadata == {k: dict(v) for k, v in theirs.object_metadata.items()}
    assert ours.config == theirs.config and ours.metadata == theirs.metadata
    assert (ours.config is None) == (kind == 2)


def test_summary_prints_keras_tree(files, capsys):
    ours, _ = _quiet(KerasFileEditor, files["keras"][1])
    theirs, _ = _quiet(keras.saving.KerasFileEditor, files["keras"][1])
    ours.summary()
    mine = capsys.readouterr().out
    theirs.summary()
    ref = capsys.readouterr().out
    assert mine.splitlines() == ref.splitlines()
    assert "│   ├─ 0: shape=(3, 4), dtype=float32" in mine


def test_compare_with_models(files):
    ours, _ = _quiet(KerasFileEditor, files["fkeras"][1])
    theirs, _ = _quiet(keras.saving.KerasFileEditor, files["fkeras"][1])
    good, text = _quiet(ours.compare, files["fkeras"][0])
    assert good == {"status": "success", "error_count": 0, "match_count": 4 + 10}  # 4 weights, 10 Adam variables
    assert _quiet(theirs.compare, files["keras"][0])[0]["status"] == "success"
    assert "Comparison successful" in text
    other = _model(fkeras, units=5)
    bad, text = _quiet(ours.compare, other)
    kbad, _ = _quiet(theirs.compare, _model(keras, units=5))
    assert bad["status"] == kbad["status"] == "error"
    # d1 kernel/bias, d2 kernel, and Adam's m/v of those three: 9 shape mismatches
    assert bad["error_count"] == 9 and "Weight shape mismatch for /layers/dense/0" in text


def test_edits_and_resave_like_keras(files, tmp_path):
    """The same edits on both editors give the same tree and files both editors (and load_weights) read."""
    new_kernel = np.ones((4, 2), "float32")
    eds = [_quiet(cls, files["keras"][2])[0] for cls in (KerasFileEditor, keras.saving.KerasFileEditor)]
    for ed in eds:
        ed.rename_object("layers/dense", "first")
        ed.delete_weight("layers/dense_1", "0")
        ed.add_weights("layers/dense_1", {"0": new_kernel})
        ed.add_object("layers/extra", {"0": np.zeros(3, "float32")})
        ed.delete_object("optimizer")
    _same_tree(eds[0].weights_dict, eds[1].weights_dict)
    paths = [str(tmp_path / f"{i}.weights.h5") for i in range(2)]
    eds[0].save(paths[0])
    eds[1].save(paths[1])
    for p in paths:  # read back, objects come in the file's (alphabetical) order
        again = [_quiet(cls, p)[0] for cls in (KerasFileEditor, keras.saving.KerasFileEditor)]
        _same_tree(again[0].weights_dict, again[1].weights_dict)
        _same_tree(again[0].weights_dict, eds[1].weights_dict, ordered=False)
    # undo the renames and load the edited file into a model of the original architecture
    ed = _quiet(KerasFileEditor, paths[1])[0]
    ed.rename_object("layers/first", "dense")
    ed.delete_object("layers/extra")
    ed.resave_weights(str(tmp_path / "fixed.weights.h5"))
    for lib in (fkeras, keras):
        m = lib.Sequential([lib.Input((3,)), lib.layers.Dense(4), lib.layers.Dense(2)])
        m.load_weights(str(tmp_path / "fixed.weights.h5"))
        chex.assert_trees_all_close(m.get_weights()[2], new_kernel, rtol=0, atol=0)
        chex.assert_trees_all_close(m.get_weights()[0], files["keras"][0].get_weights()[0], rtol=0, atol=0)


def test_bare_names_and_errors(files, tmp_path):
    ed = _quiet(KerasFileEditor, files["fkeras"][1])[0]
    # a bare name that occurs once is found (Keras 3.15 miscounts it here and refuses: see its editor)
    ed.rename_object("dense", "first")
    assert list(ed.weights_dict["layers"]) == ["dense_1", "first"]  # a renamed object moves last, as in Keras
    with pytest.raises(ValueError, match="does not appear"):
        ed.delete_object("nope")
    with pytest.raises(ValueError, match="not found"):
        ed.delete_object("layers/nope")
    with pytest.raises(ValueError, match="leaf name"):
        ed.rename_object("first", "a/b")
    with pytest.raises(ValueError, match="already exists"):
        ed.rename_object("first", "dense_1")
    with pytest.raises(ValueError, match="should be a dict"):
        ed.add_object("layers/x", [np.zeros(2)])
    with pytest.raises(ValueError, match="without '/'"):
        ed.add_weights("first", {"a/b": np.zeros(2)})
    with pytest.raises(ValueError, match="Weight 7 not found"):
        ed.delete_weight("first", "7")
    with pytest.raises(ValueError, match="weights.h5"):
        ed.save(str(tmp_path / "x.keras"))
    with pytest.raises(ValueError, match="extension"):
        KerasFileEditor(str(tmp_path / "x.h5"))
    with pytest.raises(FileNotFoundError):
        KerasFileEditor(str(tmp_path / "missing.weights.h5"))


def test_hostile_files_refused_by_the_archive_checks(tmp_path):
    """A soft or external link in the weights file, and a corrupt zip, are refused before anything is read."""
    for kind in ("soft", "external"):
        path = str(tmp_path / f"{kind}.weights.h5")
        with h5py.File(path, "w") as f:
            g = f.create_group("layers/dense/vars")
            g["0"] = np.zeros(2, "float32")
            g["1"] = h5py.SoftLink("/layers/dense/vars/0") if kind == "soft" else h5py.ExternalLink("/etc/passwd", "/x")
        with pytest.raises(ValueError, match="link"):
            _quiet(KerasFileEditor, path)
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(ValueError, match="not a valid .keras archive"):
        _quiet(KerasFileEditor, str(bad))


def test_every_keras_saving_name_exists():
    """keras.saving's public names all exist in fkeras.saving (KerasFileEditor was the last one missing)."""
    missing = sorted(n for n in dir(keras.saving) if not n.startswith("_") and not hasattr(fkeras.saving, n))
    assert missing == []
