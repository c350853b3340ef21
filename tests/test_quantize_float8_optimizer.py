"""float8 layers under a stateful optimizer, as Keras 3.15: the six scales/amax histories of a float8 layer are
`overwrite_with_gradient` variables — set to their delayed-scaling update each step, with no optimizer slots and
no optimizer update (Keras: a float8 Dense under Adam has 6 optimizer variables, not 18). Checked against Keras
after Adam steps (weights, optimizer variable count, summary's "Optimizer params"), on the torch engine, and with
an EMA optimizer. Tolerances: float32, rtol=1e-5, atol=1e-6."""

import os

import chex
import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
import fkeras  # noqa: E402

RNG = np.random.default_rng(0)
X = (RNG.normal(size=(8, 4)) * 3).astype("float32")
Y = RNG.normal(size=(8, 3)).astype("float32")
TOL = dict(rtol=1e-5, atol=1e-6)


def _float8(module, weights=None):
    """Input(4) -> Dense(3) quantized to float8; `weights` (its 8 float8-layout arrays) set after quantizing."""
    model = module.Sequential([module.Input((4,)), module.layers.Dense(3, name="q")], name="m")
    model.quantize("float8")
    if weights is not None:
        model.set_weights(weights)
    return model


def _by_name(model):
    return {w.path.split("/")[-1]: np.asarray(w.value if hasattr(w, "value") else w) for w in model.layers[0].weights}


def _optimizer_params(model):
    lines = []
    model.summary(print_fn=lines.append)
    return [line for line in "\n".join(lines).splitlines() if "Optimizer params" in line]


def _start():
    return [np.asarray(w) for w in _float8(keras).get_weights()]


def test_adam_gives_float8_metadata_no_slots_and_matches_keras():
    start = _start()
    km, fm = _float8(keras, start), _float8(fkeras, start)
    for m, opt in ((km, keras.optimizers.Adam(0.05)), (fm, fkeras.optimizers.Adam(0.05))):
        m.compile(opt, "mse")
        m.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    kw, fw = _by_name(km), _by_name(fm)
    assert kw["inputs_scale"] != 1.0 and set(fw) == set(kw)
    chex.assert_trees_all_close(fw, kw, **TOL)
    assert len(fm.optimizer.variables) == len(km.optimizer.variables) == 6  # iterations, lr, 2 x (m, v)
    assert _optimizer_params(fm) == _optimizer_params(km) != []
    chex.assert_trees_all_close(np.asarray(fm.predict(X, verbose=0)), np.asarray(km.predict(X, verbose=0)), **TOL)


def test_torch_engine_updates_float8_metadata_as_the_jax_engine():
    pytest.importorskip("torch")
    start, runs = _start(), []
    for engine in ("jax", "torch"):
        m = _float8(fkeras, start)
        m.compile(fkeras.optimizers.Adam(0.05), "mse", engine=engine)
        m.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        runs.append(_by_name(m))
    chex.assert_trees_all_close(runs[1], runs[0], rtol=1e-5, atol=1e-5)
    assert runs[0]["outputs_grad_amax_history"][0] > 0


def test_ema_optimizer_keeps_float8_metadata_at_the_end_of_fit():
    start, models = _start(), []
    for module in (keras, fkeras):
        m = _float8(module, start)
        m.compile(module.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5), "mse")
        m.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        models.append(m)
    kw, fw = _by_name(models[0]), _by_name(models[1])
    chex.assert_trees_all_close(fw, kw, **TOL)
