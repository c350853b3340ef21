"""Keras 3.15's interop layers: JaxLayer, FlaxLayer (vs Keras's, JAX backend), TorchModuleWrapper (vs torch
itself: outputs, autograd gradients, SGD steps) and TFSMLayer (vs the exported model's predictions)."""

from __future__ import annotations

import copy
import importlib.util
import inspect
import os
import subprocess
import sys
import textwrap
import zipfile

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402  (the oracle)

import fkeras  # noqa: E402

NAMES = ("JaxLayer", "FlaxLayer", "TorchModuleWrapper", "TFSMLayer")
TOL = dict(atol=1e-6, rtol=1e-6)


def _data(n=8, d=4, k=3, seed=0):
    rs = np.random.RandomState(seed)
    return rs.randn(n, d).astype("float32"), rs.randn(n, k).astype("float32")


# --- names and signatures ---------------------------------------------------------------------------
def test_every_keras_interop_layer_is_exported():
    modules = ("keras.src.utils.jax_layer", "keras.src.utils.torch_utils", "keras.src.export.tfsm_layer")
    keras_names = {n for n in dir(keras.layers) if getattr(getattr(keras.layers, n), "__module__", "") in modules}
    assert keras_names == set(NAMES)
    for name in NAMES:
        assert name in fkeras.layers.__all__ and inspect.isclass(getattr(fkeras.layers, name))


@pytest.mark.parametrize("name", NAMES)
def test_signature_matches_keras(name):
    ours = inspect.signature(getattr(fkeras.layers, name).__init__).parameters
    theirs = inspect.signature(getattr(keras.layers, name).__init__).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == \
        [(p.name, p.kind, p.default) for p in theirs.values()]


# --- JaxLayer -----------------------------------------------------------------------------------------
def _dense_call(params, inputs):
    return jnp.tanh(inputs @ params["w"] + params["b"]) * params["scale"][0]


def _stateful_call(params, state, inputs, training):
    y = inputs @ params["w"] + params["b"]
    new = {"count": state["count"] + 1, "mean": 0.9 * state["mean"] + 0.1 * jnp.mean(y, axis=0)}
    return (y - state["mean"]) if not training else y, new


def _stateful_init(rng, inputs):
    w = jax.random.normal(rng, (inputs.shape[-1], 3))
    return {"w": w, "b": jnp.zeros(3)}, {"count": jnp.zeros(()), "mean": jnp.zeros(3)}


def _params(d=4, k=3, int_leaf=True):
    rs = np.random.RandomState(1)
    return {"w": rs.randn(d, k).astype("float32"), "b": rs.randn(k).astype("float32"),
            "scale": [np.float32(1.5)] + ([2] if int_leaf else [])}


def _weights_summary(layer):
    return [(tuple(w.shape), str(w.dtype), bool(w.trainable)) for w in layer.weights]


def test_jax_layer_outputs_weights_and_config_match_keras():
    x, _ = _data()
    ours, theirs = fkeras.layers.JaxLayer(_dense_call, params=_params()), keras.layers.JaxLayer(_dense_call,
                                                                                               params=_params())
    chex.assert_trees_all_close(np.asarray(ours(x)), np.asarray(theirs(x)), **TOL)
    assert _weights_summary(ours) == _weights_summary(theirs)
    # flatten order b, scale[0], scale[1] (a Python int: an int32 weight, as Keras), w
    assert [w.name for w in ours.weights] == ["variable", "variable_1", "variable_2", "variable_3"]
    assert ours.params["w"] is ours.weights[3] and ours.weights[2].dtype == "int32"
    oc, kc = ours.get_config(), theirs.get_config()
    assert list(oc) == list(kc)
    assert {k: v for k, v in oc.items() if not k.endswith("_fn") and k != "name"} == \
        {k: v for k, v in kc.items() if not k.endswith("_fn") and k != "name"}
    assert oc["call_fn"]["config"] == kc["call_fn"]["config"] == "_dense_call" and oc["init_fn"] is None


