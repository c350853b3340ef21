"""Cost of the interop shims: the seed convnet through `to_torch` / `to_tf` vs the same model written natively.

    python benchmarks/bench_interop.py                    # batch 128, all contenders
    python benchmarks/bench_interop.py --quick            # fewer steps, for a smoke run
    python benchmarks/bench_interop.py --only "torch shim" "torch native (NCHW)"
    python benchmarks/bench_interop.py --profile          # where the torch shim's time goes

Contenders (each in its own subprocess, so no shared caches or thread pools):
  torch shim                  `fkeras.interop.torch.to_torch(fkeras.nn.Sequential(...))`, NHWC input
  torch native (NCHW)         the same layers as `torch.nn.Sequential`, NCHW input (idiomatic torch)
  torch native (channels_last) the same, NCHW tensors in channels_last memory (what NHWC data is)
  TF shim                     `fkeras.interop.tf.to_tf(...)`, train step in a `tf.function`
  Keras 3 on TF               keras 3 with KERAS_BACKEND=tensorflow, `jit_compile=False`
  TF shim (XLA)               the shim's forward / train step inside `tf.function(jit_compile=True)`
  Keras 3 on TF (XLA)         keras 3, `jit_compile=True`

Forward: inference mode (`eval()` + `no_grad` / `training=False`), one batch of 128 per step.
Train step: forward in training mode (Dropout on), sparse categorical cross-entropy on the softmax
output, backward, Adam(1e-3) update. Each measurement: warm-up steps (tracing, compiling), then
`--repeats` runs of `--steps` steps, in each of `--rounds` rounds that alternate the contenders
(a shared machine's load spikes then hit all of them); the table gives the min and the median of the
per-step means over all runs. Ratios divide the shim's number by its native counterpart's (on a
noisy machine, trust the min).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

BATCH = 128
TORCH_PAIR = ("torch shim", "torch native (NCHW)")
TF_PAIRS = (("TF shim", "Keras 3 on TF"), ("TF shim (XLA)", "Keras 3 on TF (XLA)"))


def make_batch(batch, channels_first=False):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((batch, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, size=(batch,)).astype("int64")
    if channels_first:
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x, y


def fkeras_convnet():
    """The seed guide's convnet as an `fkeras.nn.Sequential` (the functional core the shims run)."""
    from fkeras import nn

    return nn.Sequential([
        nn.Input((28, 28, 1)),
        nn.Conv2D(64, 3, activation="relu"), nn.Conv2D(64, 3, activation="relu"), nn.MaxPooling2D(2),
        nn.Conv2D(128, 3, activation="relu"), nn.Conv2D(128, 3, activation="relu"),
        nn.GlobalAveragePooling2D(), nn.Dropout(0.5), nn.Dense(10, activation="softmax"),
    ])


def timed(fn, warmup, steps, repeats, sync=lambda out: None):
    """(first call s, [mean s/step of each repeat]); `sync(out)` waits for the last step's result."""
    t = time.perf_counter()
    sync(fn())
    first = time.perf_counter() - t
    for _ in range(warmup - 1):
        out = fn()
    sync(out if warmup > 1 else None)
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(steps):
            out = fn()
        sync(out)
        runs.append((time.perf_counter() - t) / steps)
    return first, runs


# --- torch -----------------------------------------------------------------------------------
def _torch_nll(torch, probs, y):
    return torch.nn.functional.nll_loss(torch.log(probs.clamp(1e-7, 1 - 1e-7)), y)


def torch_shim_module():
    import jax
    import torch

    from fkeras.interop.torch import to_torch

    model = fkeras_convnet()
    variables = model.init(jax.random.key(0), jax.ShapeDtypeStruct((1, 28, 28, 1), "float32"))
    torch.manual_seed(0)
    return to_torch(model, variables)


def torch_native_module():
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 64, 3), nn.ReLU(), nn.Conv2d(64, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3), nn.ReLU(), nn.Conv2d(128, 128, 3), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.5), nn.Linear(128, 10), nn.Softmax(-1),
    )


