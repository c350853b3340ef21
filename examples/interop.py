"""One model, three frameworks: train in fkeras (JAX), fine-tune in PyTorch, serve from a TF SavedModel.

    python examples/interop.py                                   # 12,000 digits: 2 epochs fkeras, 1 torch
    python examples/interop.py --samples 0 --epochs 3            # all 60,000 digits
    python examples/interop.py --samples 512 --epochs 1          # a quick smoke run (no real learning)

Steps, all on the SAME parameter pytree (no layer math is written twice):
  1. build the seed guide's convnet with `import fkeras as keras`, compile and fit it (JAX);
  2. `fkeras.interop.torch.to_torch(model)` -> a `torch.nn.Module`; fine-tune it for one more epoch
     with `torch.optim.Adam(lr=3e-4)` and autograd; bring the params back with `to_variables`;
  3. `fkeras.interop.tf.to_tf(model)` -> a `tf.Module`; `tf.saved_model.save` it, reload it with
     plain TensorFlow (`tf.saved_model.load`) and serve it through its `serving_default` signature;
  4. predict the test digits with all three and print the largest difference and the accuracies.

With the defaults (12,000 training digits, the first 3,000 test digits) the fkeras-trained model
scores a test accuracy of 0.90, the torch fine-tune raises it to 0.91 (measured: 0.9017 -> 0.9120),
and the three frameworks' predictions agree to 1e-6; a few minutes on 2 idle CPU cores.

Data: `--data PATH` (an mnist.npz), else `fkeras.datasets.mnist` (Keras's cache, the download, or
offline the repository's `data/mnist.npz`); the `data:` line says which. The SavedModel goes
to `--out`, else to a temporary folder removed at exit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import fkeras as keras  # noqa: E402

# The three frameworks must agree to float32 rounding: conv sums run in a different order on each.
AGREE_TOL = 1e-4


def load(path, samples):
    """((x_train, y_train), (x_test, y_test)), source: float32 images (N, 28, 28, 1) in [0, 1], int labels."""
    from fkeras.datasets import mnist

    file, source = mnist.locate(os.path.abspath(os.path.expanduser(path)) if path else "mnist.npz")
    (x_train, y_train), (x_test, y_test) = mnist.load_data(file)
    if samples:
        x_train, y_train = x_train[:samples], y_train[:samples]
        x_test, y_test = x_test[: max(samples // 4, 1)], y_test[: max(samples // 4, 1)]
    x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
    x_test = np.expand_dims(x_test.astype("float32") / 255, -1)
    return (x_train, y_train.astype("int64")), (x_test, y_test.astype("int64")), source


def build_model(num_classes=10, input_shape=(28, 28, 1)):
    """The seed guide's MNIST convnet (260,298 parameters)."""
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


def step(n, text):
    print(f"\n[{n}/4] {text}", flush=True)


def accuracy(probs, labels):
    return float(np.mean(np.argmax(probs, -1) == labels))


