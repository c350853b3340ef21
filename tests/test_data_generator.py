"""Python generators/iterators through `get_data_adapter`."""

import jax
import numpy as np
import pytest

from fkeras.data import get_data_adapter


def _xy(n=10):
    return np.arange(n * 2, dtype=np.float64).reshape(n, 2), np.arange(n, dtype=np.int64)


def _labels(adapter, jax_iter=False):
    it = adapter.get_jax_iterator() if jax_iter else adapter.get_numpy_iterator()
    return [np.asarray(b[1]).tolist() for b in it]


# --------------------------------------------------------------------------- generators


def _gen(n_batches=3, bs=4, with_sw=False):
    x, y = _xy(n_batches * bs)
    for i in range(n_batches):
        s = slice(i * bs, (i + 1) * bs)
        yield (x[s], y[s], np.ones(bs)) if with_sw else (x[s], y[s])


def test_generator_content_dtypes_and_exhaustion():
    a = get_data_adapter(_gen())
    assert a.num_batches is None
    batches = list(a.get_jax_iterator())
    assert [np.asarray(b[1]).tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int32
    assert not a.exhausted
    with pytest.warns(UserWarning, match="ran out of data"):
        assert list(a.get_numpy_iterator()) == []
    assert a.exhausted


def test_generator_batch_forms():
    x, y = _xy(4)
    (b,) = list(get_data_adapter(iter([x])).get_numpy_iterator())
    assert len(b) == 1 and b[0].dtype == np.float32
    (b,) = list(get_data_adapter(iter([{"a": x, "b": y}])).get_numpy_iterator())
    assert len(b) == 1 and set(b[0]) == {"a", "b"}
    (b,) = list(get_data_adapter(iter([[x, y, np.ones(4)]])).get_numpy_iterator())
    assert len(b) == 3
    (b,) = list(get_data_adapter(iter([({"a": x}, (y, y))])).get_jax_iterator())
    assert isinstance(b[1], tuple) and isinstance(b[0]["a"], jax.Array)


def test_infinite_generator_with_steps_per_epoch_continues():
    def count():
        i = 0
        while True:
            yield np.full((1, 1), i, np.float32), np.array([i])
            i += 1

    a = get_data_adapter(count(), steps_per_epoch=3)
    assert a.num_batches == 3
    assert [_labels(a) for _ in range(2)] == [[[0], [1], [2]], [[3], [4], [5]]]
    assert _labels(a, jax_iter=True) == [[6], [7], [8]]


def test_generator_shorter_than_steps_warns():
    a = get_data_adapter(_gen(3), steps_per_epoch=2)
    assert len(_labels(a)) == 2
    with pytest.warns(UserWarning, match="ran out of data"):
        assert len(_labels(a)) == 1
    with pytest.warns(UserWarning, match="ran out of data"):
        assert _labels(a) == []
    assert a.exhausted


def test_generator_class_weight_and_bad_input():
    x, y = _xy(4)
    (b,) = list(get_data_adapter(iter([(x, y % 2)]), class_weight={1: 2.0}).get_numpy_iterator())
    np.testing.assert_array_equal(b[2], [1, 2, 1, 2])
    with pytest.raises(ValueError, match="sample_weight` at the same time"):
        list(get_data_adapter(_gen(with_sw=True), class_weight={1: 2.0}).get_numpy_iterator())
    with pytest.raises(ValueError, match="`y` should not be passed"):
        get_data_adapter(_gen(), y)
    with pytest.raises(ValueError, match="`sample_weight` should not be passed"):
        get_data_adapter(_gen(), sample_weight=y)

    def inconsistent():
        yield x, y
        yield x, y, np.ones(4)

    it = get_data_adapter(inconsistent()).get_numpy_iterator()
    next(it)
    with pytest.raises(ValueError, match="inconsistent structures: batch 1"):
        next(it)

    def rank_change():
        yield x, y
        yield x[:, 0], y

    with pytest.raises(ValueError, match="inconsistent"):
        list(get_data_adapter(rank_change()).get_jax_iterator())
    with pytest.raises(ValueError, match="cardinality"):
        list(get_data_adapter(iter([(x, y[:3])])).get_numpy_iterator())
    with pytest.raises(ValueError, match="empty"):
        list(get_data_adapter(iter([])).get_jax_iterator())
    with pytest.raises(ValueError, match="length 4"):
        list(get_data_adapter(iter([(x, y, y, y)])).get_numpy_iterator())


def test_generator_error_surfaces_from_prefetch_thread():
    def broken():
        yield _xy(2)
        raise RuntimeError("disk on fire")

    it = get_data_adapter(broken()).get_jax_iterator()
    next(it)
    with pytest.raises(RuntimeError, match="disk on fire"):
        next(it)
