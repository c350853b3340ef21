"""`Variable.path` as Keras 3.15 writes it: the name scopes open when the variable was made
(`sequential/dense/kernel`, `my_model/block/dense/kernel`, ...), checked against keras on the same
structures; and a LayoutMap keyed by Keras paths shards the same variables in fkeras as in Keras."""

import jax
import keras
import numpy as np
import pytest

import fkeras
from fkeras import distribution as fdist


def _fresh(lib):
    if lib is keras:
        keras.backend.clear_session(free_memory=False)  # names only: a gc pass per call costs ~0.3 s
    else:
        fkeras.backend.clear_session(free_memory=False)


def _block_classes(lib):
    class Block(lib.layers.Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.d = lib.layers.Dense(3)
            self.d2 = lib.layers.Dense(2)
            self.v0 = lib.Variable(np.zeros(2, "float32"), name="v0")  # made in __init__: no layer scope

        def build(self, shape):
            self.w = self.add_weight(shape=(2,), name="w")
            self.v1 = lib.Variable(np.zeros(2, "float32"), name="v1")  # made in build: under the layer

        def call(self, x):
            return self.d2(self.d(x)) + self.w + self.v0 + self.v1

    class MyModel(lib.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.block = Block()
            self.out = lib.layers.Dense(1)

        def call(self, x):
            return self.out(self.block(x))

    return Block, MyModel


def _sequential(lib):
    return lib.Sequential([lib.Input((4,)), lib.layers.Dense(3), lib.layers.BatchNormalization(), lib.layers.Dense(2)])


def _sequential_lazy(lib):
    m = lib.Sequential([lib.layers.Dense(3), lib.layers.Dense(2)])
    m(np.zeros((1, 4), "float32"))
    return m


def _functional(lib):
    i = lib.Input((4,))
    return lib.Model(i, lib.layers.Dense(2)(lib.layers.Dense(3)(i)))


def _subclassed(lib):
    m = _block_classes(lib)[1]()
    m(np.zeros((1, 4), "float32"))
    return m


def _layer_in_layer(lib):
    b = _block_classes(lib)[0]()
    b(np.zeros((1, 4), "float32"))
    return b


def _model_in_functional(lib):
    inner = lib.Sequential([lib.Input((4,)), lib.layers.Dense(3)], name="inner")
    i = lib.Input((4,))
    return lib.Model(i, lib.layers.Dense(2)(inner(i)))


def _model_in_sequential(lib):
    inner = lib.Sequential([lib.layers.Dense(3)], name="inner")
    return lib.Sequential([lib.Input((4,)), inner, lib.layers.Dense(2)])


def _wrappers(lib):
    return lib.Sequential([lib.Input((2, 4)), lib.layers.TimeDistributed(lib.layers.Dense(3)),
                           lib.layers.Bidirectional(lib.layers.SimpleRNN(2))])


def _attention(lib):
    i = lib.Input((5, 4))
    return lib.Model(i, lib.layers.MultiHeadAttention(2, 3)(i, i))


def _attention_in_sequential_subclass(lib):
    class Enc(lib.Model):
        def __init__(self):
            super().__init__(name="enc")
            self.mha = lib.layers.MultiHeadAttention(2, 3)

        def call(self, x):
            return self.mha(x, x)

    m = Enc()
    m(np.zeros((1, 5, 4), "float32"))
    return m


def _name_scope(lib):
    with lib.name_scope("outer"):
        m = lib.Sequential([lib.Input((4,)), lib.layers.Dense(3)])
        d = lib.layers.Dense(2)
        d.build((None, 4))
        with lib.name_scope("inner"):
            v = lib.Variable(np.ones(2, "float32"), name="free")
    return [*m.weights, *d.weights, v]


def _prebuilt_layer_in_sequential(lib):
    d = lib.layers.Dense(3)
    d.build((None, 4))  # built alone first: its variables keep `dense/...`
    return lib.Sequential([lib.Input((4,)), d, lib.layers.Dense(2)])


def _build_called(lib):
    m = lib.Sequential([lib.layers.Dense(3), lib.layers.Dense(2)])
    m.build((None, 4))  # as fit builds a Sequential without an Input
    return m


CASES = [_sequential, _sequential_lazy, _functional, _subclassed, _layer_in_layer, _model_in_functional,
         _model_in_sequential, _wrappers, _attention, _attention_in_sequential_subclass, _name_scope,
         _prebuilt_layer_in_sequential, _build_called]


def _paths(obj):
    """Paths in weight order, each once (Keras 3.15 lists a subclass's `add_weight` result twice when the
    weight is made in `build` of a layer inside a model's call)."""
    weights = obj if isinstance(obj, list) else obj.weights
    return list(dict.fromkeys(w.path for w in weights))


@pytest.mark.parametrize("build", CASES, ids=[c.__name__.strip("_") for c in CASES])
def test_variable_paths_equal_keras(build):
    _fresh(keras)
    want = _paths(build(keras))
    _fresh(fkeras)
    got = _paths(build(fkeras))
    assert got == want


def test_layer_path_is_none_before_build_then_the_scoped_name():
    for lib in (keras, fkeras):
        _fresh(lib)
    kd, fd = keras.layers.Dense(2), fkeras.layers.Dense(2)
    assert fd.path is None and kd.path is None
    km, fm = _sequential(keras), _sequential(fkeras)
    assert [layer.path for layer in fm.layers] == [layer.path for layer in km.layers]
    assert fm.layers[0].path == f"{fm.name}/{fm.layers[0].name}"


def test_paths_survive_save_and_load_as_in_keras(tmp_path):
    """A `.keras` file keys weights by layer, not path: a loaded Sequential's layers are built alone first
    (Keras's loader does the same), so both libraries give the same paths and the same weights."""
    for lib in (keras, fkeras):
        _fresh(lib)
    fm = _sequential(fkeras)
    fm.save(tmp_path / "m.keras")
    floaded = fkeras.saving.load_model(tmp_path / "m.keras")
    kloaded = keras.saving.load_model(tmp_path / "m.keras")
    assert _paths(floaded) == _paths(kloaded)
    for a, b in zip(floaded.get_weights(), fm.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_name_scope_checks_its_name():
    for bad in ("a/b", 3):
        with pytest.raises(ValueError, match="cannot contain character `/`"):
            fkeras.name_scope(bad)
        with pytest.raises(ValueError, match="cannot contain character `/`"):
            keras.name_scope(bad)


def test_name_scope_signature_matches_keras():
    import inspect

    assert list(inspect.signature(fkeras.name_scope).parameters)[0] == "name"
    with fkeras.name_scope("a", caller=None):
        with fkeras.name_scope("b"):
            assert fkeras.Variable(1.0, name="z").path == "a/b/z"


# --- LayoutMap on Keras's paths ------------------------------------------------------------------
LAYOUTS = {"sequential/dense/kernel": (None, "model"), ".*dense_1.*bias": ("model",), ".*normalization/gamma": ("model",)}


def _layout_model(lib):
    return lib.Sequential([lib.Input((4,)), lib.layers.Dense(4), lib.layers.BatchNormalization(),
                           lib.layers.Dense(2)])


def test_layout_map_on_keras_paths_shards_the_same_variables():
    _fresh(keras)
    kmesh = keras.distribution.DeviceMesh((1, 1), ["batch", "model"], devices=keras.distribution.list_devices()[:1])
    klm = keras.distribution.LayoutMap(kmesh)
    for k, v in LAYOUTS.items():
        klm[k] = v
    kdist = keras.distribution.ModelParallel(layout_map=klm, batch_dim_name="batch")
    with kdist.scope():
        km = _layout_model(keras)
    want = {w.path: tuple(kdist.get_variable_layout(w).axes) for w in km.weights}
    assert want["sequential/dense/kernel"] == (None, "model")  # the Keras-path key matched in Keras

    _fresh(fkeras)
    mesh = fdist.DeviceMesh((1, 1), ("batch", "model"), jax.devices()[:1])
    lm = fdist.LayoutMap(mesh)
    for k, v in LAYOUTS.items():
        lm[k] = v
    fm = _layout_model(fkeras)
    with fdist.ModelParallel(layout_map=lm, batch_dim_name="batch").scope():
        # what fit's engine places the TrainState by (tests/test_distribution.py checks the shardings after a
        # fit on 8 devices with a Keras-path key)
        placed = fkeras.Variables(*(fm._distribution().distribute_variables(t) for t in fm.variables_tree))
    got = {}
    for w, kind, path in fm._fk_variables():
        leaf = placed.params if kind == "params" else placed.state
        for k in path:
            leaf = leaf[k]
        spec = tuple(leaf.sharding.spec)
        got[w.path] = spec + (None,) * (len(w.shape) - len(spec))
    assert got == want
    # the pure API without paths still matches pytree paths ("dense/kernel")
    plain = fdist.ModelParallel(layout_map=lm, batch_dim_name="batch").variable_shardings(fm.variables_tree.params)
    assert tuple(plain["dense"]["kernel"].spec) in ((), (None, None))
