"""Preprocessing layers in `.keras` files, both ways with Keras 3.15: Normalization's mean/variance as
weights, Discretization's edges in the config, lookup vocabularies in `assets/`, idf weights as a named
variable; the hardened archive reader reads `assets/` bounded and only under the model's paths."""

import json
import os
import zipfile

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
import fkeras  # noqa: E402
from fkeras.saving import archive  # noqa: E402

RNG = np.random.RandomState(1)
X_INT = RNG.randint(0, 12, size=(16, 4)).astype("int32")
X_F = RNG.randn(16, 3).astype("float32")
Y = RNG.randn(16, 1).astype("float32")


def _model(lib, adapt_lib):
    """Two inputs through IntegerLookup(tf_idf), Hashing, Normalization, Discretization, CategoryEncoding."""
    L = lib.layers
    lookup = L.IntegerLookup(output_mode="tf_idf", max_tokens=10, name="integer_lookup")
    norm = L.Normalization(name="normalization")
    disc = L.Discretization(num_bins=4, name="discretization")
    lookup.adapt(X_INT)
    norm.adapt(X_F)
    disc.adapt(X_F)
    xi, xf = lib.Input((4,), dtype="int32"), lib.Input((3,))
    parts = [lookup(xi), L.Hashing(5, output_mode="multi_hot")(xi), L.Dense(2)(norm(xf)),
             L.CategoryEncoding(4, output_mode="count")(disc(xf))]
    out = L.Dense(1)(L.Concatenate()([L.Activation("linear")(p) for p in parts]))
    return lib.Model([xi, xf], out)


def _predict(model):
    return np.asarray(model.predict([X_INT[:5], X_F[:5]], verbose=0))


def test_fkeras_file_loads_in_keras(tmp_path):
    model = _model(fkeras, fkeras)
    model.compile("sgd", "mse")
    model.fit([X_INT, X_F], Y, epochs=1, batch_size=8, verbose=0)  # jitted: the lookups run through pure_callback
    path = str(tmp_path / "f.keras")
    model.save(path)
    names = zipfile.ZipFile(path).namelist()
    assert "assets/layers/integer_lookup/vocabulary.txt" in names
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded.predict([X_INT[:5], X_F[:5]], verbose=0)), _predict(model),
                               rtol=1e-5, atol=1e-5)
    k_lookup = loaded.get_layer("integer_lookup")
    assert [int(v) for v in k_lookup.get_vocabulary()] == model.get_layer("integer_lookup").get_vocabulary()
    np.testing.assert_allclose(np.asarray(loaded.get_layer("normalization").adapt_mean),
                               np.asarray(model.get_layer("normalization").mean), rtol=1e-6)


def test_keras_file_loads_in_fkeras(tmp_path):
    model = _model(keras, keras)
    path = str(tmp_path / "k.keras")
    model.save(path)
    loaded = fkeras.saving.load_model(path)
    np.testing.assert_allclose(_predict(loaded), _predict(model), rtol=1e-5, atol=1e-5)
    assert loaded.get_layer("integer_lookup").get_vocabulary() == [
        int(v) for v in model.get_layer("integer_lookup").get_vocabulary()]
    assert loaded.get_layer("discretization").bin_boundaries == model.get_layer("discretization").bin_boundaries
    again = str(tmp_path / "again.keras")
    loaded.save(again)  # and back: the same file layout Keras wrote
    with zipfile.ZipFile(path) as a, zipfile.ZipFile(again) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())
        assert a.read("assets/layers/integer_lookup/vocabulary.txt") == b.read(
            "assets/layers/integer_lookup/vocabulary.txt")