def run_torch(name, args):
    import torch

    if name == "torch shim":
        module = torch_shim_module()
        x, y = make_batch(args.batch)
        xt = torch.from_numpy(x)
    else:
        module = torch_native_module()
        x, y = make_batch(args.batch, channels_first=True)
        xt = torch.from_numpy(x)
        if "channels_last" in name:
            module = module.to(memory_format=torch.channels_last)
            xt = xt.contiguous(memory_format=torch.channels_last)
    yt = torch.from_numpy(y)
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)

    def forward():
        with torch.no_grad():
            return module(xt)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = _torch_nll(torch, module(xt), yt)
        loss.backward()
        opt.step()
        return loss

    module.eval()
    fwd = timed(forward, args.warmup, args.steps, args.repeats)
    module.train()
    trn = timed(train_step, args.warmup, args.steps, args.repeats)
    return fwd, trn


def profile_torch_shim(args):
    """torch.profiler tables (self CPU time per op) for the shim and the native module, train step."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    for name in TORCH_PAIR:
        if name == "torch shim":
            module, (x, y) = torch_shim_module(), make_batch(args.batch)
        else:
            module, (x, y) = torch_native_module(), make_batch(args.batch, channels_first=True)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        opt = torch.optim.Adam(module.parameters(), lr=1e-3)
        module.train()

        def step():
            opt.zero_grad(set_to_none=True)
            loss = _torch_nll(torch, module(xt), yt)
            loss.backward()
            opt.step()

        for _ in range(args.warmup):
            step()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(args.steps):
                step()
        print(f"\n### {name}: train step, {args.steps} steps, top ops by self CPU time")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=14, max_name_column_width=40))


def interleaved_torch(args):
    """Torch shim vs native NCHW alternating step by step in one process: on a shared machine both see
    the same load, so the ratio of mins is the steadiest number. Returns {name: {mode: [s/step]}}."""
    import torch

    shim = torch_shim_module()
    x, y = make_batch(args.batch)
    native = torch_native_module()
    xn, _ = make_batch(args.batch, channels_first=True)
    yt = torch.from_numpy(y)
    contenders = {TORCH_PAIR[0]: (shim, torch.from_numpy(x)), TORCH_PAIR[1]: (native, torch.from_numpy(xn))}
    opts = {name: torch.optim.Adam(m.parameters(), lr=1e-3) for name, (m, _) in contenders.items()}

    def run(name, mode):
        module, xt = contenders[name]
        if mode == "forward":
            module.eval()
            with torch.no_grad():
                module(xt)
        else:
            module.train()
            opts[name].zero_grad(set_to_none=True)
            _torch_nll(torch, module(xt), yt).backward()
            opts[name].step()

    out = {name: {"forward": [], "train": []} for name in contenders}
    for mode in ("forward", "train"):
        for name in contenders:
            for _ in range(args.warmup):
                run(name, mode)
        for _ in range(args.repeats * args.rounds * 2):
            for name in contenders:
                t = time.perf_counter()
                for _ in range(2):
                    run(name, mode)
                out[name][mode].append((time.perf_counter() - t) / 2)
    return out


# --- TensorFlow ------------------------------------------------------------------------------------
def _tf_adam(tf, variables, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
    """A minimal Adam over tf.Variables (Keras's formula), so the shim's train step needs no Keras."""
    m = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
    s = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
    t = tf.Variable(0.0, trainable=False)

    def apply(grads):
        t.assign_add(1.0)
        alpha = lr * tf.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        for v, g, mi, si in zip(variables, grads, m, s):
            mi.assign_add((g - mi) * (1 - b1))
            si.assign_add((tf.square(g) - si) * (1 - b2))
            v.assign_sub(alpha * mi / (tf.sqrt(si) + eps))

    return apply


def _tf_nll(tf, probs, y):
    p = tf.clip_by_value(probs, 1e-7, 1 - 1e-7)
    return -tf.reduce_mean(tf.math.log(tf.gather(p, y, axis=1, batch_dims=1)))


def run_tf_shim(name, args):
    import jax
    import tensorflow as tf

    from fkeras.interop.tf import to_tf

    model = fkeras_convnet()
    variables = model.init(jax.random.key(0), jax.ShapeDtypeStruct((1, 28, 28, 1), "float32"))
    tf.random.set_seed(0)
    module = to_tf(model, variables)
    x, y = make_batch(args.batch)
    xt, yt = tf.constant(x), tf.constant(y)
    params = module.trainable_variables
    adam = _tf_adam(tf, params)
    xla = "XLA" in name

    @tf.function(jit_compile=xla, autograph=False)
    def forward(x):
        return module(x, training=False)

    @tf.function(jit_compile=xla, autograph=False)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = _tf_nll(tf, module(x, training=True), y)
        adam(tape.gradient(loss, params))
        return loss

    def sync(out):
        if out is not None:
            out.numpy()

    fwd = timed(lambda: forward(xt), args.warmup, args.steps, args.repeats, sync)
    trn = timed(lambda: train_step(xt, yt), args.warmup, args.steps, args.repeats, sync)
    return fwd, trn


def run_keras_tf(name, args):
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(f"expected KERAS_BACKEND=tensorflow, got {keras.backend.backend()}")
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential([
        layers.Input((28, 28, 1)),
        layers.Conv2D(64, 3, activation="relu"), layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(128, 3, activation="relu"), layers.Conv2D(128, 3, activation="relu"),
        layers.GlobalAveragePooling2D(), layers.Dropout(0.5), layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(1e-3),
                  jit_compile="XLA" in name)
    x, y = make_batch(args.batch)
    xt, yt = tf.constant(x), tf.constant(y)
    # predict_on_batch / train_on_batch run Keras's own compiled predict / train functions.
    fwd = timed(lambda: model.predict_on_batch(xt), args.warmup, args.steps, args.repeats)
    trn = timed(lambda: model.train_on_batch(xt, yt), args.warmup, args.steps, args.repeats)
    return fwd, trn


WORKERS = {
    "torch shim": run_torch,
    "torch native (NCHW)": run_torch,
    "torch native (channels_last)": run_torch,
    "TF shim": run_tf_shim,
    "Keras 3 on TF": run_keras_tf,
    "TF shim (XLA)": run_tf_shim,
    "Keras 3 on TF (XLA)": run_keras_tf,
}


# --- driver ------------------------------------------------------------------------------------------
def set_threads(n, tensorflow=False):
    """Pin torch's (and with `tensorflow`, TF's) thread pools to `n` threads (0: the frameworks' defaults)."""
    if not n:
        return
    import torch

    torch.set_num_threads(n)
    if tensorflow:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)


