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


@pytest.mark.parametrize("name", ["Adadelta", "Adafactor", "Ftrl", "Lamb", "ScheduleFreeAdamW", "Muon"])
def test_config_round_trip_matches_keras(name):
    """get_config has Keras's keys and defaults; from_config/get/serialize give the same optimizer back."""
    ours, theirs = getattr(O, name)(), getattr(keras.optimizers, name)()
    mine, keras_config = ours.get_config(), theirs.get_config()
    assert mine.pop("learning_rate") == pytest.approx(keras_config.pop("learning_rate"))  # Keras reads a float32
    assert mine.pop("name") == ours.name and keras_config.pop("name").startswith(ours.name)  # Keras uniquifies
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
                                              ("Ftrl", {"learning_rate": 0.1, "beta": 0.1}, 10),
                                              ("Muon", {"learning_rate": 0.01}, 8)])
def test_keras_file_resumes_in_keras_and_back(tmp_path, opt, kwargs, count):
    """Adafactor's per-variable r, c, velocity (placeholders for biases), Ftrl's accumulator/linear and Muon's
    momentum with a velocity for its AdamW (here 1-D) variables only go to
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


def _keras_order(opt, state):
    """Our state's slots in Keras's `optimizer.variables[2:]` order (groups, then variables, then names)."""
    return [np.asarray(state.slots[n][i]) for grp in opt.all_slot_groups() for i in range(len(W0))
            for n, _ in grp]


COMMON = [
    ("Adam", {"learning_rate": 0.01, "use_ema": True}),
    ("Adam", {"learning_rate": 0.01, "use_ema": True, "ema_momentum": 0.5, "ema_overwrite_frequency": 2}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "gradient_accumulation_steps": 2}),
    ("Nadam", {"learning_rate": 0.01, "gradient_accumulation_steps": 3, "weight_decay": 0.05, "clipnorm": 1.0}),
    ("AdamW", {"learning_rate": 0.01, "gradient_accumulation_steps": 2, "use_ema": True,
               "ema_overwrite_frequency": 1}),
    ("RMSprop", {"learning_rate": 0.01, "loss_scale_factor": 128.0, "global_clipnorm": 1.0}),
    ("Lamb", {"learning_rate": 0.01, "loss_scale_factor": 0.5, "clipvalue": 0.5, "use_ema": True}),
]


@pytest.mark.parametrize("name,kw", COMMON, ids=[f"{c[0]}-{i}" for i, c in enumerate(COMMON)])
def test_common_arguments_on_jax_and_torch_equal_keras(name, kw):
    """EMA (`average` slots; overwrite every k updates), gradient accumulation (updates only every N calls,
    with the mean gradient; `gradient_accumulator` slots), loss_scale_factor (gradients divided by it): 6
    calls from the same weights give Keras's weights and Keras's variables, in Keras's order."""
    grads = GRADS + GRADS[:1]
    if kw.get("loss_scale_factor"):
        grads = [[g * kw["loss_scale_factor"] for g in gs] for gs in grads]  # what a scaled loss gives
    opt = getattr(O, name)(**kw)
    jax_p, jax_s = _run_jax(opt, grads=grads)
    torch_p, torch_s = _run_torch(opt, grads=grads)
    keras_p, k_opt = _run_keras(getattr(keras.optimizers, name)(**kw), grads=grads)
    chex.assert_trees_all_close(jax_p, keras_p, **KERAS_TOL)
    chex.assert_trees_all_close(torch_p, keras_p, **KERAS_TOL)
    chex.assert_trees_all_close(torch_p, jax_p, **TORCH_TOL)
    k_vars = k_opt.variables
    assert int(jax_s.iterations) == int(torch_s.iterations) == int(k_vars[0].value) == len(grads)
    ours = _keras_order(opt, jax_s)
    theirs = [np.asarray(v.value) for v in k_vars[2:2 + len(ours)]]
    assert len(k_vars) == 2 + len(ours) + len(jax_s.extra)
    for grp in opt.common_slot_groups():  # Keras names the base's slots the same way
        assert any(v.name.endswith(grp[0][0]) for v in k_vars)
    chex.assert_trees_all_close(ours, theirs, **KERAS_TOL)
    own = getattr(O, name)(**kw)
    vs = [fk.Variable(w.copy()) for w in W0]
    for g in grads:
        own.apply([jnp.asarray(a) for a in g], vs)
    assert own.iterations == int(k_opt.iterations)  # Keras's iterations: updates, not calls
    chex.assert_trees_all_close([np.asarray(v.value) for v in vs], keras_p, **KERAS_TOL)
    if kw.get("use_ema"):
        own.finalize_variable_values(vs)
        k_vs = [keras.Variable(w) for w in keras_p]
        k_opt.finalize_variable_values(k_vs)
        chex.assert_trees_all_close([np.asarray(v.value) for v in vs], [np.asarray(v.value) for v in k_vs],
                                    **KERAS_TOL)


