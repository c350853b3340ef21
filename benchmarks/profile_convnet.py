"""Where the seed convnet's train step spends its time on this machine, op by op.

    python benchmarks/profile_convnet.py [--batch 128] [--repeats 7]

Times, in isolation and jit-compiled, the forward and the backward (VJP) of every layer of the
seed convnet at its real shapes, plus the optimizer update, three ways (each in a subprocess):
compiled as fit compiles (`fkeras.train.jit`: YNNPACK fusion off, XLA's conv, the max-pool
rewrite), by plain `jax.jit` with fkeras's op rewrites, and by plain `jax.jit` with XLA's own
lowerings only (FKERAS_CPU_KERNELS=0). Prints a table
sorted by time: the top rows are where the next speed-up must come from. Minimum of `repeats`
runs (robust to a noisy machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CHILD = r"""
import json, sys, time
import jax, jax.numpy as jnp, optax
from fkeras import nn, train

batch, repeats = int(sys.argv[1]), int(sys.argv[2])
jit = train.jit if sys.argv[3] == "fkeras" else jax.jit
layers = [
    nn.Conv2D(64, 3, activation="relu"), nn.Conv2D(64, 3, activation="relu"), nn.MaxPooling2D(2),
    nn.Conv2D(128, 3, activation="relu"), nn.Conv2D(128, 3, activation="relu"),
    nn.GlobalAveragePooling2D(), nn.Dropout(0.5), nn.Dense(10, activation="softmax"),
]

def best(f, *args):
    f = jit(f)
    jax.block_until_ready(f(*args))
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); jax.block_until_ready(f(*args)); ts.append(time.perf_counter() - t)
    return min(ts) * 1e3

rows = []
spec = jax.ShapeDtypeStruct((batch, 28, 28, 1), jnp.float32)
key = jax.random.key(0)
all_params = {}
for layer in layers:
    v = layer.init(key, spec)
    x = jax.random.uniform(key, spec.shape, spec.dtype)
    fwd = lambda p, x, layer=layer, v=v: layer.apply(nn.Variables(p, v.state), x, training=True, rng=key)[0]
    y = fwd(v.params, x)
    dy = jnp.ones_like(y)
    bwd = lambda p, x, dy, fwd=fwd: jax.vjp(fwd, p, x)[1](dy)
    name = f"{layer.name} {tuple(spec.shape[1:])}->{tuple(y.shape[1:])}"
    rows.append([name + " fwd", best(fwd, v.params, x)])
    rows.append([name + " fwd+bwd", best(bwd, v.params, x, dy)])
    all_params[layer.name] = v.params
    spec = jax.ShapeDtypeStruct(y.shape, y.dtype)
tx = optax.adam(1e-3)
opt = tx.init(all_params)
upd = lambda g, o, p: optax.apply_updates(p, tx.update(g, o, p)[0])
rows.append(["adam update (260k params)", best(upd, all_params, opt, all_params)])
print(json.dumps(rows))
"""


def run(enabled, batch, repeats, jit="jax"):
    env = dict(os.environ, FKERAS_CPU_KERNELS="1" if enabled else "0")
    out = subprocess.run([sys.executable, "-c", CHILD, str(batch), str(repeats), jit], env=env, capture_output=True,
                         text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    fast = run(True, args.batch, args.repeats, jit="fkeras")
    rewrites, plain = run(True, args.batch, args.repeats), run(False, args.batch, args.repeats)
    print(f"# seed convnet op profile, batch {args.batch}, {time.strftime('%Y-%m-%d')}, min of {args.repeats}")
    print("| op (layer, in->out) | fkeras.train.jit, as fit (ms) | jax.jit + fkeras rewrites (ms) | "
          "jax.jit, XLA's lowerings (ms) |")
    print("|---|---:|---:|---:|")
    for name in sorted(fast, key=fast.get, reverse=True):
        print(f"| {name} | {fast[name]:.1f} | {rewrites[name]:.1f} | {plain[name]:.1f} |")
    bwd = [n for n in fast if n.endswith("fwd+bwd") or n.startswith("adam")]
    print("| **sum of fwd+bwd rows + adam** | " + " | ".join(f"**{sum(r[n] for n in bwd):.1f}**"
                                                        for r in (fast, rewrites, plain)) + " |")


if __name__ == "__main__":
    main()
