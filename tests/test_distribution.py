"""fkeras.distribution on 8 virtual CPU devices (each check runs in a subprocess: XLA_FLAGS must be set
before jax is imported)."""

import json
import pathlib
import subprocess
import sys

import pytest

CHILD = pathlib.Path(__file__).with_name("dist_child.py")


def run_child(check, timeout=240):
    proc = subprocess.run([sys.executable, str(CHILD), check], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def pure():
    return run_child("pure")


def test_pure_core_takes_sharded_pytrees_and_matches_single_device(pure):
    assert pure["devices"] == 8
    # Same math on 8 devices: equal to single-device training up to float reassociation.
    assert pure["dp_diff"] < 1e-5
    assert pure["mp_diff"] < 1e-5
    assert pure["loss"][0] == pytest.approx(pure["loss"][1], rel=1e-5)
    assert pure["loss"][0] == pytest.approx(pure["loss"][2], rel=1e-5)


def test_variables_carry_the_requested_shardings(pure):
    assert all(axes == [None] * len(axes) for axes in pure["dp_shardings"].values())
    mp = pure["mp_shardings"]
    assert mp["dense/kernel"] == [None, "model"]
    assert mp["dense_1/bias"] == ["model"]


def test_bad_layouts_are_clear_errors():
    errors = run_child("errors")["errors"]
    assert len(errors) == 3
    assert "'modle'" in errors[0] and "axis_names" in errors[0]
    assert "dense/kernel" in errors[1] and "not divisible" in errors[1] and "12" in errors[1]
    assert "needs 12 devices" in errors[2]
