"""End to end, written as a keras-io script with `import fkeras as keras`: a transformer block (token and
positional embeddings in a user layer, MultiHeadAttention with `use_causal_mask=True`, residuals,
LayerNormalization, a Dense feed-forward) learns a tiny copy task (predict the previous token), saves to
`.keras`, loads back, and Keras 3.15 loads the same file with the same predictions (atol=rtol=1e-5)."""

import numpy as np

import fkeras as keras
from fkeras import layers, ops

VOCAB, T, D = 10, 8, 32
TOL = dict(atol=1e-5, rtol=1e-5)


def _embedding_class(K, registered):
    """The keras-io `TokenAndPositionEmbedding`, written against the Keras-like module `K`."""

    class TokenAndPositionEmbedding(K.layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.maxlen, self.vocab_size, self.embed_dim = maxlen, vocab_size, embed_dim
            self.token_emb = K.layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = K.layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x):
            positions = K.ops.arange(start=0, stop=K.ops.shape(x)[-1], step=1)
            return self.token_emb(x) + self.pos_emb(positions)

        def get_config(self):
            return {**super().get_config(), "maxlen": self.maxlen, "vocab_size": self.vocab_size,
                    "embed_dim": self.embed_dim}

    return K.saving.register_keras_serializable(package=registered)(TokenAndPositionEmbedding)


TokenAndPositionEmbedding = _embedding_class(keras, "e2e_transformer")


def _model():
    inputs = keras.Input(shape=(T,), dtype="int32")
    x = TokenAndPositionEmbedding(T, VOCAB, D)(inputs)
    attn = layers.MultiHeadAttention(num_heads=2, key_dim=D // 2)(x, x, use_causal_mask=True)
    x = layers.LayerNormalization(epsilon=1e-6)(x + attn)
    ffn = layers.Dense(2 * D, activation="relu")(x)
    ffn = layers.Dense(D)(ffn)
    x = layers.LayerNormalization(epsilon=1e-6)(x + ffn)
    outputs = layers.Dense(VOCAB)(x)
    return keras.Model(inputs, outputs)


def _copy_data(n, seed):
    """Targets are the inputs shifted right by one (the previous token; 0 at the first step)."""
    x = np.random.default_rng(seed).integers(1, VOCAB, size=(n, T)).astype("int32")
    y = np.concatenate([np.zeros((n, 1), "int32"), x[:, :-1]], axis=1)
    return x, y


def test_transformer_block_learns_copy_task_and_round_trips_to_keras(tmp_path):
    keras.utils.set_random_seed(0)
    x, y = _copy_data(1024, seed=0)
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(x, y, batch_size=64, epochs=15, verbose=0)
    x_test, y_test = _copy_data(128, seed=1)
    preds = model.predict(x_test, verbose=0)
    acc = np.mean(preds.argmax(-1)[:, 1:] == y_test[:, 1:])
    assert acc > 0.95, (acc, history.history["loss"][-3:])

    # causal: changing the last token changes nothing before it
    changed = x_test.copy()
    changed[:, -1] = (changed[:, -1] % (VOCAB - 1)) + 1
    other = model.predict(changed, verbose=0)
    np.testing.assert_allclose(other[:, :-1], preds[:, :-1], **TOL)
    assert not np.allclose(other[:, -1], preds[:, -1])

    path = tmp_path / "transformer.keras"
    model.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path).predict(x_test, verbose=0), preds, **TOL)

    import keras as real_keras  # the oracle (KERAS_BACKEND=jax is set by conftest)

    theirs_cls = _embedding_class(real_keras, "e2e_transformer")
    theirs = real_keras.saving.load_model(path, custom_objects={"TokenAndPositionEmbedding": theirs_cls})
    np.testing.assert_allclose(np.asarray(theirs.predict(x_test, verbose=0)), preds, **TOL)
    assert ops.shape(preds) == (128, T, VOCAB)

    # the same trained model runs in PyTorch through the shim (causal and padding masks included)
    import torch

    from fkeras.interop.torch import to_torch

    module = to_torch(model).eval()
    with torch.no_grad():
        got = module(torch.from_numpy(np.asarray(x_test, dtype="int32"))).numpy()
    np.testing.assert_allclose(got, np.asarray(preds), **TOL)