@pytest.mark.parametrize("kind", ["StringLookup", "TextVectorization"])
@pytest.mark.parametrize("mode", ["int", "tf_idf"])
def test_text_layers_assets_and_variables_cross(kind, mode, tmp_path):
    """Keras's save_assets / save_own_variables files load into fkeras and back (layer level: a string
    Input model is not supported by the fkeras facade yet)."""
    data = np.array([["a b b c"], ["c a a é"]]) if kind == "TextVectorization" else np.array([["a", "b", "b"], ["é", "a", "a"]])
    probe = np.array([["a é zz"]]) if kind == "TextVectorization" else np.array([["a", "é", "zz"]])
    k_layer, f_layer = getattr(keras.layers, kind)(output_mode=mode), getattr(fkeras.layers, kind)(output_mode=mode)
    k_layer.adapt(data)
    (tmp_path / "k").mkdir()
    k_layer.save_assets(str(tmp_path / "k"))
    store = {}
    k_layer.save_own_variables(store)
    fresh = getattr(fkeras.layers, kind).from_config(json.loads(json.dumps(k_layer.get_config())))
    fresh.load_own_variables({k: np.asarray(v) for k, v in store.items()})
    fresh.load_assets(str(tmp_path / "k"))
    assert fresh.get_vocabulary() == [str(v) for v in k_layer.get_vocabulary()]
    np.testing.assert_allclose(np.asarray(fresh(probe)), np.asarray(k_layer(probe)), rtol=1e-6)
    f_layer.adapt(data)
    (tmp_path / "f").mkdir()
    f_layer.save_assets(str(tmp_path / "f"))
    store = {}
    f_layer.save_own_variables(store)
    back = getattr(keras.layers, kind).from_config(json.loads(json.dumps(f_layer.get_config())))
    back.load_own_variables(store)
    back.load_assets(str(tmp_path / "f"))
    np.testing.assert_allclose(np.asarray(back(probe)), np.asarray(f_layer(probe)), rtol=1e-6)


def _write(path, entries):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)


def test_archive_reads_only_the_models_assets_bounded(tmp_path):
    good = tmp_path / "good.keras"
    model = _model(fkeras, fkeras)
    model.save(str(good))
    with zipfile.ZipFile(good) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    vocab = "assets/layers/integer_lookup/vocabulary.txt"
    assert vocab not in archive.read_keras_zip(str(good))  # assets are read only when a layer asks
    assert archive.read_keras_assets(str(good), ["assets/layers/integer_lookup/"])[vocab].startswith(b"-1\n")
    with archive.load_limits(max_assets_bytes=4):
        with pytest.raises(ValueError, match="max_assets_bytes"):
            fkeras.saving.load_model(str(good))
    bad = tmp_path / "bad.keras"
    _write(bad, {**entries, "assets/../../evil.txt": b"x"})
    with pytest.raises(ValueError, match="unsafe entry name"):
        fkeras.saving.load_model(str(bad))
    stray = tmp_path / "stray.keras"  # assets of paths the model lacks are never decompressed
    with zipfile.ZipFile(stray, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        info = zipfile.ZipInfo("assets/layers/nothing_here/vocabulary.txt")
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, bytes(2 ** 24))
    loaded = fkeras.saving.load_model(str(stray))
    assert loaded.get_layer("integer_lookup").get_vocabulary() == model.get_layer("integer_lookup").get_vocabulary()
    np.testing.assert_allclose(_predict(loaded), _predict(model), rtol=1e-6)
    bomb = tmp_path / "bomb.keras"  # a compressed-bomb vocabulary of the lookup itself is refused
    with zipfile.ZipFile(bomb, "w") as zf:
        for name, data in entries.items():
            if name != vocab:
                zf.writestr(name, data)
        info = zipfile.ZipInfo(vocab)
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, b"1\n" * 2 ** 22)
    with pytest.raises(ValueError, match="zip bomb"):
        fkeras.saving.load_model(str(bomb))


def test_weights_file_named_variables_checked(tmp_path):
    """A `vars` group may hold named datasets (Keras's `idf_weights`) but nothing else odd."""
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "w.h5"
    with h5py.File(path, "w") as f:
        f.create_group("layers/x/vars")["idf_weights"] = np.ones(3, "float32")
    groups = archive.read_weights_h5(str(path))
    assert groups["layers/x"].keys == ["idf_weights"]
    with h5py.File(path, "w") as f:
        f.create_group("layers/x/vars")["bad name!"] = np.ones(3, "float32")
    with pytest.raises(ValueError, match="expected indices"):
        archive.read_weights_h5(str(path))
