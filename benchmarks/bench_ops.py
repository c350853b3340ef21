"""Time representative `fkeras.ops` against `keras.ops` (JAX backend) in one run, both under `jax.jit`.

    python benchmarks/bench_ops.py [--rounds 15] [--round-s 0.05] [--only NAME ...]

Each op is jitted twice, once written with `fkeras.ops` and once with `keras.ops`, on the same inputs.
Rounds alternate the two (so a busy machine slows both alike); each round times as many calls as fill
`--round-s` seconds, and the table keeps the best round of each (the least disturbed), plus the ratio fkeras / keras and whether
the two compile to the same XLA program (optimized HLO, names and metadata aside): then any gap in
the timings is the machine's noise, not fkeras.
"""

from __future__ import annotations

import argparse
import os
import re
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402


def cases(fops, kops):
    """name -> (make(ops) -> function of the inputs, inputs)."""
    r = np.random.default_rng(0)

    def f32(*shape):
        return jnp.asarray(r.standard_normal(shape), jnp.float32)

    x, y = f32(512, 1024), f32(512, 1024)
    seq = f32(256, 32, 128)
    q, k, v = f32(4, 256, 8, 64), f32(4, 256, 8, 64), f32(4, 256, 8, 64)
    img = jnp.asarray(r.uniform(0, 1, (8, 96, 96, 3)), jnp.float32)

    def scan_rnn(o):
        def step(carry, xt):
            h = o.tanh(carry * 0.9 + xt)
            return h, h

        return lambda xs: o.scan(step, o.zeros_like(xs[0]), xs)[1]

    return {
        "elementwise: x*sigmoid(y)+exp(-|x|)": (lambda o: lambda a, b: o.add(o.multiply(a, o.sigmoid(b)),
                                                                             o.exp(o.negative(o.abs(a)))), (x, y)),
        "elementwise: gelu": (lambda o: o.gelu, (x,)),
        "reduction: logsumexp(axis=-1)": (lambda o: lambda a: o.logsumexp(a, axis=-1), (x,)),
        "reduction: var(axis=0)": (lambda o: lambda a: o.var(a, axis=0), (x,)),
        "reduction: sum": (lambda o: o.sum, (x,)),
        "scan: tanh RNN, 256 steps": (scan_rnn, (seq,)),
        "dot_product_attention (4,256,8,64)": (lambda o: o.dot_product_attention, (q, k, v)),
        "dot_product_attention causal": (lambda o: lambda a, b, c: o.dot_product_attention(a, b, c, is_causal=True),
                                         (q, k, v)),
        "image.resize bilinear 96->160": (lambda o: lambda a: o.image.resize(a, (160, 160)), (img,)),
        "image.resize bicubic antialias 96->48": (
            lambda o: lambda a: o.image.resize(a, (48, 48), interpolation="bicubic", antialias=True), (img,)),
    }


def hlo_program(fn, args):
    """The compiled (optimized) HLO with metadata dropped and every name replaced by its order of appearance:
    two functions compile to the same program exactly when these texts are equal."""
    text = fn.lower(*args).compile().as_text()
    text = re.sub(r", metadata=\{[^}]*\}", "", text)
    lines = [ln for ln in text.splitlines()  # the computations only (not the source-location tables)
             if ln.startswith((" ", "ENTRY", "}")) or re.match(r"^\S+ \(.*\) -> .* \{$", ln)]
    text = "\n".join(lines)
    names = {}
    return re.sub(r"%?\b[A-Za-z_][\w.\-]*\.\d+\b|%[\w.\-]+",
                  lambda m: names.setdefault(m.group(0), f"v{len(names)}"), text)


def best_ms(fn, args, iters):
    t = time.perf_counter()
    for _ in range(iters):
        out = fn(*args)
    jax.block_until_ready(out)
    return 1e3 * (time.perf_counter() - t) / iters


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--round-s", type=float, default=0.05, help="seconds each timed round lasts (calls calibrated)")
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()

    import keras

    import fkeras.ops as fops

    assert keras.backend.backend() == "jax"
    kops = keras.ops
    rows = []
    for name, (make, args) in cases(fops, kops).items():
        if a.only and not any(o in name for o in a.only):
            continue
        ff, fk = jax.jit(make(fops)), jax.jit(make(kops))
        np.testing.assert_allclose(np.asarray(ff(*args)), np.asarray(fk(*args)), rtol=2e-5, atol=2e-5)
        same = hlo_program(ff, args) == hlo_program(fk, args)
        once = max(best_ms(ff, args, 3), best_ms(fk, args, 3))
        iters = max(3, int(1e3 * a.round_s / once))
        tf_, tk = [], []
        for i in range(a.rounds):
            pair = [(ff, tf_), (fk, tk)] if i % 2 == 0 else [(fk, tk), (ff, tf_)]
            for fn, acc in pair:
                acc.append(best_ms(fn, args, iters))
        f_ms, k_ms = min(tf_), min(tk)
        rows.append((name, f_ms, k_ms, f_ms / k_ms, same))
        print(f"{name:42s} fkeras {f_ms:8.3f} ms  keras {k_ms:8.3f} ms  ratio {f_ms / k_ms:5.3f}  "
              f"same program: {same}", flush=True)
    print("\n| op | fkeras ms | keras.ops ms | ratio | same program |\n|---|---:|---:|---:|:---:|")
    for name, f_ms, k_ms, ratio, same in rows:
        print(f"| {name} | {f_ms:.3f} | {k_ms:.3f} | {ratio:.3f} | {'yes' if same else 'no'} |")


if __name__ == "__main__":
    main()
