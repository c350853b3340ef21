"""Array adapter: content, order, shuffling, steps_per_epoch, weights, dicts, dtypes, errors."""

import jax
import numpy as np
import pytest

from fkeras.data import (
    ArrayDataAdapter,
    get_data_adapter,
    pack_x_y_sample_weight,
    train_validation_split,
    unpack_x_y_sample_weight,
)


def _data(n=10):
    x = np.arange(n * 3, dtype=np.float64).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return x, y


def test_order_content_and_ragged_last_batch():
    x, y = _data()
    a = get_data_adapter(x, y, batch_size=4)
    assert isinstance(a, ArrayDataAdapter)
    assert (a.num_batches, a.batch_size, a.partial_batch_size, a.has_partial_batch) == (3, 4, 2, True)
    batches = list(a.get_numpy_iterator())
    assert [len(b) for b in batches] == [2, 2, 2]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x.astype(np.float32))
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    # Keras casts: float64 -> float32, int64 -> int32 (JAX without x64); uint8 stays uint8.
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int32
    img = np.zeros((5, 2, 2), np.uint8)
    (xb,) = next(get_data_adapter(img).get_numpy_iterator())
    assert xb.dtype == np.uint8


def test_x_only_gives_one_tuple_and_default_batch_size():
    x = np.zeros((70, 2), np.float32)
    a = get_data_adapter(x)
    assert a.batch_size == 32 and a.num_batches == 3
    b = next(a.get_numpy_iterator())
    assert isinstance(b, tuple) and len(b) == 1


def test_jax_iterator_matches_numpy_iterator():
    x, y = _data(9)
    a = get_data_adapter(x, y, batch_size=4)
    nb = list(a.get_numpy_iterator())
    jb = list(a.get_jax_iterator())
    assert all(isinstance(leaf, jax.Array) for b in jb for leaf in jax.tree_util.tree_leaves(b))
    for n, j in zip(nb, jb):
        for u, v in zip(n, j):
            np.testing.assert_array_equal(u, np.asarray(v))
    assert len(jb) == 3


def test_shuffle_is_a_new_permutation_each_epoch_and_seeded():
    x, y = _data(20)
    a = get_data_adapter(x, y, batch_size=5, shuffle=True, seed=3)
    e1 = np.concatenate([b[1] for b in a.get_numpy_iterator()])
    e2 = np.concatenate([b[1] for b in a.get_numpy_iterator()])
    assert sorted(e1) == list(range(20)) and sorted(e2) == list(range(20))
    assert not np.array_equal(e1, e2) and not np.array_equal(e1, np.arange(20))
    # rows stay paired with their labels
    for xb, yb in a.get_numpy_iterator():
        np.testing.assert_array_equal(xb[:, 0], yb * 3)
    b = get_data_adapter(x, y, batch_size=5, shuffle=True, seed=3)
    np.testing.assert_array_equal(np.concatenate([t[1] for t in b.get_numpy_iterator()]), e1)
    # the jax iterator draws the same permutations
    c = get_data_adapter(x, y, batch_size=5, shuffle=True, seed=3)
    np.testing.assert_array_equal(np.concatenate([np.asarray(t[1]) for t in c.get_jax_iterator()]), e1)


def test_shuffle_batch_only_permutes_within_batches():
    x, y = _data(12)
    a = get_data_adapter(x, y, batch_size=4, shuffle="batch", seed=0)
    seen = [b[1] for b in a.get_numpy_iterator()]
    for i, yb in enumerate(seen):
        assert sorted(yb) == list(range(4 * i, 4 * i + 4))
    assert any(not np.array_equal(yb, np.sort(yb)) for yb in seen)


def test_global_numpy_seed_when_no_seed():
    x, y = _data(16)
    np.random.seed(1)
    e1 = [b[1] for b in get_data_adapter(x, y, batch_size=4, shuffle=True).get_numpy_iterator()]
    np.random.seed(1)
    e2 = [b[1] for b in get_data_adapter(x, y, batch_size=4, shuffle=True).get_numpy_iterator()]
    np.testing.assert_array_equal(np.concatenate(e1), np.concatenate(e2))


