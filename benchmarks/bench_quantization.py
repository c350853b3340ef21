"""Post-training quantization on this CPU: size on disk, inference latency and MNIST accuracy per mode.

    python benchmarks/bench_quantization.py                       # 1 epoch on 12,000 digits per model
    python benchmarks/bench_quantization.py --samples 60000 --epochs 2
    python benchmarks/bench_quantization.py --models convnet --modes float32 int8

Two models: the seed guide's convnet (its only quantizable layer is the Dense head) and a transformer block
over the 28 rows of a digit as tokens (Dense embedding, self-attention written with EinsumDense projections
and `ops` so every projection quantizes in both libraries, a Dense feed-forward, a Dense head).
fkeras trains each model (Adam 1e-3, batch 128) and writes `.weights.h5`; then, each in its own
subprocess, fkeras and Keras 3 (JAX backend) load the same trained weights, `model.quantize(mode)`
("float32" = not quantized) and report: the `.keras` file size, the test accuracy on the 10,000 test
digits, and predict latency (`predict_on_batch` of 256 digits, the median of 3 runs of 10 calls after a
warm-up; wall clock). Data: `--data`, else `../shared/data/mnist.npz` beside the repo, else Keras's cache.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data", "mnist.npz")
MODES = ("float32", "int8", "int4", "float8")
MODELS = ("convnet", "transformer")


def _data(path, samples):
    import numpy as np

    with np.load(path) as f:
        x_train, y_train, x_test, y_test = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    if samples:
        x_train, y_train = x_train[:samples], y_train[:samples]
    return (x_train.astype("float32") / 255, y_train), (x_test.astype("float32") / 255, y_test)


def build(keras, name):
    """The benchmark's model `name` built from `keras` (fkeras or Keras 3)."""
    layers, ops = keras.layers, keras.ops
    if name == "convnet":
        return keras.Sequential([
            layers.Input((28, 28, 1)),
            layers.Conv2D(64, 3, activation="relu"), layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(128, 3, activation="relu"), layers.Conv2D(128, 3, activation="relu"),
            layers.GlobalAveragePooling2D(), layers.Dropout(0.5),
            layers.Dense(10, activation="softmax", name="head"),
        ], name="convnet")
    d, heads, dh = 64, 4, 16
    x_in = layers.Input((28, 28))
    x = layers.Dense(d, name="embed")(x_in)
    q = layers.EinsumDense("btd,dnh->btnh", (28, heads, dh), bias_axes="nh", name="query")(x)
    k = layers.EinsumDense("btd,dnh->btnh", (28, heads, dh), bias_axes="nh", name="key")(x)
    v = layers.EinsumDense("btd,dnh->btnh", (28, heads, dh), bias_axes="nh", name="value")(x)
    scores = ops.softmax(ops.einsum("btnh,bsnh->bnts", q, k) / dh ** 0.5, axis=-1)
    att = layers.EinsumDense("btnh,nhd->btd", (28, d), bias_axes="d", name="attention_output")(
        ops.einsum("bnts,bsnh->btnh", scores, v))
    x = layers.LayerNormalization(name="ln1")(layers.Add()([x, att]))
    ffn = layers.Dense(d, name="ffn_out")(layers.Dense(4 * d, activation="relu", name="ffn_in")(x))
    x = layers.LayerNormalization(name="ln2")(layers.Add()([x, ffn]))
    out = layers.Dense(10, activation="softmax", name="head")(layers.GlobalAveragePooling1D()(x))
    return keras.Model(x_in, out, name="transformer")


def _inputs(name, x):
    return x[..., None] if name == "convnet" else x


def train(args):
    import fkeras as keras

    (x_train, y_train), _ = _data(args.data_path, args.samples)
    keras.utils.set_random_seed(0)
    model = build(keras, args.model)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(1e-3))
    t = time.perf_counter()
    model.fit(_inputs(args.model, x_train), y_train, batch_size=128, epochs=args.epochs, verbose=0)
    model.save_weights(args.weights)
    print(json.dumps({"train_s": time.perf_counter() - t}))


