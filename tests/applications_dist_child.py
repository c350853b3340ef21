"""Run by tests/test_applications_interop.py in a subprocess with 2 virtual CPU devices (XLA_FLAGS must be
set before jax is imported): a small MobileNet (+ a new head) fitted on one device and under
`fkeras.distribution.DataParallel`; prints one JSON line (weight difference, losses, shardings)."""

import json
import os
import sys

os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
sys.path.insert(0, os.path.dirname(__file__))

import jax  # noqa: E402
import numpy as np  # noqa: E402

import fkeras as keras  # noqa: E402
from applications_common import host_initial_values  # noqa: E402
from fkeras import distribution as dist  # noqa: E402


def fit(distribution):
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)
    with host_initial_values(seed=1):  # the same initial weights for both runs
        base = keras.applications.MobileNet(include_top=False, weights=None, alpha=0.25, pooling="avg",
                                            input_shape=(32, 32, 3))
        outputs = keras.layers.Dense(3)(base.output)
    model = keras.Model(base.input, outputs)
    model.compile(optimizer=keras.optimizers.SGD(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    initial = model.get_weights()
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (8, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 3, 8)
    if distribution is None:
        hist = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    else:
        with distribution.scope():
            hist = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return model, hist.history["loss"], initial


def main():
    ref, ref_loss, initial = fit(None)
    model, loss, _ = fit(dist.DataParallel())
    diff = max(float(np.abs(a - b).max()) for a, b in zip(model.get_weights(), ref.get_weights()))
    moved = max(float(np.abs(a - b).max()) for a, b in zip(ref.get_weights(), initial))
    leaves = jax.tree.leaves(model.train_state.params)
    print(json.dumps({"devices": len(jax.devices()), "diff": diff, "moved": moved, "loss": [loss[0], ref_loss[0]],
                      "replicated": all(len(leaf.sharding.device_set) == 2 and leaf.sharding.is_fully_replicated
                                        for leaf in leaves)}))


if __name__ == "__main__":
    main()
