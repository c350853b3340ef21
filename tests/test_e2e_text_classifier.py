"""End to end, written as a keras-io script with `import fkeras as keras`: a text classifier
(Embedding(mask_zero=True) -> Bidirectional(LSTM) -> Dense) on generated, post-padded integer sequences.
It fits and evaluates, ignores the padding (the mask reaches both directions), saves to `.keras`, loads
back, and Keras 3.15 loads the same file with the same predictions (atol=rtol=1e-5)."""

import numpy as np

import fkeras as keras
from fkeras import layers

VOCAB, MAXLEN, N = 30, 12, 256
TOL = dict(atol=1e-5, rtol=1e-5)


def _data(seed=0):
    """Sequences of 3..12 tokens from 2..29, post-padded with 0; label 1 when token 7 appears."""
    rng = np.random.default_rng(seed)
    raw = []
    for _ in range(N):
        n = int(rng.integers(3, MAXLEN + 1))
        seq = rng.integers(2, VOCAB, size=n)
        if rng.random() < 0.5:
            seq[rng.integers(0, n)] = 7
        else:
            seq[seq == 7] = 8
        raw.append(seq.tolist())
    x = keras.utils.pad_sequences(raw, maxlen=MAXLEN, padding="post")
    y = np.array([7 in s for s in raw], "float32")
    return x, y


def _model():
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=VOCAB, output_dim=16, mask_zero=True)(inputs)
    x = layers.Bidirectional(layers.LSTM(16))(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


def test_text_classifier_fits_ignores_padding_and_round_trips_to_keras(tmp_path):
    keras.utils.set_random_seed(0)
    x, y = _data()
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=12, validation_split=0.25, verbose=0)
    assert history.history["accuracy"][-1] > 0.9, history.history["accuracy"]
    x_test, y_test = _data(seed=1)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    assert acc > 0.85 and loss < history.history["loss"][0]

    # the padding is masked: more trailing zeros change nothing
    preds = model.predict(x_test, verbose=0)
    longer = np.pad(x_test, ((0, 0), (0, 5)))
    np.testing.assert_allclose(model.predict(longer, verbose=0), preds, **TOL)

    path = tmp_path / "text_classifier.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(again.predict(x_test, verbose=0), preds, **TOL)

    import keras as real_keras  # the oracle (KERAS_BACKEND=jax is set by conftest)

    theirs = real_keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(theirs.predict(x_test, verbose=0)), preds, **TOL)
    np.testing.assert_allclose(np.asarray(theirs.predict(longer, verbose=0)), preds, **TOL)

    # the same trained model runs in PyTorch through the shim, padding masked there too
    import torch

    from fkeras.interop.torch import to_torch

    module = to_torch(model).eval()
    with torch.no_grad():
        got = module(torch.from_numpy(np.asarray(longer, dtype="int32"))).numpy()
    np.testing.assert_allclose(got, preds, **TOL)