def test_jax_layer_keeps_non_array_leaves_fixed():
    def call_fn(params, inputs):
        assert params["how"] == "double"  # a config leaf, not a weight
        return inputs * params["k"] * 2

    layer = fkeras.layers.JaxLayer(call_fn, params={"how": "double", "k": np.float32(3.0)})
    chex.assert_trees_all_close(np.asarray(layer(np.ones((2, 2), "float32"))), np.full((2, 2), 6.0, "float32"))
    assert [w.name for w in layer.weights] == ["variable"] and layer.params["how"] == "double"


def test_jax_layer_state_is_updated_like_keras():
    x, _ = _data()
    params = {"w": np.ones((4, 3), "float32"), "b": np.zeros(3, "float32")}
    state = {"count": np.zeros((), "float32"), "mean": np.zeros(3, "float32")}
    ours = fkeras.layers.JaxLayer(_stateful_call, params=params, state=state)
    theirs = keras.layers.JaxLayer(_stateful_call, params=params, state=state)
    for training in (True, False, True):
        chex.assert_trees_all_close(np.asarray(ours(x, training=training)),
                                    np.asarray(theirs(x, training=training)), **TOL)
    chex.assert_trees_all_close([np.asarray(w) for w in ours.weights], [np.asarray(w) for w in theirs.weights],
                                **TOL)
    assert float(ours.state["count"].numpy()) == 3.0
    assert [w.trainable for w in ours.weights] == [True, True, False, False]


def test_jax_layer_init_fn_builds_keras_structure():
    x, _ = _data()
    ours = fkeras.layers.JaxLayer(_stateful_call, _stateful_init)
    theirs = keras.layers.JaxLayer(_stateful_call, _stateful_init)
    ours(x), theirs(x)
    assert _weights_summary(ours) == _weights_summary(theirs)
    chex.assert_trees_all_close(np.asarray(ours.state["count"].numpy()), np.float32(1.0))


def test_jax_layer_fit_matches_keras():
    x, y = _data()

    def run(lib):
        lib.utils.set_random_seed(0)
        model = lib.Sequential([lib.Input((4,)), lib.layers.JaxLayer(_dense_call, params=_params(int_leaf=False))])
        model.compile(optimizer=lib.optimizers.SGD(0.1), loss="mse")  # (an int leaf cannot train, in Keras too)
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        return [np.asarray(w) for w in model.weights], np.asarray(model.predict(x, verbose=0))

    chex.assert_trees_all_close(run(fkeras), run(keras), atol=1e-5, rtol=1e-5)


def _noisy_call(params, rng, inputs, training):
    if rng is None:
        return inputs * params["a"]
    assert rng.shape == (2,) and rng.dtype == jnp.uint32  # raw key data, as Keras's JAX backend passes
    return inputs * params["a"] + jax.random.normal(rng, inputs.shape)


def test_jax_layer_rng_only_while_training():
    x, y = _data(k=4)
    layer = fkeras.layers.JaxLayer(_noisy_call, params={"a": np.float32(2.0)})
    chex.assert_trees_all_close(np.asarray(layer(x)), 2 * x, **TOL)
    assert not np.allclose(np.asarray(layer(x, training=True)), 2 * x)
    model = fkeras.Sequential([fkeras.Input((4,)), layer])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=1, verbose=0)  # draws keys inside the jitted step


def test_jax_layer_bad_arguments_say_what_was_expected():
    with pytest.raises(ValueError, match="Unsupported argument in `call_fn`: `x`"):
        fkeras.layers.JaxLayer(lambda params, inputs, x: x, params={})
    with pytest.raises(ValueError, match="Missing required argument in `call_fn`: `inputs`"):
        fkeras.layers.JaxLayer(lambda params: params, params={})
    with pytest.raises(ValueError, match="cannot all be `None`"):
        fkeras.layers.JaxLayer(_dense_call)
    with pytest.raises(TypeError, match="expected `call_fn` to be a callable, got str"):
        fkeras.layers.JaxLayer("not a function")
    assert fkeras.layers.JaxLayer(_dense_call, params={}).name == "jax_layer"  # failed ones took no name
    bad = fkeras.layers.JaxLayer(lambda params, state, inputs: (inputs, [state]), params={},
                                 state={"s": np.zeros(())})
    with pytest.raises(ValueError, match="Structure mismatch"):
        bad(np.ones((2, 2), "float32"))


