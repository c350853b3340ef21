"""Time the seed convnet's train step three ways: `fkeras.train.jit` (how fit compiles: YNNPACK
fusion off, XLA's conv, the max-pool rewrite), plain `jax.jit` with fkeras's op rewrites, and
plain `jax.jit` with XLA's own lowerings only (FKERAS_CPU_KERNELS=0).

    python benchmarks/bench_cpu_kernels.py [--batch 128] [--steps 5]

Runs each variant in a fresh subprocess (the switch is read at trace time) and prints
median ms/step and the ratio. Pure fkeras.nn + optax: no facade, no data pipeline.
"""

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys, time
import jax, jax.numpy as jnp, optax
from fkeras import nn, ops, train

batch, steps = int(sys.argv[1]), int(sys.argv[2])
jit = train.jit if sys.argv[3] == "fkeras" else jax.jit
model = nn.Sequential([
    nn.Conv2D(64, 3, activation="relu"), nn.Conv2D(64, 3, activation="relu"), nn.MaxPooling2D(2),
    nn.Conv2D(128, 3, activation="relu"), nn.Conv2D(128, 3, activation="relu"),
    nn.GlobalAveragePooling2D(), nn.Dropout(0.5), nn.Dense(10, activation="softmax"),
])
v = model.init(jax.random.key(0), (None, 28, 28, 1))
tx = optax.adam(1e-3)
opt = tx.init(v.params)
x = jax.random.uniform(jax.random.key(1), (batch, 28, 28, 1))
y = jax.random.randint(jax.random.key(2), (batch,), 0, 10)

@jit
def step(params, opt, key):
    def loss(p):
        out, _ = model.apply(nn.Variables(p, v.state), x, training=True, rng=key)
        return jnp.mean(ops.sparse_categorical_crossentropy(y, out))
    l, g = jax.value_and_grad(loss)(params)
    u, opt = tx.update(g, opt, params)
    return optax.apply_updates(params, u), opt, l

p, o = v.params, opt
t0 = time.perf_counter(); p, o, l = step(p, o, jax.random.key(0)); l.block_until_ready()
compile_s = time.perf_counter() - t0
times = []
for i in range(steps):
    t = time.perf_counter(); p, o, l = step(p, o, jax.random.key(i)); l.block_until_ready()
    times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({"ms": 1e3 * times[len(times) // 2], "compile_s": compile_s}))
"""


def run(enabled, batch, steps, jit="jax"):
    env = dict(os.environ, FKERAS_CPU_KERNELS="1" if enabled else "0")
    out = subprocess.run([sys.executable, "-c", CHILD, str(batch), str(steps), jit], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    plain = run(False, args.batch, args.steps)
    rewrites = run(True, args.batch, args.steps)
    fkeras = run(True, args.batch, args.steps, jit="fkeras")
    print(f"seed convnet train step, batch {args.batch}, median of {args.steps}")
    for label, r in (("jax.jit, XLA's lowerings", plain), ("jax.jit, fkeras rewrites", rewrites),
                     ("fkeras.train.jit (fit)", fkeras)):
        print(f"  {label:26s}: {r['ms']:8.1f} ms/step ({r['ms'] / plain['ms']:.2f}x, compile {r['compile_s']:.1f}s)")


if __name__ == "__main__":
    main()
