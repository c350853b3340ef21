"""Keras masks end to end, against Keras 3.15 (JAX backend) with the same weights: `Embedding(mask_zero=True)`
and `Masking` make masks; eager outputs carry `_keras_mask`; masks travel through Sequential and Functional
models (recorded in functional configs as Keras records them) to RNNs, attention, pooling and merge layers;
`compute_mask`/`supports_masking` on your own layers; the output mask weighs losses and metrics in
evaluate and fit as Keras does. The masking guide's code runs with `import fkeras as keras`.
Tolerances: float32 forward atol=rtol=1e-5; after a fit step 1e-5."""

import gc
import json

import jax
import numpy as np
import pytest

import keras  # noqa: E402  (KERAS_BACKEND=jax is set by conftest)

import fkeras
from fkeras import nn
from fkeras.nn import masking

TOL = dict(atol=1e-5, rtol=1e-5)
RNG = np.random.default_rng(0)
IDS = RNG.integers(1, 20, size=(6, 7)).astype("int32")
for _i, _n in enumerate([7, 3, 5, 1, 6, 2]):
    IDS[_i, _n:] = 0
TARGETS = RNG.integers(0, 3, size=(6, 7)).astype("int32")


def _copy_weights(src, dst):
    dst.set_weights([np.asarray(w) for w in src.get_weights()])


# --- the masking guide --------------------------------------------------------------------------
def _guide(K):
    """The code of keras.io's "Understanding masking & padding" guide with `K` as `keras`; returns the
    masks it prints."""
    layers, ops = K.layers, K.ops
    out = {}
    raw = [[711, 632, 71], [73, 8, 3215, 55, 927], [83, 91, 1, 645, 1253, 927]]
    padded = K.utils.pad_sequences(raw, padding="post")
    out["embedding"] = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(padded)._keras_mask
    unmasked = ops.cast(ops.tile(ops.expand_dims(padded, axis=-1), [1, 1, 10]), dtype="float32")
    masked = layers.Masking()(unmasked)
    out["masking"] = masked._keras_mask

    class MyLayer(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.embedding = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
            self.lstm = layers.LSTM(4)

        def call(self, inputs):
            x = self.embedding(inputs)
            mask = self.embedding.compute_mask(inputs)
            return self.lstm(x, mask=mask)

    out["my_layer_shape"] = np.asarray(MyLayer()(padded)).shape

    class TemporalSplit(layers.Layer):
        def call(self, inputs):
            return ops.split(inputs, 2, axis=1)

        def compute_mask(self, inputs, mask=None):
            return None if mask is None else ops.split(mask, 2, axis=1)

    first, second = TemporalSplit()(masked)
    out["split"] = (first._keras_mask, second._keras_mask)

    class CustomEmbedding(layers.Layer):
        def __init__(self, input_dim, output_dim, mask_zero=False, **kwargs):
            super().__init__(**kwargs)
            self.input_dim, self.output_dim, self.mask_zero = input_dim, output_dim, mask_zero

        def build(self, input_shape):
            self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim), initializer="random_normal",
                                              dtype="float32")

        def call(self, inputs):
            return ops.take(self.embeddings, ops.cast(inputs, "int32"))

        def compute_mask(self, inputs, mask=None):
            return ops.not_equal(inputs, 0) if self.mask_zero else None

    custom = CustomEmbedding(10, 4, mask_zero=True)
    out["custom_eager"] = custom(IDS % 10)._keras_mask
    out["custom_compute"] = custom.compute_mask(IDS % 10)

    class MyActivation(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs):
            return ops.relu(inputs)

    class TemporalSoftmax(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            assert mask is not None
            m = ops.expand_dims(ops.cast(mask, "float32"), -1)
            e = ops.exp(inputs) * m
            return e / ops.sum(e * m, axis=-1, keepdims=True)

    inputs = K.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=10, output_dim=4, mask_zero=True)(inputs)
    x = MyActivation()(x)
    out["symbolic_has_mask"] = x._keras_mask is not None
    x = layers.Dense(1)(x)
    model = K.Model(inputs, TemporalSoftmax()(x))
    y = model(IDS % 10)
    out["softmax_out_mask"] = y._keras_mask
    out["softmax_zero_where_masked"] = bool(np.all(np.asarray(y)[~np.asarray(IDS % 10 != 0)] == 0))
    return out