def test_jax_layer_keras_file_round_trip_and_keras_reads_it(tmp_path):
    call_fn = fkeras.saving.register_keras_serializable("interop_test")(_stateful_call)
    init_fn = fkeras.saving.register_keras_serializable("interop_test")(_stateful_init)
    keras.saving.register_keras_serializable("interop_test")(call_fn)
    keras.saving.register_keras_serializable("interop_test")(init_fn)
    x, y = _data()
    model = fkeras.Sequential([fkeras.Input((4,)), fkeras.layers.JaxLayer(call_fn, init_fn)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=1, verbose=0)
    path = str(tmp_path / "jax_layer.keras")
    model.save(path)
    expected = np.asarray(model.predict(x, verbose=0))
    loaded = fkeras.saving.load_model(path)
    chex.assert_trees_all_close(np.asarray(loaded.predict(x, verbose=0)), expected, **TOL)
    assert float(loaded.layers[0].state["count"].numpy()) == float(model.layers[0].state["count"].numpy()) > 0
    chex.assert_trees_all_close(np.asarray(keras.saving.load_model(path).predict(x, verbose=0)), expected, **TOL)

    kmodel = keras.Sequential([keras.Input((4,)), keras.layers.JaxLayer(call_fn, init_fn)])  # and Keras's file
    kmodel(x)
    kpath = str(tmp_path / "keras_jax_layer.keras")
    kmodel.save(kpath)
    chex.assert_trees_all_close(np.asarray(fkeras.saving.load_model(kpath).predict(x, verbose=0)),
                                np.asarray(kmodel.predict(x, verbose=0)), **TOL)


# --- FlaxLayer ----------------------------------------------------------------------------------------
needs_flax = pytest.mark.skipif(importlib.util.find_spec("flax") is None,
                                reason="FlaxLayer needs flax (pip install 'fkeras[flax]')")
needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                 reason="TorchModuleWrapper needs torch (pip install 'fkeras[torch]')")
needs_tf = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None,
                              reason="TFSMLayer needs tensorflow (pip install 'fkeras[tf]')")
_FLAX_NET = []


def _flax_net_class():
    """A registered Flax linen module class with Keras's get_config/from_config (made once)."""
    if not _FLAX_NET:
        import flax.linen as flax_linen

        class _FlaxNet(flax_linen.Module):
            units: int = 3

            @flax_linen.compact
            def __call__(self, inputs, training=False):
                h = flax_linen.Dense(5)(inputs)
                h = flax_linen.BatchNorm(use_running_average=not training, momentum=0.5)(h)
                return flax_linen.Dense(self.units)(jnp.tanh(h))

            def get_config(self):
                return {"units": self.units}

            @classmethod
            def from_config(cls, config):
                return cls(**config)

        fkeras.saving.register_keras_serializable("interop_test")(_FlaxNet)
        keras.saving.register_keras_serializable("interop_test")(_FlaxNet)
        _FLAX_NET.append(_FlaxNet)
    return _FLAX_NET[0]


@needs_flax
def test_flax_layer_matches_keras():
    x, _ = _data()
    module = _flax_net_class()()
    variables = module.init(jax.random.key(0), x)
    ours = fkeras.layers.FlaxLayer(module, variables=variables)
    theirs = keras.layers.FlaxLayer(module, variables=variables)
    assert _weights_summary(ours) == _weights_summary(theirs)
    for training in (False, True, False):
        chex.assert_trees_all_close(np.asarray(ours(x, training=training)),
                                    np.asarray(theirs(x, training=training)), **TOL)
    chex.assert_trees_all_close([np.asarray(w) for w in ours.weights], [np.asarray(w) for w in theirs.weights],
                                **TOL)
    oc, kc = ours.get_config(), theirs.get_config()
    oc.pop("name"), kc.pop("name")
    assert oc == kc
    bound = fkeras.layers.FlaxLayer(module, method=module.__call__, variables=variables)
    assert bound.get_config()["method"] == "__call__"  # a method of the module is saved by name, as Keras
    again = fkeras.layers.FlaxLayer.from_config(bound.get_config())
    assert again.nn_layer.method.__name__ == "__call__" and again.nn_layer.module == module


