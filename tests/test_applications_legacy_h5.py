"""`model.load_weights` on Keras's legacy `.h5` weights (the layout of keras.applications' published
files; `fkeras.saving.legacy_h5`), against Keras 3.15 on the same files: by layer order and by name,
`skip_mismatch`, whole-model `.h5` files (`model_weights`), chunked `layer_names`, errors before any
weight changes, and the reverse (fkeras writes the layout, Keras 3.15 reads it)."""

import h5py
import numpy as np
import pytest

keras = pytest.importorskip("keras")

import chex  # noqa: E402

import fkeras  # noqa: E402
from fkeras.saving import legacy_h5  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 6, 6, 2)).astype("float32")


def _net(lib, names=("conv", "bn", "act", "flat", "dense"), dense_units=4):
    """Conv (kernel, bias) + BatchNormalization (2 trainable, 2 non-trainable: the legacy order matters)
    + a layer without weights + Dense."""
    L = lib.layers
    made = {"conv": lambda n: L.Conv2D(3, 3, name=n), "bn": lambda n: L.BatchNormalization(name=n),
            "act": lambda n: L.Activation("relu", name=n), "flat": lambda n: L.Flatten(name=n),
            "dense": lambda n: L.Dense(dense_units, name=n)}
    return lib.Sequential([lib.Input((6, 6, 2))] + [made[n.split("_")[-1]](n) for n in names], name="net")


def _randomize(model, rng):
    model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in model.get_weights()])


def _keras_legacy_file(km, path):
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, km)
    return str(path)


def _same_weights(fm, km):
    chex.assert_trees_all_close([np.asarray(w) for w in fm.get_weights()], [np.asarray(w) for w in km.get_weights()],
                                rtol=0, atol=0)


