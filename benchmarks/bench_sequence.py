"""Issue 15's sequence workloads (LSTM text classifier, 2-block transformer encoder): an alias of

    python benchmarks/bench_train.py --models lstm transformer [options]

which runs them against a hand-written JAX loop, Keras 3 (JAX and torch) and PyTorch eager. Options are
bench_train.py's (`--clock cpu --rounds 2` on a busy machine; `--quick` for a smoke run)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_train import main  # noqa: E402

if __name__ == "__main__":
    main(default_models=("lstm", "transformer"))