def test_masking_guide_runs_and_gives_keras_masks():
    got, want = _guide(fkeras), _guide(keras)
    for k in want:
        w, g = want[k], got[k]
        if isinstance(w, tuple) and not isinstance(w[0], (int, np.integer)):
            for a, b in zip(g, w):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        else:
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w), err_msg=k)


# --- layers making and using masks ------------------------------------------------------------
def test_embedding_and_masking_masks_match_keras():
    e = fkeras.layers.Embedding(input_dim=20, output_dim=3, mask_zero=True)
    np.testing.assert_array_equal(np.asarray(e(IDS)._keras_mask), IDS != 0)
    assert fkeras.layers.Embedding(20, 3)(IDS).__dict__.get("_keras_mask") is None
    x = RNG.normal(size=(3, 4, 2)).astype("float32")
    x[0, 1] = 0.5
    x[2, 3] = 0.5
    km, fm = keras.layers.Masking(mask_value=0.5, name="m"), fkeras.layers.Masking(mask_value=0.5, name="m")
    ky, fy = km(x), fm(x)
    np.testing.assert_array_equal(np.asarray(fy._keras_mask), np.asarray(ky._keras_mask))
    np.testing.assert_allclose(np.asarray(fy), np.asarray(ky), **TOL)
    assert fm.get_config() == km.get_config()
    with pytest.raises(ValueError, match="mask_value"):
        nn.Masking(mask_value="zero")


@pytest.mark.parametrize("kind", ["lstm_seq", "bidirectional", "gap1d", "attention"])
def test_sequential_mask_reaches_layers_like_keras(kind):
    def build(K):
        L = K.layers
        head = {
            "lstm_seq": [L.LSTM(4, return_sequences=True), L.Dense(2)],
            "bidirectional": [L.Bidirectional(L.SimpleRNN(3, return_sequences=True)), L.SimpleRNN(2)],
            "gap1d": [L.Dense(4), L.Dropout(0.5), L.GlobalAveragePooling1D()],
            "attention": [L.LayerNormalization(), L.Activation("tanh"), L.SimpleRNN(3)],
        }[kind]
        return K.Sequential([K.Input((7,), dtype="int32"), L.Embedding(20, 5, mask_zero=True), *head])

    km, fm = build(keras), build(fkeras)
    _copy_weights(km, fm)
    ky, fy = km(IDS), fm(IDS)
    np.testing.assert_allclose(np.asarray(fy), np.asarray(ky), **TOL)
    kmask = getattr(ky, "_keras_mask", None)
    fmask = masking.get_keras_mask(fy)
    assert (kmask is None) == (fmask is None)
    if kmask is not None:
        np.testing.assert_array_equal(np.asarray(fmask), np.asarray(kmask))
    # without the mask the numbers differ (so the comparison above saw the mask)
    plain = fkeras.Sequential([fkeras.Input((7,), dtype="int32"), fkeras.layers.Embedding(20, 5)]
                              + [type(l).from_config(l.get_config()) for l in fm.layers[1:]])
    _copy_weights(fm, plain)
    assert not np.allclose(np.asarray(plain(IDS)), np.asarray(fy), atol=1e-4)


def _functional(K):
    L = K.layers
    inp = K.Input((None,), dtype="int32", name="ids")
    e = L.Embedding(20, 4, mask_zero=True, name="emb")(inp)
    a = L.Dense(4, name="proj")(e)
    s = L.Add(name="add")([a, e])
    c = L.Concatenate(name="concat")([s, e])
    m = L.MultiHeadAttention(2, 3, name="mha")(c, c)
    r = L.SimpleRNN(3, return_sequences=True, name="rnn")(m)
    g = L.GlobalAveragePooling1D(name="gap")(r)
    return K.Model(inp, [g, r])


def _node_summary(model):
    """(class, name, kwargs names) per layer of the functional config (the recorded mask edges)."""
    out = []
    for layer in model.get_config()["layers"]:
        nodes = layer["inbound_nodes"]
        kw = sorted(k for n in nodes for k, v in n.get("kwargs", {}).items() if k == "mask" and v is not None)
        out.append((layer["class_name"], kw))
    return out


