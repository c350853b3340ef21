"""Sequence-model training speed: fkeras against a hand-written JAX loop, Keras 3 and PyTorch, in one run.

    python benchmarks/bench_sequence.py              # both workloads, small sizes (a few minutes on 2 cores)
    python benchmarks/bench_sequence.py --quick      # fewer timed steps, for a smoke run
    python benchmarks/bench_sequence.py --models lstm --vocab 20000 --embed 128 --seq 200 --batch 64  # issue 15's size

Workloads (binary labels, Adam 1e-3, no metrics):
- `lstm`: Embedding(vocab, embed) -> LSTM(units) -> Dense(1, sigmoid), binary crossentropy.
- `transformer`: Embedding(vocab, d) -> one encoder block (MultiHeadAttention(heads, d // heads) + residual +
  LayerNormalization, Dense(2d, relu) -> Dense(d) + residual + LayerNormalization) -> GlobalAveragePooling1D
  -> Dense(2, softmax), sparse categorical crossentropy.

Contenders, each in its own subprocess (fresh JIT caches, its own peak RSS): fkeras `fit`, Keras 3 `fit` on
JAX (and on torch with `--only "Keras 3 (torch)"`), PyTorch eager with torch's own layers (`nn.LSTM`,
`nn.MultiheadAttention`; same shapes), and a hand-written JAX loop (`jax.numpy` + `lax.scan`, optax Adam,
`jax.jit` with donated buffers) as the floor. Timing is bench_train.py's: a first fit/step on warm-up
batches (compiles), then `--repeats` runs of `steps` steps; the median run's ms/step (`--best`: the fastest,
the fairer figure on a busy machine), and ratios within the run. PyTorch runs on one thread by default
(`--torch-threads`). `--rounds N` runs all contenders N times round-robin and keeps each one's fastest.
`--clock cpu` measures CPU time of the whole process (all its threads) instead of wall time: on a machine
shared with other jobs the wall time mostly measures the scheduler, the CPU time the work.
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_train import print_table  # noqa: E402

REPEATS = 3
CLOCK = time.perf_counter  # or time.process_time (--clock cpu): CPU seconds of every thread of the process


def timed_steps(step_fn, n_warmup, n_steps, sync):
    """bench_train's timing on `CLOCK`: a first step (compiles), warm-up, then REPEATS runs of `n_steps`
    steps without blocking between steps. Returns (first step wall s, [s/step per run])."""
    t = time.perf_counter()
    step_fn(0)
    sync()
    first = time.perf_counter() - t
    for i in range(1, n_warmup):
        step_fn(i)
    sync()
    per_step = []
    for _ in range(REPEATS):
        t = CLOCK()
        for i in range(n_steps):
            step_fn(i)
        sync()
        per_step.append((CLOCK() - t) / n_steps)
    return first, per_step


def timed_fits(model, x, y, b, n_warm, n_steps):
    """A first fit on `n_warm` batches (compiles), then REPEATS one-epoch fits of `n_steps` batches."""
    t = time.perf_counter()
    model.fit(x[:n_warm * b], y[:n_warm * b], batch_size=b, epochs=1, verbose=0, shuffle=False)
    first = time.perf_counter() - t
    per_step = []
    for _ in range(REPEATS):
        t = CLOCK()
        model.fit(x, y, batch_size=b, epochs=1, verbose=0, shuffle=False)
        per_step.append((CLOCK() - t) / n_steps)
    return first, per_step


def make_data(args):
    import numpy as np

    rng = np.random.default_rng(0)
    n = args.batch * args.steps
    x = rng.integers(1, args.vocab, size=(n, args.seq)).astype("int32")
    y = rng.integers(0, 2, size=(n,)).astype("int32")
    return x, y


# --- Keras-API models (fkeras and Keras 3 run the same code) ------------------------------
def keras_model(k, args):
    inp = k.Input((args.seq,), dtype="int32")
    if args.model == "lstm":
        h = k.layers.Embedding(args.vocab, args.embed)(inp)
        h = k.layers.LSTM(args.units)(h)
        out = k.layers.Dense(1, activation="sigmoid")(h)
        loss = "binary_crossentropy"
    else:
        d = args.embed
        h = k.layers.Embedding(args.vocab, d)(inp)
        a = k.layers.MultiHeadAttention(args.heads, d // args.heads)(h, h)
        h = k.layers.LayerNormalization(epsilon=1e-5)(k.layers.Add()([h, a]))
        f = k.layers.Dense(2 * d, activation="relu")(h)
        f = k.layers.Dense(d)(f)
        h = k.layers.LayerNormalization(epsilon=1e-5)(k.layers.Add()([h, f]))
        h = k.layers.GlobalAveragePooling1D()(h)
        out = k.layers.Dense(2, activation="softmax")(h)
        loss = "sparse_categorical_crossentropy"
    model = k.Model(inp, out)
    model.compile(optimizer=k.optimizers.Adam(1e-3), loss=loss)
    return model


def _y(args, y):
    return y.astype("float32").reshape(-1, 1) if args.model == "lstm" else y


def run_fkeras(args, x, y):
    import fkeras

    return timed_fits(keras_model(fkeras, args), x, _y(args, y), args.batch, args.warmup, args.steps)


def run_keras(args, x, y):
    import keras

    return timed_fits(keras_model(keras, args), x, _y(args, y), args.batch, args.warmup, args.steps)


# --- PyTorch eager ------------------------------------------------------------------------------------
def run_torch(args, x, y):
    import torch
    from torch import nn as tnn

    torch.manual_seed(0)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    d = args.embed

    class LSTMNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.emb = tnn.Embedding(args.vocab, d)
            self.lstm = tnn.LSTM(d, args.units, batch_first=True)
            self.out = tnn.Linear(args.units, 1)

        def forward(self, xb):
            _, (h, _) = self.lstm(self.emb(xb))
            return self.out(h[-1])

    class Block(tnn.Module):
        def __init__(self):
            super().__init__()
            self.emb = tnn.Embedding(args.vocab, d)
            self.att = tnn.MultiheadAttention(d, args.heads, batch_first=True)
            self.ln1, self.ln2 = tnn.LayerNorm(d), tnn.LayerNorm(d)
            self.ff = tnn.Sequential(tnn.Linear(d, 2 * d), tnn.ReLU(), tnn.Linear(2 * d, d))
            self.out = tnn.Linear(d, 2)

        def forward(self, xb):
            h = self.emb(xb)
            h = self.ln1(h + self.att(h, h, h, need_weights=False)[0])
            h = self.ln2(h + self.ff(h))
            return self.out(h.mean(1))

    model = LSTMNet() if args.model == "lstm" else Block()
    xt = torch.from_numpy(x).long()
    if args.model == "lstm":
        yt, loss_fn = torch.from_numpy(y).float().reshape(-1, 1), tnn.BCEWithLogitsLoss()
    else:
        yt, loss_fn = torch.from_numpy(y).long(), tnn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    b = args.batch

    def one(i):
        j = i % args.steps
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xt[j * b:(j + 1) * b]), yt[j * b:(j + 1) * b])
        loss.backward()
        opt.step()

    return timed_steps(one, args.warmup, args.steps, lambda: None)


# --- hand-written JAX ---------------------------------------------------------------------------------
def run_hand_jax(args, x, y):
    import jax
    import jax.numpy as jnp
    import optax

    d, u = args.embed, args.units
    keys = iter(jax.random.split(jax.random.key(0), 16))

    def glorot(shape):
        lim = (6 / (shape[0] + shape[-1])) ** 0.5
        return jax.random.uniform(next(keys), shape, minval=-lim, maxval=lim)

    if args.model == "lstm":
        params = {"emb": jax.random.uniform(next(keys), (args.vocab, d), minval=-0.05, maxval=0.05),
                  "w": glorot((d, 4 * u)), "u": glorot((u, 4 * u)), "b": jnp.zeros(4 * u),
                  "wo": glorot((u, 1)), "bo": jnp.zeros(1)}

        def forward(p, xb):
            xs = jnp.take(p["emb"], xb, axis=0) @ p["w"] + p["b"]  # input projection for all steps at once

            def step(carry, z_x):
                h, c = carry
                z = z_x + h @ p["u"]
                i, f, g, o = jnp.split(z, 4, axis=-1)
                c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
                h = jax.nn.sigmoid(o) * jnp.tanh(c)
                return (h, c), None

            zeros = jnp.zeros((xb.shape[0], u))
            (h, _), _ = jax.lax.scan(step, (zeros, zeros), jnp.swapaxes(xs, 0, 1))
            return h @ p["wo"] + p["bo"]

        def loss_of(logits, yb):
            return jnp.mean(optax.sigmoid_binary_cross_entropy(logits[:, 0], yb.astype(jnp.float32)))
    else:
        nh, hd = args.heads, d // args.heads
        params = {"emb": jax.random.uniform(next(keys), (args.vocab, d), minval=-0.05, maxval=0.05),
                  "wq": glorot((d, nh, hd)), "wk": glorot((d, nh, hd)), "wv": glorot((d, nh, hd)),
                  "wo": glorot((nh, hd, d)), "g1": jnp.ones(d), "b1": jnp.zeros(d), "g2": jnp.ones(d),
                  "b2": jnp.zeros(d), "f1": glorot((d, 2 * d)), "fb1": jnp.zeros(2 * d), "f2": glorot((2 * d, d)),
                  "fb2": jnp.zeros(d), "wc": glorot((d, 2)), "bc": jnp.zeros(2)}

        def ln(h, g, b):
            m = h.mean(-1, keepdims=True)
            v = ((h - m) ** 2).mean(-1, keepdims=True)
            return (h - m) / jnp.sqrt(v + 1e-5) * g + b

        def forward(p, xb):
            h = jnp.take(p["emb"], xb, axis=0)
            q, k, v = (jnp.einsum("btd,dnh->btnh", h, p[n]) for n in ("wq", "wk", "wv"))
            s = jax.nn.softmax(jnp.einsum("btnh,bsnh->bnts", q, k) / hd ** 0.5, axis=-1)
            a = jnp.einsum("btnh,nhd->btd", jnp.einsum("bnts,bsnh->btnh", s, v), p["wo"])
            h = ln(h + a, p["g1"], p["b1"])
            f = jax.nn.relu(h @ p["f1"] + p["fb1"]) @ p["f2"] + p["fb2"]
            h = ln(h + f, p["g2"], p["b2"])
            return h.mean(1) @ p["wc"] + p["bc"]

        def loss_of(logits, yb):
            return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, yb))

    tx = optax.adam(1e-3)

    def _step(params, opt, xb, yb):
        loss, g = jax.value_and_grad(lambda p: loss_of(forward(p, xb), yb))(params)
        updates, opt = tx.update(g, opt, params)
        return optax.apply_updates(params, updates), opt, loss

    step = jax.jit(_step, donate_argnums=(0, 1))
    state = [params, tx.init(params)]
    b = args.batch

    def one(i):
        j = i % args.steps
        state[0], state[1], _ = step(state[0], state[1], x[j * b:(j + 1) * b], y[j * b:(j + 1) * b])

    return timed_steps(one, args.warmup, args.steps, lambda: jax.block_until_ready(state))


WORKERS = {
    "hand-written JAX": run_hand_jax,
    "fkeras fit": run_fkeras,
    "Keras 3 (jax)": run_keras,
    "Keras 3 (torch)": run_keras,
    "PyTorch eager": run_torch,
}
DEFAULT = ("hand-written JAX", "fkeras fit", "Keras 3 (jax)", "PyTorch eager")
KERAS_BACKEND = {"Keras 3 (jax)": "jax", "Keras 3 (torch)": "torch"}
SIZE_ARGS = ("vocab", "embed", "units", "heads", "seq", "batch", "steps", "warmup", "torch_threads", "repeats",
             "clock")


def worker_main(args):
    global REPEATS, CLOCK
    REPEATS = args.repeats
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    x, y = make_data(args)
    first, times = WORKERS[args.worker](args, x, y)
    med = min(times) if args.best else sorted(times)[len(times) // 2]
    print(json.dumps({"ms": med * 1e3, "samples_s": args.batch / med, "first_s": first,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_worker(name, args):
    env = dict(os.environ, KERAS_BACKEND=KERAS_BACKEND.get(name, "jax"), TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--model", args.model]
    for a in SIZE_ARGS:
        cmd += [f"--{a.replace('_', '-')}", str(getattr(args, a))]
    if args.best:
        cmd.append("--best")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker")
    ap.add_argument("--model", default="lstm")
    ap.add_argument("--models", nargs="+", default=["lstm", "transformer"])
    ap.add_argument("--vocab", type=int, default=2000)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--units", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="ms/step in wall time, or in CPU time of the whole process (steadier on a busy machine)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run every contender this many times, round-robin, and keep each one's fastest")
    ap.add_argument("--best", action="store_true", help="report the fastest run, not the median (busy machines)")
    ap.add_argument("--torch-threads", type=int, default=1,
                    help="torch.set_num_threads for PyTorch eager (0: torch's default, one per core; on a busy "
                         "machine its spinning OpenMP threads make a step 100x slower)")
    ap.add_argument("--only", nargs="+", help="contenders to run (names as printed)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.worker:
        return worker_main(args)
    if args.quick:
        args.steps = min(args.steps, 5)
    print(f"# fkeras sequence benchmark — {time.strftime('%Y-%m-%d')} — {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}, "
          f"ms/step in {args.clock} time")
    for model in args.models:
        args.model = model
        what = (f"Embedding({args.vocab},{args.embed}) -> LSTM({args.units}) -> Dense(1)" if model == "lstm" else
                f"Embedding({args.vocab},{args.embed}) -> encoder block ({args.heads} heads, ff {2 * args.embed})")
        print(f"\n## {model}: {what}, length {args.seq}, batch {args.batch}, {args.steps} timed steps after "
              f"{args.warmup} warm-up")
        results = {}
        for _ in range(args.rounds):  # round-robin, so a busy spell hits every contender alike
            for name in args.only or DEFAULT:
                r = run_worker(name, args)
                if "ms" in r and r["ms"] < results.get(name, {}).get("ms", float("inf")) or name not in results:
                    results[name] = r
        print_table(results)


if __name__ == "__main__":
    main()