def measure(args):
    """One library, one model: quantize the trained weights to each mode and report size/accuracy/latency."""
    import numpy as np

    if args.lib == "keras":
        os.environ["KERAS_BACKEND"] = "jax"
        import keras
    else:
        import fkeras as keras
    _, (x_test, y_test) = _data(args.data_path, 0)
    x_test = _inputs(args.model, x_test)
    batch = x_test[:256]
    out = {}
    for mode in args.modes:
        model = build(keras, args.model)
        model.load_weights(args.weights)
        if mode != "float32":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.quantize(mode)
        path = os.path.join(args.tmp, f"{args.lib}_{args.model}_{mode}.keras")
        model.save(path)
        probs = np.asarray(model.predict(x_test, batch_size=512, verbose=0))
        acc = float((probs.argmax(-1) == y_test).mean())
        model.predict_on_batch(batch)  # compiles
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            for _ in range(10):
                np.asarray(model.predict_on_batch(batch))
            runs.append((time.perf_counter() - t) / 10)
        out[mode] = {"kb": os.path.getsize(path) / 1024, "acc": acc, "ms": sorted(runs)[1] * 1e3,
                     "probs": probs[:64].tolist()}
    print(json.dumps(out))


def _run(argv):
    res = subprocess.run([sys.executable, os.path.abspath(__file__), *argv], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.path.join(HERE, "..")})
    if res.returncode:
        sys.stderr.write(res.stderr[-4000:])
        raise SystemExit(f"worker failed: {argv}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", choices=["train", "measure"])
    ap.add_argument("--lib", choices=["fkeras", "keras"])
    ap.add_argument("--model", choices=MODELS)
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--modes", nargs="+", default=list(MODES))
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--samples", type=int, default=12000, help="training digits (0 = all 60,000)")
    ap.add_argument("--data")
    ap.add_argument("--weights")
    ap.add_argument("--tmp")
    ap.add_argument("--data-path", dest="data_path")
    args = ap.parse_args()
    if args.worker == "train":
        return train(args)
    if args.worker == "measure":
        return measure(args)
    import numpy as np

    data = os.path.abspath(args.data or (SHARED if os.path.exists(SHARED) else
                                         os.path.expanduser("~/.keras/datasets/mnist.npz")))
    print(f"# fkeras quantization — {time.strftime('%Y-%m-%d')} — {platform.machine()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}; {args.epochs} epoch(s) on {args.samples or 60000} digits; latency: "
          "predict_on_batch(256)")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            weights = os.path.join(tmp, f"{name}.weights.h5")
            common = ["--model", name, "--data-path", data, "--weights", weights, "--tmp", tmp]
            trained = _run(["--worker", "train", "--epochs", str(args.epochs), "--samples", str(args.samples),
                            *common])
            results = {lib: _run(["--worker", "measure", "--lib", lib, "--modes", *args.modes, *common])
                       for lib in ("fkeras", "keras")}
            print(f"\n{name} (trained by fkeras in {trained['train_s']:.0f} s)\n")
            print("| mode | .keras KB | vs float32 | test acc fkeras | test acc Keras | max |p_fkeras - p_keras| "
                  "| fkeras ms/batch | Keras (JAX) ms/batch | fkeras vs Keras |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
            base = results["fkeras"][args.modes[0]]["kb"]
            for mode in args.modes:
                f, k = results["fkeras"][mode], results["keras"][mode]
                diff = float(np.abs(np.asarray(f["probs"]) - np.asarray(k["probs"])).max())
                print(f"| {mode} | {f['kb']:.0f} (Keras {k['kb']:.0f}) | {f['kb'] / base:.2f}x | {f['acc']:.4f} | "
                      f"{k['acc']:.4f} | {diff:.1e} | {f['ms']:.2f} | {k['ms']:.2f} | {f['ms'] / k['ms']:.2f}x |")


if __name__ == "__main__":
    main()
