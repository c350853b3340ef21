"""The seed guide's saving lines with `import fkeras as keras`: ModelCheckpoint("model_at_epoch_{epoch}.keras")
during fit, model.save("final_model.keras"), keras.saving.load_model(...) predicting the same; the file
also loads in keras==3.15.1 with the same predictions."""

import os

import chex
import numpy as np
import pytest

import fkeras as keras
from tests.conftest import SHARED_MNIST


def _seed_convnet():
    num_classes, input_shape = 10, (28, 28, 1)
    return keras.Sequential([
        keras.layers.Input(shape=input_shape),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
        keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(num_classes, activation="softmax"),
    ])


def test_seed_guide_saving_lines(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (x_train, y_train), (x_test, _) = keras.datasets.mnist.load_data(str(SHARED_MNIST))
    x_train = np.expand_dims(x_train[:160].astype("float32") / 255, -1)
    y_train, x_test = y_train[:160], np.expand_dims(x_test[:16].astype("float32") / 255, -1)
    model = _seed_convnet()
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(),
                  optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")])
    callbacks = [keras.callbacks.ModelCheckpoint(filepath="model_at_epoch_{epoch}.keras"),
                 keras.callbacks.EarlyStopping(monitor="val_loss", patience=2)]
    model.fit(x_train, y_train, batch_size=128, epochs=1, validation_split=0.15, callbacks=callbacks, verbose=0)
    assert os.path.exists("model_at_epoch_1.keras")
    model.save("final_model.keras")
    before = model.predict(x_test, verbose=0)
    model = keras.saving.load_model("final_model.keras")
    chex.assert_trees_all_close(model.predict(x_test, verbose=0), before, rtol=0, atol=0)
    assert model.optimizer.iterations == 2

    real_keras = pytest.importorskip("keras")
    other = real_keras.saving.load_model("final_model.keras")
    chex.assert_trees_all_close(other.predict(x_test, verbose=0), before, rtol=1e-4, atol=1e-5)
    assert type(other.loss).__name__ == "SparseCategoricalCrossentropy"
