"""The non-image preprocessing layers against Keras 3.15: same adapt data -> same statistics,
vocabularies, bin edges, outputs and configs; config round trips; names enumerated."""

import json
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
import fkeras  # noqa: E402
from fkeras import nn  # noqa: E402

NAMES = ["CategoryEncoding", "Discretization", "HashedCrossing", "Hashing", "IntegerLookup", "Normalization",
         "StringLookup", "TextVectorization"]
RNG = np.random.RandomState(0)
TEXT = ["The cat sat on the mat.", "A cat, a hat!", "the CAT — ünïcödé Ünïcödé dog", "DOG\u00a0dog\tcat\ncat",
        "ngrams are fun fun fun"]


def _np(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") and not isinstance(x, np.ndarray) else x)


def _json(config):
    return json.loads(json.dumps(config, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def _config(layer):
    cfg = _json(layer.get_config())
    cfg.pop("name", None)
    return cfg


def _same(fl, kl, *inputs, atol=1e-6):
    got, want = _np(fl(*inputs)), _np(kl(*inputs))
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype.kind in "OSU":
        assert [str(v) for v in got.reshape(-1)] == [v.decode() if isinstance(v, bytes) else str(v)
                                                    for v in want.reshape(-1)]
    else:
        np.testing.assert_allclose(got.astype("float64"), want.astype("float64"), atol=atol, rtol=1e-6)
    return got


def test_names_match_keras():
    """Every non-image preprocessing layer Keras exports from keras.src.layers.preprocessing exists in fkeras
    (and in fkeras.nn); the few that are not this package's are named with the reason."""
    elsewhere = {"Rescaling": "fkeras/nn/core.py", "Pipeline": "image preprocessing work",
                 "MelSpectrogram": "audio (not in this issue)", "STFTSpectrogram": "audio (not in this issue)"}
    found = set()
    for name in dir(keras.layers):
        cls = getattr(keras.layers, name)
        mod = getattr(cls, "__module__", "")
        if isinstance(cls, type) and mod.startswith("keras.src.layers.preprocessing.") \
                and ".image_preprocessing" not in mod and cls.__name__ == name:
            found.add(name)
    assert set(NAMES) <= found
    assert found - set(NAMES) <= set(elsewhere), sorted(found - set(NAMES) - set(elsewhere))
    for name in NAMES:
        assert isinstance(getattr(nn, name), type) and issubclass(getattr(fkeras.layers, name), fkeras.layers.Layer)


# --- Normalization --------------------------------------------------------------------------------------
def _batches(x, n):
    return (x[i:i + n] for i in range(0, len(x), n))


@pytest.mark.parametrize("source", ["array", "dataset", "generator", "list"])
@pytest.mark.parametrize("axis", [-1, None, (1, 2)])
def test_normalization_adapt(source, axis):
    import tensorflow as tf

    x = RNG.rand(12, 3, 4).astype("float32") * 5 + 1
    data = {"array": lambda: x, "dataset": lambda: tf.data.Dataset.from_tensor_slices(x).batch(5),
            "generator": lambda: _batches(x, 5), "list": lambda: list(_batches(x, 5))}[source]
    fl, kl = fkeras.layers.Normalization(axis=axis), keras.layers.Normalization(axis=axis)
    fl.adapt(data())
    kl.adapt(data())
    np.testing.assert_allclose(np.asarray(fl.mean), _np(kl.adapt_mean), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(fl.variance), _np(kl.adapt_variance), rtol=1e-5, atol=1e-6)
    _same(fl, kl, x[:2], atol=1e-5)
    assert _config(fl) == _config(kl)


@pytest.mark.parametrize("kwargs", [dict(mean=2.0, variance=4.0), dict(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0]),
                                    dict(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0], invert=True)])
def test_normalization_given_and_invert(kwargs):
    x = RNG.rand(4, 3).astype("float32")
    fl, kl = fkeras.layers.Normalization(**kwargs), keras.layers.Normalization(**kwargs)
    _same(fl, kl, x, atol=1e-6)
    assert _config(fl) == _config(kl)
    assert nn.Normalization.from_config(fl.get_config()).get_config() == fl.nn_layer.get_config()


def test_normalization_invert_after_adapt_and_errors():
    x = RNG.rand(10, 3).astype("float32")
    fl, kl = fkeras.layers.Normalization(invert=True), keras.layers.Normalization(invert=True)
    fl.adapt(x)
    kl.adapt(x)
    _same(fl, kl, x[:3], atol=1e-5)
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        nn.Normalization(mean=1.0)
    with pytest.raises(ValueError, match="empty"):
        nn.Normalization().adapt(None, iter([]))
    with pytest.raises(ValueError, match="incompatible shape"):
        nn.Normalization().adapt(None, [x, RNG.rand(2, 4)])


# --- Discretization -------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_discretization(mode):
    x = (RNG.randn(200) * 3).astype("float32")
    fl = fkeras.layers.Discretization(num_bins=5, epsilon=0.05, output_mode=mode)
    kl = keras.layers.Discretization(num_bins=5, epsilon=0.05, output_mode=mode)
    fl.adapt(list(_batches(x, 64)) if mode == "count" else x)
    kl.adapt(list(_batches(x, 64)) if mode == "count" else x)
    np.testing.assert_allclose(fl.bin_boundaries, kl.bin_boundaries, rtol=1e-6)
    probe = np.array([[-10.0, 0.0, 0.5], [2.0, 3.0, 10.0]], "float32")
    _same(fl, kl, probe)
    assert _config(fl) == _config(kl)
    again = nn.Discretization.from_config(fl.get_config())
    assert again.bin_boundaries == fl.bin_boundaries and again.num_bins == 5


def test_discretization_given_boundaries_and_errors():
    fl, kl = fkeras.layers.Discretization([0.0, 1.0, 2.5]), keras.layers.Discretization([0.0, 1.0, 2.5])
    _same(fl, kl, np.array([[-1.0, 0.0, 1.0, 2.4, 9.0]], "float32"))
    assert _config(fl) == _config(kl)
    with pytest.raises(ValueError, match="either `num_bins` or `bin_boundaries`"):
        nn.Discretization()
    with pytest.raises(ValueError, match="use `num_bins` instead"):
        nn.Discretization([1.0]).adapt(None, np.ones(3))


# --- CategoryEncoding -----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode,x", [("one_hot", [3, 0, 1]), ("one_hot", [[3], [0]]), ("multi_hot", [[0, 1, 1], [2, 3, 3]]),
                                    ("count", [[0, 1, 1], [2, 3, 3]]), ("multi_hot", [1, 2])])
