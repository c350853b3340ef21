"""`fkeras.layers.add/subtract/multiply/average/maximum/minimum/concatenate/dot` (Keras's functional merge
helpers) and `fkeras.InputSpec` / `layer.input_spec` against Keras 3.15: names, signatures, values, configs,
and the errors a spec raises. Tolerance: float32 atol=rtol=1e-6."""

import inspect

import numpy as np
import pytest

import keras  # noqa: E402  (KERAS_BACKEND=jax is set by conftest)

import fkeras

TOL = dict(atol=1e-6, rtol=1e-6)
MERGE_FUNCTIONS = ["add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot"]
A = np.random.default_rng(0).normal(size=(2, 3)).astype("float32")
B = np.random.default_rng(1).normal(size=(2, 3)).astype("float32")


def test_every_keras_merge_function_and_input_spec_exists_with_keras_signature():
    lower = sorted(n for n in dir(keras.layers) if n[:1].islower() and callable(getattr(keras.layers, n)))
    missing = [n for n in lower if not hasattr(fkeras.layers, n)]
    assert not missing, missing  # Keras's lower-case names: the merge helpers, serialize, deserialize
    for name in MERGE_FUNCTIONS:
        assert inspect.signature(getattr(fkeras.layers, name)) == inspect.signature(getattr(keras.layers, name))
    assert fkeras.InputSpec is fkeras.layers.InputSpec
    assert str(inspect.signature(fkeras.InputSpec)) == str(inspect.signature(keras.InputSpec))


@pytest.mark.parametrize("name", MERGE_FUNCTIONS)
def test_merge_functions_match_keras_eager_and_symbolic(name):
    kw = {"axes": 1} if name == "dot" else {}
    want = getattr(keras.layers, name)([A, B], **kw)
    got = getattr(fkeras.layers, name)([A, B], **kw)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), **TOL)
    x, y = fkeras.Input((3,)), fkeras.Input((3,))
    out = getattr(fkeras.layers, name)([x, y], name="merged", **kw)
    model = fkeras.Model([x, y], out)
    layer = model.get_layer("merged")
    klayer = getattr(keras.layers, name)([keras.Input((3,)), keras.Input((3,))], name="merged", **kw)
    klayer = klayer._keras_history.operation
    assert type(layer).__name__ == type(klayer).__name__
    assert layer.get_config() == klayer.get_config()
    np.testing.assert_allclose(np.asarray(model([A, B])), np.asarray(want), **TOL)


def test_input_spec_config_repr_and_errors_match_keras():
    args = dict(dtype="float32", shape=(None, 4), axes={-1: 4}, allow_last_axis_squeeze=False)
    ks, fs = keras.InputSpec(**args), fkeras.InputSpec(**args)
    assert fs.get_config() == ks.get_config()
    assert repr(fs) == repr(ks)
    assert fkeras.InputSpec.from_config(fs.get_config()).get_config() == fs.get_config()
    with pytest.raises(TypeError, match="integer keys"):
        fkeras.InputSpec(axes={"a": 1})
    with pytest.raises(ValueError, match="greater than the maximum"):
        fkeras.InputSpec(ndim=2, axes={3: 1})


@pytest.mark.parametrize("spec,x,message", [
    (dict(ndim=3), np.zeros((2, 4), "float32"), "expected ndim=3, found ndim=2"),
    (dict(min_ndim=3), np.zeros((2, 4), "float32"), "expected min_ndim=3, found ndim=2"),
    (dict(max_ndim=1), np.zeros((2, 4), "float32"), "expected max_ndim=1, found ndim=2"),
    (dict(dtype="int32"), np.zeros((2, 4), "float32"), "expected dtype=int32, found dtype=float32"),
    (dict(axes={-1: 5}), np.zeros((2, 4), "float32"), "expected axis -1 of input shape to have value 5"),
    (dict(shape=(None, 5)), np.zeros((2, 4), "float32"), "expected shape=(None, 5), found shape=(2, 4)"),
])
def test_layer_input_spec_is_checked_before_the_call(spec, x, message):
    calls = []

    def make(K):
        class Checked(K.layers.Layer):
            def __init__(self):
                super().__init__(name="checked")
                self.input_spec = K.InputSpec(**spec)

            def call(self, inputs):
                calls.append(1)
                return inputs

        return Checked()

    for K in (keras, fkeras):
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
            make(K)(x)
        assert "checked" in str(e.value)
    with pytest.raises(ValueError, match="checked"):
        make(fkeras)(fkeras.Input(x.shape[1:], dtype=str(x.dtype)))  # symbolic calls too
    assert not calls
    ok = make(fkeras)
    ok.input_spec = None
    np.testing.assert_array_equal(np.asarray(ok(x)), x)


def test_input_spec_structure_and_named_dict_inputs():
    class Two(fkeras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.input_spec = [fkeras.InputSpec(ndim=2, name="a"), fkeras.InputSpec(ndim=2, name="b")]

        def call(self, inputs):
            return inputs["a"] + inputs["b"] if isinstance(inputs, dict) else inputs[0] + inputs[1]

    layer = Two()
    np.testing.assert_allclose(np.asarray(layer({"a": A, "b": B})), A + B, **TOL)
    with pytest.raises(ValueError, match='Missing data for input "b"'):
        layer({"a": A})
    with pytest.raises(ValueError, match="expects 2 named input"):
        layer([A])
