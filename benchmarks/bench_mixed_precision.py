"""Mixed precision on this CPU: speed and final accuracy of the seed convnet per dtype policy.

    python benchmarks/bench_mixed_precision.py                         # 2 epochs of full MNIST each
    python benchmarks/bench_mixed_precision.py --epochs 1 --samples 20000
    python benchmarks/bench_mixed_precision.py --data /path/to/mnist.npz

Each policy ("float32", "mixed_bfloat16", "mixed_float16") trains the seed guide's convnet from
the same initial weights (seed 0) in its own subprocess with `fit` (Adam 1e-3, batch 128; fp16
gets Keras's automatic LossScaleOptimizer) and reports ms/step of the last epoch, the final
training loss and the test accuracy on the 10,000 MNIST test digits. Data: `--data`, else
`../shared/data/mnist.npz` beside the repo, else Keras's cache (`fkeras.datasets.mnist`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data", "mnist.npz")
POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def worker(args):
    import numpy as np

    import fkeras as keras
    from fkeras.datasets import mnist

    sys.path.insert(0, os.path.join(HERE, "..", "examples"))
    from mnist_convnet import build_model

    path = args.data or (SHARED if os.path.exists(SHARED) else "mnist.npz")
    (x_train, y_train), (x_test, y_test) = mnist.load_data(path=os.path.abspath(path) if args.data or
                                                           os.path.exists(SHARED) else path)
    if args.samples:
        x_train, y_train = x_train[:args.samples], y_train[:args.samples]
    x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
    x_test = np.expand_dims(x_test.astype("float32") / 255, -1)

    keras.mixed_precision.set_global_policy(args.worker)
    keras.utils.set_random_seed(0)
    model = build_model()
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(1e-3),
                  metrics=["accuracy"])
    epoch_s = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_s.append(time.perf_counter() - self.t)

    hist = model.fit(x_train, y_train, batch_size=128, epochs=args.epochs, verbose=0, callbacks=[Timer()])
    steps = -(-len(x_train) // 128)
    _, acc = model.evaluate(x_test, y_test, batch_size=512, verbose=0)
    print(json.dumps({"ms": epoch_s[-1] / steps * 1e3, "loss": hist.history["loss"][-1],
                      "train_acc": hist.history["accuracy"][-1], "test_acc": acc,
                      "optimizer": type(model.optimizer).__name__}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--samples", type=int, default=0, help="training digits (0 = all 60,000)")
    ap.add_argument("--data")
    ap.add_argument("--policies", nargs="+", default=list(POLICIES))
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    print(f"# fkeras mixed precision — {time.strftime('%Y-%m-%d')} — {platform.machine()}, {os.cpu_count()} cores; "
          f"seed convnet, batch 128, {args.epochs} epoch(s) on {args.samples or 60000} MNIST digits")
    print("| policy | optimizer | ms/step (last epoch) | vs float32 | final train loss | train acc | test acc |")
    print("|---|---|---:|---:|---:|---:|---:|")
    base = None
    for policy in args.policies:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", policy, "--epochs", str(args.epochs),
               "--samples", str(args.samples)] + (["--data", args.data] if args.data else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        if proc.returncode != 0:
            err = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"
            print(f"| {policy} | – | – | – | – | – | skipped: {err[:80]} |", flush=True)
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        base = base or (r["ms"] if policy == "float32" else None)
        ratio = f"{r['ms'] / base:.2f}x" if base else "–"
        print(f"| {policy} | {r['optimizer']} | {r['ms']:.1f} | {ratio} | {r['loss']:.4f} | {r['train_acc']:.4f} | "
              f"{r['test_acc']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