def test_steps_per_epoch_continues_across_epochs():
    x, y = _data(10)
    a = get_data_adapter(x, y, batch_size=4, steps_per_epoch=2)
    assert a.num_batches == 2
    # Keras's EpochIterator: an epoch continues the pass; a pass ending mid-epoch ends the
    # epoch with a warning, and the next epoch starts a new pass.
    e1 = [b[1].tolist() for b in a.get_numpy_iterator()]
    with pytest.warns(UserWarning, match="ran out of data"):
        e2 = [b[1].tolist() for b in a.get_numpy_iterator()]
    e3 = [b[1].tolist() for b in a.get_numpy_iterator()]
    assert (e1, e2, e3) == ([[0, 1, 2, 3], [4, 5, 6, 7]], [[8, 9]], [[0, 1, 2, 3], [4, 5, 6, 7]])
    a = get_data_adapter(x, y, batch_size=5, steps_per_epoch=1)
    assert [[b[1].tolist() for b in a.get_numpy_iterator()] for _ in range(3)] == [
        [[0, 1, 2, 3, 4]], [[5, 6, 7, 8, 9]], [[0, 1, 2, 3, 4]]]
    # steps only: batch size derived as ceil(n / steps)
    b = get_data_adapter(x, y, steps_per_epoch=3)
    assert b.batch_size == 4 and len(list(b.get_numpy_iterator())) == 3


def test_steps_per_epoch_beyond_data_warns_and_ends_epoch():
    x, y = _data(8)
    a = get_data_adapter(x, y, batch_size=4, steps_per_epoch=3)
    with pytest.warns(UserWarning, match="ran out of data"):
        assert len(list(a.get_numpy_iterator())) == 2
    with pytest.warns(UserWarning, match="ran out of data"):
        assert [b[1].tolist() for b in a.get_numpy_iterator()] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_sample_weight_and_class_weight():
    x, y = _data(6)
    sw = np.linspace(0, 1, 6)
    (b,) = list(get_data_adapter(x, y, sw, batch_size=6).get_numpy_iterator())
    assert len(b) == 3 and b[2].dtype == np.float32
    np.testing.assert_allclose(b[2], sw.astype(np.float32))
    yc = np.array([0, 1, 2, 1, 0, 2])
    (b,) = list(get_data_adapter(x, yc, batch_size=6, class_weight={0: 1.0, 1: 3.0}).get_numpy_iterator())
    np.testing.assert_array_equal(b[2], np.array([1, 3, 1, 3, 1, 1], np.float32))
    onehot = np.eye(3)[yc]
    (b,) = list(get_data_adapter(x, onehot, batch_size=6, class_weight={2: 0.5}).get_numpy_iterator())
    np.testing.assert_array_equal(b[2], np.array([1, 1, 0.5, 1, 1, 0.5], np.float32))
    with pytest.raises(ValueError, match="class_weight` and `sample_weight"):
        get_data_adapter(x, yc, sw, class_weight={0: 1.0})
    with pytest.raises(ValueError, match="single output"):
        get_data_adapter(x, (yc, yc), class_weight={0: 1.0})
    with pytest.raises(TypeError, match="class_weight"):
        get_data_adapter(x, yc, class_weight=[1.0, 2.0])


def test_dict_and_nested_inputs():
    x, y = _data(6)
    xs = {"a": x, "b": (x[:, :1], np.ones((6, 2, 2)))}
    ys = [y, y * 2]
    a = get_data_adapter(xs, ys, sample_weight=np.ones(6), batch_size=4)
    b = next(a.get_numpy_iterator())
    assert set(b[0]) == {"a", "b"} and b[0]["b"][1].shape == (4, 2, 2)
    assert isinstance(b[1], list) and b[1][1].tolist() == [0, 2, 4, 6]
    assert isinstance(b[2], list) and len(b[2]) == 2  # one weight per output, replicated
    j = next(a.get_jax_iterator())
    assert isinstance(j[0]["b"][0], jax.Array)


