"""Training speed of fkeras against a hand-written JAX loop, Keras 3 and PyTorch, in one run.

    python benchmarks/bench_train.py                      # seed convnet (batch 128) + MLP (batch 32)
    python benchmarks/bench_train.py --models convnet --batches 32 128 512 --wide   # scaling table
    python benchmarks/bench_train.py --quick              # fewer steps, for a smoke run
    python benchmarks/bench_train.py --models lstm transformer --clock cpu --rounds 2   # issue 15's workloads

Sequence workloads (issue 15; binary labels, Adam 1e-3, no metrics; sizes from --vocab/--embed/--seq/...):
- `lstm`: Embedding(20000, 128) -> LSTM(64) -> Dense(1, sigmoid), binary crossentropy; length 200, batch 64.
- `transformer`: Embedding(20000, 128) -> 2 post-norm encoder blocks (MultiHeadAttention(4 heads, key_dim 32)
  + residual + LayerNormalization, Dense(512, relu) -> Dense(128) + residual + LayerNormalization) ->
  GlobalAveragePooling1D -> Dense(2, softmax), sparse categorical crossentropy; length 128, batch 64.
  PyTorch eager runs `nn.LSTM` / `nn.TransformerEncoderLayer` (dropout 0, same shapes); the hand-written
  loop is `jax.numpy` + `lax.scan` with optax Adam.

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
`--clock cpu` times CPU seconds of the whole process instead of wall time (steadier on a shared machine);
`--rounds N` runs every contender N times round-robin and keeps each one's fastest. The timing loop is
`_timing.py`'s, shared with the other benchmarks.
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
sys.path.insert(0, HERE)
import _timing  # noqa: E402

SEQUENCE_MODELS = ("lstm", "transformer")


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


def make_data(model_name, batch, steps, vocab=20000, seq=200):
    """MNIST-shaped images and 10 classes, or (sequence models) token ids in [1, vocab) and 2 classes."""
    import numpy as np

    rng = np.random.default_rng(0)
    n = batch * steps
    if model_name in SEQUENCE_MODELS:
        return rng.integers(1, vocab, size=(n, seq)).astype("int32"), rng.integers(0, 2, size=(n,)).astype("int32")
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, size=(n,)).astype("int32")
    return x, y


REPEATS = 3
CLOCK = "wall"


def timed_steps(step_fn, n_warmup, n_steps, sync):
    return _timing.timed_steps(step_fn, n_warmup, n_steps, sync, repeats=REPEATS, clock=CLOCK)


def timed_fits(model, x, y, b, n_warm, n_steps):
    return _timing.timed_fits(model, x, y, b, n_warm, n_steps, repeats=REPEATS, clock=CLOCK)


def sequence_model(k, args):
    """The issue-15 workloads with the Keras API `k` (fkeras or keras): (model, loss)."""
    d = args.embed
    inp = k.Input((args.seq,), dtype="int32")
    h = k.layers.Embedding(args.vocab, d)(inp)
    if args.model == "lstm":
        out = k.layers.Dense(1, activation="sigmoid")(k.layers.LSTM(args.units)(h))
        return k.Model(inp, out), "binary_crossentropy"
    for _ in range(args.blocks):
        a = k.layers.MultiHeadAttention(args.heads, d // args.heads)(h, h)
        h = k.layers.LayerNormalization(epsilon=1e-5)(k.layers.Add()([h, a]))
        f = k.layers.Dense(d)(k.layers.Dense(4 * d, activation="relu")(h))
        h = k.layers.LayerNormalization(epsilon=1e-5)(k.layers.Add()([h, f]))
    out = k.layers.Dense(2, activation="softmax")(k.layers.GlobalAveragePooling1D()(h))
    return k.Model(inp, out), "sparse_categorical_crossentropy"


def keras_api_model(k, args):
    """(model, loss, y transform) of `args.model` written with the Keras API `k`."""
    if args.model in SEQUENCE_MODELS:
        model, loss = sequence_model(k, args)
        if args.model == "lstm":
            return model, loss, lambda y: y.astype("float32").reshape(-1, 1)
        return model, loss, lambda y: y
    build = convnet_layers if args.model == "convnet" else mlp_layers
    model = k.Sequential([k.layers.Input(shape=(28, 28, 1)), *build(k.layers, args.width)])
    return model, "sparse_categorical_crossentropy", lambda y: y


# --- workers --------------------------------------------------------------------------
def run_hand_jax(args, x, y, fkeras_jit=False):
    if args.model in SEQUENCE_MODELS:
        return run_hand_jax_sequence(args, x, y)
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
    model, loss, fix_y = keras_api_model(keras, args)
    model.compile(loss=loss, optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=steps_per_execution,
                  engine=engine)
    n_warm = max(args.warmup, steps_per_execution)
    return timed_fits(model, x, fix_y(y), args.batch, n_warm, args.steps)


def run_keras(args, x, y):
    import keras

    model, loss, fix_y = keras_api_model(keras, args)
    model.compile(loss=loss, optimizer=keras.optimizers.Adam(1e-3))
    return timed_fits(model, x, fix_y(y), args.batch, args.warmup, args.steps)


def run_torch(args, x, y):
    import torch
    from torch import nn as tnn

    torch.manual_seed(0)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    if args.model in SEQUENCE_MODELS:
        return run_torch_sequence(args, x, y)
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
    return _time_torch_adam(args, model, tnn.CrossEntropyLoss(), xt, torch.from_numpy(y).long())


def _time_torch_adam(args, model, loss_fn, xt, yt):
    """Timed PyTorch eager steps of Adam(1e-3) over batches `args.batch` of (xt, yt)."""
    import torch

    opt = torch.optim.Adam(model.parameters(), 1e-3)
    b = args.batch

    def one(i):
        j = i % args.steps
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xt[j * b:(j + 1) * b]), yt[j * b:(j + 1) * b])
        loss.backward()
        opt.step()

    return timed_steps(one, args.warmup, args.steps, lambda: None)


def run_torch_sequence(args, x, y):
    """PyTorch eager with torch's own layers: `nn.LSTM`, `nn.TransformerEncoderLayer` (post-norm, dropout 0)."""
    import torch
    from torch import nn as tnn

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

    class Encoder(tnn.Module):
        def __init__(self):
            super().__init__()
            self.emb = tnn.Embedding(args.vocab, d)
            self.blocks = tnn.ModuleList([
                tnn.TransformerEncoderLayer(d, args.heads, dim_feedforward=4 * d, dropout=0.0, batch_first=True,
                                            layer_norm_eps=1e-5) for _ in range(args.blocks)])
            self.out = tnn.Linear(d, 2)

        def forward(self, xb):
            h = self.emb(xb)
            for block in self.blocks:
                h = block(h)
            return self.out(h.mean(1))

    model = LSTMNet() if args.model == "lstm" else Encoder()
    xt = torch.from_numpy(x).long()
    if args.model == "lstm":
        yt, loss_fn = torch.from_numpy(y).float().reshape(-1, 1), tnn.BCEWithLogitsLoss()
    else:
        yt, loss_fn = torch.from_numpy(y).long(), tnn.CrossEntropyLoss()
    return _time_torch_adam(args, model, loss_fn, xt, yt)