@needs_flax
def test_flax_layer_init_fit_and_keras_file(tmp_path):
    x, y = _data()
    model = fkeras.Sequential([fkeras.Input((4,)), fkeras.layers.FlaxLayer(_flax_net_class()())])
    model.compile(optimizer="adam", loss="mse")
    before = [np.asarray(w) for w in model.weights]
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert [tuple(w.shape) for w in model.weights] == [(5,), (5,), (5,), (4, 5), (3,), (5, 3), (5,), (5,)]
    assert not np.allclose(before[-2], np.asarray(model.weights[-2]))  # batch_stats moved while training
    path = str(tmp_path / "flax.keras")
    model.save(path)
    expected = np.asarray(model.predict(x, verbose=0))
    chex.assert_trees_all_close(np.asarray(fkeras.saving.load_model(path).predict(x, verbose=0)), expected, **TOL)
    chex.assert_trees_all_close(np.asarray(keras.saving.load_model(path).predict(x, verbose=0)), expected, **TOL)


# --- TorchModuleWrapper ---------------------------------------------------------------------------------
def _torch_net():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5), torch.nn.Tanh(),
                               torch.nn.Dropout(0.3), torch.nn.Linear(5, 3))


@needs_torch
def test_torch_module_wrapper_weights_outputs_and_gradients():
    import torch

    x, _ = _data()
    module = _torch_net()
    layer = fkeras.layers.TorchModuleWrapper(module)
    assert layer.built and layer.name == "torch_module_wrapper"
    assert [tuple(w.shape) for w in layer.trainable_weights] == [tuple(p.shape) for p in module.parameters()]
    assert [w.path for w in layer.non_trainable_weights] == [
        "torch_module_wrapper/1/running_mean", "torch_module_wrapper/1/running_var",
        "torch_module_wrapper/1/num_batches_tracked"]
    ref = copy.deepcopy(module).eval()
    chex.assert_trees_all_close(np.asarray(layer(x, training=False)), ref(torch.from_numpy(x)).detach().numpy(),
                                **TOL)

    nn_layer, tree = layer.nn_layer, layer.variables_tree

    def loss(params):
        out, state = nn_layer.apply(fkeras.nn.base.Variables(params, tree.state), x, training=True,
                                    rng=jax.random.key(3))
        return jnp.sum(out ** 2) + jnp.sum(out[:, 0]), state

    grads, state = jax.jit(jax.grad(loss, has_aux=True))(tree.params)
    seed = int(jax.random.bits(jax.random.key(3), (), jnp.uint32))  # the same dropout mask: torch seeded alike
    ref = copy.deepcopy(module).train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        out = ref(torch.from_numpy(x))
    ((out ** 2).sum() + out[:, 0].sum()).backward()
    for name, p in ref.named_parameters():
        chex.assert_trees_all_close(np.asarray(fkeras.nn.paths.get_path(grads, tuple(name.split(".")))),
                                    p.grad.numpy(), atol=1e-5, rtol=1e-5)
    chex.assert_trees_all_close(np.asarray(state["1"]["running_mean"]), ref[1].running_mean.numpy(), **TOL)
    assert int(state["1"]["num_batches_tracked"]) == 1


@needs_torch
@pytest.mark.parametrize("engine", ["jax", "torch"])
def test_torch_module_wrapper_fit_equals_torch_sgd(engine):
    """JAX engine: through the callback; torch engine: natively. Both are torch's SGD steps, BatchNorm included."""
    import torch

    x, y = _data()
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5), torch.nn.Tanh(),
                                 torch.nn.Linear(5, 3))
    ref = copy.deepcopy(module)
    model = fkeras.Sequential([fkeras.Input((4,)), fkeras.layers.TorchModuleWrapper(module)])
    model.compile(optimizer=fkeras.optimizers.SGD(0.1), loss="mse", engine=engine)
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    for i in range(2):
        opt.zero_grad()
        torch.mean((ref(torch.from_numpy(x[4 * i:4 * i + 4])) - torch.from_numpy(y[4 * i:4 * i + 4])) ** 2).backward()
        opt.step()
    expected = [p.detach().numpy() for p in ref.parameters()] + [b.numpy() for b in ref.buffers()]
    chex.assert_trees_all_close([np.asarray(w) for w in model.weights], expected, atol=1e-6, rtol=1e-6)
    ref.eval()
    chex.assert_trees_all_close(np.asarray(model.predict(x, verbose=0)), ref(torch.from_numpy(x)).detach().numpy(),
                                atol=1e-6, rtol=1e-6)
    layer = model.layers[0]
    chex.assert_trees_all_close(layer.module[1].running_var.numpy(), ref[1].running_var.numpy(), **TOL)


