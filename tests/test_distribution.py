"""fkeras.distribution on 8 virtual CPU devices (each check runs in a subprocess: XLA_FLAGS must be set
before jax is imported)."""

import json
import os
import pathlib
import socket
import subprocess
import sys

import pytest

CHILD = pathlib.Path(__file__).with_name("dist_child.py")


def run_child(check, *args, devices=8, timeout=240):
    env = dict(os.environ, FKERAS_TEST_DEVICES=str(devices))
    proc = subprocess.run([sys.executable, str(CHILD), check, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def eight_devices():
    """The 8-device checks ("pure", "errors", "fit") in one child: one JAX start-up, and the single-device
    reference programs they share compile once."""
    env = dict(os.environ, FKERAS_TEST_DEVICES="8")
    script = ("import sys; sys.path.insert(0, sys.argv[1]); import dist_child\n"
              "for check in ('pure', 'errors', 'fit'): dist_child.main(check)")
    proc = subprocess.run([sys.executable, "-c", script, str(CHILD.parent)], capture_output=True, text=True,
                          timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()[-3:]
    return dict(zip(("pure", "errors", "fit"), map(json.loads, lines)))


@pytest.fixture(scope="module")
def pure(eight_devices):
    return eight_devices["pure"]


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


def test_bad_layouts_are_clear_errors(eight_devices):
    errors = eight_devices["errors"]["errors"]
    assert len(errors) == 3
    assert "'modle'" in errors[0] and "axis_names" in errors[0]
    assert "dense/kernel" in errors[1] and "not divisible" in errors[1] and "12" in errors[1]
    assert "needs 12 devices" in errors[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_two_processes(check):
    """Run `check` in 2 processes x 2 virtual devices with a coordinator on loopback; bounded in time."""
    port = free_port()
    env = dict(os.environ, FKERAS_TEST_DEVICES="2")
    procs = [subprocess.Popen([sys.executable, str(CHILD), check, str(i), str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=180)  # bounded: never hangs the suite
            assert p.returncode == 0, stderr[-3000:]
            outs.append((json.loads(stdout.strip().splitlines()[-1]), stdout))
    finally:
        for p in procs:
            p.kill()
    return outs


def test_two_processes_on_loopback_end_with_identical_params():
    outs = [o for o, _ in run_two_processes("multiprocess")]
    assert [o["process"] for o in outs] == [0, 1]
    assert all(o["count"] == 2 and o["devices"] == 4 for o in outs)
    assert outs[0]["first"] == outs[1]["first"] and outs[0]["checksum"] == outs[1]["checksum"]
    assert outs[0]["ref_diff"] < 1e-5  # equals single-process training on the same global batches


def test_sharded_orbax_checkpoint_restores_on_a_different_mesh(tmp_path):
    saved = run_child("orbax", "save", tmp_path, devices=4)
    assert saved["saved_devices"] == 4 and saved["kernel_shards"] == 4
    restored = run_child("orbax", "restore", tmp_path, devices=2)
    assert restored["restored_devices"] == 2 and restored["kernel_shards"] == 2
    assert restored["kernel_axes"] == [None, "model"]
    assert restored["diff"] == 0.0


def test_facade_fit_under_data_and_model_parallel_equals_single_device(eight_devices):
    out = eight_devices["fit"]
    # Same math on 8 devices (incl. a ragged last batch and dropout): equal up to reassociation.
    assert out["dp_diff"] < 1e-5 and out["mp_diff"] < 1e-5
    assert out["dp_val_loss"][0] == pytest.approx(out["dp_val_loss"][1], rel=1e-5)
    assert out["mp_val_loss"][0] == pytest.approx(out["mp_val_loss"][1], rel=1e-5)
    # Variables stay where the layout put them after training.
    assert out["mp_shardings"]["dense/kernel"] == [None, "model"]
    assert out["mp_shardings"]["dense/bias"] == [None]
    assert all(axes == [None] * len(axes) for axes in out["dp_shardings"].values())


def test_facade_fit_in_two_processes_each_reading_its_rows():
    (a, out_a), (b, out_b) = run_two_processes("multiprocess_fit")
    assert (a["process"], b["process"]) == (0, 1)
    assert a["first"] == b["first"] and a["checksum"] == b["checksum"]
    assert a["loss"] == b["loss"] and a["loss"][-1] < a["loss"][0]
    # Only process 0 shows progress.
    assert "Epoch 1/3" in out_a and "Epoch 1/3" not in out_b


def test_distributed_mnist_example_runs(tmp_path):
    from conftest import SHARED_MNIST

    example = pathlib.Path(__file__).resolve().parents[1] / "examples" / "distributed_mnist.py"
    args = ["--devices", "2", "--samples", "256", "--batch-size", "64", "--epochs", "1"]
    if SHARED_MNIST.exists():
        args += ["--data", str(SHARED_MNIST)]
    # The suite's XLA_FLAGS (faster compiles) pass through; the example adds its device count to them.
    proc = subprocess.run([sys.executable, str(example), *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 devices" in proc.stdout
    assert "split as P(None, None, None, 'model')" in proc.stdout
    assert "[functional core] 4 sharded steps" in proc.stdout
