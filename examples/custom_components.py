"""The seed guide's second half with `import fkeras as keras`: a custom Dense (keras.ops +
add_weight), a custom Dropout (keras.random with a SeedGenerator), a subclassed Model using
them, trained for one epoch; optionally the same from a torch DataLoader and from tf.data.

    python examples/custom_components.py                        # NumPy arrays
    python examples/custom_components.py --sources numpy,torch,tf
"""

import argparse
import os

import numpy as np

import fkeras as keras


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


def new_model():
    model = MyModel(num_classes=10)
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(),
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")],
    )
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="path to mnist.npz (default: Keras cache / download)")
    parser.add_argument("--samples", type=int, default=6000, help="training digits to use (0 = all)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--sources", default="numpy", help="comma list of numpy, torch, tf")
    args = parser.parse_args(argv)
    batch_size = args.batch_size

    from fkeras.datasets import mnist

    if args.data:
        (x_train, y_train), (x_test, y_test) = mnist.load_data(path=os.path.abspath(os.path.expanduser(args.data)))
    else:
        (x_train, y_train), (x_test, y_test) = mnist.load_data_or_digits()
    if args.samples:
        x_train, y_train = x_train[: args.samples], y_train[: args.samples]
        x_test, y_test = x_test[: max(args.samples // 6, 1)], y_test[: max(args.samples // 6, 1)]
    x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
    x_test = np.expand_dims(x_test.astype("float32") / 255, -1)

    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    if "numpy" in sources:
        model = new_model()
        model.fit(x_train, y_train, batch_size=batch_size, epochs=1, validation_split=0.15)
        model.summary()
    if "torch" in sources:
        import torch

        train_torch_dataset = torch.utils.data.TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train))
        val_torch_dataset = torch.utils.data.TensorDataset(torch.from_numpy(x_test), torch.from_numpy(y_test))
        train_dataloader = torch.utils.data.DataLoader(train_torch_dataset, batch_size=batch_size, shuffle=True)
        val_dataloader = torch.utils.data.DataLoader(val_torch_dataset, batch_size=batch_size, shuffle=False)
        model = new_model()
        model.fit(train_dataloader, epochs=1, validation_data=val_dataloader)
    if "tf" in sources:
        import tensorflow as tf

        train_dataset = tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(batch_size).prefetch(
            tf.data.AUTOTUNE)
        test_dataset = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(batch_size).prefetch(
            tf.data.AUTOTUNE)
        model = new_model()
        model.fit(train_dataset, epochs=1, validation_data=test_dataset)


if __name__ == "__main__":
    main()