def _same_predictions(fm, km):
    chex.assert_trees_all_close(np.asarray(fm(X)), np.asarray(km(X)), rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    """A Keras 3.15 model with random weights (BN statistics too) and its legacy `.h5` file."""
    keras.backend.clear_session(free_memory=False)
    km = _net(keras)
    _randomize(km, np.random.default_rng(1))
    return km, _keras_legacy_file(km, tmp_path_factory.mktemp("legacy") / "net.h5")


def test_by_layer_order(keras_file):
    km, path = keras_file
    fm = _net(fkeras)
    fm.load_weights(path)
    _same_weights(fm, km)
    _same_predictions(fm, km)


def test_whole_model_h5_reads_its_model_weights_group(keras_file, tmp_path):
    km, _ = keras_file
    path = str(tmp_path / "whole.h5")
    km.save(path)  # Keras's legacy whole-model file: weights under `model_weights`
    with h5py.File(path, "r") as f:
        assert "layer_names" not in f.attrs and "model_weights" in f
    fm = _net(fkeras)
    fm.load_weights(path)
    _same_weights(fm, km)


def test_by_name_loads_the_named_layers_and_leaves_the_others(keras_file):
    km, path = keras_file
    # Different layer order, one layer renamed: by order this would fail; by name "other" keeps its weights.
    names = ("conv", "act", "bn", "flat", "other_dense")
    fm, ref = _net(fkeras, names), _net(keras, names)
    ref.set_weights(fm.get_weights())
    untouched = [np.asarray(w) for w in fm.get_layer("other_dense").get_weights()]
    fm.load_weights(path, by_name=True)
    ref.load_weights(path, by_name=True)
    _same_weights(fm, ref)
    chex.assert_trees_all_close(fm.get_layer("other_dense").get_weights(), untouched, rtol=0, atol=0)
    chex.assert_trees_all_close(fm.get_layer("bn").get_weights(), km.get_layer("bn").get_weights(), rtol=0, atol=0)


@pytest.mark.parametrize("by_name", [False, True])
def test_shape_mismatch_raises_before_any_change_or_skips_with_a_warning(keras_file, by_name):
    km, path = keras_file
    fm, ref = _net(fkeras, dense_units=5), _net(keras, dense_units=5)
    ref.set_weights(fm.get_weights())
    before = [np.asarray(w) for w in fm.get_weights()]
    with pytest.raises(ValueError, match=r"Shape mismatch .*dense.*expects shape \(48, 5\).*\(48, 4\)"):
        fm.load_weights(path, by_name=by_name)
    chex.assert_trees_all_close([np.asarray(w) for w in fm.get_weights()], before, rtol=0, atol=0)
    with pytest.raises(ValueError, match="Shape mismatch"):
        ref.load_weights(path, by_name=by_name)

    with pytest.warns(UserWarning, match="dense/kernel"):
        fm.load_weights(path, by_name=by_name, skip_mismatch=True)
    with pytest.warns(UserWarning):
        ref.load_weights(path, by_name=by_name, skip_mismatch=True)
    _same_weights(fm, ref)  # conv and bn loaded, the Dense kernel kept, its bias (shape (5,) vs (4,)) kept too


def test_weight_count_mismatch_by_name(keras_file):
    _, path = keras_file
    # "dense" here is a BatchNormalization (4 weights) where the file's "dense" has 2.
    fm = fkeras.Sequential([fkeras.Input((6, 6, 2)), fkeras.layers.BatchNormalization(name="dense")])
    with pytest.raises(ValueError, match=r"Weight count mismatch for layer #\d \(named dense\)"):
        fm.load_weights(path, by_name=True)
    with pytest.warns(UserWarning, match="Weight count mismatch"):
        fm.load_weights(path, by_name=True, skip_mismatch=True)


def test_layer_count_mismatch_by_order(keras_file):
    _, path = keras_file
    fm = _net(fkeras, ("conv", "flat", "dense"))
    before = [np.asarray(w) for w in fm.get_weights()]
    with pytest.raises(ValueError, match="expected 2 layers with weights, found 3 saved layers"):
        fm.load_weights(path)
    chex.assert_trees_all_close([np.asarray(w) for w in fm.get_weights()], before, rtol=0, atol=0)


def test_arguments_and_files_keras_refuses(keras_file, tmp_path):
    _, path = keras_file
    fm = _net(fkeras)
    with pytest.raises(ValueError, match="Invalid keyword arguments"):
        fm.load_weights(path, by_nmae=True)
    with pytest.raises(ValueError, match="objects_to_skip"):
        fm.load_weights(path, objects_to_skip=[])
    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as f:
        f.create_group("something")
    with pytest.raises(ValueError, match="'layer_names'"):
        fm.load_weights(str(empty))
    with pytest.raises(FileNotFoundError):
        fm.load_weights(str(tmp_path / "missing.h5"))
    linked = tmp_path / "linked.h5"
    with h5py.File(path, "r") as src, h5py.File(linked, "w") as f:
        for k, v in src.attrs.items():
            f.attrs[k] = v
        for k in src:
            src.copy(src[k], f, name=k)
        del f["conv"]
        f["conv"] = h5py.SoftLink("/dense")
    with pytest.raises(ValueError, match="soft link"):
        fm.load_weights(str(linked))


def test_chunked_layer_names(tmp_path):
    """Keras splits `layer_names` into `layer_names0`, `layer_names1`, ... past HDF5's 64 KiB header."""
    long = "x" * 1200
    layers = lambda lib: [lib.Input((4,))] + [lib.layers.Activation("linear", name=f"{long}{i}") for i in range(60)] + [
        lib.layers.Dense(2, name="head")]
    keras.backend.clear_session(free_memory=False)
    km, fm = keras.Sequential(layers(keras)), fkeras.Sequential(layers(fkeras))
    _randomize(km, np.random.default_rng(2))
    path = _keras_legacy_file(km, tmp_path / "chunked.h5")
    with h5py.File(path, "r") as f:
        assert "layer_names" not in f.attrs and "layer_names1" in f.attrs
    fm.load_weights(path)
    _same_weights(fm, km)

    _randomize(fm, np.random.default_rng(3))
    ours = str(tmp_path / "ours.h5")
    legacy_h5.save_weights(fm, ours)
    with h5py.File(ours, "r") as f:
        assert "layer_names" not in f.attrs and "layer_names1" in f.attrs
    km.load_weights(ours)
    _same_weights(fm, km)


def test_keras_reads_the_layout_fkeras_writes(keras_file, tmp_path):
    km, _ = keras_file
    fm = _net(fkeras)
    _randomize(fm, np.random.default_rng(4))
    path = str(tmp_path / "ours.h5")
    legacy_h5.save_weights(fm, path)
    km.load_weights(path)
    _same_weights(fm, km)
    _same_predictions(fm, km)
    with h5py.File(path, "r") as ours, h5py.File(_keras_legacy_file(km, tmp_path / "theirs.h5"), "r") as theirs:
        assert list(ours.attrs["layer_names"]) == list(theirs.attrs["layer_names"])
        for name in ours.attrs["layer_names"]:
            assert list(ours[name].attrs["weight_names"]) == list(theirs[name].attrs["weight_names"])
    with pytest.raises(ValueError, match="'.h5' or '.hdf5'"):
        legacy_h5.save_weights(fm, str(tmp_path / "m.weights.h5"))


def test_saving_load_weights_is_keras_s(keras_file):
    import inspect

    _, path = keras_file
    assert inspect.signature(fkeras.saving.load_weights) == inspect.signature(keras.saving.load_weights)
    fm, ref = _net(fkeras), _net(fkeras)
    fkeras.saving.load_weights(fm, path, by_name=True)
    ref.load_weights(path)
    _same_weights(fm, ref)