def test_category_encoding(mode, x):
    x = np.array(x)
    fl, kl = fkeras.layers.CategoryEncoding(4, output_mode=mode), keras.layers.CategoryEncoding(4, output_mode=mode)
    _same(fl, kl, x)
    assert _config(fl) == _config(kl)


def test_category_encoding_count_weights():
    x, w = np.array([[0, 1, 1], [2, 3, 3]]), np.array([[0.5, 1.0, 2.0], [1.0, 0.25, 0.25]], "float32")
    fl, kl = fkeras.layers.CategoryEncoding(4, output_mode="count"), keras.layers.CategoryEncoding(4, output_mode="count")
    np.testing.assert_allclose(_np(fl(x, count_weights=w)), _np(kl(x, count_weights=w)))
    with pytest.raises(ValueError, match="num_tokens must be set"):
        nn.CategoryEncoding()


# --- Hashing / HashedCrossing ---------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [dict(), dict(salt=133), dict(salt=[7, 2 ** 40]), dict(mask_value="b"),
                                    dict(output_mode="multi_hot"), dict(output_mode="one_hot"), dict(output_mode="count")])
def test_hashing_strings(kwargs):
    x = np.array([["a", "b", "c"], ["ünï", "", "b"]]) if kwargs.get("output_mode") != "one_hot" else np.array([["a"], ["ünï"]])
    fl, kl = fkeras.layers.Hashing(7, **kwargs), keras.layers.Hashing(7, **kwargs)
    _same(fl, kl, x)
    assert _config(fl) == _config(kl)


def test_hashing_int64_on_the_host():
    """NumPy int64 beyond int32 hashes as Keras (the nn layer reads it on the host, before any JAX cast)."""
    x = np.array([[2 ** 40, -(2 ** 35), 5]])
    got, _ = nn.Hashing(11).apply({}, x)
    np.testing.assert_array_equal(np.asarray(got), _np(keras.layers.Hashing(11)(x)))


@pytest.mark.parametrize("x,kwargs", [(np.array([[1, 22, -3], [2 ** 30, 0, 5]]), dict()),
                                      (np.array([[1, 22, -3]]), dict(mask_value=22)),
                                      (np.array([[1.7, -2.2]], "float32"), dict(salt=5))])