def finetune_in_torch(model, x, y, epochs, batch_size, lr, seed):
    """Fine-tune `model`'s params in PyTorch; returns the torch module (eval mode) holding the result."""
    import torch

    from fkeras.interop.torch import to_torch

    torch.manual_seed(seed)  # decides the Dropout masks and the shuffling below
    module = to_torch(model)
    n_params = sum(p.numel() for p in module.parameters())
    print(f"  to_torch(model): {type(module).__name__} with {n_params:,} parameters; "
          f"state_dict keys e.g. {list(module.state_dict())[:2]}")
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    loss_fn = torch.nn.NLLLoss()  # the model ends in softmax: NLL of log-probabilities
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    module.train()
    for epoch in range(epochs):
        start, total, seen = time.time(), 0.0, 0
        order = torch.randperm(len(xt))
        for i in range(0, len(xt), batch_size):
            idx = order[i:i + batch_size]
            probs = module(xt[idx])
            loss = loss_fn(torch.log(probs.clamp_min(1e-7)), yt[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.detach().item() * len(idx)
            seen += len(idx)
        print(f"  torch epoch {epoch + 1}/{epochs}: loss {total / seen:.4f} ({time.time() - start:.1f}s)")
    return module.eval()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="path to an mnist.npz (default: fkeras.datasets.mnist's lookup)")
    parser.add_argument("--samples", type=int, default=12000, help="training digits to use (0 = all)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of fkeras training")
    parser.add_argument("--torch-epochs", type=int, default=1, help="epochs of torch fine-tuning")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--out", default=None, help="folder for the SavedModel (default: a temporary folder)")
    parser.add_argument("--torch-lr", type=float, default=3e-4, help="learning rate of torch.optim.Adam")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.samples < 0 or args.epochs < 1 or args.torch_epochs < 1 or args.batch_size < 1 or not args.torch_lr > 0:
        parser.error(f"expected --samples >= 0, --epochs >= 1, --torch-epochs >= 1, --batch-size >= 1, --torch-lr > 0;"
                     f" got {args.samples}, {args.epochs}, {args.torch_epochs}, {args.batch_size}, {args.torch_lr}")

    (x_train, y_train), (x_test, y_test), source = load(args.data, args.samples)
    print(f"data: MNIST from {source}")
    print(f"data: {len(x_train)} train / {len(x_test)} test images of shape {x_train.shape[1:]}")

    # 1. fkeras on JAX -------------------------------------------------------------------------
    step(1, "train in fkeras (JAX): compile + fit")
    keras.utils.set_random_seed(args.seed)
    model = build_model()
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(),
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")],
    )
    start = time.time()
    print(f"  fkeras fit on {len(x_train)} MNIST training digits:")
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, verbose=2)
    jax_before = np.asarray(model.predict(x_test, verbose=0))
    acc_before = accuracy(jax_before, y_test)
    print(f"  fit in {time.time() - start:.1f}s; test acc after fkeras training: {acc_before:.4f}")

    # 2. PyTorch fine-tuning on the same pytree -------------------------------------------------
    step(2, "fine-tune in PyTorch through fkeras.interop.torch.to_torch")
    import torch

    from fkeras.interop.torch import to_variables as torch_to_variables

    module = finetune_in_torch(model, x_train, y_train, args.torch_epochs, args.batch_size, args.torch_lr, args.seed)
    with torch.no_grad():
        torch_probs = module(torch.from_numpy(x_test)).numpy()
    model.variables_tree = torch_to_variables(module)  # the torch-trained params, back in the fkeras model
    jax_probs = np.asarray(model.predict(x_test, verbose=0))
    acc_after = accuracy(jax_probs, y_test)
    print(f"  to_variables(module) -> model.variables_tree; fine-tuning moved the fkeras predictions by up to "
          f"{np.max(np.abs(jax_probs - jax_before)):.3g}")
    print(f"  torch fine-tune: test acc {acc_before:.4f} -> {acc_after:.4f} ({acc_after - acc_before:+.4f})")

    # 3. TensorFlow SavedModel ---------------------------------------------------------------------
    step(3, "export a TF SavedModel with fkeras.interop.tf.to_tf, reload and serve with plain TensorFlow")
    from fkeras.interop.tf import to_tf  # imports TensorFlow without its absl/oneDNN log lines

    import tensorflow as tf  # noqa: E402  (already loaded, quietly, by the line above)

    out = args.out or tempfile.mkdtemp(prefix="fkeras_interop_")
    try:
        export_dir = os.path.join(out, "saved_model")
        if os.path.exists(export_dir):
            shutil.rmtree(export_dir)
        tf_module = to_tf(model)
        tf.saved_model.save(tf_module, export_dir)
        print(f"  saved to {export_dir}")
        served = tf.saved_model.load(export_dir)  # plain TF: the reloaded object knows nothing of fkeras
        serving = served.signatures["serving_default"]
        (tf_out,) = serving(tf.constant(x_test)).values()
        tf_probs = tf_out.numpy()
        print(f"  serving_default: {serving.structured_input_signature[1]} -> {tf_probs.shape}")

        # 4. agreement ------------------------------------------------------------------------------------
        step(4, "compare predictions on the test images")
        diffs = {
            "fkeras-JAX vs torch": float(np.max(np.abs(jax_probs - torch_probs))),
            "fkeras-JAX vs TF SavedModel": float(np.max(np.abs(jax_probs - tf_probs))),
            "torch vs TF SavedModel": float(np.max(np.abs(torch_probs - tf_probs))),
        }
        for name, d in diffs.items():
            print(f"  max |diff| {name}: {d:.2e}")
        accs = {name: accuracy(p, y_test) for name, p in (("jax", jax_probs), ("torch", torch_probs), ("tf", tf_probs))}
        classes = [p.argmax(-1) for p in (jax_probs, torch_probs, tf_probs)]
        same_class = float(np.mean((classes[0] == classes[1]) & (classes[0] == classes[2])))
        print(f"  test accuracy: fkeras JAX {accs['jax']:.4f} | torch module {accs['torch']:.4f} | "
              f"TF SavedModel {accs['tf']:.4f}; same predicted class for {same_class:.2%} of images")
        worst = max(diffs.values())
        if worst > AGREE_TOL:
            print(f"DISAGREE: max abs difference {worst:.2e} exceeds {AGREE_TOL:g}")
            return 1
        print(f"AGREE: fkeras JAX, torch and TF SavedModel predictions match (max abs difference {worst:.2e} "
              f"<= {AGREE_TOL:g}; test accuracy {accs['jax']:.4f})")
        return 0
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