@needs_torch
def test_torch_module_wrapper_to_torch_and_keras_file(tmp_path):
    import torch

    from fkeras.interop.torch import to_torch

    x, _ = _data()
    model = fkeras.Sequential([fkeras.Input((4,)), fkeras.layers.TorchModuleWrapper(_torch_net())])
    expected = np.asarray(model.predict(x, verbose=0))
    native = to_torch(model).eval()  # the module runs natively: torch autograd through it
    out = native(torch.from_numpy(x))
    chex.assert_trees_all_close(out.detach().numpy(), expected, atol=1e-6, rtol=1e-6)
    out.sum().backward()
    assert all(p.grad is not None for p in native.parameters())

    config = model.layers[0].get_config()
    assert list(config) == ["name", "trainable", "dtype", "module", "output_shape"]
    path = str(tmp_path / "torch.keras")
    model.save(path)
    with pytest.raises(ValueError, match="torch.load"):
        fkeras.saving.load_model(path)
    loaded = fkeras.saving.load_model(path, safe_mode=False)
    chex.assert_trees_all_close(np.asarray(loaded.predict(x, verbose=0)), expected, atol=1e-6, rtol=1e-6)


def _bn_net():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5), torch.nn.Tanh(), torch.nn.Linear(5, 3))


_KERAS_TORCH = textwrap.dedent("""
    import os, sys
    os.environ["KERAS_BACKEND"] = "torch"
    import numpy as np, torch, keras
    ours, theirs, out = sys.argv[1:4]
    x = np.load(out + ".x.npy")
    loaded = keras.saving.load_model(ours, safe_mode=False)
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    layer = keras.layers.TorchModuleWrapper(module)
    model = keras.Sequential([keras.Input((4,)), layer])
    layer(torch.from_numpy(x))  # eager, no `training`: Keras runs the module in train()
    model.save(theirs)
    np.savez(out, loaded=loaded.predict(x, verbose=0), predict=model.predict(x, verbose=0),
             running_mean=module[1].running_mean.numpy(), config_keys=np.array(list(layer.get_config())))
""")


def _vars_keys(path, layer="torch_module_wrapper"):
    h5py = pytest.importorskip("h5py")
    import io

    with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
        return sorted(f[f"layers/{layer}/vars"].keys())


@needs_torch
def test_torch_module_wrapper_keras_files_both_ways_and_train_mode_like_keras(tmp_path):
    """Keras 3.15 (torch backend, in a subprocess) reads fkeras's `.keras` file and fkeras reads Keras's: the weights
    under torch's names (`0.weight`); an eager call without `training` runs the module in train() as Keras's does."""
    x, _ = _data()
    ours_path, theirs_path, out = tmp_path / "ours.keras", tmp_path / "theirs.keras", str(tmp_path / "keras_out")
    model = fkeras.Sequential([fkeras.Input((4,)), fkeras.layers.TorchModuleWrapper(_bn_net())])
    model.layers[0](x)  # train(): BatchNorm's running statistics move, as in Keras
    expected = np.asarray(model.predict(x, verbose=0))
    model.save(str(ours_path))
    np.save(out + ".x.npy", x)
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    run = subprocess.run([sys.executable, "-c", _KERAS_TORCH, str(ours_path), str(theirs_path), out], env=env,
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    keras_out = np.load(out + ".npz")
    assert list(keras_out["config_keys"]) == list(model.layers[0].get_config())
    chex.assert_trees_all_close(np.asarray(model.layers[0].module[1].running_mean), keras_out["running_mean"], **TOL)
    chex.assert_trees_all_close(keras_out["loaded"], expected, **TOL)  # Keras read fkeras's file
    assert _vars_keys(ours_path) == _vars_keys(theirs_path) == sorted(
        ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked",
         "3.weight", "3.bias"])
    loaded = fkeras.saving.load_model(str(theirs_path), safe_mode=False)  # fkeras reads Keras's file
    chex.assert_trees_all_close(np.asarray(loaded.predict(x, verbose=0)), keras_out["predict"], **TOL)
    chex.assert_trees_all_close(np.asarray(loaded.layers[0].module[1].running_mean), keras_out["running_mean"], **TOL)


