"""The seed guide's MNIST convnet with `import fkeras as keras`: build, summary, compile, fit with a
15% validation split and callbacks, evaluate, save, reload, predict.

    python examples/mnist_convnet.py                      # 10,000 training digits, 3 epochs
    python examples/mnist_convnet.py --samples 0 --epochs 20   # the guide's full run
    python examples/mnist_convnet.py --data ~/mnist.npz

Data: `--data PATH` (an mnist.npz), else Keras's cache / download via `fkeras.datasets.mnist`;
with neither (offline), it says so and trains on scikit-learn's real handwritten digits.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

import fkeras as keras


def load(path, samples):
    from fkeras.datasets import mnist

    if path:
        (x_train, y_train), (x_test, y_test) = mnist.load_data(path=os.path.abspath(os.path.expanduser(path)))
        source = "mnist"
    else:
        ((x_train, y_train), (x_test, y_test)), source = mnist.load_data_or_digits(return_source=True)
    if samples:
        x_train, y_train = x_train[:samples], y_train[:samples]
        x_test, y_test = x_test[: max(samples // 6, 1)], y_test[: max(samples // 6, 1)]
    # Scale images to the [0, 1] range and give them shape (28, 28, 1), as in the guide.
    x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
    x_test = np.expand_dims(x_test.astype("float32") / 255, -1)
    return (x_train, y_train), (x_test, y_test), source


def build_model(num_classes=10, input_shape=(28, 28, 1)):
    return keras.Sequential(
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="maximum epochs (EarlyStopping may stop sooner)")
    parser.add_argument("--data", default=None, help="path to mnist.npz (default: Keras cache / download)")
    parser.add_argument("--samples", type=int, default=10000, help="training digits to use (0 = all)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--out", default=None, help="folder for checkpoints and the final model")
    args = parser.parse_args(argv)

    (x_train, y_train), (x_test, y_test), source = load(args.data, args.samples)
    print(f"data: {source}; x_train shape: {x_train.shape}; {x_train.shape[0]} train samples, "
          f"{x_test.shape[0]} test samples")

    model = build_model()
    model.summary()
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(),
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")],
    )

    out = args.out or tempfile.mkdtemp(prefix="fkeras_mnist_")
    os.makedirs(out, exist_ok=True)
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=2)]
    try:
        callbacks.insert(0, keras.callbacks.ModelCheckpoint(filepath=os.path.join(out, "model_at_epoch_{epoch}.keras")))
    except (AttributeError, ImportError):
        print("(ModelCheckpoint unavailable in this build; training without per-epoch checkpoints)", file=sys.stderr)

    start = time.time()
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, validation_split=0.15,
              callbacks=callbacks)
    print(f"trained in {time.time() - start:.1f}s")
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"test loss: {loss:.4f} - test acc: {acc:.4f}")

    final = os.path.join(out, "final_model.keras")
    model.save(final)
    model = keras.saving.load_model(final)
    predictions = model.predict(x_test[:10], verbose=0)
    print(f"saved and reloaded {final}")
    print("predicted:", predictions.argmax(-1).tolist())
    print("labels:   ", [int(v) for v in y_test[:10]])
    return acc


if __name__ == "__main__":
    main()