def test_functional_masks_match_keras_numbers_config_and_files(tmp_path):
    km, fm = _functional(keras), _functional(fkeras)
    _copy_weights(km, fm)
    ky, fy = km(IDS), fm(IDS)
    for a, b in zip(fy, ky):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), **TOL)
    np.testing.assert_array_equal(np.asarray(fy[1]._keras_mask), np.asarray(ky[1]._keras_mask))
    assert masking.get_keras_mask(fy[0]) is None
    # the mask computations are graph operations, recorded as Keras records them
    assert sorted(_node_summary(fm)) == sorted(_node_summary(km))
    # Keras loads fkeras's file (and the reverse) with the same predictions
    fm.save(tmp_path / "f.keras")
    back = keras.saving.load_model(tmp_path / "f.keras")
    for a, b in zip(back(IDS), ky):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), **TOL)
    km.save(tmp_path / "k.keras")
    fback = fkeras.saving.load_model(tmp_path / "k.keras")
    for a, b in zip(fback(IDS), ky):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), **TOL)


def test_masked_loss_and_metrics_in_evaluate_and_fit_match_keras():
    def build(K):
        return K.Sequential([K.Input((7,), dtype="int32"), K.layers.Embedding(20, 4, mask_zero=True),
                             K.layers.SimpleRNN(5, return_sequences=True), K.layers.Dense(3)])

    km, fm = build(keras), build(fkeras)
    _copy_weights(km, fm)
    sw = RNG.uniform(0.5, 2.0, size=(6, 7)).astype("float32")
    for K, m in ((keras, km), (fkeras, fm)):
        m.compile(optimizer=K.optimizers.SGD(0.5), loss=K.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], weighted_metrics=["sparse_categorical_crossentropy"])
    kres = km.evaluate(IDS, TARGETS, sample_weight=sw, verbose=0, return_dict=True)
    fres = fm.evaluate(IDS, TARGETS, sample_weight=sw, verbose=0, return_dict=True)
    assert set(fres) == set(kres)
    for k in kres:
        np.testing.assert_allclose(fres[k], kres[k], **TOL, err_msg=k)
    unmasked = fkeras.Sequential([fkeras.Input((7,), dtype="int32"), fkeras.layers.Embedding(20, 4),
                                  fkeras.layers.SimpleRNN(5, return_sequences=True), fkeras.layers.Dense(3)])
    _copy_weights(fm, unmasked)
    unmasked.compile(loss=fkeras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    assert abs(unmasked.evaluate(IDS, TARGETS, verbose=0, return_dict=True)["loss"] - kres["loss"]) > 1e-3
    kh = km.fit(IDS, TARGETS, batch_size=6, epochs=2, shuffle=False, verbose=0)
    fh = fm.fit(IDS, TARGETS, batch_size=6, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(fh.history["loss"], kh.history["loss"], **TOL)
    np.testing.assert_allclose(fh.history["accuracy"], kh.history["accuracy"], **TOL)
    for a, b in zip(fm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, **TOL)


def test_user_layer_gets_mask_inside_jitted_fit_and_predict():
    seen = []

    class Pool(fkeras.layers.Layer):
        def call(self, x, mask=None):
            seen.append(mask is not None)
            w = fkeras.ops.expand_dims(fkeras.ops.cast(mask, x.dtype), -1)
            return fkeras.ops.sum(x * w, axis=1) / fkeras.ops.sum(w, axis=1)

    model = fkeras.Sequential([fkeras.Input((7,), dtype="int32"), fkeras.layers.Embedding(20, 4, mask_zero=True),
                               fkeras.layers.Dense(4), Pool(), fkeras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(IDS, np.ones((6, 1), "float32"), epochs=1, verbose=0)
    y = model.predict(IDS, verbose=0)
    assert seen and all(seen)
    # the masked steps do not change the output: change the padded ids' embeddings' neighbours
    ids2 = IDS.copy()
    assert np.allclose(model.predict(ids2, verbose=0), y)
    emb = np.asarray(model.layers[0].embeddings)
    emb2 = emb.copy()
    emb2[0] += 10.0  # the padding row
    model.layers[0].embeddings.assign(emb2)
    np.testing.assert_allclose(model.predict(IDS, verbose=0), y, **TOL)


def test_merge_layer_masks_and_errors():
    a, b = np.ones((2, 3, 4), "float32"), np.ones((2, 3, 4), "float32")
    ma, mb = np.array([[1, 1, 0], [1, 0, 0]], bool), np.array([[1, 0, 0], [1, 1, 0]], bool)
    for name in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot"):
        args = (1,) if name == "Dot" else ()
        kl, fl = getattr(keras.layers, name)(*args), getattr(fkeras.layers, name)(*args)
        for masks in ([ma, mb], [ma, None], None):
            want = kl.compute_mask([a, b], masks)
            got = fl.compute_mask([a, b], masks)
            assert (want is None) == (got is None), (name, masks)
            if want is not None:
                np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    with pytest.raises(ValueError, match="one mask per input"):
        nn.Add().compute_mask([a, b], [ma])
    with pytest.raises(ValueError, match="as a list"):
        nn.Add().compute_mask([a, b], ma)


def test_rnn_and_attention_compute_mask_structures_match_keras():
    x = np.ones((2, 3, 4), "float32")
    m = np.array([[1, 1, 0], [1, 0, 0]], bool)
    cases = [("LSTM", dict(return_sequences=True, return_state=True)), ("GRU", dict(return_state=True)),
             ("SimpleRNN", dict(return_sequences=True))]
    for name, kw in cases:
        k, f = getattr(keras.layers, name)(2, **kw), getattr(fkeras.layers, name)(2, **kw)
        want, got = k.compute_mask(x, m), f.compute_mask(x, m)
        assert jax.tree_util.tree_structure(got, is_leaf=lambda v: v is None) == \
            jax.tree_util.tree_structure(list(want) if isinstance(want, (list, tuple)) else want,
                                         is_leaf=lambda v: v is None)
    for mode in ("concat", None):
        k = keras.layers.Bidirectional(keras.layers.LSTM(2, return_sequences=True), merge_mode=mode)
        f = fkeras.layers.Bidirectional(fkeras.layers.LSTM(2, return_sequences=True), merge_mode=mode)
        want, got = k.compute_mask(x, m), f.compute_mask(x, m)
        assert len(jax.tree_util.tree_leaves(got)) == len(jax.tree_util.tree_leaves(want))
    ka, fa = keras.layers.Attention(), fkeras.layers.Attention()
    np.testing.assert_array_equal(np.asarray(fa.compute_mask([x, x], [m, None])), np.asarray(ka.compute_mask([x, x], [m, None])))
    assert fa.compute_mask([x, x], None) is None
    # masks reach Attention through a Functional model and match Keras's numbers
    def build(K):
        q = K.Input((None,), dtype="int32")
        e = K.layers.Embedding(20, 4, mask_zero=True)(q)
        return K.Model(q, K.layers.Attention()([e, e]))

    km, fm = build(keras), build(fkeras)
    _copy_weights(km, fm)
    np.testing.assert_allclose(np.asarray(fm(IDS)), np.asarray(km(IDS)), **TOL)


def test_supports_masking_defaults_follow_keras():
    for name in ("Dense", "Dropout", "LSTM", "Embedding", "Masking", "MultiHeadAttention", "LayerNormalization",
                 "Conv1D", "Flatten", "GlobalAveragePooling1D", "GlobalMaxPooling1D", "Add", "Concatenate", "ReLU"):
        cls_k, cls_f = getattr(keras.layers, name), getattr(fkeras.layers, name)
        args = {"Dense": (2,), "Dropout": (0.1,), "LSTM": (2,), "Embedding": (3, 2), "MultiHeadAttention": (1, 2),
                "Conv1D": (2, 1)}.get(name, ())
        assert cls_f(*args).supports_masking == cls_k(*args).supports_masking, name

    class Plain(fkeras.layers.Layer):
        def call(self, x):
            return x

    class WithMask(Plain):
        def compute_mask(self, inputs, previous_mask=None):
            return previous_mask

    assert not Plain().supports_masking and WithMask().supports_masking
    p = Plain()
    p.supports_masking = True
    assert p.supports_masking


def test_mask_registry_follows_tracers_and_forgets_them():
    before = set(masking._registry)  # (another test's tracer may legitimately still be alive in this process)

    @jax.jit
    def f(x):
        y = x * 2
        masking.set_keras_mask(y, x > 0)
        return masking.get_keras_mask(y).astype("float32")

    np.testing.assert_array_equal(np.asarray(f(np.array([1.0, -1.0]))), [1.0, 0.0])
    gc.collect()
    assert not set(masking._registry) - before  # this test's entries died with its tracers


def test_masked_models_run_in_torch_with_equal_outputs():
    import torch

    from fkeras.interop.torch import to_torch

    inputs = fkeras.Input(shape=(None,), dtype="int32")
    x = fkeras.layers.Embedding(input_dim=20, output_dim=4, mask_zero=True)(inputs)
    x = fkeras.layers.Bidirectional(fkeras.layers.SimpleRNN(3, return_sequences=True))(x)
    x = fkeras.layers.GlobalAveragePooling1D()(x)
    model = fkeras.Model(inputs, fkeras.layers.Dense(1)(x))
    want = np.asarray(model(IDS))
    got = to_torch(model)(torch.tensor(IDS)).detach().numpy()
    np.testing.assert_allclose(got, want, **TOL)
    # the padding is masked in torch too
    longer = np.pad(IDS, ((0, 0), (0, 3)))
    np.testing.assert_allclose(to_torch(model)(torch.tensor(longer)).detach().numpy(), want, **TOL)


def test_subclassed_model_passes_masks_implicitly_like_keras():
    def build(K):
        class Classifier(K.Model):
            def __init__(self):
                super().__init__()
                self.emb = K.layers.Embedding(20, 4, mask_zero=True)
                self.rnn = K.layers.SimpleRNN(3)
                self.out = K.layers.Dense(1)

            def call(self, inputs):
                return self.out(self.rnn(self.emb(inputs)))  # the RNN finds the Embedding's mask itself

        model = Classifier()
        model(IDS)
        return model

    km, fm = build(keras), build(fkeras)
    _copy_weights(km, fm)
    want = np.asarray(km(IDS))
    np.testing.assert_allclose(np.asarray(fm(IDS)), want, **TOL)
    fm.compile(loss="mse")
    np.testing.assert_allclose(fm.predict(IDS, verbose=0), want, **TOL)  # jitted: the mask travels on tracers


@pytest.mark.parametrize("direction", ["keras_to_fkeras", "fkeras_to_keras"])
def test_masking_layer_models_load_both_ways(tmp_path, direction):
    x = RNG.normal(size=(3, 5, 2)).astype("float32")
    x[0, 3:] = 0.0
    x[2, 1] = 0.0

    def build(K):
        return K.Sequential([K.Input((5, 2)), K.layers.Masking(), K.layers.SimpleRNN(3)])

    src_mod, dst_mod = (keras, fkeras) if direction == "keras_to_fkeras" else (fkeras, keras)
    src = build(src_mod)
    want = np.asarray(src(x))
    src.save(tmp_path / "m.keras")
    dst = dst_mod.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(dst(x)), want, **TOL)
    trimmed = x.copy()
    trimmed[0, 3:] = 5.0  # unmasked values where the mask was: the output changes
    assert not np.allclose(np.asarray(dst(trimmed)), want, atol=1e-4)


def test_keyword_tensor_arguments_follow_keras_mask_rules():
    """A keyword tensor (MultiHeadAttention's `key=`) gets its `key_mask`; an RNN given `initial_state=` has
    two tensor arguments, so (as in Keras) no automatic `mask`."""
    def build(K):
        q = K.Input((None,), dtype="int32")
        e = K.layers.Embedding(20, 4, mask_zero=True)(q)
        m = K.layers.MultiHeadAttention(2, 2)(e, e, key=K.layers.Dense(4)(e))
        s = K.layers.Dense(3)(K.layers.GlobalAveragePooling1D()(e))
        r = K.layers.SimpleRNN(3)(e, initial_state=s)
        return K.Model(q, [m, r])

    km, fm = build(keras), build(fkeras)
    _copy_weights(km, fm)
    for a, b in zip(fm(IDS), km(IDS)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), **TOL)
