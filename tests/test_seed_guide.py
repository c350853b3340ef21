"""The seed guide (intro_to_keras_for_engineers.md) with `import fkeras as keras`, on a small real
MNIST subset: the convnet workflow (first half) and the custom components (second half)."""

import math

import numpy as np
import pytest

import fkeras as keras
from conftest import SHARED_MNIST

N_TRAIN, N_TEST = 302, 128  # 256 training rows after the 15% validation split: 2 full batches
batch_size = 128


@pytest.fixture(scope="module")
def mnist():
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data(path=str(SHARED_MNIST))
    x_train, y_train, x_test, y_test = x_train[:N_TRAIN], y_train[:N_TRAIN], x_test[:N_TEST], y_test[:N_TEST]
    # --- as in the guide ---
    x_train = x_train.astype("float32") / 255
    x_test = x_test.astype("float32") / 255
    x_train = np.expand_dims(x_train, -1)
    x_test = np.expand_dims(x_test, -1)
    return x_train, y_train, x_test, y_test


def _finite(history, keys):
    for k in keys:
        assert k in history.history, (k, history.history)
        assert all(math.isfinite(v) for v in history.history[k])


@pytest.fixture(autouse=True)
def _seeded():
    """Same weights, dropout masks and shuffling on every run, whatever ran before."""
    from fkeras.layers.layer import set_seed

    keras.utils.set_random_seed(1337)
    set_seed(1337)


def test_first_half_mnist_convnet(mnist, tmp_path):
    x_train, y_train, x_test, y_test = mnist
    num_classes = 10
    input_shape = (28, 28, 1)

    model = keras.Sequential(
        [
            keras.layers.Input(shape=input_shape),
            keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
            keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )
    lines = []
    model.summary(print_fn=lines.append)
    assert "Total params: 260,298 (1016.79 KB)" in "".join(lines)

    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(),
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="acc"),
        ],
    )
    callbacks = [keras.callbacks.ModelCheckpoint(filepath=str(tmp_path / "model_at_epoch_{epoch}.keras")),
                 keras.callbacks.EarlyStopping(monitor="val_loss", patience=2)]
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=2, validation_split=0.15,
                        callbacks=callbacks, verbose=0)
    _finite(history, ["loss", "acc", "val_loss", "val_acc"])
    assert history.history["loss"][1] < history.history["loss"][0]  # it learns
    assert (tmp_path / "model_at_epoch_2.keras").exists()
    score = model.evaluate(x_test, y_test, verbose=0)
    assert len(score) == 2 and all(math.isfinite(s) for s in score)

    model.save(str(tmp_path / "final_model.keras"))
    predictions = model.predict(x_test, verbose=0)
    assert predictions.shape == (N_TEST, 10)
    np.testing.assert_allclose(predictions.sum(-1), 1.0, rtol=1e-5)
    reloaded = keras.saving.load_model(str(tmp_path / "final_model.keras"))
    np.testing.assert_allclose(reloaded.predict(x_test, verbose=0), predictions, atol=1e-6)


# --- second half, as written in the guide ---------------------------------------------
class MyDense(keras.layers.Layer):
    def __init__(self, units, activation=None, name=None):
        super().__init__(name=name)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.w = self.add_weight(
            shape=(input_dim, self.units),
            initializer=keras.initializers.GlorotNormal(),
            name="kernel",
            trainable=True,
        )

        self.b = self.add_weight(
            shape=(self.units,),
            initializer=keras.initializers.Zeros(),
            name="bias",
            trainable=True,
        )

    def call(self, inputs):
        # Use Keras ops to create backend-agnostic layers/metrics/etc.
        x = keras.ops.matmul(inputs, self.w) + self.b
        return self.activation(x)


class MyDropout(keras.layers.Layer):
    def __init__(self, rate, name=None):
        super().__init__(name=name)
        self.rate = rate
        # Use seed_generator for managing RNG state.
        # It is a state element and its seed variable is
        # tracked as part of `layer.variables`.
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        # Use `keras.random` for random ops.
        return keras.random.dropout(inputs, self.rate, seed=self.seed_generator)


class MyModel(keras.Model):
    def __init__(self, num_classes):
        super().__init__()
        self.conv_base = keras.Sequential(
            [
                keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
                keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
                keras.layers.MaxPooling2D(pool_size=(2, 2)),
                keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
                keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
                keras.layers.GlobalAveragePooling2D(),
            ]
        )
        self.dp = MyDropout(0.5)
        self.dense = MyDense(num_classes, activation="softmax")

    def call(self, x):
        x = self.conv_base(x)
        x = self.dp(x)
        return self.dense(x)


def test_second_half_custom_components(mnist):
    x_train, y_train, _, _ = mnist
    model = MyModel(num_classes=10)
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(),
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="acc"),
        ],
    )
    history = model.fit(
        x_train,
        y_train,
        batch_size=batch_size,
        epochs=1,  # For speed
        validation_split=0.15,
        verbose=0,
    )
    _finite(history, ["loss", "acc", "val_loss", "val_acc"])
    assert model.count_params() == 260_298
    # the SeedGenerator's counter lives in the TrainState and advanced once per training step
    steps = math.ceil(int(N_TRAIN * 0.85) / batch_size)
    counter = int(model.train_state.state["my_dropout"]["seed_generator"][1])
    assert counter >= steps
    assert [v.path for v in model.weights][-2:] == [f"{model.name}/my_dense/kernel", f"{model.name}/my_dense/bias"]