def test_hashing_numbers(x, kwargs):
    _same(fkeras.layers.Hashing(11, **kwargs), keras.layers.Hashing(11, **kwargs), x)


@pytest.mark.parametrize("mode", ["int", "one_hot"])
def test_hashed_crossing(mode):
    a, b = np.array([1, 5, -3, 2 ** 30]), np.array(["a", "b", "ü", "d"])
    fl, kl = fkeras.layers.HashedCrossing(13, output_mode=mode), keras.layers.HashedCrossing(13, output_mode=mode)
    _same(fl, kl, (a, b))
    _same(fl, kl, (a[:, None], a[::-1, None].copy()))
    assert _config(fl) == _config(kl)
    with pytest.raises(ValueError, match="at least two inputs"):
        fl.nn_layer.apply({}, [a])


# --- StringLookup / IntegerLookup ---------------------------------------------------------------------
WORDS = np.array([["b", "a", "c", "b"], ["d", "a", "b", "é"], ["é", "c", "z", "a"]])


@pytest.mark.parametrize("kwargs", [
    dict(), dict(max_tokens=4), dict(num_oov_indices=2), dict(num_oov_indices=0, max_tokens=3), dict(mask_token="a"),
    dict(mask_token="[MASK]", num_oov_indices=3, salt=9), dict(output_mode="one_hot"), dict(output_mode="multi_hot"),
    dict(output_mode="count", max_tokens=8, pad_to_max_tokens=True), dict(output_mode="tf_idf"),
    dict(output_mode="tf_idf", max_tokens=9, pad_to_max_tokens=True), dict(output_mode="multi_hot", mask_token="a"),
])
def test_string_lookup_adapt(kwargs):
    fl, kl = fkeras.layers.StringLookup(**kwargs), keras.layers.StringLookup(**kwargs)
    fl.adapt(WORDS)
    kl.adapt(WORDS)
    assert fl.get_vocabulary() == [str(v) for v in kl.get_vocabulary()]
    assert fl.get_vocabulary(include_special_tokens=False) == [str(v) for v in kl.get_vocabulary(False)]
    assert fl.vocabulary_size() == kl.vocabulary_size()
    probe = np.array([["a", "b", "q"], ["é", "zz", "c"]]) if kwargs.get("num_oov_indices") != 0 else np.array([["b", "a"]])
    if kwargs.get("output_mode") == "one_hot":
        probe = probe[:, :1]
    _same(fl, kl, probe)
    assert _config(fl) == _config(kl)
    if kwargs.get("output_mode") == "tf_idf":
        np.testing.assert_allclose(fl.idf_weights, _np(kl.idf_weights), rtol=1e-6)


def test_string_lookup_dataset_and_generator_adapt():
    import tensorflow as tf

    for data in (lambda: tf.data.Dataset.from_tensor_slices(WORDS).batch(2), lambda: iter([WORDS[:2], WORDS[2:]])):
        fl, kl = fkeras.layers.StringLookup(output_mode="tf_idf"), keras.layers.StringLookup(output_mode="tf_idf")
        fl.adapt(data())
        kl.adapt(data())
        assert fl.get_vocabulary() == [str(v) for v in kl.get_vocabulary()]
        np.testing.assert_allclose(fl.idf_weights, _np(kl.idf_weights), rtol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(), dict(mask_token="[M]"), dict(num_oov_indices=2)])
def test_string_lookup_vocabulary_invert_and_file(kwargs, tmp_path):
    vocab = ["x", "ÿ", "y"]
    fl, kl = fkeras.layers.StringLookup(vocabulary=vocab, **kwargs), keras.layers.StringLookup(vocabulary=vocab, **kwargs)
    _same(fl, kl, np.array([["x", "q", "ÿ"]]))
    assert _config(fl) == _config(kl)
    fi = fkeras.layers.StringLookup(vocabulary=vocab, invert=True, **kwargs)
    ki = keras.layers.StringLookup(vocabulary=vocab, invert=True, **kwargs)
    ids = np.array([[0, 1, 2, 3, 4, 9]])
    got = _np(fi(ids))
    want = [v.decode() for v in ki.get_vocabulary()] if False else [str(ki.get_vocabulary()[i]) if i < ki.vocabulary_size()
                                                                  else "[UNK]" for i in ids[0]]
    if kwargs.get("mask_token"):
        want[0] = kwargs["mask_token"]
    assert [str(v) for v in got.reshape(-1)] == want
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    ff, kf = fkeras.layers.StringLookup(vocabulary=str(path), **kwargs), keras.layers.StringLookup(vocabulary=str(path), **kwargs)
    assert ff.get_vocabulary() == [str(v) for v in kf.get_vocabulary()]
    _same(ff, kf, np.array([["x", "q", "ÿ"]]))
    ft = fkeras.layers.StringLookup(vocabulary=vocab, idf_weights=[0.5, 1.0, 2.0], output_mode="tf_idf")
    kt = keras.layers.StringLookup(vocabulary=vocab, idf_weights=[0.5, 1.0, 2.0], output_mode="tf_idf")
    _same(ft, kt, np.array([["x", "x", "q"]]))
    assert _config(ft) == _config(kt)