def test_gradient_accumulation_updates_every_n_steps():
    """With N=3 the weights move only on calls 3 and 6, each time by SGD's step on the mean gradient."""
    opt = O.SGD(0.1, gradient_accumulation_steps=3)
    p, s = list(W0), opt.init(W0)
    seen = []
    for g in GRADS + GRADS[:1]:
        p, s = opt.apply(g, s, p)
        seen.append([np.asarray(a) for a in p])
    chex.assert_trees_all_close(seen[0], W0)
    chex.assert_trees_all_close(seen[1], W0)
    mean = [sum(GRADS[k][i] for k in range(3)) / 3 for i in range(len(W0))]
    chex.assert_trees_all_close(seen[2], [w - 0.1 * m for w, m in zip(W0, mean)], atol=1e-6)
    chex.assert_trees_all_close(seen[3], seen[2])
    assert opt.scale_loss(2.0) == 2.0 and O.SGD(loss_scale_factor=4.0).scale_loss(2.0) == 8.0


def test_exclude_from_weight_decay_equals_keras():
    """Variables named like `var_names`, or listed in `var_list`, get no decoupled weight decay (Keras's rule)."""
    names = ["kernel", "bias", "gamma"]
    ours_v = [fk.Variable(w.copy(), name=n) for w, n in zip(W0, names)]
    k_v = [keras.Variable(w.copy(), name=n) for w, n in zip(W0, names)]
    ours, theirs = O.AdamW(0.01, weight_decay=0.3), keras.optimizers.AdamW(0.01, weight_decay=0.3)
    ours.exclude_from_weight_decay(var_list=ours_v[2:], var_names=["bias"])
    theirs.exclude_from_weight_decay(var_list=k_v[2:], var_names=["bias"])
    for g in GRADS:
        ours.apply([jnp.asarray(a) for a in g], ours_v)
        theirs.apply([jnp.asarray(a) for a in g], k_v)
    chex.assert_trees_all_close([np.asarray(v.value) for v in ours_v], [np.asarray(v.value) for v in k_v],
                                **KERAS_TOL)
    plain = O.AdamW(0.01, weight_decay=0.3)
    p, _ = _run_jax(plain)
    assert not np.allclose(p[1], np.asarray(ours_v[1].value))  # the exclusion changed something
    with pytest.raises(ValueError, match="before the optimizer is built"):
        ours.exclude_from_weight_decay(var_names=["kernel"])
    pure = O.AdamW(0.01, weight_decay=0.3)
    pure.exclude_from_weight_decay(var_names=["bias"])
    with pytest.raises(ValueError, match="set_variable_names"):
        pure.apply(GRADS[0], pure.init(W0), W0)
    pure.set_variable_names(names)
    p, s = W0, pure.init(W0)
    for g in GRADS:
        p, s = pure.apply(g, s, p)
    chex.assert_trees_all_close([np.asarray(a) for a in p[:2]], [np.asarray(v.value) for v in k_v[:2]],
                                **KERAS_TOL)


def test_common_argument_errors_and_config():
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        O.Adam(gradient_accumulation_steps=1)
    with pytest.raises(ValueError, match="ema_momentum"):
        O.Adam(use_ema=True, ema_momentum=1.5)
    with pytest.raises(ValueError, match="ema_overwrite_frequency"):
        O.Adam(use_ema=True, ema_overwrite_frequency=0)
    kw = dict(use_ema=True, ema_momentum=0.9, ema_overwrite_frequency=3, loss_scale_factor=8.0,
              gradient_accumulation_steps=4)
    ours, theirs = O.Adam(**kw), keras.optimizers.Adam(**kw)
    for key in kw:
        assert ours.get_config()[key] == theirs.get_config()[key]
    assert O.Adam.from_config(ours.get_config()).get_config() == ours.get_config()


