"""Integration: the guide's convnet, trained through the facade on a few thousand real MNIST digits,
reaches >= 95% test accuracy (issue 3's bar), within CI time.

To fit CI's 2 cores it trains with the explicit `compile(engine="torch")` (about 2.3x faster on
this CPU; tests/test_torch_engine.py checks it gives the JAX engine's numbers), then recompiles
with the default JAX engine and evaluates there: the one TrainState carries the weights across."""

import numpy as np

import fkeras as keras
from conftest import SHARED_MNIST  # the repository's data/mnist.npz


def test_seed_convnet_reaches_95_percent_on_real_mnist():
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data(path=str(SHARED_MNIST))
    x_train = np.expand_dims(x_train[:14000].astype("float32") / 255, -1)
    y_train = y_train[:14000]
    x_test = np.expand_dims(x_test[:2000].astype("float32") / 255, -1)
    y_test = y_test[:2000]
    model = keras.Sequential([
        keras.layers.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
        keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(),
                  optimizer=keras.optimizers.Adam(learning_rate=3e-3),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")], engine="torch")
    history = model.fit(x_train, y_train, batch_size=64, epochs=5, validation_split=0.15, verbose=0,
                        callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=2)])
    torch_loss, torch_acc = model.evaluate(x_test, y_test, verbose=0)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(),
                  optimizer=keras.optimizers.Adam(learning_rate=3e-3),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")])  # default engine: JAX
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    assert acc >= 0.95, f"test accuracy {acc:.4f} (loss {loss:.4f}); history {history.history}"
    assert abs(acc - torch_acc) < 1e-3 and abs(loss - torch_loss) < 1e-3
