"""Training speed of fkeras against a hand-written JAX loop, Keras 3 and PyTorch, in one run.

    python benchmarks/bench_train.py                      # seed convnet (batch 128) + MLP (batch 32)
    python benchmarks/bench_train.py --models convnet --batches 32 128 512 --wide   # scaling table
    python benchmarks/bench_train.py --quick              # fewer steps, for a smoke run

Each contender runs in its own subprocess (fresh JIT caches, its own peak RSS) on the
same synthetic MNIST-shaped data, doing the same work (Adam, sparse crossentropy, no metrics;
the hand-written loop splits its dropout key inside the jitted step and donates its buffers,
as fit does): a first call/fit on `warmup` batches (compiles), then
three timed runs of `steps` steps each (an epoch of `fit`, or a loop that does not block
between steps, like fit). Reports the median run's ms/step, samples/s, the first
call's seconds (compile time) and peak RSS.
Ratios are printed against the hand-written `jax.jit` + optax loop, Keras 3 (JAX) and PyTorch eager.

Contenders: hand-written JAX (plain `jax.jit`, and `fkeras.train.jit`), fkeras `fit` (pure JAX path), fkeras `fit(steps_per_execution=N)`,
fkeras bf16 (`mixed_bfloat16`), fkeras `compile(engine="torch")`, hand-written JAX,
Keras 3 on JAX, Keras 3 on torch, PyTorch eager. A contender that cannot run (package missing) is reported and skipped.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


# --- models, written once per framework --------------------------------------------
def convnet_layers(layers, width=1):
    return [
        layers.Conv2D(64 * width, (3, 3), activation="relu"),
        layers.Conv2D(64 * width, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(128 * width, (3, 3), activation="relu"),
        layers.Conv2D(128 * width, (3, 3), activation="relu"),
        layers.GlobalAveragePooling2D(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ]


def mlp_layers(layers, width=1):
    return [layers.Flatten(), layers.Dense(64 * width, activation="relu"), layers.Dense(10, activation="softmax")]


def make_data(model_name, batch, steps):
    import numpy as np

    rng = np.random.default_rng(0)
    n = batch * steps
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, size=(n,)).astype("int32")
    return x, y


REPEATS = 3


def timed_steps(step_fn, n_warmup, n_steps, sync):
    """Run `step_fn(i)` for warm-up, then `n_steps` steps REPEATS times without blocking between steps
    (as fit does); `sync()` blocks at the end of each run. Returns (first_step_s, [s/step per repeat])."""
    t = time.perf_counter()
    step_fn(0)
    sync()
    first = time.perf_counter() - t
    for i in range(1, n_warmup):
        step_fn(i)
    sync()
    per_step = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        for i in range(n_steps):
            step_fn(i)
        sync()
        per_step.append((time.perf_counter() - t) / n_steps)
    return first, per_step


# --- workers --------------------------------------------------------------------------
def run_hand_jax(args, x, y, fkeras_jit=False):
    import jax
    import jax.numpy as jnp
    import optax

    from fkeras import nn, ops, train

    build = convnet_layers if args.model == "convnet" else mlp_layers
    model = nn.Sequential(build(nn, args.width))
    v = model.init(jax.random.key(0), (None, 28, 28, 1))
    tx = optax.adam(1e-3)

    @functools.partial(train.jit if fkeras_jit else jax.jit, donate_argnums=(0, 1, 2))
    def step(params, opt, key, xb, yb):
        key, sub = jax.random.split(key)

        def loss_fn(p):
            out, _ = model.apply(nn.Variables(p, v.state), xb, training=True, rng=sub)
            return jnp.mean(ops.sparse_categorical_crossentropy(yb, out))

        loss, g = jax.value_and_grad(loss_fn)(params)
        updates, opt = tx.update(g, opt, params)
        return optax.apply_updates(params, updates), opt, key, loss

    state = [v.params, tx.init(v.params), jax.random.key(1)]
    b = args.batch

    def one(i):
        j = i % args.steps
        state[0], state[1], state[2], _ = step(*state, x[j * b:(j + 1) * b], y[j * b:(j + 1) * b])

    return timed_steps(one, args.warmup, args.steps, lambda: jax.block_until_ready(state))


def run_fkeras(args, x, y, steps_per_execution=1, policy=None, engine="jax"):
    import fkeras as keras

    if policy:
        keras.mixed_precision.set_global_policy(policy)
    build = convnet_layers if args.model == "convnet" else mlp_layers
    model = keras.Sequential([keras.layers.Input(shape=(28, 28, 1)), *build(keras.layers, args.width)])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(1e-3),
                  steps_per_execution=steps_per_execution, engine=engine)
    b = args.batch
    n_warm = max(args.warmup, steps_per_execution)
    return timed_fits(model, x, y, b, n_warm, args.steps)


def timed_fits(model, x, y, b, n_warm, n_steps):
    """First fit on `n_warm` batches (compiles), then REPEATS one-epoch fits of `n_steps` batches."""
    t = time.perf_counter()
    model.fit(x[:n_warm * b], y[:n_warm * b], batch_size=b, epochs=1, verbose=0, shuffle=False)
    first = time.perf_counter() - t
    per_step = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        model.fit(x, y, batch_size=b, epochs=1, verbose=0, shuffle=False)
        per_step.append((time.perf_counter() - t) / n_steps)
    return first, per_step


def run_keras(args, x, y):
    import keras

    build = convnet_layers if args.model == "convnet" else mlp_layers
    model = keras.Sequential([keras.layers.Input(shape=(28, 28, 1)), *build(keras.layers, args.width)])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(1e-3))
    return timed_fits(model, x, y, args.batch, args.warmup, args.steps)


def run_torch(args, x, y):
    import torch
    from torch import nn as tnn

    torch.manual_seed(0)
    w = args.width
    if args.model == "convnet":
        model = tnn.Sequential(
            tnn.Conv2d(1, 64 * w, 3), tnn.ReLU(), tnn.Conv2d(64 * w, 64 * w, 3), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Conv2d(64 * w, 128 * w, 3), tnn.ReLU(), tnn.Conv2d(128 * w, 128 * w, 3), tnn.ReLU(),
            tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Dropout(0.5), tnn.Linear(128 * w, 10),
        )
        xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    else:
        model = tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 64 * w), tnn.ReLU(), tnn.Linear(64 * w, 10))
        xt = torch.from_numpy(x)
    yt = torch.from_numpy(y).long()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    loss_fn = tnn.CrossEntropyLoss()
    b = args.batch

    def one(i):
        j = i % args.steps
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xt[j * b:(j + 1) * b]), yt[j * b:(j + 1) * b])
        loss.backward()
        opt.step()

    return timed_steps(one, args.warmup, args.steps, lambda: None)


WORKERS = {
    "hand-written JAX": lambda a, x, y: run_hand_jax(a, x, y),
    "hand-written JAX, fkeras.train.jit": lambda a, x, y: run_hand_jax(a, x, y, fkeras_jit=True),
    "fkeras fit": lambda a, x, y: run_fkeras(a, x, y),
    "fkeras fit spe=8": lambda a, x, y: run_fkeras(a, x, y, steps_per_execution=8),
    "fkeras fit bf16": lambda a, x, y: run_fkeras(a, x, y, policy="mixed_bfloat16"),
    "fkeras fit engine=torch": lambda a, x, y: run_fkeras(a, x, y, engine="torch"),
    "Keras 3 (jax)": lambda a, x, y: run_keras(a, x, y),
    "Keras 3 (torch)": lambda a, x, y: run_keras(a, x, y),
    "PyTorch eager": lambda a, x, y: run_torch(a, x, y),
}
KERAS_BACKEND = {"Keras 3 (jax)": "jax", "Keras 3 (torch)": "torch"}


def worker_main(args):
    x, y = make_data(args.model, args.batch, args.steps)
    first, times = WORKERS[args.worker](args, x, y)
    times.sort()
    med = times[len(times) // 2]
    print(json.dumps({
        "ms": med * 1e3,
        "samples_s": args.batch / med,
        "first_s": first,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def run_worker(name, model, batch, steps, warmup, width):
    env = dict(os.environ, KERAS_BACKEND=KERAS_BACKEND.get(name, "jax"), TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--model", model, "--batch", str(batch),
           "--steps", str(steps), "--warmup", str(warmup), "--width", str(width)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


BASELINES = ("hand-written JAX", "Keras 3 (jax)", "PyTorch eager")


def print_table(results):
    """One row per contender; ms/step ratios against each baseline that ran in this run."""
    bases = [b for b in BASELINES if "ms" in results.get(b, {})]
    print("| contender | ms/step | samples/s | " + " | ".join(f"vs {b}" for b in bases)
          + " | first step (s) | peak RSS (MB) |")
    print("|---|---:|---:|" + "---:|" * len(bases) + "---:|---:|")
    for name, r in results.items():
        if "error" in r:
            print(f"| {name} | – | – | " + "– | " * len(bases) + f"– | skipped: {r['error'][:80]} |")
            continue
        ratios = " | ".join(f"{r['ms'] / results[b]['ms']:.2f}x" for b in bases)
        ms = f"{r['ms']:.1f}" if r["ms"] >= 10 else f"{r['ms']:.3f}"
        print(f"| {name} | {ms} | {r['samples_s']:.0f} | {ratios}{' | ' if bases else ''}"
              f"{r['first_s']:.1f} | {r['peak_rss_mb']:.0f} |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker")
    ap.add_argument("--model", default="convnet")
    ap.add_argument("--models", nargs="+", default=["convnet", "mlp"])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--batches", nargs="+", type=int)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--width", type=int, default=1)
    ap.add_argument("--wide", action="store_true", help="also run the 2x wider model")
    ap.add_argument("--only", nargs="+", help="contenders to run (names as printed)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.worker:
        args.steps = args.steps or 10
        return worker_main(args)

    print(f"# fkeras training benchmark — {time.strftime('%Y-%m-%d')} — {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}")
    names = args.only or list(WORKERS)
    for model in args.models:
        batches = args.batches or ([128] if model == "convnet" else [32])
        widths = [1, 2] if args.wide else [args.width]
        for width in widths:
            for batch in batches:
                steps = args.steps or (
                    (4 if args.quick else 10) if model == "convnet" else (50 if args.quick else 300))
                print(f"\n## {model} (width x{width}), batch {batch}, {steps} timed steps after {args.warmup} warm-up")
                results = {}
                for name in names:
                    results[name] = run_worker(name, model, batch, steps, args.warmup, width)
                print_table(results)

if __name__ == "__main__":
    main()