def worker_main(args):
    set_threads(args.threads, tensorflow="TF" in args.worker)
    fwd, trn = WORKERS[args.worker](args.worker, args)
    print(json.dumps({
        "forward": {"first_s": fwd[0], "runs_s": fwd[1]},
        "train": {"first_s": trn[0], "runs_s": trn[1]},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def run_worker(name, args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow" if "Keras" in name else "jax")
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--batch", str(args.batch),
           "--steps", str(args.steps), "--warmup", str(args.warmup), "--repeats", str(args.repeats),
           "--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _stats(runs):
    runs = sorted(runs)
    return runs[0] * 1e3, runs[len(runs) // 2] * 1e3


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=BATCH)
    ap.add_argument("--steps", type=int, default=None, help="steps per timed run (default 10; 3 with --quick)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per measurement (default 5; 3 with --quick)")
    ap.add_argument("--rounds", type=int, default=2,
                    help="rounds over all contenders, alternating, each a fresh subprocess (the runs pool)")
    ap.add_argument("--only", nargs="*", metavar="NAME", help="contenders to run (names as in the table)")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads for torch and TF (0: their default)")
    ap.add_argument("--interleaved", action="store_true",
                    help="also time torch shim and native step by step in ONE process (same load for both)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--profile", action="store_true", help="torch.profiler tables: torch shim vs native train step")
    args = ap.parse_args(argv)
    args.steps = args.steps or (3 if args.quick else 5)
    args.repeats = args.repeats or 3
    args.rounds = 1 if args.quick else args.rounds
    if min(args.batch, args.steps, args.warmup, args.repeats, args.rounds) < 1:
        ap.error("--batch, --steps, --warmup, --repeats and --rounds must be >= 1")
    unknown = sorted(set(args.only or ()) - set(WORKERS))
    if unknown:
        ap.error(f"unknown contenders {unknown}; expected some of {list(WORKERS)}")
    if args.worker:
        return worker_main(args)
    if args.profile:
        return profile_torch_shim(args)

    import torch

    set_threads(args.threads)
    print(f"# fkeras interop shims vs native — {time.strftime('%Y-%m-%d %H:%M')} — "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads "
          f"{torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}")
    print(f"\nSeed convnet, batch {args.batch}; {args.rounds} round(s) x {args.repeats} runs x {args.steps} steps "
          f"after {args.warmup} warm-up; ms per step (min / median over all runs).\n")
    names = list(WORKERS) if args.only is None else args.only
    pooled = {name: None for name in names}
    # Alternate contenders round by round, so load spikes on a shared machine hit all of them.
    for _ in range(args.rounds if names else 0):
        for name in names:
            r = run_worker(name, args)
            if "error" in r or pooled[name] is None or "error" in pooled[name]:
                pooled[name] = r if (pooled[name] is None or "error" not in r) else pooled[name]
                continue
            p = pooled[name]
            for k in ("forward", "train"):
                p[k]["runs_s"] += r[k]["runs_s"]
                p[k]["first_s"] = min(p[k]["first_s"], r[k]["first_s"])
            p["peak_rss_mb"] = max(p["peak_rss_mb"], r["peak_rss_mb"])

    print("| contender | forward min | forward median | train step min | train step median | first train step (s) "
          "| peak RSS (MB) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    results = {}
    for name, r in pooled.items():
        if "error" in r:
            print(f"| {name} | – | – | – | – | – | failed: {r['error'][:100]} |")
            continue
        results[name] = r
        f_min, f_med = _stats(r["forward"]["runs_s"])
        t_min, t_med = _stats(r["train"]["runs_s"])
        print(f"| {name} | {f_min:.1f} | {f_med:.1f} | {t_min:.1f} | {t_med:.1f} | {r['train']['first_s']:.2f} "
              f"| {r['peak_rss_mb']:.0f} |")

    if args.interleaved:
        set_threads(args.threads)
        inter = interleaved_torch(args)
        print("\nInterleaved in one process (torch shim and native alternate every 2 steps):\n")
        print("| contender | forward min | forward median | train step min | train step median |")
        print("|---|---:|---:|---:|---:|")
        for name, r in inter.items():
            cells = [v for k in ("forward", "train") for v in _stats(r[k])]
            print(f"| {name} (interleaved) | " + " | ".join(f"{c:.1f}" for c in cells) + " |")
        for name, r in inter.items():
            results[f"{name} (interleaved)"] = {k: {"runs_s": r[k]} for k in r}

    pairs = [p for p in (TORCH_PAIR, tuple(f"{n} (interleaved)" for n in TORCH_PAIR), *TF_PAIRS)
             if p[0] in results and p[1] in results]
    if pairs:
        print("\n| shim / native | forward (min) | forward (median) | train step (min) | train step (median) |")
        print("|---|---:|---:|---:|---:|")
        for shim, native in pairs:
            cells = [_stats(results[shim][k]["runs_s"])[i] / _stats(results[native][k]["runs_s"])[i]
                     for k in ("forward", "train") for i in (0, 1)]
            print(f"| {shim} / {native} | " + " | ".join(f"{c:.2f}x" for c in cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
