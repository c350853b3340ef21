"""Silent wrong results and unclear errors turned into clear errors raised before any state changes
(issue 16): fit without targets, zero-size conv/pool outputs, constructor arguments of conv/pool/core
layers, a malformed `validation_data`, string inputs to a numeric model, out-of-range Embedding indices
(eager) and `class_weight` entries for classes the model does not have. Keras 3.15 is the oracle for
the messages it has."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np
import pandas as pd
import pytest

import fkeras as fk

X = np.random.default_rng(0).random((8, 4), dtype=np.float32)
Y = np.random.default_rng(1).random((8, 1), dtype=np.float32)


def _dense_model(loss="mse"):
    m = fk.Sequential([fk.Input((4,)), fk.layers.Dense(2)])
    m.compile("adam", loss)
    m.build((None, 4))
    return m


def _unchanged(m, before):
    for a, b in zip(m.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_fit_without_targets_for_a_compiled_loss_is_an_error():
    m = _dense_model()
    before = m.get_weights()
    with pytest.raises(ValueError, match=r"compiled with loss='mse' but `fit` received no targets"):
        m.fit(X, None, verbose=0)
    _unchanged(m, before)
    # loss=None (add_loss only) still trains without targets
    m2 = fk.Sequential([fk.Input((4,)), fk.layers.Dense(2, activity_regularizer="l2")])
    m2.compile("sgd", None)
    m2.fit(X, None, verbose=0, epochs=1)


@pytest.mark.parametrize("make,shape", [
    (lambda m: m.layers.Conv2D(2, 5), (1, 3, 3, 1)),
    (lambda m: m.layers.Conv1D(2, 3, dilation_rate=2), (1, 4, 1)),
    (lambda m: m.layers.DepthwiseConv2D(4), (1, 3, 3, 2)),
    (lambda m: m.layers.MaxPooling2D(4), (1, 3, 3, 1)),
    (lambda m: m.layers.AveragePooling1D(5), (1, 4, 2)),
])
def test_zero_size_output_is_an_error(make, shape):
    x = np.zeros(shape, np.float32)
    with pytest.raises(ValueError, match="Computed output size would be zero or negative"):
        make(fk)(x)
    try:  # Keras 3.15 raises the same for convolutions; for pooling it returns an empty tensor
        out = make(keras)(x)
        assert 0 in out.shape
    except ValueError as e:
        assert "Computed output size would be zero or negative" in str(e)
    assert fk.layers.Conv2D(2, 5, padding="same")(np.zeros((1, 3, 3, 1), np.float32)).shape == (1, 3, 3, 2)


@pytest.mark.parametrize("ctor,kwargs,arg", [
    ("Conv2D", {"filters": 2, "kernel_size": 3, "strides": 0}, "strides"),
    ("Conv2D", {"filters": 2, "kernel_size": 0}, "kernel_size"),
    ("Conv1D", {"filters": 2, "kernel_size": 3, "dilation_rate": -1}, "dilation_rate"),
    ("DepthwiseConv2D", {"kernel_size": 3, "strides": (1, 0)}, "strides"),
    ("SeparableConv2D", {"filters": 2, "kernel_size": (0, 3)}, "kernel_size"),
    ("MaxPooling2D", {"pool_size": 0}, "pool_size"),
    ("AveragePooling2D", {"pool_size": 2, "strides": 0}, "strides"),
    ("UpSampling2D", {"size": (0, 2)}, "size"),
])
def test_non_positive_window_arguments_fail_in_the_constructor(ctor, kwargs, arg):
    with pytest.raises(ValueError, match=rf"`{arg}` argument must be a tuple of .* integers.*value > 0"):
        getattr(fk.layers, ctor)(**kwargs)
    if ctor != "AveragePooling2D":  # Keras 3.15 accepts strides=0 for pooling (then fails when called)
        with pytest.raises(ValueError):
            getattr(keras.layers, ctor)(**kwargs)


@pytest.mark.parametrize("ctor,kwargs,match", [
    ("Conv2D", {"filters": 0, "kernel_size": 3}, "filters"),
    ("Conv2D", {"filters": 2, "kernel_size": 3, "padding": "full"}, "padding"),
    ("MaxPooling2D", {"padding": "full"}, "padding"),
    ("Dense", {"units": 0}, "units"),
    ("Dropout", {"rate": 1.5}, "rate"),
    ("Embedding", {"input_dim": 0, "output_dim": 2}, "input_dim"),
    ("Conv1D", {"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2}, "`strides > 1` not supported"),
])
def test_other_constructor_arguments_are_checked(ctor, kwargs, match):
    with pytest.raises(ValueError, match=match):
        getattr(fk.layers, ctor)(**kwargs)
    if ctor != "MaxPooling2D":  # Keras 3.15 checks pooling's padding only when called
        with pytest.raises(ValueError):
            getattr(keras.layers, ctor)(**kwargs)


def test_validation_data_of_four_elements_is_a_clear_error():
    m = _dense_model()
    with pytest.raises(ValueError, match=r"`validation_data` is expected to be .* got a tuple of 4 elements"):
        m.fit(X, Y, validation_data=(X, Y, Y, Y), verbose=0)


def test_string_inputs_name_the_input_and_the_expected_dtype():
    m = _dense_model()
    before = m.get_weights()
    with pytest.raises(ValueError, match=r"Input x \(model input '.*'\) has dtype <U1 .* expects numeric input "
                                         r"of dtype float32"):
        m.fit(np.full((8, 4), "a"), Y, verbose=0)
    frame = pd.DataFrame({"a": ["x"] * 8, "b": [1.0] * 8, "c": [1.0] * 8, "d": [1.0] * 8})
    with pytest.raises(ValueError, match=r"has dtype object"):
        m.fit(frame, Y, verbose=0)
    _unchanged(m, before)
    a, b = fk.Input((2,), name="a"), fk.Input((2,), name="b")
    two = fk.Model([a, b], fk.layers.Dense(1)(fk.layers.Concatenate()([a, b])))
    two.compile("adam", "mse")
    with pytest.raises(ValueError, match=r"Input x\['b'\] \(model input 'b'\) has dtype object"):
        two.fit({"a": X[:, :2], "b": np.array([["s", "t"]] * 8, object)}, Y, verbose=0)
    with pytest.raises(ValueError, match=r"Input x\[1\] \(model input 'b'\) has dtype <U1"):
        two.fit([X[:, :2], np.array([["s", "t"]] * 8)], Y, verbose=0)


def test_string_inputs_to_evaluate_and_predict_are_clear_errors():
    m = _dense_model()
    with pytest.raises(ValueError, match=r"Input x .* has dtype <U1 .* expects numeric input"):
        m.evaluate(np.full((8, 4), "a"), Y, verbose=0)
    with pytest.raises(ValueError, match=r"Input x .* has dtype <U1 .* expects numeric input"):
        m.predict(np.full((8, 4), "a"), verbose=0)


def test_string_tf_dataset_is_a_clear_error():
    tf = pytest.importorskip("tensorflow")
    m = _dense_model()
    ds = tf.data.Dataset.from_tensor_slices((np.full((8, 4), "a"), Y)).batch(4)
    with pytest.raises(ValueError, match=r"has dtype object .* expects numeric input"):
        m.fit(ds, verbose=0)


def test_embedding_out_of_range_indices_eager():
    e = fk.layers.Embedding(5, 3)
    with pytest.raises(ValueError, match=r"index 7, outside the valid range \[0, 5\)"):
        e(np.array([[1, 7]]))
    with pytest.raises(ValueError, match=r"index -1, outside the valid range \[0, 5\)"):
        e(np.array([[-1, 2]]))
    assert e(np.array([[0, 4]])).shape == (1, 2, 3)
    # under jit the values are unknown while tracing: the lookup follows jnp.take (a NaN row), as documented
    m = fk.Sequential([fk.Input((2,), dtype="int32"), fk.layers.Embedding(5, 3)])
    out = m.predict(np.array([[1, 7]]), verbose=0)
    assert np.isfinite(out[0, 0]).all() and np.isnan(out[0, 1]).all()


def test_class_weight_for_an_unknown_class_is_an_error():
    m = fk.Sequential([fk.Input((4,)), fk.layers.Dense(3)])
    m.compile("adam", fk.losses.SparseCategoricalCrossentropy(from_logits=True))
    m.build((None, 4))
    before = m.get_weights()
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    with pytest.raises(ValueError, match=r"`class_weight` has entries for classes \[3\].*3 classes"):
        m.fit(X, y, class_weight={0: 1.0, 1: 1.0, 2: 1.0, 3: 5.0}, verbose=0)
    _unchanged(m, before)
    m.fit(X, y, class_weight={0: 1.0, 2: 3.0}, verbose=0)  # a subset is fine
    b = fk.Sequential([fk.Input((4,)), fk.layers.Dense(1, activation="sigmoid")])
    b.compile("adam", "binary_crossentropy")
    with pytest.raises(ValueError, match=r"classes \[2\].*2 classes"):
        b.fit(X, (y > 0).astype("float32"), class_weight={0: 1.0, 2: 1.0}, verbose=0)
