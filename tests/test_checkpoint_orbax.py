"""fkeras.io.checkpoint: TrainState round trip with orbax (max_to_keep, async), plain-orbax restore in a
subprocess that never imports fkeras, and loading a foreign (Flax-style) checkpoint by name mapping."""

import os
import subprocess
import sys
import textwrap

import chex
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from fkeras import nn
from fkeras.io import checkpoint as ck


class _State(eqx.Module):
    """Shaped like fkeras.train.TrainState's contract: params, state, opt_state, metrics, rng, step."""
    params: dict
    state: dict
    opt_state: object
    metrics: dict
    rng: jax.Array
    step: jax.Array


def _make_state(seed=0):
    model = nn.Sequential([nn.Dense(8, activation="relu", name="dense"), nn.Dense(3, name="dense_1")])
    v = model.init(jax.random.key(seed), (2, 5))
    opt = optax.adam(1e-2)
    st = _State(v.params, {"bn": {"moving_mean": jnp.zeros(3)}}, opt.init(v.params),
                {"loss": {"total": jnp.zeros(()), "count": jnp.zeros(())}}, jax.random.key(seed + 1), jnp.array(0))
    return model, opt, st


def _train(model, opt, st, n):
    x = jax.random.normal(jax.random.key(9), (4, 5))

    def loss(p):
        return jnp.mean(model.apply(nn.Variables(p, {}), x)[0] ** 2)

    for _ in range(n):
        g = jax.grad(loss)(st.params)
        upd, os_ = opt.update(g, st.opt_state, st.params)
        rng, _ = jax.random.split(st.rng)
        st = eqx.tree_at(lambda s: (s.params, s.opt_state, s.rng, s.step), st,
                         (optax.apply_updates(st.params, upd), os_, rng, st.step + 1))
    return st


def test_plain_tree_layout():
    _, _, st = _make_state()
    plain = ck.to_plain(st)
    assert set(plain) == {"params", "state", "opt_state", "metrics", "rng", "step"}
    assert plain["params"]["dense"]["kernel"].shape == (5, 8)
    assert plain["rng"].dtype == jnp.uint32  # typed key stored as key data
    flat = ck.flatten_plain(plain)
    assert "opt_state/0/mu/dense_1/bias" in flat and "opt_state/0/count" in flat
    back = ck.from_plain(plain, st)
    chex.assert_trees_all_equal(jax.random.key_data(back.rng), jax.random.key_data(st.rng))
    chex.assert_trees_all_equal(back.params, st.params)


def test_round_trip_resumes_training_exactly(tmp_path):
    model, opt, st = _make_state()
    st = _train(model, opt, st, 3)
    with ck.CheckpointManager(tmp_path / "ck", max_to_keep=2, async_save=True) as m:
        for s in (1, 2, 3):
            m.save(s, eqx.tree_at(lambda t: t.step, st, jnp.array(s)))
        m.wait_until_finished()
        assert m.all_steps() == [2, 3]  # max_to_keep
    _, _, fresh = _make_state(seed=5)
    with ck.CheckpointManager(tmp_path / "ck") as m:
        restored = m.restore(fresh)
    assert int(restored.step) == 3
    assert jax.dtypes.issubdtype(restored.rng.dtype, jax.dtypes.prng_key)
    # continuing from the restored state equals continuing from the original (exact, same ops/order)
    a = _train(model, opt, eqx.tree_at(lambda t: t.step, st, jnp.array(3)), 2)
    b = _train(model, opt, restored, 2)
    chex.assert_trees_all_close(ck.to_plain(a), ck.to_plain(b), rtol=0, atol=0)


def test_restore_mismatch_is_clear_error(tmp_path):
    _, _, st = _make_state()
    m = ck.CheckpointManager(tmp_path / "ck", async_save=False)
    m.save(0, st)
    other = nn.Sequential([nn.Dense(4, name="dense"), nn.Dense(3, name="dense_1")]).init(jax.random.key(0), (2, 5))
    bad = eqx.tree_at(lambda t: t.params, st, other.params)
    with pytest.raises(ValueError, match=r"params/dense/kernel: expected shape \(5, 4\), got \(5, 8\)"):
        m.restore(bad)
    with pytest.raises(FileNotFoundError, match="step 7"):
        m.restore(st, step=7)
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        ck.CheckpointManager(tmp_path / "empty").restore(st)