def run_hand_jax_sequence(args, x, y):
    """The sequence workloads in `jax.numpy` + `lax.scan`, optax Adam, `jax.jit` with donated buffers."""
    import jax
    import jax.numpy as jnp
    import optax

    d, u = args.embed, args.units
    keys = iter(jax.random.split(jax.random.key(0), 64))

    def glorot(shape):
        lim = (6 / (shape[0] + shape[-1])) ** 0.5
        return jax.random.uniform(next(keys), shape, minval=-lim, maxval=lim)

    params = {"emb": jax.random.uniform(next(keys), (args.vocab, d), minval=-0.05, maxval=0.05)}
    if args.model == "lstm":
        params.update({"w": glorot((d, 4 * u)), "u": glorot((u, 4 * u)), "b": jnp.zeros(4 * u),
                       "wo": glorot((u, 1)), "bo": jnp.zeros(1)})

        def forward(p, xb):
            xs = jnp.swapaxes(jnp.take(p["emb"], xb, axis=0), 0, 1)

            def step(carry, x_t):
                h, c = carry
                i, f, g, o = jnp.split(x_t @ p["w"] + h @ p["u"] + p["b"], 4, axis=-1)
                c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
                return (jax.nn.sigmoid(o) * jnp.tanh(c), c), None

            zeros = jnp.zeros((xb.shape[0], u))
            (h, _), _ = jax.lax.scan(step, (zeros, zeros), xs)
            return h @ p["wo"] + p["bo"]

        def loss_of(logits, yb):
            return jnp.mean(optax.sigmoid_binary_cross_entropy(logits[:, 0], yb.astype(jnp.float32)))
    else:
        nh, hd = args.heads, d // args.heads
        params["blocks"] = [
            {"wq": glorot((d, nh, hd)), "wk": glorot((d, nh, hd)), "wv": glorot((d, nh, hd)),
             "bq": jnp.zeros((nh, hd)), "bk": jnp.zeros((nh, hd)), "bv": jnp.zeros((nh, hd)),
             "wo": glorot((nh, hd, d)), "bo": jnp.zeros(d), "g1": jnp.ones(d), "b1": jnp.zeros(d),
             "g2": jnp.ones(d), "b2": jnp.zeros(d), "f1": glorot((d, 4 * d)), "fb1": jnp.zeros(4 * d),
             "f2": glorot((4 * d, d)), "fb2": jnp.zeros(d)} for _ in range(args.blocks)]
        params.update({"wc": glorot((d, 2)), "bc": jnp.zeros(2)})

        def ln(h, g, b):
            m = h.mean(-1, keepdims=True)
            v = ((h - m) ** 2).mean(-1, keepdims=True)
            return (h - m) / jnp.sqrt(v + 1e-5) * g + b

        def forward(p, xb):
            h = jnp.take(p["emb"], xb, axis=0)
            for blk in p["blocks"]:
                q, k, v = (jnp.einsum("btd,dnh->btnh", h, blk["w" + n]) + blk["b" + n] for n in "qkv")
                s = jax.nn.softmax(jnp.einsum("btnh,bsnh->bnts", q, k) / hd ** 0.5, axis=-1)
                a = jnp.einsum("btnh,nhd->btd", jnp.einsum("bnts,bsnh->btnh", s, v), blk["wo"]) + blk["bo"]
                h = ln(h + a, blk["g1"], blk["b1"])
                f = jax.nn.relu(h @ blk["f1"] + blk["fb1"]) @ blk["f2"] + blk["fb2"]
                h = ln(h + f, blk["g2"], blk["b2"])
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