def test_other_array_types(tmp_path):
    import jax.numpy as jnp

    x, y = _data(5)
    for xx in (jnp.asarray(x, jnp.float32), x.tolist() and np.asarray(x)):
        b = next(get_data_adapter(xx, y, batch_size=5).get_numpy_iterator())
        np.testing.assert_array_equal(b[0], x.astype(np.float32))


def test_bad_inputs():
    x, y = _data(6)
    with pytest.raises(ValueError, match="cardinality"):
        get_data_adapter(x, y[:5])
    with pytest.raises(ValueError, match="empty"):
        get_data_adapter(np.zeros((0, 3)), np.zeros((0,)))
    with pytest.raises(TypeError, match="path"):
        get_data_adapter("/data/train.csv")
    with pytest.raises(ValueError, match="batch_size"):
        get_data_adapter(x, y, batch_size=0)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        get_data_adapter(x, y, steps_per_epoch=-1)
    with pytest.raises(ValueError, match="shuffle"):
        get_data_adapter(x, y, shuffle="yes")
    with pytest.raises(ValueError, match="rank"):
        get_data_adapter(np.float32(1.0), y)
    with pytest.raises(ValueError, match="Unrecognized data type"):
        get_data_adapter(object())
    with pytest.raises(ValueError, match="array-like"):
        get_data_adapter({"a": x, "b": "text"}, y)


def test_train_validation_split_is_last_fraction():
    x, y = _data(10)
    (xt, yt), (xv, yv) = train_validation_split((x, y), 0.2)
    np.testing.assert_array_equal(yt, np.arange(8))
    np.testing.assert_array_equal(yv, np.arange(8, 10))
    assert xt.shape == (8, 3) and xv.shape == (2, 3)
    with pytest.raises(ValueError, match="not sufficient"):
        train_validation_split((x[:1], y[:1]), 0.5)
    with pytest.raises(ValueError, match="validation_split"):
        train_validation_split((x, y), 1.5)
    with pytest.raises(ValueError, match="array-likes"):
        train_validation_split((iter([x]), y), 0.5)


def test_pack_unpack():
    assert unpack_x_y_sample_weight((1,)) == (1, None, None)
    assert unpack_x_y_sample_weight([1, 2]) == (1, 2, None)
    assert unpack_x_y_sample_weight((1, 2, 3)) == (1, 2, 3)
    assert unpack_x_y_sample_weight({"a": 1}) == ({"a": 1}, None, None)
    with pytest.raises(ValueError, match="length 4"):
        unpack_x_y_sample_weight((1, 2, 3, 4))
    assert pack_x_y_sample_weight(1) == 1
    assert pack_x_y_sample_weight((1, 2)) == ((1, 2),)
    assert pack_x_y_sample_weight(1, 2, 3) == (1, 2, 3)


def test_prefetch_propagates_errors_and_stops_on_close():
    from fkeras.data import prefetch

    def bad():
        yield 1
        raise KeyError("boom")

    it = prefetch(bad)
    assert next(it) == 1
    with pytest.raises(KeyError, match="boom"):
        next(it)
    pulled = []

    def endless():
        i = 0
        while True:
            pulled.append(i)
            yield i
            i += 1

    it = prefetch(endless, depth=2)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()  # joins the producer: no thread left reading the source
    n = len(pulled)
    import time

    time.sleep(0.05)
    assert len(pulled) == n and n <= 3 + 2 + 1


def test_pandas_frames_and_series_are_arrays():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": np.arange(6, dtype=np.float64), "b": np.arange(6) * 2})
    s = pd.Series(np.arange(6))
    a = get_data_adapter(df, s, batch_size=4)
    xb, yb = next(a.get_jax_iterator())
    assert xb.shape == (4, 2) and xb.dtype == np.float32 and yb.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(xb)[:, 1], [0, 2, 4, 6])
    from fkeras.data import train_validation_split

    (tr, ty), (va, vy) = train_validation_split((df, s), 0.5)
    assert list(vy) == [3, 4, 5] and len(tr) == 3
