"""Data-parallel throughput of fkeras fit on 1, 2 and 4 (virtual) devices.

    python benchmarks/bench_distributed.py [--devices 1 2 4] [--model convnet|mlp] [--steps 8]

Each device count runs in its own subprocess with
XLA_FLAGS=--xla_force_host_platform_device_count=N and `DataParallel()` active (N=1 runs
without a distribution). On a CPU the virtual devices share the same cores, so this measures
the overhead of sharding and collectives, not a speed-up; on real GPUs/TPUs the same script
shows scaling.
"""

import argparse
import json
import os
import subprocess
import sys
import time

CHILD = r"""
import json, sys, time
import numpy as np
import fkeras as keras
from fkeras import distribution as dist

n, model_name, steps, batch = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
keras.utils.set_random_seed(0)
if model_name == "convnet":
    layers = [keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.Conv2D(64, 3, activation="relu"),
              keras.layers.MaxPooling2D(2), keras.layers.Conv2D(128, 3, activation="relu"),
              keras.layers.Conv2D(128, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
              keras.layers.Dense(10, activation="softmax")]
else:
    layers = [keras.layers.Flatten(), keras.layers.Dense(64, activation="relu"),
              keras.layers.Dense(10, activation="softmax")]
rng = np.random.default_rng(0)
x = rng.random((batch * steps, 28, 28, 1), dtype=np.float32)
y = rng.integers(0, 10, batch * steps)

def run():
    model = keras.Sequential([keras.layers.Input((28, 28, 1)), *layers])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    model.fit(x[:batch * 2], y[:batch * 2], batch_size=batch, verbose=0, shuffle=False)  # compile
    t = time.perf_counter()
    model.fit(x, y, batch_size=batch, verbose=0, shuffle=False)
    return (time.perf_counter() - t) / steps

if n == 1:
    s = run()
else:
    with dist.DataParallel().scope():
        s = run()
print(json.dumps({"ms": s * 1e3, "samples_s": batch / s}))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--model", default="convnet")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()
    print(f"# data-parallel fit, {args.model}, global batch {args.batch}, {time.strftime('%Y-%m-%d')}, "
          f"{os.cpu_count()} CPU cores (virtual devices share them)")
    print("| devices | ms/step | samples/s | vs 1 device |")
    print("|---:|---:|---:|---:|")
    base = None
    for n in args.devices:
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n}")
        out = subprocess.run([sys.executable, "-c", CHILD, str(n), args.model, str(args.steps), str(args.batch)],
                             env=env, capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        base = base or r["ms"]
        print(f"| {n} | {r['ms']:.1f} | {r['samples_s']:.0f} | {r['ms'] / base:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
