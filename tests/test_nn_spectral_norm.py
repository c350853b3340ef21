"""SpectralNormalization (fkeras.nn.wrappers) against Keras 3.15 with the same kernel and `vector_u`: outputs
in inference and training, the new `vector_u`, power_iterations, Dense/Conv2D/Embedding, an all-zero kernel,
gradients, `fit` (Keras's JAX train step keeps the kernel and updates u: so does fkeras), configs,
`.keras` files both ways (the kernel saved twice, as Keras does), `to_torch` and clear errors.
Tolerance: float32, atol=rtol=1e-5 (gradients 1e-4)."""

import io
import json
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import keras  # noqa: E402  (KERAS_BACKEND=jax is set by conftest)

import fkeras
from fkeras import nn

TOL = dict(atol=1e-5, rtol=1e-5)
RNG = np.random.default_rng(0)
XD = RNG.normal(size=(4, 5)).astype("float32")
XC = RNG.normal(size=(2, 6, 6, 2)).astype("float32")
XE = np.array([[0, 3, 5], [2, 2, 1]], "int32")


def _pair(kind, x, seed=1, power_iterations=1):
    """A built Keras wrapper with random weights and u, and the fkeras layer with the same Variables."""
    make = {"Dense": lambda m: m.Dense(3, name="inner"),
            "Conv2D": lambda m: m.Conv2D(3, 2, name="inner"),
            "Embedding": lambda m: m.Embedding(6, 4, name="inner")}[kind]
    kl = keras.layers.SpectralNormalization(make(keras.layers), power_iterations=power_iterations)
    kl.build(x.shape)
    rng = np.random.default_rng(seed)
    for w in kl.weights:
        w.assign(rng.normal(size=w.shape).astype("float32"))
    fl = nn.SpectralNormalization(make(nn), power_iterations=power_iterations)
    leaves = {w.path.split("/", 1)[1]: np.asarray(w) for w in kl.weights}
    inner = {k.split("/")[1]: v for k, v in leaves.items() if k.startswith("inner/")}
    v = nn.Variables({"inner": inner}, {"vector_u": leaves["vector_u"]})
    shapes = fl.init(jax.random.key(0), x.shape)
    assert jax.tree.map(jnp.shape, shapes) == jax.tree.map(jnp.shape, v)
    return kl, fl, v


@pytest.mark.parametrize("kind,x", [("Dense", XD), ("Conv2D", XC), ("Embedding", XE)])
@pytest.mark.parametrize("power_iterations", [1, 3])
def test_training_and_inference_match_keras(kind, x, power_iterations):
    kl, fl, v = _pair(kind, x, power_iterations=power_iterations)
    fy, state = fl.apply(v, x)
    np.testing.assert_allclose(np.asarray(fy), np.asarray(kl(x)), **TOL)
    np.testing.assert_array_equal(np.asarray(state["vector_u"]), np.asarray(v.state["vector_u"]))
    for _ in range(2):  # two training calls: u moves on, the output uses kernel / sigma
        fy, state = fl.apply(v, x, training=True)
        ky = kl(x, training=True)
        np.testing.assert_allclose(np.asarray(fy), np.asarray(ky), **TOL)
        np.testing.assert_allclose(np.asarray(state["vector_u"]), np.asarray(kl.vector_u), **TOL)
        v = nn.Variables(v.params, state)
    assert np.asarray(fy).dtype == np.asarray(ky).dtype  # Keras casts to the input dtype (int for Embedding)


def test_zero_kernel_is_left_alone():
    kl, fl, v = _pair("Dense", XD)
    kl.layer.kernel.assign(np.zeros((5, 3), "float32"))
    v = nn.Variables({"inner": {**v.params["inner"], "kernel": np.zeros((5, 3), "float32")}}, v.state)
    fy, state = fl.apply(v, XD, training=True)
    np.testing.assert_allclose(np.asarray(fy), np.asarray(kl(XD, training=True)), **TOL)
    np.testing.assert_array_equal(np.asarray(state["vector_u"]), np.asarray(v.state["vector_u"]))
    assert np.isfinite(np.asarray(fy)).all()


def test_gradients_match_keras():
    kl, fl, v = _pair("Dense", XD, power_iterations=2)

    def f_loss(p, x):
        return jnp.sum(jnp.sin(fl.apply(nn.Variables(p, v.state), x, training=True)[0]))

    def k_loss(tv, x):
        return jnp.sum(jnp.sin(kl.stateless_call(tv, ntv, x, training=True)[0]))

    tv = [jnp.asarray(w) for w in kl.trainable_weights]
    ntv = [jnp.asarray(w) for w in kl.non_trainable_weights]
    kg, kgx = jax.grad(k_loss, argnums=(0, 1))(tv, XD)
    fg, fgx = jax.grad(f_loss, argnums=(0, 1))(v.params, XD)
    for w, g in zip(kl.trainable_weights, kg):
        np.testing.assert_allclose(np.asarray(fg["inner"][w.name]), np.asarray(g), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(fgx), np.asarray(kgx), atol=1e-4, rtol=1e-4)