def test_string_lookup_errors():
    with pytest.raises(ValueError, match="repeated"):
        nn.StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="set the layer's vocabulary"):
        fkeras.layers.StringLookup(output_mode="multi_hot")(np.array([["a"]]))
    layer = fkeras.layers.StringLookup(vocabulary=["a"], num_oov_indices=0)
    with pytest.raises(ValueError, match="num_oov_indices=0"):
        layer(np.array(["b"]))
    with pytest.raises(ValueError, match="static vocabulary"):
        layer.adapt(np.array(["a"]))


INTS = np.array([[3, 1, 2, 3], [7, 1, 3, 9], [9, 2, 42, 1]])


@pytest.mark.parametrize("kwargs", [dict(), dict(max_tokens=4), dict(num_oov_indices=3), dict(mask_token=0),
                                    dict(num_oov_indices=2, oov_method="farmhash"),
                                    dict(num_oov_indices=2, oov_method="farmhash", salt=3),
                                    dict(output_mode="multi_hot"), dict(output_mode="tf_idf"), dict(output_mode="count")])
def test_integer_lookup(kwargs):
    fl, kl = fkeras.layers.IntegerLookup(**kwargs), keras.layers.IntegerLookup(**kwargs)
    fl.adapt(INTS)
    kl.adapt(INTS)
    assert fl.get_vocabulary() == [int(v) for v in kl.get_vocabulary()]
    _same(fl, kl, np.array([[3, 5, 9, 100], [0, 1, 42, -8]]))
    assert _config(fl) == _config(kl)
    fi = fkeras.layers.IntegerLookup(vocabulary=[5, 6, 7], invert=True)
    ki = keras.layers.IntegerLookup(vocabulary=[5, 6, 7], invert=True)
    _same(fi, ki, np.array([[0, 1, 2, 3, 8]]))


# --- TextVectorization ----------------------------------------------------------------------------------
def _lower_strip(x):
    return np.char.replace(np.char.lower(x), "a", "")


def _split_comma(x):
    return [s.split(",") for s in x]


@pytest.mark.parametrize("kwargs", [
    dict(), dict(output_sequence_length=4), dict(output_sequence_length=12, max_tokens=6),
    dict(standardize="lower"), dict(standardize="strip_punctuation"), dict(standardize=None),
    dict(split="character", output_sequence_length=10), dict(ngrams=2), dict(ngrams=(1, 3), output_mode="count"),
    dict(output_mode="multi_hot", max_tokens=7), dict(output_mode="count", max_tokens=9, pad_to_max_tokens=True),
    dict(output_mode="tf_idf"), dict(standardize=_lower_strip), dict(split=None, output_mode="int"),
])
def test_text_vectorization(kwargs):
    fl, kl = fkeras.layers.TextVectorization(**kwargs), keras.layers.TextVectorization(**kwargs)
    data = np.array(TEXT)[:, None] if kwargs.get("split", "") is None else TEXT
    fl.adapt(data)
    kl.adapt(data)
    assert fl.get_vocabulary() == [str(v) for v in kl.get_vocabulary()]
    probe = np.array([["the Cat sat, on ünïcödé!"], ["fun fun dog zebra"]])
    if kwargs.get("split", "") is None:
        probe = np.array([["the cat sat on the mat."], ["zzz"]])
    _same(fl, kl, probe, atol=1e-5)
    cfg = _config(fl)
    want = _config(kl)
    if callable(kwargs.get("standardize")):
        assert cfg.pop("standardize") and want.pop("standardize")
    assert cfg == want


