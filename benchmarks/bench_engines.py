"""ms per train step of `fit` on fkeras's two engines against native PyTorch eager.

    python benchmarks/bench_engines.py                 # seed convnet (batch 128) and MLP 784-64-10 (batch 32)
    python benchmarks/bench_engines.py --quick         # fewer steps and runs (smoke)

Contenders, each in its own subprocess (fresh caches, torch's default thread count):
  fkeras fit engine="jax"    the jit-compiled XLA step
  fkeras fit engine="torch"  the same model and TrainState through the torch shim, in PyTorch eager
  PyTorch eager              the same architecture written in torch.nn, Adam, a plain loop
Same synthetic MNIST-shaped data; fkeras runs one warm-up fit (compiles), then `--runs` one-epoch
fits of `--steps` batches (shuffle=False, verbose=0, metrics=["accuracy"]); PyTorch runs the same
number of warm-up and timed steps. The workers are set up one after the other, then timed
round-robin (one run each per round, only one busy at a time), so a load change on the shared
machine hits every contender alike; the MIN over runs is reported, with ratios against PyTorch
eager (lower is better).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_train import convnet_layers, make_data, mlp_layers  # noqa: E402

CONFIGS = {"convnet": 128, "mlp": 32}


def run_fkeras(args, x, y, engine):
    """Build, compile and warm up; returns `one_run() -> seconds per step` (one epoch of fit)."""
    import fkeras as keras

    build = convnet_layers if args.model == "convnet" else mlp_layers
    model = keras.Sequential([keras.layers.Input(shape=(28, 28, 1)), *build(keras.layers)])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(1e-3),
                  metrics=["accuracy"], engine=engine)
    b = args.batch
    model.fit(x[:args.warmup * b], y[:args.warmup * b], batch_size=b, epochs=1, verbose=0, shuffle=False)

    def one_run():
        t = time.perf_counter()
        model.fit(x, y, batch_size=b, epochs=1, verbose=0, shuffle=False)
        return (time.perf_counter() - t) / args.steps

    return one_run


def run_torch(args, x, y):
    """The same architecture in torch.nn with torch.optim.Adam; returns `one_run()` like run_fkeras."""
    import torch
    from torch import nn as tnn

    torch.manual_seed(0)
    if args.model == "convnet":
        model = tnn.Sequential(
            tnn.Conv2d(1, 64, 3), tnn.ReLU(), tnn.Conv2d(64, 64, 3), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Conv2d(64, 128, 3), tnn.ReLU(), tnn.Conv2d(128, 128, 3), tnn.ReLU(),
            tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Dropout(0.5), tnn.Linear(128, 10),
        )
        xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    else:
        model = tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 64), tnn.ReLU(), tnn.Linear(64, 10))
        xt = torch.from_numpy(x)
    yt = torch.from_numpy(y).long()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    loss_fn = tnn.CrossEntropyLoss()
    b = args.batch

    def step(j):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xt[j * b:(j + 1) * b]), yt[j * b:(j + 1) * b])
        loss.backward()
        opt.step()

    for j in range(args.warmup):
        step(j)

    def one_run():
        t = time.perf_counter()
        for j in range(args.steps):
            step(j)
        return (time.perf_counter() - t) / args.steps

    return one_run


WORKERS = {
    'fkeras fit engine="jax"': lambda a, x, y: run_fkeras(a, x, y, "jax"),
    'fkeras fit engine="torch"': lambda a, x, y: run_fkeras(a, x, y, "torch"),
    "PyTorch eager": run_torch,
}


def worker(args):
    """Set up, say "ready", then time one run per "run" line on stdin (round-robin with the others)."""
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    x, y = make_data(args.model, args.batch, args.steps)
    one_run = WORKERS[args.worker](args, x, y)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        print(json.dumps({"ms_per_step": one_run() * 1e3}), flush=True)


def _read_json(proc):
    for line in proc.stdout:
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(proc.stderr.read()[-2000:])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--steps", type=int, default=None, help="timed steps per run (default 20 convnet, 300 MLP)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--torch-threads", type=int, default=None,
                   help="torch.set_num_threads in every worker (default: torch's own default)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    if args.quick:
        args.runs = 2
    import torch

    threads = args.torch_threads or torch.get_num_threads()
    print(f"# fkeras engines vs PyTorch eager; min ms/step over {args.runs} runs (lower is better); "
          f"torch threads {threads}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for model in args.models:
        batch = CONFIGS[model]
        steps = args.steps or ((5 if args.quick else 20) if model == "convnet" else (50 if args.quick else 300))
        procs = {}
        for name in WORKERS:
            cmd = [sys.executable, __file__, "--worker", name, "--model", model, "--batch", str(batch),
                   "--steps", str(steps), "--runs", str(args.runs), "--warmup", str(args.warmup)]
            if args.torch_threads:
                cmd += ["--torch-threads", str(args.torch_threads)]
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=dict(os.environ, KERAS_BACKEND="jax"))
            for line in proc.stdout:  # set up one at a time: compiles do not overlap the timed runs
                if line.strip() == "ready":
                    break
            else:
                print(f"{model}: {name} failed:\n{proc.stderr.read()[-2000:]}")
                continue
            procs[name] = proc
        # Round-robin: each round times every contender once, so load changes hit all of them alike.
        times = {name: [] for name in procs}
        for _ in range(args.runs):
            for name, proc in procs.items():
                proc.stdin.write("run\n")
                proc.stdin.flush()
                times[name].append(_read_json(proc)["ms_per_step"])
        for proc in procs.values():
            proc.stdin.close()
            proc.wait()
        rows = {name: min(v) for name, v in times.items()}
        ref = rows.get("PyTorch eager")
        print(f"\n## {model}, batch {batch}, {steps} steps per run")
        print(f"{'contender':28s} {'ms/step':>9s} {'vs PyTorch':>10s}")
        for name, ms in rows.items():
            ratio = f"{ms / ref:9.2f}x" if ref else "        -"
            print(f"{name:28s} {ms:9.2f} {ratio}")


if __name__ == "__main__":
    main()