def test_plain_orbax_restores_without_fkeras(tmp_path):
    _, _, st = _make_state()
    with ck.CheckpointManager(tmp_path / "ck", async_save=True) as m:
        m.save(4, st)
    np.save(tmp_path / "kernel.npy", np.asarray(st.params["dense"]["kernel"]))
    script = textwrap.dedent(f"""
        import sys
        import numpy as np, orbax.checkpoint as ocp
        tree = ocp.CheckpointManager({str(tmp_path / 'ck')!r}).restore(4)
        assert not any(m.startswith("fkeras") for m in sys.modules), "fkeras was imported"
        assert sorted(tree) == ["metrics", "opt_state", "params", "rng", "state", "step"], sorted(tree)
        np.testing.assert_array_equal(tree["params"]["dense"]["kernel"], np.load({str(tmp_path / 'kernel.npy')!r}))
        assert int(tree["step"]) == 0 and tree["rng"].dtype == np.uint32
        print("OK", type(tree).__name__)
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "OK dict" in r.stdout


def test_foreign_flax_style_checkpoint_loads_by_name(tmp_path):
    model, _, st = _make_state()
    # what a Flax project would write: {"params": {"Dense_0": {...}, "Dense_1": {...}}, "step": ...}
    rng = np.random.default_rng(0)
    foreign = {"params": {"Dense_0": {"kernel": rng.normal(size=(5, 8)).astype(np.float32),
                                      "bias": rng.normal(size=(8,)).astype(np.float32)},
                          "Dense_1": {"kernel": rng.normal(size=(8, 3)).astype(np.float32),
                                      "bias": rng.normal(size=(3,)).astype(np.float32)}},
               "step": np.array(10)}
    import orbax.checkpoint as ocp
    mgr = ocp.CheckpointManager(tmp_path / "flax")
    mgr.save(10, args=ocp.args.StandardSave(foreign))
    mgr.wait_until_finished()
    mapping = {"params/Dense_0": "dense", "params/Dense_1": "dense_1", "step": None}
    params = ck.load_params(tmp_path / "flax", st.params, mapping=mapping)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    y, _ = model.apply(nn.Variables(params, {}), x)
    p = foreign["params"]
    want = np.maximum(x @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"], 0) @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"]
    chex.assert_trees_all_close(np.asarray(y), want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="missing dense_1/bias.*unexpected params/Dense_1/bias"):
        ck.load_params(foreign, st.params, mapping={"params/Dense_0": "dense", "params/Dense_1/kernel": "dense_1/kernel",
                                                    "step": None})
    partial = ck.load_params(foreign, st.params, mapping={"params/Dense_0": "dense"}, strict=False)
    chex.assert_trees_all_equal(partial["dense_1"], st.params["dense_1"])


def test_foreign_checkpoint_into_facade_model(tmp_path):
    import fkeras as fk

    model = fk.Sequential([fk.Input((5,)), fk.layers.Dense(8, activation="relu", name="hidden"),
                           fk.layers.Dense(3, name="out")])
    rng = np.random.default_rng(1)
    eqx_style = {"layers": {"0": {"weight": rng.normal(size=(5, 8)).astype(np.float32),
                                  "bias": rng.normal(size=(8,)).astype(np.float32)},
                            "1": {"weight": rng.normal(size=(8, 3)).astype(np.float32),
                                  "bias": rng.normal(size=(3,)).astype(np.float32)}}}

    def mapping(path):  # an Equinox-style tree: layers/<i>/weight -> <name>/kernel
        _, i, leaf = path.split("/")
        return f"{['hidden', 'out'][int(i)]}/{'kernel' if leaf == 'weight' else 'bias'}"

    with pytest.raises(ValueError, match="not built"):
        ck.load_params_into_model(fk.Sequential([fk.layers.Dense(2)]), eqx_style, mapping=mapping)
    ck.load_params_into_model(model, eqx_style, mapping=mapping)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    p = eqx_style["layers"]
    want = np.maximum(x @ p["0"]["weight"] + p["0"]["bias"], 0) @ p["1"]["weight"] + p["1"]["bias"]
    chex.assert_trees_all_close(np.asarray(model.predict(x, verbose=0)), want, rtol=1e-5, atol=1e-5)
