"""A user's custom layer written with twenty-plus of the ops added in issue 14 (issue 14's end-to-end check).

The same layer source runs with `keras.ops` (Keras 3.15, JAX backend) and with `fkeras.ops`:
- its forward equals Keras's with the same weights, and `fit` gives Keras's losses and weights;
- the trained fkeras model runs through `fkeras.interop.torch.to_torch` and `fkeras.interop.tf.to_tf` with the
  same outputs;
- a recording proxy of `fkeras.ops` checks that the call really uses the ops listed (all new this round).
Tolerances: forward rtol=atol=1e-5; after 2 epochs of SGD rtol=atol=1e-4 (float32 reductions in other orders).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import fkeras  # noqa: E402
import fkeras.ops as fops  # noqa: E402

NEW_OPS = ("cos", "sin", "arctan", "isnan", "nan_to_num", "linspace", "tensordot", "eye", "triu", "argsort",
           "rms_normalization", "hard_swish", "norm", "cond", "fori_loop", "scan", "swapaxes", "image.resize",
           "logaddexp", "roll", "outer", "diagonal", "erfc", "cumprod")


def make_layer(lib, ops):
    """The custom layer, written against `lib` (keras or fkeras) and an ops namespace."""

    class TwentyOps(lib.layers.Layer):
        def __init__(self, units=8, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform",
                                          name="kernel")
            self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

        def call(self, x):
            o, n = ops, self.units
            h = o.matmul(x, self.kernel) + self.bias
            h = o.cos(h) + o.sin(h) * o.arctan(h)
            h = o.where(o.isnan(h), o.zeros_like(h), o.nan_to_num(h))
            h = h * o.linspace(0.5, 1.5, n)
            h = o.tensordot(h, o.eye(n) + 0.1 * o.triu(o.ones((n, n)), 1), axes=1)
            order = o.argsort(x[:, :n], axis=-1)
            h = h + 0.1 * o.take_along_axis(h, order, axis=-1)
            h = o.hard_swish(o.rms_normalization(h))
            h = h / (1.0 + o.norm(h, axis=-1, keepdims=True))
            h = o.cond(o.mean(h) > 0, lambda: h * 1.1, lambda: h * 0.9)
            h = o.fori_loop(0, 3, lambda i, a: 0.9 * a + 0.1 * o.tanh(a), h)
            _, cums = o.scan(lambda c, col: (c + col, c + col), o.zeros_like(h[:, 0]), o.swapaxes(h, 0, 1))
            h = h + 0.1 * o.swapaxes(cums, 0, 1)
            img = o.image.resize(o.reshape(h, (-1, 2, n // 2, 1)), (4, n))
            h = o.mean(o.reshape(img, (-1, 4, n)), axis=1)
            h = o.logaddexp(h, o.roll(h, 1, axis=-1))
            h = h + 0.01 * o.diagonal(o.outer(h[0], h[0]))
            h = h * o.erfc(0.1 * h)
            return h + 0.01 * o.cumprod(o.ones_like(h) * 0.9, axis=-1)

    return TwentyOps


def make_model(lib, ops):
    inp = lib.Input(shape=(10,))
    out = lib.layers.Dense(1)(make_layer(lib, ops)(8)(inp))
    model = lib.Model(inp, out)
    model.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse")
    return model


def _data():
    r = np.random.default_rng(0)
    x = r.standard_normal((32, 10)).astype(np.float32)
    return x, np.sin(x[:, :1]) + 0.1 * x[:, 1:2]


class _Recorder:
    """`fkeras.ops` that notes every op name the layer reads (`image.resize` as one name)."""

    def __init__(self, used, prefix=""):
        self._used, self._prefix = used, prefix

    def __getattr__(self, name):
        target = getattr(fops, name) if not self._prefix else getattr(getattr(fops, self._prefix[:-1]), name)
        if name == "image":
            return _Recorder(self._used, "image.")
        self._used.add(self._prefix + name)
        return target


def test_the_layer_uses_twenty_new_ops():
    from fkeras.ops import _numpy_table
    from fkeras.ops import image as fimage
    from fkeras.ops._args import PART_B_OPS

    new = set(_numpy_table.ROWS) | set(PART_B_OPS) | {f"image.{n}" for n in fimage.__all__}
    assert set(NEW_OPS) <= new, sorted(set(NEW_OPS) - new)
    used = set()
    layer = make_layer(fkeras, _Recorder(used))(8)
    layer(_data()[0][:4])
    assert set(NEW_OPS) <= used, sorted(set(NEW_OPS) - used)
    assert len(used & new) >= 20


@pytest.fixture(scope="module")
def trained():
    """The fkeras model and the Keras model from the same initial weights, both fit for 2 epochs."""
    import keras

    x, y = _data()
    km = make_model(keras, keras.ops)
    fm = make_model(fkeras, fops)
    fm.set_weights([np.asarray(w) for w in km.get_weights()])
    np.testing.assert_allclose(fm.predict(x, verbose=0), km.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    kh = km.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    fh = fm.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    return fm, km, fh, kh, x


def test_fit_equals_keras(trained):
    fm, km, fh, kh, x = trained
    np.testing.assert_allclose(fh.history["loss"], kh.history["loss"], rtol=1e-4, atol=1e-4)
    assert fh.history["loss"][-1] < fh.history["loss"][0]
    for f, k in zip(fm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(f, np.asarray(k), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fm.predict(x, verbose=0), km.predict(x, verbose=0), rtol=1e-4, atol=1e-4)


def test_to_torch_and_to_tf_give_the_same_outputs(trained):
    torch = pytest.importorskip("torch")
    tf = pytest.importorskip("tensorflow")
    from fkeras.interop.tf import to_tf
    from fkeras.interop.torch import to_torch

    fm, _, _, _, x = trained
    want = np.asarray(fm.predict(x, verbose=0))
    with torch.no_grad():
        got_torch = to_torch(fm).eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got_torch, want, rtol=1e-5, atol=1e-5)
    got_tf = np.asarray(to_tf(fm)(tf.constant(x)))
    np.testing.assert_allclose(got_tf, want, rtol=1e-5, atol=1e-5)


def test_array_free_ops_follow_the_shims_framework():
    torch = pytest.importorskip("torch")
    tf = pytest.importorskip("tensorflow")
    import jax

    from fkeras.ops._dispatch import default_framework

    assert isinstance(fops.eye(2), jax.Array)
    with default_framework("torch"):
        assert isinstance(fops.linspace(0.0, 1.0, 3), torch.Tensor)
        with default_framework("tensorflow"):
            assert tf.is_tensor(fops.eye(2))
        assert isinstance(fops.zeros((2,)), torch.Tensor)
    assert isinstance(fops.ones((2,)), jax.Array)
    with pytest.raises(ValueError, match="default_framework"):
        with default_framework("numpy"):
            pass
