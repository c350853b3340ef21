"""Research-style training with the pure API only (no facade): `fkeras.nn` layers, `init`, a
hand-written jitted step (`fkeras.train.jit`, a drop-in `jax.jit`) with optax, `jax.grad`, and
a custom loss.

    python examples/research_loop.py                       # 12,000 MNIST digits, 2 epochs
    python examples/research_loop.py --samples 0 --epochs 3

The model is the seed guide's convnet as pure layers: `init(rng, spec)` returns
`Variables(params, state)` (nested dicts keyed by layer name), `apply(variables, x, training=,
rng=)` is a pure function, so `jax.grad`, `jax.jit` and optax compose with it directly.

With the defaults it prints a test accuracy (2,000 MNIST test digits) of about 0.8 after the first
epoch and 0.9 after the second (measured: 0.8145, 0.9015); a minute or two on 2 idle CPU cores. Data: `--data PATH`, else
`fkeras.datasets.mnist` (Keras's cache, the download, or offline the repository's `data/mnist.npz`).
"""

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fkeras import nn, train


def convnet(num_classes=10):
    return nn.Sequential([
        nn.Input(shape=(28, 28, 1)),
        nn.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        nn.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        nn.MaxPooling2D(pool_size=(2, 2)),
        nn.Conv2D(128, kernel_size=(3, 3), activation="relu"),
        nn.Conv2D(128, kernel_size=(3, 3), activation="relu"),
        nn.GlobalAveragePooling2D(),
        nn.Dropout(0.5),
        nn.Dense(num_classes),  # logits: the custom loss below applies log_softmax itself
    ])


def smoothed_cross_entropy(logits, labels, smoothing=0.1):
    """Cross-entropy against label-smoothed one-hot targets (a custom loss, written by hand)."""
    n = logits.shape[-1]
    targets = jax.nn.one_hot(labels, n) * (1.0 - smoothing) + smoothing / n
    return -jnp.mean(jnp.sum(targets * jax.nn.log_softmax(logits), axis=-1))


def l2_penalty(params, weight=1e-4):
    """Weight decay on kernels only (biases left alone)."""
    kernels = [leaf for path, leaf in jax.tree_util.tree_leaves_with_path(params)
               if getattr(path[-1], "key", None) == "kernel"]
    return weight * sum(jnp.sum(k ** 2) for k in kernels)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="path to an mnist.npz (default: fkeras.datasets.mnist's lookup)")
    parser.add_argument("--samples", type=int, default=12000, help="training digits to use (0 = all)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from fkeras.datasets import mnist

    file, source = mnist.locate(os.path.abspath(os.path.expanduser(args.data)) if args.data else "mnist.npz")
    (x_train, y_train), (x_test, y_test) = mnist.load_data(file)
    print(f"data: MNIST from {source}")
    if args.samples:
        x_train, y_train = x_train[: args.samples], y_train[: args.samples]
        x_test, y_test = x_test[: max(args.samples // 6, 1)], y_test[: max(args.samples // 6, 1)]
    x_train = (x_train.astype("float32") / 255)[..., None]
    x_test = (x_test.astype("float32") / 255)[..., None]
    y_train, y_test = y_train.astype("int32"), y_test.astype("int32")

    model = convnet()
    key, init_key = jax.random.split(jax.random.key(args.seed))
    variables = model.init(init_key)  # shapes come from the Input layer
    params, state = variables
    print(f"data: {len(x_train)} train / {len(x_test)} test digits; params:",
          sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(params)))

    optimizer = optax.adam(1e-3)
    opt_state = optimizer.init(params)

    def loss_fn(params, state, x, y, rng):
        logits, new_state = model.apply((params, state), x, training=True, rng=rng)
        return smoothed_cross_entropy(logits, y) + l2_penalty(params), new_state

    @train.jit  # jax.jit with the XLA:CPU options fkeras's fit uses; plain jax.jit works too
    def train_step(params, state, opt_state, x, y, rng):
        (loss, new_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, state, x, y, rng)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), new_state, opt_state, loss

    @train.jit
    def accuracy(params, state, x, y):
        logits, _ = model.apply((params, state), x, training=False)
        return jnp.mean(jnp.argmax(logits, -1) == y)

    n, bs = x_train.shape[0], args.batch_size
    steps = n // bs  # full batches only: one compiled shape
    for epoch in range(args.epochs):
        key, perm_key = jax.random.split(key)
        order = np.asarray(jax.random.permutation(perm_key, n))
        start, losses = time.time(), []
        for i in range(steps):
            idx = order[i * bs:(i + 1) * bs]
            key, step_key = jax.random.split(key)
            params, state, opt_state, loss = train_step(params, state, opt_state, x_train[idx], y_train[idx],
                                                        step_key)
            losses.append(loss)
        acc = float(accuracy(params, state, x_test, y_test))
        print(f"epoch {epoch + 1}/{args.epochs}: loss {float(jnp.mean(jnp.stack(losses))):.4f} - "
              f"test acc {acc:.4f} - {(time.time() - start) / max(steps, 1) * 1000:.0f} ms/step")
    return acc


if __name__ == "__main__":
    main()
