"""examples/interop.py end to end: fkeras fit -> torch fine-tune -> params back -> TF SavedModel served.

Runs the example as a user would (a subprocess) on a slice of real MNIST (the repository's copy) and
checks that the three frameworks' predictions agree to 1e-4 (float32 rounding; the example itself exits 1
otherwise), that the fkeras training learned, and that the torch fine-tune raised the test accuracy.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from conftest import REPO, SHARED_MNIST

pytest.importorskip("torch")
pytest.importorskip("tensorflow")

SAMPLES = "1024"  # training digits; the first 256 test digits are scored
MIN_ACC_AFTER_FKERAS = 0.15  # 2 epochs of 8 steps: above chance (0.1), far from done (measured 0.26 -> 0.36)


@pytest.mark.slow
def test_interop_example_agrees_across_jax_torch_tf(tmp_path):
    # XLA's default flags, as a user runs it (the suite's -O0 compiles faster but runs this training slower)
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "interop.py"), "--data", str(SHARED_MNIST),
         "--samples", SAMPLES, "--epochs", "2", "--torch-lr", "1e-3", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=1800, env=env, cwd=str(tmp_path),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for n in range(1, 5):
        assert f"[{n}/4]" in out
    assert (tmp_path / "saved_model" / "saved_model.pb").exists()

    agree = re.search(r"AGREE: .*max abs difference ([0-9.e+-]+) <= ([0-9.e+-]+); test accuracy ([0-9.]+)", out)
    assert agree, out
    assert float(agree.group(1)) <= 1e-4
    diffs = [float(v) for v in re.findall(r"max \|diff\| .*: ([0-9.e+-]+)", out)]
    assert len(diffs) == 3 and max(diffs) <= 1e-4, diffs
    accs = re.search(r"test accuracy: fkeras JAX ([0-9.]+) \| torch module ([0-9.]+) \| TF SavedModel ([0-9.]+)", out)
    assert accs and 0.0 <= float(accs.group(1)) <= 1.0, out
    assert f"data: MNIST from the file {SHARED_MNIST}" in out
    # Real learning, and the torch fine-tune improves on it (seeded: fkeras init/dropout, torch shuffling).
    tuned = re.search(r"torch fine-tune: test acc ([0-9.]+) -> ([0-9.]+)", out)
    assert tuned, out
    before, after = float(tuned.group(1)), float(tuned.group(2))
    assert before >= MIN_ACC_AFTER_FKERAS and after > before, out
    assert float(accs.group(1)) == after
    # The torch fine-tuning really changed the params that came back into the fkeras model.
    moved = re.search(r"moved the fkeras predictions by up to ([0-9.e+-]+)", out)
    assert moved and float(moved.group(1)) > 0, out
