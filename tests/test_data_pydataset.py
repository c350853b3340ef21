"""`fkeras.utils.PyDataset` through its adapter: order, shuffling, workers (threads and
processes), epoch hooks, errors. Module-level imports stay light: spawned workers import
this module to unpickle the datasets."""

import os
import threading

import numpy as np
import pytest

from fkeras.utils import PyDataset


class Squares(PyDataset):
    """Batch i: x = [[i], [i]] as float64, y = [i, i] as int64; records who read it."""

    def __init__(self, n=5, fail_at=None, **kw):
        super().__init__(**kw)
        self.n, self.fail_at, self.offset = n, fail_at, 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise KeyError(f"bad batch {i}")
        v = i + self.offset
        pid = np.full((2,), os.getpid())
        return {"x": np.full((2, 1), v, np.float64), "pid": pid}, np.full((2,), v, np.int64)

    def on_epoch_end(self):
        self.offset += 100


class Crashing(Squares):
    def __getitem__(self, i):
        if i == 1:
            os._exit(3)  # the worker process dies without raising
        return super().__getitem__(i)


class Endless(PyDataset):
    @property
    def num_batches(self):
        return None

    def __getitem__(self, i):
        return np.full((1, 1), i, np.float32)


def _adapter(ds, *args, **kw):
    from fkeras.data import get_data_adapter

    return get_data_adapter(ds, *args, **kw)


def _ys(a, jax_iter=False):
    it = a.get_jax_iterator() if jax_iter else a.get_numpy_iterator()
    return [int(np.asarray(b[1])[0]) for b in it]


def test_sequential_order_content_dtypes_and_epoch_hook():
    a = _adapter(Squares())
    assert type(a).__name__ == "PyDatasetAdapter" and a.num_batches == 5
    b = list(a.get_jax_iterator())
    assert [int(t[1][0]) for t in b] == [0, 1, 2, 3, 4]
    assert b[0][0]["x"].dtype == np.float32 and b[0][1].dtype == np.int32
    assert _ys(a) == [100, 101, 102, 103, 104]  # on_epoch_end ran after the first epoch


def test_shuffle_is_seeded_and_new_each_epoch():
    a = _adapter(Squares(n=8), shuffle=True, seed=0)
    e1 = [y % 100 for y in _ys(a)]
    e2 = [y % 100 for y in _ys(a)]
    assert sorted(e1) == list(range(8)) and e1 != e2 and e1 != list(range(8))
    b = _adapter(Squares(n=8), shuffle=True, seed=0)
    assert [y % 100 for y in _ys(b)] == e1


def test_thread_workers_keep_order_and_surface_errors():
    seen = set()

    class Slow(Squares):
        def __getitem__(self, i):
            seen.add(threading.get_ident())
            return super().__getitem__(i)

    a = _adapter(Slow(n=12, workers=3, max_queue_size=4))
    assert _ys(a, jax_iter=True) == list(range(12))
    assert _ys(a) == list(range(100, 112))
    assert threading.get_ident() not in seen
    bad = _adapter(Squares(n=6, fail_at=3, workers=2, max_queue_size=2))
    it = bad.get_jax_iterator()
    assert [int(next(it)[1][0]) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(KeyError, match="bad batch 3"):
        next(it)
    with pytest.raises(KeyError, match="bad batch 3"):  # in-thread reading raises it too
        list(_adapter(Squares(fail_at=3)).get_numpy_iterator())


def test_process_workers_read_in_other_processes_and_surface_errors():
    a = _adapter(Squares(n=6, workers=2, use_multiprocessing=True, max_queue_size=3))
    batches = list(a.get_numpy_iterator())
    assert [int(b[1][0]) for b in batches] == list(range(6))
    assert all(int(b[0]["pid"][0]) != os.getpid() for b in batches)
    # on_epoch_end changed the dataset: the workers see the new state
    assert _ys(a) == list(range(100, 106))
    a.close()
    bad = _adapter(Squares(n=6, fail_at=2, workers=1, use_multiprocessing=True, max_queue_size=2))
    with pytest.raises(KeyError, match="bad batch 2"):
        list(bad.get_jax_iterator())
    bad.close()
    from concurrent.futures.process import BrokenProcessPool

    dead = _adapter(Crashing(n=4, workers=1, use_multiprocessing=True, max_queue_size=2))
    with pytest.raises(BrokenProcessPool):  # a dead worker is an error, not a hang
        list(dead.get_numpy_iterator())


def test_steps_per_epoch_still_runs_the_epoch_hook_after_each_pass():
    a = _adapter(Squares(n=4), steps_per_epoch=2)
    assert [_ys(a) for _ in range(3)] == [[0, 1], [2, 3], [100, 101]]


def test_infinite_pydataset_with_steps_per_epoch():
    a = _adapter(Endless(), steps_per_epoch=3)
    assert a.num_batches == 3
    got = [[int(np.asarray(b[0])[0, 0]) for b in a.get_numpy_iterator()] for _ in range(2)]
    assert got == [[0, 1, 2], [3, 4, 5]]
    t = _adapter(Endless(workers=2), steps_per_epoch=2)
    assert [int(np.asarray(b[0])[0, 0]) for b in t.get_jax_iterator()] == [0, 1]


def test_class_weight_and_bad_pydatasets():
    class Labels(PyDataset):
        def __len__(self):
            return 1

        def __getitem__(self, i):
            return np.zeros((3, 1)), np.array([0, 1, 1])

    b = next(_adapter(Labels(), class_weight={1: 4.0}).get_numpy_iterator())
    np.testing.assert_array_equal(b[2], [1, 4, 4])
    with pytest.raises(ValueError, match="empty"):
        _adapter(Squares(n=0))
    with pytest.raises(ValueError, match="`y` should not be passed"):
        _adapter(Squares(), np.zeros(3))

    class NoSuper(PyDataset):
        def __init__(self):
            pass

        def __len__(self):
            return 1

        def __getitem__(self, i):
            return np.zeros((1, 1))

    with pytest.warns(UserWarning, match="super"):
        a = _adapter(NoSuper())
    assert len(list(a.get_numpy_iterator())) == 1

    class TooLong(Labels):
        def __getitem__(self, i):
            return (np.zeros((1,)),) * 4

    with pytest.raises(ValueError, match="length 4"):
        list(_adapter(TooLong()).get_numpy_iterator())

    class Unpicklable(Squares):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.lock = threading.Lock()

    with pytest.raises(ValueError, match="picklable"):
        list(_adapter(Unpicklable(workers=2, use_multiprocessing=True)).get_numpy_iterator())


def test_iterating_a_pydataset_directly():
    assert [int(b[1][0]) for b in Squares(n=3)] == [0, 1, 2]
    from fkeras.utils import Sequence

    assert Sequence is PyDataset


def test_keras_own_pydataset_is_accepted():
    keras = pytest.importorskip("keras")

    class KerasBatches(keras.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return np.full((2, 1), i, np.float64), np.array([i, i])

    a = _adapter(KerasBatches(workers=2), shuffle=False)
    assert [int(b[1][0]) for b in a.get_numpy_iterator()] == [0, 1]

