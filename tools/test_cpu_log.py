"""A pytest plugin that logs each test's wall and CPU seconds (its process's threads + waited children), to find
what makes the suite slow. Per-test CPU barely depends on the machine's load, unlike wall time.

    PYTHONPATH=tools DURLOG=/tmp/tests.tsv python -m pytest -n auto -p test_cpu_log
    python tools/test_cpu_log.py /tmp/tests.tsv        # CPU seconds per file, largest first

Each line: nodeid, wall s, own CPU s, children's CPU s (xdist's controller writes a second, empty line per test).
"""

import collections
import os
import sys
import time

_start = {}
_log = None


def _cpu():
    t = os.times()
    return t.user + t.system, t.children_user + t.children_system


def pytest_runtest_logstart(nodeid, location):
    _start[nodeid] = (time.perf_counter(), *_cpu())


def pytest_runtest_logfinish(nodeid, location):
    global _log
    if nodeid not in _start:
        return
    if _log is None:
        _log = open(os.environ.get("DURLOG", "tests_cpu.tsv"), "a", buffering=1)
    w0, c0, k0 = _start.pop(nodeid)
    c1, k1 = _cpu()
    _log.write(f"{nodeid}\t{time.perf_counter() - w0:.2f}\t{c1 - c0:.2f}\t{k1 - k0:.2f}\n")


def per_file(path):
    """{test file: CPU seconds} summed from a log."""
    cpu = collections.defaultdict(float)
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 4:
                cpu[parts[0].split("::")[0]] += float(parts[2]) + float(parts[3])
    return cpu


if __name__ == "__main__":
    totals = per_file(sys.argv[1])
    for name, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"{seconds:8.1f}  {name}")
    print(f"{sum(totals.values()):8.1f}  total")