def test_fit_with_ema_ends_on_the_averages_like_keras(tmp_path):
    """fit with `use_ema` (Keras's finalize_variable_values at the end of fit) and gradient accumulation gives
    Keras's weights; the `.keras` file holds the average and accumulator slots in Keras's layout: Keras
    loads exactly its own optimizer variables from it."""
    kw = dict(learning_rate=0.05, use_ema=True, ema_momentum=0.8, gradient_accumulation_steps=2)

    def make(lib):
        inp = lib.Input((5,))
        m = lib.Model(inp, lib.layers.Dense(3)(lib.layers.Dense(4, activation="tanh")(inp)))
        m.compile(lib.optimizers.Adam(**kw), "mse")
        return m

    ours, theirs = make(fk), make(keras)
    theirs.set_weights(ours.get_weights())
    ours.fit(X, Y, batch_size=2, epochs=2, verbose=0, shuffle=False)
    theirs.fit(X, Y, batch_size=2, epochs=2, verbose=0, shuffle=False)
    chex.assert_trees_all_close(ours.get_weights(), theirs.get_weights(), rtol=1e-5, atol=1e-6)
    ours.save(tmp_path / "e.keras")
    back = keras.saving.load_model(tmp_path / "e.keras")
    assert len(back.optimizer.variables) == len(theirs.optimizer.variables) == 2 + 4 * 4  # average, accumulator, m, v
    chex.assert_trees_all_close([np.asarray(v.value) for v in back.optimizer.variables],
                                [np.asarray(v.value) for v in theirs.optimizer.variables], rtol=1e-5, atol=1e-6)


MUON_SHAPES = [(3, 4), (4,), (5, 3), (2, 2, 3), (4, 2)]
MUON_NAMES = ["kernel", "bias", "tall", "conv", "token_embedding"]
MUON_W0 = [RNG.normal(size=s).astype("float32") for s in MUON_SHAPES]
MUON_GRADS = [[RNG.normal(size=s).astype("float32") for s in MUON_SHAPES] for _ in range(4)]


@pytest.mark.parametrize("kw", [{}, {"learning_rate": 0.02, "nesterov": False, "rms_rate": None, "adam_lr_ratio": 0.5,
                                     "exclude_layers": ["tall"], "weight_decay": 0.1, "adam_weight_decay": 0.01},
                                {"learning_rate": 0.01, "exclude_embeddings": False, "clipnorm": 1.0}])
def test_muon_equals_keras(kw):
    """Newton-Schulz-orthogonalized momentum on 2-D variables (wide and tall), AdamW on the rest (rank != 2,
    embeddings, `exclude_layers` paths), two weight-decay rates: Keras's weights and variables after 4 steps,
    on JAX (stateful face, and pure with `set_variable_names`) and torch."""
    ours_v = [fk.Variable(w.copy(), name=n) for w, n in zip(MUON_W0, MUON_NAMES)]
    k_v = [keras.Variable(w.copy(), name=n) for w, n in zip(MUON_W0, MUON_NAMES)]
    ours, theirs = O.Muon(**kw), keras.optimizers.Muon(**kw)
    for g in MUON_GRADS:
        ours.apply([jnp.asarray(a) for a in g], ours_v)
        theirs.apply([jnp.asarray(a) for a in g], k_v)
    keras_p = [np.asarray(v.value) for v in k_v]
    chex.assert_trees_all_close([np.asarray(v.value) for v in ours_v], keras_p, atol=2e-6, rtol=1e-5)
    st = ours._state()
    mine = [np.asarray(a) for i in range(len(MUON_W0)) for a in (st.slots["momentum"][i], st.slots["velocity"][i])
            if a is not None]
    chex.assert_trees_all_close(mine, [np.asarray(v.value) for v in theirs.variables[2:]], atol=2e-6, rtol=1e-5)
    pure = O.Muon(**kw)
    pure.set_variable_names(MUON_NAMES)
    jax_p, _ = _run_jax(pure, MUON_W0, MUON_GRADS)
    torch_p, _ = _run_torch(pure, MUON_W0, MUON_GRADS)
    chex.assert_trees_all_close(jax_p, keras_p, atol=2e-6, rtol=1e-5)
    chex.assert_trees_all_close(torch_p, jax_p, atol=2e-6, rtol=1e-5)
