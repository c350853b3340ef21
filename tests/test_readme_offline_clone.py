"""The README's first command, as a new user meets it: a fresh `git clone`, no network, an empty Keras cache.

`python examples/mnist_convnet.py` must find the clone's own `data/mnist.npz`, say so, train the seed
convnet on the real 60,000 digits to a test accuracy >= 98%, reload its `.keras` file, predict, and leave
no temporary folder behind. The network is made unreachable by a `sitecustomize` that refuses every
internet socket (so the download really is attempted and really fails); the interpreter is the current
one (a fresh venv would add minutes of `pip install` to CI). Minutes on 2 cores: marked slow, runs in CI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO, TEST_XLA_FLAGS

NO_NETWORK = textwrap.dedent('''
    """Test helper: every internet connection fails as on a machine without network."""
    import socket

    def _unreachable(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Network is unreachable (no network in this test)")

    _connect = socket.socket.connect

    def _connect_offline(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError(101, "Network is unreachable (no network in this test)")
        return _connect(self, address)

    socket.getaddrinfo = _unreachable
    socket.socket.connect = _connect_offline
''')


@pytest.mark.slow
def test_readme_first_command_trains_to_98_percent_offline_from_a_fresh_clone(tmp_path):
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        pytest.fail(f"{REPO} is not a git checkout (or git is missing): this test clones the committed repository.")
    clone = tmp_path / "fkeras"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=300)
    offline, keras_home, tmp = tmp_path / "offline", tmp_path / "empty_keras_home", tmp_path / "tmp"
    for d in (offline, keras_home, tmp):
        d.mkdir()
    (offline / "sitecustomize.py").write_text(NO_NETWORK)
    env = dict(os.environ, KERAS_HOME=str(keras_home), TMPDIR=str(tmp),
               PYTHONPATH=os.pathsep.join([str(clone), str(offline)]))  # the clone's fkeras, not this checkout's
    if env.get("XLA_FLAGS") == TEST_XLA_FLAGS:
        del env["XLA_FLAGS"]  # XLA's defaults, as the user runs it (conftest's flags only speed up compiling)
    proc = subprocess.run([sys.executable, "examples/mnist_convnet.py"], cwd=str(clone), env=env,
                          capture_output=True, text=True, timeout=3600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]

    clone_copy = str(clone / "data" / "mnist.npz")
    assert "Downloading data from https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz" in out
    assert f"data: MNIST from the repository's copy ({clone_copy})" in proc.stdout, out[-5000:]
    assert "Network is unreachable" in out
    assert "x_train shape (60000, 28, 28, 1); 60000 train samples" in proc.stdout
    assert re.search(r"399/399 .* - val_acc: ", proc.stdout), out[-5000:]  # Keras's progress, 15% held out
    assert re.search(r"fit: trained \d+ epochs? in [0-9.]+s", proc.stdout), out[-5000:]
    acc = re.search(r"test loss: [0-9.]+ - test acc: ([0-9.]+)", proc.stdout)
    assert acc, out[-5000:]
    assert float(acc.group(1)) >= 0.98, out[-5000:]
    assert "reloaded it with keras.saving.load_model" in proc.stdout
    predicted = re.search(r"predicted: (\[.*\])", proc.stdout).group(1)
    labels = re.search(r"labels: +(\[.*\])", proc.stdout).group(1)
    assert predicted.count(",") == labels.count(",") == 9
    assert os.listdir(tmp) == [], "the example left temporary files behind"
    cached = [p for p in keras_home.rglob("*") if p.is_file()]  # (Keras too creates `datasets/` on a download try)
    assert cached == [], "the repository's copy must not be written into the Keras cache"