SIZE_ARGS = ("batch", "steps", "warmup", "width", "vocab", "embed", "units", "heads", "blocks", "seq", "repeats",
             "clock", "torch_threads")
SEQUENCE_CONTENDERS = ("hand-written JAX", "fkeras fit", "Keras 3 (jax)", "Keras 3 (torch)", "PyTorch eager")


def worker_main(args):
    global REPEATS, CLOCK
    REPEATS, CLOCK = args.repeats, args.clock
    x, y = make_data(args.model, args.batch, args.steps, vocab=args.vocab, seq=args.seq)
    first, times = WORKERS[args.worker](args, x, y)
    times.sort()
    med = times[len(times) // 2]
    print(json.dumps({
        "ms": med * 1e3,
        "samples_s": args.batch / med,
        "first_s": first,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def run_worker(name, args):
    env = dict(os.environ, KERAS_BACKEND=KERAS_BACKEND.get(name, "jax"), TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--model", args.model]
    for a in SIZE_ARGS:
        cmd += [f"--{a.replace('_', '-')}", str(getattr(args, a))]
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


def main(argv=None, default_models=("convnet", "mlp")):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker")
    ap.add_argument("--model", default="convnet")
    ap.add_argument("--models", nargs="+", default=list(default_models),
                    help="convnet, mlp, lstm, transformer")
    ap.add_argument("--batch", type=int, help="batch size (default 128 convnet, 32 mlp, 64 sequence models)")
    ap.add_argument("--batches", nargs="+", type=int)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--width", type=int, default=1)
    ap.add_argument("--wide", action="store_true", help="also run the 2x wider model")
    ap.add_argument("--vocab", type=int, default=20000)
    ap.add_argument("--embed", type=int, default=128, help="embedding size = d_model")
    ap.add_argument("--units", type=int, default=64, help="LSTM units")
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--blocks", type=int, default=2, help="transformer encoder blocks")
    ap.add_argument("--seq", type=int, help="sequence length (default 200 lstm, 128 transformer)")
    ap.add_argument("--repeats", type=int, default=REPEATS)
    ap.add_argument("--clock", choices=tuple(_timing.CLOCKS), default="wall",
                    help="ms/step in wall time, or in CPU time of the whole process (steadier on a busy machine)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run every contender this many times, round-robin, and keep each one's fastest")
    ap.add_argument("--torch-threads", type=int,
                    help="torch.set_num_threads for PyTorch eager (default: 1 for the sequence models, whose "
                         "spinning OpenMP threads make a step 100x slower on a busy machine; else torch's own)")
    ap.add_argument("--only", nargs="+", help="contenders to run (names as printed)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    if args.worker:
        args.steps = args.steps or 10
        return worker_main(args)

    print(f"# fkeras training benchmark — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} — "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}, ms/step in {args.clock} time")
    for model in args.models:
        sequence = model in SEQUENCE_MODELS
        names = args.only or list(SEQUENCE_CONTENDERS if sequence else WORKERS)
        batches = args.batches or [args.batch or (64 if sequence else 128 if model == "convnet" else 32)]
        widths = [1, 2] if args.wide and not sequence else [args.width]
        run = argparse.Namespace(**vars(args))
        run.model = model
        run.seq = args.seq or (200 if model == "lstm" else 128)
        run.torch_threads = args.torch_threads if args.torch_threads is not None else (1 if sequence else 0)
        for width in widths:
            for batch in batches:
                run.width, run.batch = width, batch
                run.steps = args.steps or (
                    (5 if args.quick else 20) if sequence else
                    (4 if args.quick else 10) if model == "convnet" else (50 if args.quick else 300))
                if sequence:
                    what = (f"Embedding({run.vocab}, {run.embed}) -> LSTM({run.units}) -> Dense(1)" if model == "lstm"
                            else f"Embedding({run.vocab}, {run.embed}) -> {run.blocks} encoder blocks "
                                 f"({run.heads} heads, ff {4 * run.embed})")
                    print(f"\n## {model}: {what}, length {run.seq}, batch {batch}, {run.steps} timed steps after "
                          f"{args.warmup} warm-up, best of {args.rounds} round(s)")
                else:
                    print(f"\n## {model} (width x{width}), batch {batch}, {run.steps} timed steps after "
                          f"{args.warmup} warm-up")
                results = {}
                for _ in range(args.rounds):  # round-robin, so a busy spell hits every contender alike
                    for name in names:
                        r = run_worker(name, run)
                        if name not in results or r.get("ms", float("inf")) < results[name].get("ms", float("inf")):
                            results[name] = r
                print_table(results)


if __name__ == "__main__":
    main()