def _path(w):
    """A weight's path inside the model (without the model's name, which both prefix)."""
    return w.path[2:] if w.path.startswith("m/") else w.path


def _models():
    def build(m):
        return m.Sequential([m.Input((5,)), m.layers.SpectralNormalization(m.layers.Dense(3, name="d1"), power_iterations=2,
                                                          name="sn"), m.layers.Dense(2, name="d2")], name="m")

    km, fm = build(keras), build(fkeras)
    rng = np.random.default_rng(4)
    values = {_path(w): rng.normal(size=w.shape).astype("float32") for w in km.weights}
    for w in km.weights:
        w.assign(values[_path(w)])
    for w in fm.weights:
        w.assign(values[_path(w)])
    return km, fm


def test_fit_matches_keras():
    y = np.random.default_rng(2).normal(size=(4, 2)).astype("float32")
    km, fm = _models()
    for m, k in ((km, keras), (fm, fkeras)):
        m.compile(k.optimizers.SGD(0.1), "mse")
        m.fit(XD, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    kw = {_path(w): np.asarray(w) for w in km.weights}
    fw = {_path(w): np.asarray(w) for w in fm.weights}
    assert kw.keys() == fw.keys()
    for path in kw:
        np.testing.assert_allclose(fw[path], kw[path], atol=1e-5, rtol=1e-5, err_msg=path)
    np.testing.assert_allclose(fm.predict(XD, verbose=0), km.predict(XD, verbose=0), **TOL)


def _paths(path):
    import h5py

    out = {}
    with zipfile.ZipFile(path) as z:
        h = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
        h.visititems(lambda n, o: out.__setitem__(n, np.asarray(o)) if hasattr(o, "shape") else None)
    return out


def test_keras_files_both_ways_and_to_torch(tmp_path):
    km, fm = _models()
    ours = fm.predict(XD, verbose=0)
    fm.save(tmp_path / "f.keras")
    km.save(tmp_path / "k.keras")
    fp, kp = _paths(tmp_path / "f.keras"), _paths(tmp_path / "k.keras")
    assert fp.keys() == kp.keys()
    for k in kp:
        np.testing.assert_array_equal(fp[k], kp[k], err_msg=k)
    np.testing.assert_array_equal(kp["layers/spectral_normalization/vars/0"], kp["layers/spectral_normalization/layer/vars/0"])
    loaded = keras.saving.load_model(tmp_path / "f.keras")
    np.testing.assert_allclose(loaded.predict(XD, verbose=0), ours, **TOL)
    back = fkeras.saving.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(back.predict(XD, verbose=0), ours, **TOL)
    u = {w.path: np.asarray(w) for w in back.weights}["sn/vector_u"]
    np.testing.assert_array_equal(u, kp["layers/spectral_normalization/vars/1"])

    torch = pytest.importorskip("torch")
    from fkeras.interop.torch import to_torch

    module = to_torch(fm).eval()
    np.testing.assert_allclose(module(torch.from_numpy(XD)).detach().numpy(), ours, **TOL)


def test_config_equals_keras_and_round_trips():
    def plain(c):
        return json.loads(json.dumps(c))

    def make(m):
        return m.SpectralNormalization(m.Conv2D(2, 3, name="c"), power_iterations=4, name="sn")

    kcfg = plain(make(keras.layers).get_config())
    fl = make(nn)
    assert plain(fl.get_config()) == kcfg
    assert plain(nn.SpectralNormalization.from_config(kcfg).get_config()) == kcfg
    assert fl.power_iterations == 4 and fl.layer.name == "c"


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="power_iterations"):
        nn.SpectralNormalization(nn.Dense(2), power_iterations=0)
    with pytest.raises(ValueError, match="'kernel' nor 'embeddings'"):
        nn.SpectralNormalization(nn.LayerNormalization()).init(jax.random.key(0), XD.shape)
    with pytest.raises(TypeError, match="layer"):
        nn.SpectralNormalization("dense")


def test_to_tf_equal_outputs():
    pytest.importorskip("tensorflow")
    from fkeras.interop.tf import to_tf

    _, fl, v = _pair("Conv2D", XC)
    np.testing.assert_allclose(np.asarray(to_tf(fl, v)(XC)), np.asarray(fl.apply(v, XC)[0]), **TOL)