@needs_torch
def test_torch_module_wrapper_eager_training_modes():
    """No `training`: train() (batch statistics, running statistics updated); `training=False`: eval(), nothing moves."""
    import torch

    x, _ = _data()
    layer, ref = fkeras.layers.TorchModuleWrapper(_bn_net()), _bn_net()
    before = np.asarray(layer.module[1].running_mean).copy()
    chex.assert_trees_all_close(np.asarray(layer(x, training=False)), ref.eval()(torch.from_numpy(x)).detach().numpy(),
                                **TOL)
    chex.assert_trees_all_close(np.asarray(layer.module[1].running_mean), before, **TOL)
    chex.assert_trees_all_close(np.asarray(layer(x)), ref.train()(torch.from_numpy(x)).detach().numpy(), **TOL)
    chex.assert_trees_all_close(np.asarray(layer.module[1].running_mean), ref[1].running_mean.numpy(), **TOL)
    assert int(layer.module[1].num_batches_tracked) == 1


@needs_torch
def test_torch_module_wrapper_refuses_a_weights_file_of_another_module(tmp_path):
    """Names and shapes are checked before any weight changes."""
    import torch

    x, _ = _data()
    model = fkeras.Sequential([fkeras.Input((4,)), fkeras.layers.TorchModuleWrapper(_bn_net())])
    expected = np.asarray(model.predict(x, verbose=0))
    path = str(tmp_path / "w.weights.h5")
    model.save_weights(path)
    torch.manual_seed(1)
    other = fkeras.Sequential([fkeras.Input((4,)), fkeras.layers.TorchModuleWrapper(
        torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)))])
    before = [np.asarray(w).copy() for w in other.weights]
    with pytest.raises(ValueError, match=r"variables|missing|unexpected"):
        other.load_weights(path)
    chex.assert_trees_all_close([np.asarray(w) for w in other.weights], before)
    layer = model.layers[0]
    with pytest.raises(ValueError, match=r"missing \['0.weight'.*unexpected \['9.weight'\]"):
        layer.load_own_variables({"9.weight": np.zeros((5, 4), "float32")})
    with pytest.raises(ValueError, match=r"'0.weight' expects shape \(5, 4\), the file has \(4, 5\)"):
        layer.load_own_variables({k: (np.zeros((4, 5), "float32") if k == "0.weight" else v.numpy())
                                  for k, v in layer.module.state_dict().items()})
    chex.assert_trees_all_close(np.asarray(model.predict(x, verbose=0)), expected)  # the refusals changed nothing


def test_flax_layer_missing_flax_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "flax", None)
    monkeypatch.setitem(sys.modules, "flax.linen", None)
    with pytest.raises(ImportError, match=r'^FlaxLayer needs flax, which is not installed: pip install "fkeras\[flax\]"$'):
        fkeras.layers.FlaxLayer(object())


def test_nn_exports_the_pure_interop_layers_and_the_facade_views_them():
    for name in NAMES:
        nn_cls = getattr(fkeras.nn, name)
        assert issubclass(nn_cls, fkeras.nn.base.Layer) and nn_cls.__name__ == name
        assert fkeras.layers.wrapper_for(nn_cls) is getattr(fkeras.layers, name)


