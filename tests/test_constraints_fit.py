"""Weight constraints hold after every optimizer update in fit, as in Keras."""

import numpy as np

import fkeras as keras


def test_non_neg_and_max_norm_hold_after_fit():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 6)).astype("float32"), rng.normal(size=(64, 3)).astype("float32")
    model = keras.Sequential([
        keras.layers.Input((6,)),
        keras.layers.Dense(5, kernel_constraint=keras.constraints.NonNeg()),
        keras.layers.Dense(3, kernel_constraint=keras.constraints.MaxNorm(0.5)),
    ])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    k1, _, k2, _ = model.get_weights()
    assert k1.min() >= 0.0
    assert np.sqrt((k2 ** 2).sum(axis=0)).max() <= 0.5 + 1e-6
