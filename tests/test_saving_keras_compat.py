"""`.keras` files cross between fkeras and keras==3.15.1 both ways: Sequential, Functional and a subclassed
model with a registered custom layer; identical predictions; optimizer state and compile config come along,
so training resumes exactly where it stopped."""

import json

import chex
import numpy as np
import pytest

keras = pytest.importorskip("keras")

import fkeras as fk  # noqa: E402
import fkeras.saving as fs  # noqa: E402
from fkeras.saving import archive, saving_lib  # noqa: E402

RNG = np.random.default_rng(0)
X_SEQ = RNG.random((8, 4, 3), dtype=np.float32)
Y_SEQ = np.arange(8) % 3
X_VEC = RNG.random((6, 5), dtype=np.float32)
Y_VEC = RNG.random((6, 3), dtype=np.float32)


def _sequential(lib):
    m = lib.Sequential([lib.Input((4, 3)), lib.layers.Dense(4, activation="tanh"),
                        lib.layers.BatchNormalization(), lib.layers.Flatten(), lib.layers.Dense(3)])
    m.compile(optimizer=lib.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m, X_SEQ, Y_SEQ


def _functional(lib):
    inp = lib.Input((5,), name="inp")
    a, b = lib.layers.Dense(4, name="d1")(inp), lib.layers.Dense(4, activation="relu")(inp)
    m = lib.Model(inp, lib.layers.Dense(3)(lib.layers.Add()([a, b])))
    m.compile(optimizer=lib.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    return m, X_VEC, Y_VEC


def _custom_classes(lib):
    @lib.saving.register_keras_serializable(package="compat")
    class Scale(lib.layers.Layer):
        def __init__(self, factor=2.0, **kw):
            super().__init__(**kw)
            self.factor = factor

        def build(self, shape):
            self.w = self.add_weight(shape=(shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return x * self.w * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    @lib.saving.register_keras_serializable(package="compat")
    class Net(lib.Model):
        def __init__(self, units=3, **kw):
            super().__init__(**kw)
            self.units = units
            self.d = lib.layers.Dense(units)
            self.s = Scale()
            self.blocks = [lib.layers.Dense(units, activation="tanh"), lib.layers.Dense(units)]

        def call(self, x):
            return self.blocks[1](self.blocks[0](self.s(self.d(x))))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return Net


def _subclassed(lib):
    m = _custom_classes(lib)()
    m(X_VEC[:2])
    m.compile(optimizer=lib.optimizers.Adam(1e-2), loss="mse")
    return m, X_VEC, Y_VEC


MAKERS = [_sequential, _functional, _subclassed]
IDS = ["sequential", "functional", "subclassed"]


def _train(m, x, y, epochs=2):
    m.fit(x, y, batch_size=len(x), epochs=epochs, verbose=0, shuffle=False)


@pytest.mark.parametrize("make", MAKERS, ids=IDS)
def test_fkeras_file_loads_in_keras(tmp_path, make):
    model, x, y = make(fk)
    _train(model, x, y)
    model.save(tmp_path / "m.keras")
    _custom_classes(keras)  # the Keras-side definitions of the registered classes
    back = keras.saving.load_model(tmp_path / "m.keras")
    chex.assert_trees_all_close(back.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
    assert int(back.optimizer.iterations) == 2
    # same layout as Keras's own save of that model
    back.save(tmp_path / "k.keras")
    ours = archive.read_weights_h5(archive.read_keras_zip(tmp_path / "m.keras")[archive.WEIGHTS])
    theirs = archive.read_weights_h5(archive.read_keras_zip(tmp_path / "k.keras")[archive.WEIGHTS])
    assert {p for p in ours if ours[p]} == {p for p in theirs if theirs[p]}
    for p in theirs:
        for a, b in zip(ours.get(p, []), theirs[p]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", MAKERS, ids=IDS)
def test_keras_file_loads_in_fkeras(tmp_path, make):
    kmodel, x, y = make(keras)
    _train(kmodel, x, y)
    kmodel.save(tmp_path / "k.keras")
    _custom_classes(fk)
    model = fs.load_model(tmp_path / "k.keras")
    chex.assert_trees_all_close(model.predict(x, verbose=0), kmodel.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert model.optimizer.iterations == 2
    # training resumes where it stopped: one more epoch on both sides agrees (optimizer slots restored)
    _train(kmodel, x, y, epochs=1)
    _train(model, x, y, epochs=1)
    chex.assert_trees_all_close(model.get_weights(), kmodel.get_weights(), rtol=1e-4, atol=1e-5)


def test_resume_in_fkeras_matches_uninterrupted(tmp_path):
    model, x, y = _subclassed(fk)
    _train(model, x, y)
    model.save(tmp_path / "m.keras")
    back = fs.load_model(tmp_path / "m.keras")
    assert json.loads(archive.read_keras_zip(tmp_path / "m.keras")[archive.CONFIG])["compile_config"]["loss"] == "mse"
    _train(model, x, y)
    _train(back, x, y)
    chex.assert_trees_all_close(back.get_weights(), model.get_weights(), rtol=1e-6, atol=1e-6)
    # without the optimizer state (compile=False + fresh compile) the result differs: the test can fail
    fresh = fs.load_model(tmp_path / "m.keras", compile=False)
    fresh.compile(optimizer=fk.optimizers.Adam(1e-2), loss="mse")
    _train(fresh, x, y)
    assert not np.allclose(fresh.get_weights()[0], model.get_weights()[0], atol=1e-6)


def test_weights_h5_round_trip_and_wrong_shapes(tmp_path):
    model, x, y = _functional(fk)
    _train(model, x, y)
    model.save_weights(tmp_path / "w.weights.h5")
    other, _, _ = _functional(fk)
    other.load_weights(tmp_path / "w.weights.h5")
    chex.assert_trees_all_close(other.predict(x, verbose=0), model.predict(x, verbose=0), rtol=0, atol=0)
    # a file from an uncompiled model (no optimizer group) loads into a compiled one; weights only
    bare = fk.Model.from_config(model.get_config())
    bare.set_weights(model.get_weights())
    bare.save_weights(tmp_path / "bare.weights.h5")
    with pytest.warns(UserWarning, match="no optimizer state"):
        other.load_weights(tmp_path / "bare.weights.h5")
    chex.assert_trees_all_close(other.get_weights(), model.get_weights(), rtol=0, atol=0)
    inp = fk.Input((5,))
    wrong = fk.Model(inp, fk.layers.Dense(3)(fk.layers.Dense(7)(inp)))
    before = wrong.get_weights()
    with pytest.raises(ValueError, match="expected shape"):
        wrong.load_weights(tmp_path / "w.weights.h5")
    chex.assert_trees_all_equal(wrong.get_weights(), before)


def test_unknown_custom_class_needs_registration(tmp_path):
    model, _, _ = _subclassed(fk)
    model.save(tmp_path / "m.keras")
    config = json.loads(archive.read_keras_zip(tmp_path / "m.keras")[archive.CONFIG])
    assert config["registered_name"] == "compat>Net"
    entries = archive.read_keras_zip(tmp_path / "m.keras")
    config["registered_name"], config["class_name"] = "other>Missing", "Missing"
    entries[archive.CONFIG] = json.dumps(config).encode()
    archive.write_keras_zip(tmp_path / "u.keras", entries)
    with pytest.raises(ValueError, match="Could not locate class 'Missing'"):
        fs.load_model(tmp_path / "u.keras")
    net = _custom_classes(fk)
    loaded = fs.load_model(tmp_path / "u.keras", custom_objects={"Missing": net})
    assert type(loaded).__name__ == "Net"


def test_layout_of_fkeras_subclassed_model():
    model, _, _ = _subclassed(fk)
    paths = [p for p, _, _ in saving_lib.weight_groups(model)]
    assert paths == ["", "blocks/dense", "blocks/dense_1", "d", "layers/scale", "optimizer"]


@pytest.mark.parametrize("opt,kwargs", [("Nadam", {}), ("RMSprop", {"momentum": 0.9, "centered": True}),
                                        ("Adamax", {})])
def test_optimizer_layouts_resume_in_keras(tmp_path, opt, kwargs):
    """Nadam's trailing u_product, RMSprop's grouped (not interleaved) slots and Adamax's interleaved
    momentum/norm land where Keras reads them (saving reads each optimizer's own slot declaration)."""
    inp = fk.Input((5,))
    model = fk.Model(inp, fk.layers.Dense(3)(fk.layers.Dense(4, activation="tanh")(inp)))
    model.compile(getattr(fk.optimizers, opt)(learning_rate=0.01, **kwargs), "mse")
    model.fit(X_VEC, Y_VEC, batch_size=3, epochs=1, verbose=0, shuffle=False)
    model.save(tmp_path / "o.keras")
    back = keras.saving.load_model(tmp_path / "o.keras")
    assert len(back.optimizer.variables) == {"Nadam": 11, "RMSprop": 14, "Adamax": 10}[opt]
    back.fit(X_VEC, Y_VEC, batch_size=3, epochs=1, verbose=0, shuffle=False)
    model.fit(X_VEC, Y_VEC, batch_size=3, epochs=1, verbose=0, shuffle=False)
    chex.assert_trees_all_close(model.get_weights(), back.get_weights(), rtol=1e-5, atol=1e-6)