@needs_torch
def test_torch_module_wrapper_passes_keyword_arguments_to_the_module():
    import torch

    class Scaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(3, 2)

        def forward(self, x, scale=None, double=False):
            y = self.linear(x) * (1 if scale is None else scale)
            return 2 * y if double else y

    module = Scaled()
    layer = fkeras.layers.TorchModuleWrapper(module)
    x, scale = np.ones((2, 3), "float32"), np.full((2, 1), 3.0, "float32")
    expected = module(torch.from_numpy(x), scale=torch.from_numpy(scale), double=True)
    chex.assert_trees_all_close(np.asarray(layer(x, scale=scale, double=True)), expected.detach().numpy(), **TOL)
    tree = layer.variables_tree  # the array keyword argument is differentiable, the flag static
    grad = jax.grad(lambda s: jnp.sum(layer.nn_layer.apply(tree, x, scale=s, double=True)[0]))(scale)
    ts = torch.from_numpy(scale).requires_grad_(True)
    module(torch.from_numpy(x), scale=ts, double=True).sum().backward()
    chex.assert_trees_all_close(np.asarray(grad), ts.grad.numpy(), **TOL)


@needs_torch
def test_torch_module_wrapper_refuses_what_it_cannot_wrap():
    import torch

    with pytest.raises(TypeError, match="torch.nn.Module"):
        fkeras.layers.TorchModuleWrapper(np.zeros(3))
    with pytest.raises(ValueError, match="LazyModules"):
        fkeras.layers.TorchModuleWrapper(torch.nn.LazyLinear(3))
    jax_layer = fkeras.layers.JaxLayer(_dense_call, params=_params())  # a JAX function cannot take torch tensors
    with pytest.raises(NotImplementedError, match=r"\(or TF tensors, through jax2tf\), got torch tensors"):
        jax_layer.nn_layer.apply(jax_layer.variables_tree, torch.ones(2, 4))


# --- TFSMLayer ----------------------------------------------------------------------------------------------
@needs_tf
def test_tfsm_layer_on_fkeras_and_keras_exports_and_fit(tmp_path):
    x, y = _data()
    fkeras.utils.set_random_seed(0)
    model = fkeras.Sequential([fkeras.Input((4,)), fkeras.layers.Dense(5, activation="tanh"),
                               fkeras.layers.Dense(3)])
    model.export(str(tmp_path / "fk"), verbose=False)
    layer = fkeras.layers.TFSMLayer(str(tmp_path / "fk"))
    assert _weights_summary(layer) == _weights_summary(model)
    chex.assert_trees_all_close(np.asarray(layer(x)), np.asarray(model.predict(x, verbose=0)), atol=1e-6)
    assert layer.get_config() == {"name": "tfsm_layer", "trainable": True, "dtype": model.layers[0].get_config()[
        "dtype"], "filepath": str(tmp_path / "fk"), "call_endpoint": "serve", "call_training_endpoint": None}
    with pytest.raises(ValueError, match="disallowed by default"):
        fkeras.layers.TFSMLayer.from_config(layer.get_config())
    with pytest.raises(ValueError, match="endpoint 'nope'"):
        fkeras.layers.TFSMLayer(str(tmp_path / "fk"), call_endpoint="nope")

    # trained through the callback: the same SGD steps as the original model
    wrapped = fkeras.Sequential([fkeras.Input((4,)), layer])
    for m in (wrapped, model):
        m.compile(optimizer=fkeras.optimizers.SGD(0.1), loss="mse")
        m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    chex.assert_trees_all_close([np.asarray(w) for w in wrapped.weights], [np.asarray(w) for w in model.weights],
                                atol=1e-6)
    path = str(tmp_path / "tfsm.keras")  # the trained values travel in the .keras file; the config names the path
    wrapped.save(path)
    with pytest.raises(ValueError, match="TFSMLayer"):
        fkeras.saving.load_model(path)
    chex.assert_trees_all_close(np.asarray(fkeras.saving.load_model(path, safe_mode=False).predict(x, verbose=0)),
                                np.asarray(model.predict(x, verbose=0)), atol=1e-6)

    keras.utils.set_random_seed(0)
    kmodel = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(3)])
    kmodel.export(str(tmp_path / "k"), verbose=False)
    klayer = fkeras.layers.TFSMLayer(str(tmp_path / "k"))
    chex.assert_trees_all_close(np.asarray(klayer(x)), np.asarray(kmodel.predict(x, verbose=0)), atol=1e-6)

    # natively in TensorFlow (the TF shim): outputs, and gradients equal to the JAX ones
    import tensorflow as tf

    from fkeras.interop.tf import to_tf

    module = to_tf(wrapped)
    with tf.GradientTape() as tape:
        out = module(tf.constant(x))
        loss = tf.reduce_sum(out ** 2)
    grads = tape.gradient(loss, module.trainable_variables)
    chex.assert_trees_all_close(out.numpy(), np.asarray(wrapped.predict(x, verbose=0)), atol=1e-6)
    tree = wrapped.variables_tree
    jax_grads = jax.grad(lambda p: jnp.sum(wrapped.nn_layer.apply((p, tree.state), x)[0] ** 2))(tree.params)
    by_name = {v.name.split(":")[0]: g.numpy() for v, g in zip(module.trainable_variables, grads)}
    flat = {"/".join(str(k.key) for k in path): np.asarray(g)
            for path, g in jax.tree_util.tree_leaves_with_path(jax_grads)}
    assert set(by_name) == set(flat)
    chex.assert_trees_all_close(by_name, flat, atol=1e-5, rtol=1e-5)


