"""An application through the shims and under `fkeras.distribution`: MobileNetV3Small (depthwise 3x3
and 5x5 convs, hard-swish, squeeze-excite, Rescaling inside the model) gives fkeras's outputs on
TensorFlow (`to_tf`) and PyTorch (`to_torch`); a small MobileNet with a new head fits under
`DataParallel` on 2 virtual CPU devices (one step on 8 images) to the single-device weights."""

import json
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

import fkeras
from applications_common import _close, _randomized, host_initial_values

CHILD = pathlib.Path(__file__).with_name("applications_dist_child.py")


@pytest.fixture(scope="module")
def app():
    """The model with random weights (BatchNormalization statistics too), a batch, fkeras's outputs."""
    fkeras.backend.clear_session(free_memory=False)
    with host_initial_values():
        model = fkeras.applications.MobileNetV3Small(weights=None, include_top=True, classes=10,
                                                     input_shape=(32, 32, 3))
    rng = np.random.default_rng(0)
    model.set_weights(_randomized(model.get_weights(), rng))
    x = rng.uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    ref = np.asarray(jax.jit(lambda v, x: model.apply(v, x)[0])(model.variables_tree, x))
    return model, x, ref


def test_to_tf_gives_the_same_outputs(app):
    tf = pytest.importorskip("tensorflow")
    from fkeras.interop.tf import to_tf

    model, x, ref = app
    _close(to_tf(model)(tf.constant(x), training=False).numpy(), ref)


def test_to_torch_gives_the_same_outputs(app):
    torch = pytest.importorskip("torch")
    from fkeras.interop.torch import to_torch

    model, x, ref = app
    module = to_torch(model).eval()
    with torch.no_grad():
        _close(module(torch.from_numpy(x)).numpy(), ref)


@pytest.mark.slow
def test_data_parallel_fit_matches_one_device():  # ~45 s of CPU: two train-step compiles in a fresh process
    proc = subprocess.run([sys.executable, str(CHILD)], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, KERAS_BACKEND="jax"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["devices"] == 2
    assert out["replicated"]  # DataParallel: every weight on both devices
    assert out["moved"] > 1e-4  # the fit changed the weights ...
    assert out["diff"] < 1e-4  # ... the same way on 2 devices (the batch split) as on one
    assert out["loss"][0] == pytest.approx(out["loss"][1], rel=1e-4)
