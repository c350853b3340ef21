"""Transfer learning as the Keras guide does it, written `import fkeras as keras`: a frozen
MobileNetV2 base with a new head, fit; unfreeze, fit again with a low learning rate; `.keras`
round trip (fkeras and Keras 3.15 load it to the same predictions). Also `input_tensor=`."""

import numpy as np
import pytest

import fkeras as keras
from applications_common import host_initial_values

RNG = np.random.default_rng(0)
X = RNG.uniform(0, 255, (16, 32, 32, 3)).astype("float32")
Y = RNG.integers(0, 3, 16)


def _arrays(ws):
    return [np.array(w) for w in ws]


@pytest.mark.slow
def test_freeze_fit_unfreeze_finetune_save(tmp_path):
    base = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3))
    base.trainable = False
    inputs = keras.Input((32, 32, 3))
    x = keras.applications.mobilenet_v2.preprocess_input(inputs)
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(3)(x)
    model = keras.Model(inputs, outputs)
    assert len(model.trainable_weights) == 2  # only the new head
    assert model.count_params() == base.count_params() + 1280 * 3 + 3

    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    frozen = _arrays(base.weights)
    head = _arrays(model.layers[-1].weights)
    history = model.fit(X, Y, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert all(np.array_equal(a, b) for a, b in zip(frozen, _arrays(base.weights)))  # BN statistics too
    assert not np.allclose(head[1], np.array(model.layers[-1].bias))  # the head trains

    base.trainable = True
    assert len(model.trainable_weights) == len(base.trainable_weights) + 2
    model.compile(optimizer=keras.optimizers.Adam(1e-5),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    after = dict(zip([w.path for w in base.weights], _arrays(base.weights)))
    before = dict(zip([w.path for w in base.weights], frozen))
    kernel = "Conv1/kernel"
    assert kernel in after and not np.array_equal(after[kernel], before[kernel])
    assert np.abs(after[kernel] - before[kernel]).max() < 1e-3  # a low learning rate

    path = str(tmp_path / "transfer.keras")
    model.save(path)
    ref = model.predict(X, verbose=0)
    again = keras.models.load_model(path)
    np.testing.assert_allclose(again.predict(X, verbose=0), ref, rtol=1e-5, atol=1e-5)
    real_keras = pytest.importorskip("keras")
    with host_initial_values():  # the file's weights replace them: no JAX compile per initial draw
        theirs = real_keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(theirs.predict(X, verbose=0)), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_input_tensor_keeps_the_source_input():
    inputs = keras.Input((32, 32, 3), name="pixels")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)
    with host_initial_values():  # initial values play no part here (test_freeze_... builds with the real ones)
        model = keras.applications.MobileNetV2(include_top=False, weights=None, input_tensor=x, pooling="avg")
    assert model.inputs[0] is inputs
    assert model.layers[1].name == "rescaling"
    assert tuple(model.output.shape) == (None, 1280)
    assert model.predict(X[:2], verbose=0).shape == (2, 1280)