@needs_tf
def test_tfsm_layer_uses_the_training_endpoint_when_training(tmp_path):
    import tensorflow as tf

    x = np.ones((4, 3), "float32")
    model = fkeras.Sequential([fkeras.Input((3,)), fkeras.layers.Dense(3, bias_initializer="ones"),
                               fkeras.layers.Dropout(0.5, seed=1)])
    archive = fkeras.export.ExportArchive()
    archive.track(model)
    spec = [tf.TensorSpec((None, 3), tf.float32)]
    archive.add_endpoint("serve", lambda v: model(v, training=False), input_signature=spec)
    archive.add_endpoint("serve_train", lambda v: model(v, training=True), input_signature=spec)
    archive.write_out(str(tmp_path / "sm"), verbose=False)
    layer = fkeras.layers.TFSMLayer(str(tmp_path / "sm"), call_training_endpoint="serve_train")
    chex.assert_trees_all_close(np.asarray(layer(x)), np.asarray(model.predict(x, verbose=0)), atol=1e-6)
    dropped = np.asarray(layer(x, training=True))
    assert 0 < int((dropped == 0).sum()) < dropped.size
    with pytest.raises(ValueError, match="endpoint 'nope'"):
        fkeras.layers.TFSMLayer(str(tmp_path / "sm"), call_training_endpoint="nope")


@needs_tf
def test_jax_layer_runs_in_tensorflow_through_jax2tf_and_exports(tmp_path):
    """As Keras runs a JaxLayer on its TF backend: the TF shim and `model.export` convert it with jax2tf."""
    import tensorflow as tf

    from fkeras.interop.tf import to_tf

    x, _ = _data()
    params = {"w": np.ones((4, 3), "float32"), "b": np.zeros(3, "float32")}
    model = fkeras.Sequential([fkeras.Input((4,)), fkeras.layers.JaxLayer(
        _stateful_call, params=params, state={"count": np.zeros((), "float32"), "mean": np.ones(3, "float32")}),
        fkeras.layers.Dense(2)])
    expected = np.asarray(model.predict(x, verbose=0))
    module = to_tf(model)
    with tf.GradientTape() as tape:
        out = module(tf.constant(x))
        loss = tf.reduce_sum(out ** 2)
    chex.assert_trees_all_close(out.numpy(), expected, atol=1e-6)
    grads = {v.name.split(":")[0]: g.numpy() for v, g in zip(module.trainable_variables,
                                                              tape.gradient(loss, module.trainable_variables))}
    tree = model.variables_tree
    jax_grads = jax.grad(lambda p: jnp.sum(model.nn_layer.apply((p, tree.state), x)[0] ** 2))(tree.params)
    chex.assert_trees_all_close(grads["jax_layer/variable_1"], np.asarray(jax_grads["jax_layer"]["variable_1"]),
                                atol=1e-5, rtol=1e-5)
    model.export(str(tmp_path / "sm"), verbose=False)
    served = fkeras.layers.TFSMLayer(str(tmp_path / "sm"))
    chex.assert_trees_all_close(np.asarray(served(x[:3])), expected[:3], atol=1e-6)  # any batch size