def test_text_vectorization_dataset_vocabulary_file_and_split_callable(tmp_path):
    import tensorflow as tf

    fl, kl = fkeras.layers.TextVectorization(ngrams=2), keras.layers.TextVectorization(ngrams=2)
    fl.adapt(tf.data.Dataset.from_tensor_slices(TEXT).batch(2))
    kl.adapt(tf.data.Dataset.from_tensor_slices(TEXT).batch(2))
    assert fl.get_vocabulary() == [str(v) for v in kl.get_vocabulary()]
    path = tmp_path / "v.txt"
    path.write_text("cat\nsat\nünïcödé\n", encoding="utf-8")
    ff = fkeras.layers.TextVectorization(vocabulary=str(path), output_sequence_length=5)
    kf = keras.layers.TextVectorization(vocabulary=str(path), output_sequence_length=5)
    assert ff.get_vocabulary() == [str(v) for v in kf.get_vocabulary()]
    _same(ff, kf, np.array(["Cat sat on ünïcödé", "the"]))
    fc = fkeras.layers.TextVectorization(split=_split_comma, standardize=None)
    fc.adapt(["a,b,b", "c,a,b"])
    assert fc.get_vocabulary() == ["", "[UNK]", "b", "a", "c"]
    np.testing.assert_array_equal(np.asarray(fc(np.array(["b,c,zz"]))), [[2, 4, 1]])


@pytest.mark.parametrize("name,kwargs", [
    ("Normalization", dict(axis=(1, 2), invert=True)), ("Discretization", dict(bin_boundaries=[0.0, 1.0])),
    ("CategoryEncoding", dict(num_tokens=3, output_mode="count")), ("Hashing", dict(num_bins=4, salt=[1, 2])),
    ("HashedCrossing", dict(num_bins=4, output_mode="one_hot")), ("StringLookup", dict(vocabulary=["a", "b"], mask_token="")),
    ("IntegerLookup", dict(vocabulary=[4, 5], num_oov_indices=2)),
    ("TextVectorization", dict(max_tokens=5, ngrams=(1, 2), output_mode="multi_hot")),
])
def test_config_round_trip(name, kwargs):
    layer = getattr(fkeras.layers, name)(**kwargs)
    config = layer.get_config()
    again = getattr(fkeras.layers, name).from_config(_json(config))
    assert _json(again.get_config()) == _json(config)
    assert _config(layer) == _config(getattr(keras.layers, name)(**kwargs))


@pytest.mark.parametrize("name", NAMES)
def test_signatures_match_keras(name):
    """Constructor arguments in Keras's order with Keras's defaults (and the methods Keras users call)."""
    import inspect

    def params(cls):
        return [(p.name, p.default) for p in inspect.signature(cls.__init__).parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]

    assert params(getattr(nn, name)) == params(getattr(keras.layers, name))
    for method in ("adapt", "get_vocabulary", "vocabulary_size", "set_vocabulary"):
        if hasattr(getattr(keras.layers, name), method):
            assert callable(getattr(getattr(fkeras.layers, name), method, None)), method


def test_set_vocabulary_on_the_facade():
    fl, kl = fkeras.layers.TextVectorization(), keras.layers.TextVectorization()
    for layer in (fl, kl):
        layer.set_vocabulary(["cat", "dog"])
    assert fl.get_vocabulary() == [str(v) for v in kl.get_vocabulary()]
    _same(fl, kl, np.array(["dog cat bird"]))
    fs, ks = fkeras.layers.IntegerLookup(output_mode="tf_idf"), keras.layers.IntegerLookup(output_mode="tf_idf")
    for layer in (fs, ks):
        layer.set_vocabulary([4, 8], idf_weights=[0.5, 2.0])
    _same(fs, ks, np.array([[4, 8, 8, 9]]))


def test_adapt_after_the_model_is_built():
    """As in Keras, a model may be built (and compiled) before its layers are adapted; predict then uses
    the adapted statistics and edges, and predict before adapting Discretization fails clearly."""
    x = RNG.rand(20, 3).astype("float32") * 10
    norm, disc = fkeras.layers.Normalization(), fkeras.layers.Discretization(num_bins=3)
    model = fkeras.Sequential([fkeras.Input((3,)), norm, disc])
    model.compile("sgd", "mse")
    with pytest.raises(Exception, match="call `adapt"):
        model.predict(x[:1], verbose=0)
    k_norm, k_disc = keras.layers.Normalization(), keras.layers.Discretization(num_bins=3)
    for a, b in ((norm, k_norm), (disc, k_disc)):
        a.adapt(x if a is norm else norm(x))
        b.adapt(x if b is k_norm else k_norm(x))
    np.testing.assert_array_equal(np.asarray(model.predict(x[:4], verbose=0)), _np(k_disc(k_norm(x[:4]))))


