"""The top ops of `fit`'s train step for issue 15's workloads (LSTM text classifier, transformer encoder).

    python benchmarks/profile_sequence.py --model lstm          # or transformer; sizes as bench_train.py
    python benchmarks/profile_sequence.py --model transformer --steps 5 --top 20

Runs the workload's fkeras model (`bench_train.sequence_model`, Adam, the sizes of `bench_train.py`) in a
child process with XLA's HLO dump on, `fit`s a few warm-up steps, then records `--steps` steps with the JAX
profiler. Every XLA:CPU thunk of the train step (a fusion, a dot, a while loop's body ops, ...) is a trace
event; their times are summed per instruction, divided by the steps, and joined with the optimized HLO
(what the fusion computes: its kind, the ops inside, the output shape). Prints the top rows: where the
step's time goes, and so what a faster program would have to change. Times are per step, summed over
XLA's threads (so they may add up to more than the wall time of a step).
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import argparse, sys, json, numpy as np, jax
sys.path.insert(0, {here!r})
import bench_train
import fkeras

args = argparse.Namespace(**json.loads({args!r}))
x, y = bench_train.make_data(args.model, args.batch, args.steps + 3, args.vocab, args.seq)
model, loss, ytr = bench_train.keras_api_model(fkeras, args)
model.compile(optimizer=fkeras.optimizers.Adam(1e-3), loss=loss)
y = ytr(y)
b = args.batch
model.fit(x[:3 * b], y[:3 * b], batch_size=b, epochs=1, verbose=0, shuffle=False)
with jax.profiler.trace({trace!r}, create_perfetto_trace=True):
    model.fit(x[3 * b:], y[3 * b:], batch_size=b, epochs=1, verbose=0, shuffle=False)
"""

_INSTR = re.compile(r"^\s*(?:ROOT )?([\w.\-]+) = (\S+) (\w[\w\-]*)\((.*)$")
_TRIVIAL = {"parameter", "constant", "broadcast", "bitcast", "reshape", "get-tuple-element", "tuple", "copy",
            "convert", "transpose", "slice", "iota", "compare", "select", "and", "or", "not"}


def parse_hlo(text):
    """{instruction name: (opcode, output shape, called computation or None)} and {computation: [opcodes]}."""
    instrs, comps, current = {}, collections.defaultdict(list), None
    for line in text.splitlines():
        head = re.match(r"^(?:ENTRY )?%?([\w.\-]+) .*\{\s*$", line)
        if head and not line.startswith(" "):
            current = head.group(1)
            continue
        m = _INSTR.match(line.replace("%", ""))
        if m and current is not None:
            name, shape, op, rest = m.groups()
            called = re.search(r"calls=([\w.\-]+)", rest) or re.search(r"body=([\w.\-]+)", rest)
            kind = re.search(r"kind=(\w+)", rest)
            instrs[name] = (op + (f"[{kind.group(1)}]" if kind else ""), shape, called.group(1) if called else None)
            comps[current].append(op)
    return instrs, comps


def describe(name, instrs, comps):
    op, shape, called = instrs.get(name, ("?", "?", None))
    inner = ""
    if called and op.startswith("fusion"):
        ops = collections.Counter(o for o in comps.get(called, []) if o not in _TRIVIAL)
        inner = " {" + ", ".join(f"{o}x{n}" if n > 1 else o for o, n in ops.most_common(6)) + "}"
    return f"{op}{inner} -> {shape}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="lstm", choices=("lstm", "transformer"))
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--vocab", type=int, default=20000)
    ap.add_argument("--embed", type=int, default=128)
    ap.add_argument("--units", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--seq", type=int, default=None, help="default 200 (lstm) / 128 (transformer)")
    args = ap.parse_args(argv)
    args.seq = args.seq or (200 if args.model == "lstm" else 128)
    args.width = 1

    with tempfile.TemporaryDirectory(prefix="fkeras_profile_") as tmp:
        dump, trace = os.path.join(tmp, "hlo"), os.path.join(tmp, "trace")
        env = dict(os.environ)
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + f" --xla_dump_to={dump} --xla_dump_hlo_as_text").strip()
        code = CHILD.format(here=HERE, args=json.dumps(vars(args)), trace=trace)
        subprocess.run([sys.executable, "-c", code], env=env, check=True)

        # The train step is the biggest optimized module the run compiled.
        modules = glob.glob(os.path.join(dump, "*after_optimizations.txt"))
        if not modules:
            sys.exit("profile_sequence: XLA wrote no optimized HLO (is XLA_FLAGS honoured?)")
        step_module = max(modules, key=os.path.getsize)
        instrs, comps = parse_hlo(open(step_module).read())

        events = json.load(gzip.open(glob.glob(os.path.join(trace, "**", "perfetto_trace.json.gz"),
                                                recursive=True)[0]))
        events = events["traceEvents"] if isinstance(events, dict) else events
        per = collections.Counter()
        for e in events:
            if e.get("ph") == "X" and e.get("name") in instrs and not instrs[e["name"]][0].startswith("while"):
                per[e["name"]] += e.get("dur", 0) / 1e3 / args.steps  # us -> ms per step
    total = sum(per.values())
    print(f"{args.model}: {args.steps} fit steps of batch {args.batch}; XLA:CPU thunks of the train step "
          f"({os.path.basename(step_module)}): {total:.1f} ms/step summed over threads\n")
    print("| ms/step | share | instruction | what it computes |\n|---:|---:|---|---|")
    for name, ms in per.most_common(args.top):
        print(f"| {ms:.2f} | {100 * ms / total:.1f}% | `{name}` | {describe(name, instrs, comps)} |")
    kinds = collections.Counter()
    for name, ms in per.items():
        kinds[instrs[name][0].split("[")[0] if not instrs[name][0].startswith("fusion") else instrs[name][0]] += ms
    print("\nby kind: " + ", ".join(f"{k} {v:.1f} ms ({100 * v / total:.0f}%)" for k, v in kinds.most_common(8)))


if __name__ == "__main__":
    main()
