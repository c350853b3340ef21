"""The seed's MNIST convnet on several devices: data parallel and model parallel, both faces.

    python examples/distributed_mnist.py                 # 8 virtual CPU devices if only one is present
    python examples/distributed_mnist.py --devices 4 --samples 2048 --epochs 1   # quick (little learning)

1. Facade, data parallel: `DataParallel()` replicates the weights, splits every batch.
2. Facade, model parallel: a 2D mesh ("batch", "model"); Conv/Dense kernels split their output
   channels over "model", batches split over "batch".
3. Functional core: a TrainState sharded with `jax.sharding` through the same layouts, and the
   jitted `train_step` called directly — no facade, no distribution object in the step.

On real accelerators (or several hosts, after `fkeras.distribution.initialize()`), the same
code runs unchanged; see docs/distributed.md.

With the defaults (8,192 MNIST digits, 2 epochs each) part 1 prints a test accuracy of about 0.85
on 1,024 test digits (measured: 0.853); part 2 trains the same model the same way and prints its own;
part 3 (a smaller net) prints its training loss and accuracy. A few minutes on 2 idle CPU cores (on
a heavily overloaded machine XLA's CPU collectives can time out with 8 virtual devices: use --devices 2).
Data: `--data PATH`, else `fkeras.datasets.mnist` (Keras's cache, the download, or offline the
repository's `data/mnist.npz`).
"""

import argparse
import os
import sys


def parse():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=8, help="virtual CPU devices when JAX sees only one CPU")
    ap.add_argument("--data", default=None, help="path to an mnist.npz (default: fkeras.datasets.mnist's lookup)")
    ap.add_argument("--samples", type=int, default=8192)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128)
    return ap.parse_args()


def main():
    args = parse()
    # Virtual devices must be requested before JAX starts.
    if "jax" not in sys.modules and "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                   + f" --xla_force_host_platform_device_count={args.devices}")
    import jax
    import numpy as np

    import fkeras as keras
    from fkeras import distribution as dist

    file, source = keras.datasets.mnist.locate(os.path.abspath(os.path.expanduser(args.data)) if args.data
                                               else "mnist.npz")
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data(file)
    print(f"data: MNIST from {source}")
    x_train = np.expand_dims(x_train[:args.samples].astype("float32") / 255, -1)
    y_train = y_train[:args.samples]
    x_test = np.expand_dims(x_test[:1024].astype("float32") / 255, -1)
    y_test = y_test[:1024]
    devices = jax.devices()
    print(f"{len(devices)} devices ({devices[0].platform}); data: {len(x_train)} training images")

    def convnet():
        return keras.Sequential([
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

    def compiled(model):
        model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(1e-3),
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")])
        return model

    # 1. Data parallel: the whole mesh is the batch axis.
    keras.utils.set_random_seed(0)
    print(f"\n[data parallel] fit on {len(x_train)} MNIST digits, each batch split over {len(devices)} devices:")
    with dist.DataParallel().scope():
        model = compiled(convnet())
        model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, verbose=2)
        loss, acc = model.evaluate(x_test, y_test, verbose=0)
    last_conv = model.layers[4].name  # the 128-filter conv (auto names grow across models)
    print(f"[data parallel]  test accuracy {acc:.3f}; {last_conv}/kernel sharding "
          f"{model.train_state.params[last_conv]['kernel'].sharding.spec} (replicated)")

    # 2. Model parallel: kernels split their output channels over "model".
    model_axis = 2 if len(devices) % 2 == 0 and len(devices) > 1 else 1
    mesh = dist.DeviceMesh((len(devices) // model_axis, model_axis), ("batch", "model"))
    layout_map = dist.LayoutMap(mesh)
    layout_map[".*conv2d.*/kernel"] = (None, None, None, "model")
    layout_map[".*dense.*/kernel"] = (None, "model")
    keras.utils.set_random_seed(0)
    print(f"\n[model parallel] fit on {len(x_train)} MNIST digits, mesh {dict(zip(mesh.axis_names, mesh.shape))}:")
    with dist.ModelParallel(layout_map=layout_map, batch_dim_name="batch").scope():
        model = compiled(convnet())
        model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, verbose=2)
        loss, acc = model.evaluate(x_test, y_test, verbose=0)
    last_conv = model.layers[4].name
    kernel = model.train_state.params[last_conv]["kernel"]
    print(f"[model parallel] test accuracy {acc:.3f}; {last_conv}/kernel {kernel.shape} split as "
          f"{kernel.sharding.spec}, {len(kernel.addressable_shards)} shards of {kernel.addressable_shards[0].data.shape}")

    # 3. The functional core: shard the TrainState yourself and call the jitted step directly.
    from fkeras import nn
    from fkeras.train import CompiledLoss, CompiledMetrics, Engine, forward_of

    net = nn.Sequential([nn.Input((28, 28, 1)), nn.Conv2D(64, 3, activation="relu"), nn.MaxPooling2D(2),
                         nn.Conv2D(128, 3, activation="relu"), nn.GlobalAveragePooling2D(), nn.Dense(10)])
    variables = net.init(jax.random.key(0))
    engine = Engine(forward_of(net), CompiledLoss(keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
                    CompiledMetrics(["accuracy"]), keras.optimizers.Adam(1e-3))
    b = args.batch_size
    engine.build(variables.params, variables.state, (x_train[:b], y_train[:b]))
    ts = engine.init_train_state(variables.params, variables.state, rng=0)
    mp = dist.ModelParallel(layout_map=layout_map, batch_dim_name="batch")
    ts = mp.distribute_train_state(ts)  # NamedShardings on every leaf; nothing else changes
    for _ in range(args.epochs):
        for i in range(len(x_train) // b):
            batch = mp.distribute_batch((x_train[i * b:(i + 1) * b], y_train[i * b:(i + 1) * b]))
            ts, logs = engine.jit_train(ts, batch)
    print(f"\n[functional core] {int(ts.step)} sharded steps, training loss {float(logs['loss']):.3f}, "
          f"training accuracy {float(logs['accuracy']):.3f}; {net.layers[3].name}/kernel split as "
          f"{ts.params[net.layers[3].name]['kernel'].sharding.spec}")


if __name__ == "__main__":
    main()
