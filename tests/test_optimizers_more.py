"""Keras 3.15's remaining optimizers and the base's common arguments, checked against keras==3.15.1 (JAX
backend) for several steps from the same weights and gradients. Tolerances (float32): atol 1e-6 /
rtol 1e-5 vs Keras, atol 1e-6 / rtol 1e-6 JAX vs torch (same rule, two libraries' kernels)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fkeras as fk
import fkeras.optimizers as O

keras = pytest.importorskip("keras")  # KERAS_BACKEND=jax is set by conftest
torch = pytest.importorskip("torch")

KERAS_TOL = dict(atol=1e-6, rtol=1e-5)
TORCH_TOL = dict(atol=1e-6, rtol=1e-6)
STEPS = 5
RNG = np.random.default_rng(11)
SHAPES = [(3, 4), (4,), (2, 2, 3)]
W0 = [RNG.normal(size=s).astype("float32") for s in SHAPES]
GRADS = [[(RNG.normal(size=s) * 3).astype("float32") for s in SHAPES] for _ in range(STEPS)]


def _run_jax(opt, w0=W0, grads=GRADS):
    p, s = [jnp.asarray(w) for w in w0], opt.init([jnp.asarray(w) for w in w0])
    step = jax.jit(opt.apply)
    for g in grads:
        p, s = step(g, s, p)
    return [np.asarray(a) for a in p], s


def _run_torch(opt, w0=W0, grads=GRADS):
    p = [torch.from_numpy(w.copy()) for w in w0]
    s = jax.tree.map(lambda a: torch.from_numpy(np.array(a)), opt.init(w0))
    for g in grads:
        p, s = opt.apply([torch.from_numpy(a) for a in g], s, p)
    assert all(isinstance(a, torch.Tensor) for a in jax.tree.leaves((p, s)))
    return [a.numpy() for a in p], s


def _run_keras(opt, w0=W0, grads=GRADS):
    vs = [keras.Variable(w.copy()) for w in w0]
    for g in grads:
        opt.apply([jnp.asarray(a) for a in g], vs)
    return [np.asarray(v.value) for v in vs], opt


ADAFACTOR_CASES = [
    {},
    {"learning_rate": 0.05, "relative_step": False, "clip_threshold": 0.5, "weight_decay": 0.01},
    {"learning_rate": 0.5, "beta_2_decay": -0.5, "epsilon_2": 1e-2, "global_clipnorm": 3.0},
]


@pytest.mark.parametrize("kw", ADAFACTOR_CASES)
def test_adafactor_on_jax_and_torch_equals_keras(kw):
    """Factored second moments (rank >= 2: row/column means over the last two axes), a full velocity for
    rank 1, Keras's int32 placeholders for the factors of rank < 2; state in Keras's variable order."""
    opt = O.Adafactor(**kw)
    jax_p, jax_s = _run_jax(opt)
    torch_p, torch_s = _run_torch(opt)
    keras_p, k_opt = _run_keras(keras.optimizers.Adafactor(**kw))
    chex.assert_trees_all_close(jax_p, keras_p, **KERAS_TOL)
    chex.assert_trees_all_close(torch_p, keras_p, **KERAS_TOL)
    chex.assert_trees_all_close(torch_p, jax_p, **TORCH_TOL)
    # per variable r, c, velocity: the same shapes, dtypes and values as Keras's variables
    ours = [jax_s.slots[n][i] for i in range(len(W0)) for n in ("r", "c", "velocity")]
    theirs = k_opt.variables[2:]
    assert [(tuple(a.shape), str(a.dtype)) for a in ours] == [(tuple(v.shape), str(v.dtype)) for v in theirs]
    chex.assert_trees_all_close([np.asarray(a) for a in ours], [np.asarray(v.value) for v in theirs], **KERAS_TOL)
    assert int(jax_s.iterations) == int(torch_s.iterations) == int(k_opt.iterations) == STEPS


@pytest.mark.parametrize("name", ["Adadelta", "Adafactor", "Ftrl", "Lamb"])
def test_config_round_trip_matches_keras(name):
    """get_config has Keras's keys and defaults; from_config/get/serialize give the same optimizer back."""
    ours, theirs = getattr(O, name)(), getattr(keras.optimizers, name)()
    mine, keras_config = ours.get_config(), theirs.get_config()
    assert mine.pop("learning_rate") == pytest.approx(keras_config.pop("learning_rate"))  # Keras reads a float32
    assert mine.pop("name") == name.lower() and keras_config.pop("name").startswith(name.lower())  # Keras uniquifies
    assert mine == keras_config
    back = O.deserialize(O.serialize(ours))
    assert type(back) is type(ours) and back.get_config() == ours.get_config()
    assert type(O.get(name.lower())) is type(ours)


def test_ftrl_rejects_bad_arguments():
    with pytest.raises(ValueError, match="initial_accumulator_value"):
        O.Ftrl(initial_accumulator_value=-1.0)
    with pytest.raises(ValueError, match="learning_rate_power"):
        O.Ftrl(learning_rate_power=0.5)
    with pytest.raises(ValueError, match="l1_regularization_strength"):
        O.Ftrl(l1_regularization_strength=-0.1)


X = RNG.random((6, 5), dtype=np.float32)
Y = RNG.random((6, 3), dtype=np.float32)


@pytest.mark.parametrize("opt,kwargs,count", [("Adafactor", {"learning_rate": 0.05}, 14),
                                              ("Ftrl", {"learning_rate": 0.1, "beta": 0.1}, 10)])
def test_keras_file_resumes_in_keras_and_back(tmp_path, opt, kwargs, count):
    """Adafactor's per-variable r, c, velocity (placeholders for biases) and Ftrl's accumulator/linear go to
    `.keras` in Keras's layout: Keras loads the file and training resumes to the same weights as fkeras;
    Keras's file loads back into fkeras and resumes the same way."""
    inp = fk.Input((5,))
    model = fk.Model(inp, fk.layers.Dense(3)(fk.layers.Dense(4, activation="tanh")(inp)))
    model.compile(getattr(fk.optimizers, opt)(**kwargs), "mse")
    model.fit(X, Y, batch_size=3, epochs=1, verbose=0, shuffle=False)
    model.save(tmp_path / "o.keras")
    back = keras.saving.load_model(tmp_path / "o.keras")
    assert len(back.optimizer.variables) == count
    back.fit(X, Y, batch_size=3, epochs=1, verbose=0, shuffle=False)
    model.fit(X, Y, batch_size=3, epochs=1, verbose=0, shuffle=False)
    chex.assert_trees_all_close(model.get_weights(), back.get_weights(), rtol=1e-5, atol=1e-6)
    back.save(tmp_path / "k.keras")
    again = fk.saving.load_model(tmp_path / "k.keras")
    again.fit(X, Y, batch_size=3, epochs=1, verbose=0, shuffle=False)
    back.fit(X, Y, batch_size=3, epochs=1, verbose=0, shuffle=False)
    chex.assert_trees_all_close(again.get_weights(), back.get_weights(), rtol=1e-5, atol=1e-6)
