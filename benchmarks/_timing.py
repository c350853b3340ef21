"""The benchmarks' one timing loop: a first step or fit (compiles), warm-up, then `repeats` timed runs.

`clock` is `time.perf_counter` (wall time) or `time.process_time` (CPU time of every thread of the
process: on a machine shared with other jobs the wall time mostly measures the scheduler, the CPU time
the work). The first step is always measured in wall seconds (compile time)."""

from __future__ import annotations

import time

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def timed_steps(step_fn, n_warmup, n_steps, sync, repeats=3, clock="wall"):
    """Run `step_fn(i)` once (compiles), then to `n_warmup` steps, then `repeats` runs of `n_steps` steps
    without blocking between steps (as fit does); `sync()` blocks at the end of each run.
    Returns (first step wall s, [s/step per run])."""
    tick = CLOCKS[clock]
    t = time.perf_counter()
    step_fn(0)
    sync()
    first = time.perf_counter() - t
    for i in range(1, n_warmup):
        step_fn(i)
    sync()
    per_step = []
    for _ in range(repeats):
        t = tick()
        for i in range(n_steps):
            step_fn(i)
        sync()
        per_step.append((tick() - t) / n_steps)
    return first, per_step


def timed_fits(model, x, y, batch, n_warm, n_steps, repeats=3, clock="wall"):
    """A first `fit` on `n_warm` batches (compiles), then `repeats` one-epoch fits of the `n_steps` batches
    of `x`/`y`. Returns (first fit wall s, [s/step per fit])."""
    tick = CLOCKS[clock]
    t = time.perf_counter()
    model.fit(x[:n_warm * batch], y[:n_warm * batch], batch_size=batch, epochs=1, verbose=0, shuffle=False)
    first = time.perf_counter() - t
    per_step = []
    for _ in range(repeats):
        t = tick()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
        per_step.append((tick() - t) / n_steps)
    return first, per_step
