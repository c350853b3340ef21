"""`fkeras.utils.set_random_seed(s)` restarts every random stream: same seed -> same model, same training."""

import numpy as np

import fkeras as keras


def build_and_fit():
    keras.nn.clear_session()
    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.layers.Input((5,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dropout(0.3), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    init = model.get_weights()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 5)).astype("float32"), rng.integers(0, 3, 40)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    return init, model.get_weights()


def test_same_seed_twice_gives_same_init_and_same_training():
    init_a, trained_a = build_and_fit()
    init_b, trained_b = build_and_fit()
    for a, b in zip(init_a + trained_a, init_b + trained_b):
        np.testing.assert_array_equal(a, b)