def test_string_hashes_equal_tensorflow():
    """FarmHash Fingerprint64 (`to_hash_bucket_fast`), keyed SipHash-2-4 (`_strong`) and the cross hash
    (`tf.sparse.cross_hashed`) over lengths 0..24 (every SipHash tail length) and non-ASCII text."""
    import tensorflow as tf
    from fkeras.nn.preprocessing import _common

    words = ["x" * n for n in range(25)] + ["ünïcødé", "日本語のテキスト", "emoji 🙂"]
    arr = np.array(words, dtype=object)
    np.testing.assert_array_equal(_common.hash_buckets(arr, 997), tf.strings.to_hash_bucket_fast(words, 997).numpy())
    for salt in ([0, 0], [1, 2], [2 ** 62 + 5, 12345]):
        np.testing.assert_array_equal(_common.hash_buckets(arr, 997, salt),
                                      tf.strings.to_hash_bucket_strong(words, 997, key=salt).numpy())
    a, b = np.arange(-5, 5), np.array(words[:10], dtype=object)
    want = tf.sparse.to_dense(tf.sparse.cross_hashed([tf.constant(a[:, None]), tf.constant(words[:10])[:, None]], 101))
    np.testing.assert_array_equal(_common.cross_hash([a, b], 101), want.numpy()[:, 0])


@pytest.mark.parametrize("name,kwargs,shape", [
    ("Normalization", dict(), (None, 3)), ("Discretization", dict(num_bins=4, output_mode="one_hot"), (None, 1)),
    ("Discretization", dict(bin_boundaries=[0.0], output_mode="count"), (None, 3)),
    ("CategoryEncoding", dict(num_tokens=5), (None, 3)), ("Hashing", dict(num_bins=3), (None, 2)),
    ("Hashing", dict(num_bins=3, output_mode="multi_hot"), (None, 2)),
    ("StringLookup", dict(output_mode="multi_hot"), (None, 4)), ("IntegerLookup", dict(vocabulary=[1, 2]), (None, 4)),
    ("IntegerLookup", dict(vocabulary=[1, 2], output_mode="one_hot"), (None, 1)),
    ("TextVectorization", dict(output_sequence_length=7), (None, 1)),
    ("TextVectorization", dict(output_mode="count", vocabulary=["a"]), (None,)),
])
def test_compute_output_shape_like_keras(name, kwargs, shape):
    got = getattr(nn, name)(**kwargs).compute_output_shape(shape)
    assert tuple(got) == tuple(getattr(keras.layers, name)(**kwargs).compute_output_shape(shape))


def test_adapt_on_labelled_batches_and_pydataset():
    """Batches of (x, y) adapt on x, as Keras's `_extract_batch`; a PyDataset is a sequence of batches."""
    import tensorflow as tf

    x, y = RNG.rand(12, 3).astype("float32"), RNG.rand(12, 1).astype("float32")

    class Seq(keras.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return x[4 * i:4 * i + 4], y[4 * i:4 * i + 4]

    for data in (lambda: tf.data.Dataset.from_tensor_slices((x, y)).batch(5),
                 lambda: ((x[i:i + 5], y[i:i + 5]) for i in range(0, 12, 5)), lambda: Seq()):
        fl, kl = fkeras.layers.Normalization(), keras.layers.Normalization()
        fl.adapt(data())
        kl.adapt(data())
        np.testing.assert_allclose(np.asarray(fl.variance), _np(kl.adapt_variance), rtol=1e-5, atol=1e-7)


def _tf_standardize(x):
    import tensorflow as tf

    return tf.strings.regex_replace(tf.strings.lower(x), "[.]", "")


def _tf_split(x):
    import tensorflow as tf

    return tf.strings.split(x, sep="-")


@pytest.mark.parametrize("kwargs", [dict(standardize=_tf_standardize), dict(split=_tf_split, standardize=None),
                                    dict(standardize=_tf_standardize, split=_tf_split)])
def test_text_vectorization_tf_callables(kwargs):
    """Callables written with tf.strings (as Keras users write them) work on the NumPy str arrays fkeras passes."""
    data = ["A-b.c-D", "d-D-e"]
    fl, kl = fkeras.layers.TextVectorization(**kwargs), keras.layers.TextVectorization(**kwargs)
    fl.adapt(data)
    kl.adapt(data)
    assert fl.get_vocabulary() == [str(v) for v in kl.get_vocabulary()]
    _same(fl, kl, np.array(["a-d-zz", "B.-e"]))
