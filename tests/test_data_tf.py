"""tf.data Datasets and TF tensors through `get_data_adapter`."""

import numpy as np
import pytest

from fkeras.data import get_data_adapter


def _xy(n=10):
    return np.arange(n * 2, dtype=np.float64).reshape(n, 2), np.arange(n, dtype=np.int64)


def _labels(adapter, jax_iter=False):
    it = adapter.get_jax_iterator() if jax_iter else adapter.get_numpy_iterator()
    return [np.asarray(b[1]).tolist() for b in it]


# --------------------------------------------------------------------------- tf.data


tf = pytest.importorskip("tensorflow")


def test_tf_dataset_content_dtypes_and_dicts():
    x, y = _xy()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    a = get_data_adapter(ds)
    assert a.num_batches == 3
    jb = list(a.get_jax_iterator())
    assert [np.asarray(b[1]).tolist() for b in jb] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert jb[0][0].dtype == np.float32 and jb[0][1].dtype == np.int32
    nb = list(a.get_numpy_iterator())
    np.testing.assert_array_equal(np.concatenate([b[0] for b in nb]), x.astype(np.float32))
    ds = tf.data.Dataset.from_tensor_slices(({"a": x, "b": y}, y, np.ones(10))).batch(5)
    b = next(get_data_adapter(ds).get_jax_iterator())
    assert len(b) == 3 and set(b[0]) == {"a", "b"} and b[2].dtype == np.float32
    ds = tf.data.Dataset.from_tensor_slices({"a": x}).batch(5)
    assert len(next(get_data_adapter(ds).get_numpy_iterator())) == 1


def test_tf_dataset_repeat_steps_shuffle_and_errors():
    x, y = _xy()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4).repeat()
    with pytest.warns(UserWarning, match="never end"):
        get_data_adapter(ds)
    a = get_data_adapter(ds, steps_per_epoch=4)
    assert [_labels(a) for _ in range(2)] == [
        [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9], [0, 1, 2, 3]],
        [[4, 5, 6, 7], [8, 9], [0, 1, 2, 3], [4, 5, 6, 7]],
    ]
    def shuffled():
        return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(10, seed=1).batch(10)

    tf.random.set_seed(0)
    a = get_data_adapter(shuffled())
    e1, e2 = _labels(a), _labels(a)
    assert sorted(e1[0]) == list(range(10)) and e1 != e2  # reshuffled each epoch by tf.data
    tf.random.set_seed(0)
    assert _labels(get_data_adapter(shuffled())) == e1  # same seeds, same order
    with pytest.raises(ValueError, match="empty"):
        get_data_adapter(tf.data.Dataset.from_tensor_slices((x, y)).batch(4).take(0))
    with pytest.raises(ValueError, match="`y` should not be passed"):
        get_data_adapter(ds, y)
    a = get_data_adapter(tf.data.Dataset.from_tensor_slices((x, y % 2)).batch(5), class_weight={0: 0.5})
    np.testing.assert_array_equal(next(a.get_numpy_iterator())[2], [0.5, 1, 0.5, 1, 0.5])


def test_torch_and_tf_tensors_as_arrays():
    torch = pytest.importorskip("torch")
    x, y = _xy(6)
    for xx, yy in ((torch.tensor(x), torch.tensor(y)), (tf.constant(x), tf.constant(y))):
        a = get_data_adapter(xx, yy, batch_size=4, shuffle=True, seed=0)
        b = list(a.get_numpy_iterator())
        assert b[0][0].dtype == np.float32 and b[0][1].dtype == np.int32
        assert sorted(np.concatenate([t[1] for t in b]).tolist()) == list(range(6))
