"""Inference speed of keras.applications models: fkeras vs Keras 3 (JAX) vs PyTorch.

    python benchmarks/bench_applications.py                  # ResNet50, MobileNetV2; batch 32 at 224x224
    python benchmarks/bench_applications.py --quick          # batch 8 at 128x128, one timed step
    python benchmarks/bench_applications.py --models MobileNetV2 --steps 5

Contenders (each model x contender in its own subprocess, so no shared caches or thread pools):
  fkeras            `fkeras.applications.<Model>(weights=None)`, `model.predict_on_batch(x)`
  Keras 3 (JAX)     `keras.applications.<Model>(weights=None)` with KERAS_BACKEND=jax, `predict_on_batch`
  PyTorch (shim)    the same fkeras model through `fkeras.interop.torch.to_torch`, `eval()` + `no_grad`,
                    NHWC torch tensors (torchvision cannot be installed beside this torch, so this is
                    the model PyTorch runs here)

Each: one warm-up call (tracing / compiling, reported as "first call"), then `--repeats` runs of
`--steps` calls on the same batch; the table gives images/s of the fastest and the median run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CONTENDERS = ("fkeras", "Keras 3 (JAX)", "PyTorch (shim)")


def _batch(batch, size):
    import numpy as np

    return np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype("float32")


def run_one(contender, model_name, batch, size, steps, repeats):
    """Time one contender on one model in this process; returns a dict of numbers."""
    x = _batch(batch, size)
    t0 = time.perf_counter()
    if contender == "Keras 3 (JAX)":
        os.environ["KERAS_BACKEND"] = "jax"
        import keras

        model = getattr(keras.applications, model_name)(weights=None, input_shape=(size, size, 3))

        def call():
            return model.predict_on_batch(x)
    else:
        import fkeras

        model = getattr(fkeras.applications, model_name)(weights=None, input_shape=(size, size, 3))
        if contender == "fkeras":
            def call():
                return model.predict_on_batch(x)
        else:
            import torch

            from fkeras.interop.torch import to_torch

            module = to_torch(model).eval()
            tx = torch.from_numpy(x)

            def call():
                with torch.no_grad():
                    return module(tx).numpy()
    build = time.perf_counter() - t0
    t = time.perf_counter()
    call()
    first = time.perf_counter() - t
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(steps):
            call()
        runs.append((time.perf_counter() - t) / steps)
    return {"build_s": build, "first_s": first, "runs": runs}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["ResNet50", "MobileNetV2"])
    parser.add_argument("--only", nargs="+", default=list(CONTENDERS), choices=CONTENDERS)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("CONTENDER", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.batch, args.size, args.steps, args.repeats = 8, 128, 1, 1
    if args.child:
        print(json.dumps(run_one(args.child[0], args.child[1], args.batch, args.size, args.steps, args.repeats)))
        return
    print(f"batch {args.batch}, {args.size}x{args.size}, {args.repeats} runs x {args.steps} calls; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("| model | contender | images/s (best) | images/s (median) | ms/batch (best) | vs fkeras | first call (s) |"
          " build (s) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for model_name in args.models:
        base = None
        for contender in args.only:
            cmd = [sys.executable, __file__, "--child", contender, model_name, "--batch", str(args.batch),
                   "--size", str(args.size), "--steps", str(args.steps), "--repeats", str(args.repeats)]
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
            out = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if out.returncode != 0:
                print(f"| {model_name} | {contender} | failed: {out.stderr.strip().splitlines()[-1]} |||||", flush=True)
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            runs = sorted(r["runs"])
            best, median = runs[0], runs[len(runs) // 2]
            if contender == "fkeras":
                base = best
            ratio = f"{base / best:.2f}x" if base else "-"
            print(f"| {model_name} | {contender} | {args.batch / best:.1f} | {args.batch / median:.1f} | "
                  f"{best * 1e3:.0f} | {ratio} | {r['first_s']:.1f} | {r['build_s']:.1f} |", flush=True)

if __name__ == "__main__":
    main()
