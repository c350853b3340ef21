"""fit on every data source gives the weights fit on the same NumPy arrays gives
(shuffle off, same initial weights, same seed)."""

import chex
import numpy as np
import pytest

import fkeras
from fkeras.utils import PyDataset

N, BS, EPOCHS = 48, 8, 2


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 4))  # float64 and int64 on purpose: cast like Keras
    y = rng.integers(0, 3, size=(N,))
    return x, y


class _Batches(PyDataset):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def __len__(self):
        return N // BS

    def __getitem__(self, i):
        return self.x[i * BS:(i + 1) * BS], self.y[i * BS:(i + 1) * BS]


_MODEL = []


def _fit(init, *args, **kw):
    """Fit one shared model (compiled once: every source yields the same shapes and dtypes)
    from the same initial weights; plain SGD carries no state between fits."""
    if not _MODEL:
        model = fkeras.Sequential([fkeras.layers.Input((4,)), fkeras.layers.Dense(8, activation="relu"),
                                   fkeras.layers.Dense(3, activation="softmax")])
        model.compile(optimizer=fkeras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        _MODEL.append(model)
    model = _MODEL[0]
    fkeras.utils.set_random_seed(0)
    model.set_weights(init)
    model.fit(*args, epochs=EPOCHS, verbose=0, **kw)
    return model.get_weights()


def test_fit_on_every_source_equals_fit_on_numpy():
    x, y = _data()
    fkeras.utils.set_random_seed(1)
    probe = fkeras.Sequential([fkeras.layers.Input((4,)), fkeras.layers.Dense(8, activation="relu"),
                               fkeras.layers.Dense(3, activation="softmax")])
    init = probe.get_weights()
    want = _fit(init, x, y, batch_size=BS, shuffle=False)
    assert not all(np.array_equal(a, b) for a, b in zip(want, init))  # training moved the weights

    got = {"PyDataset": _fit(init, _Batches(x, y), shuffle=False)}  # fit shuffles PyDatasets by default

    def gen():
        for _ in range(EPOCHS):
            for i in range(N // BS):
                yield x[i * BS:(i + 1) * BS], y[i * BS:(i + 1) * BS]

    got["generator"] = _fit(init, gen(), steps_per_epoch=N // BS)
    try:
        import torch

        ds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
        got["torch DataLoader"] = _fit(init, torch.utils.data.DataLoader(ds, batch_size=BS, shuffle=False))
    except ImportError:
        pass
    try:
        import tensorflow as tf

        got["tf.data"] = _fit(init, tf.data.Dataset.from_tensor_slices((x, y)).batch(BS))
    except ImportError:
        pass
    for name, weights in got.items():
        # Same batches, same dtypes, same order -> the same float32 arithmetic; tolerance 1e-6.
        chex.assert_trees_all_close(weights, want, atol=1e-6, rtol=1e-6, custom_message=name)
    assert len(got) >= 2


def test_validation_data_may_be_any_source():
    pytest.importorskip("torch")
    import torch

    x, y = _data()
    model = fkeras.Sequential([fkeras.layers.Input((4,)), fkeras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    val = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                      batch_size=16)
    hist = model.fit(x, y, batch_size=BS, epochs=1, verbose=0, validation_data=val)
    assert "val_loss" in hist.history and np.isfinite(hist.history["val_loss"][0])
