"""torch DataLoaders and tensors through `get_data_adapter`."""

import numpy as np
import pytest

from fkeras.data import get_data_adapter


def _xy(n=10):
    return np.arange(n * 2, dtype=np.float64).reshape(n, 2), np.arange(n, dtype=np.int64)


def _labels(adapter, jax_iter=False):
    it = adapter.get_jax_iterator() if jax_iter else adapter.get_numpy_iterator()
    return [np.asarray(b[1]).tolist() for b in it]


# --------------------------------------------------------------------------- torch


torch = pytest.importorskip("torch")


def _loader(n=10, bs=4, **kw):
    x, y = _xy(n)
    ds = torch.utils.data.TensorDataset(torch.tensor(x, dtype=torch.float32), torch.tensor(y))
    return torch.utils.data.DataLoader(ds, batch_size=bs, **kw)


def test_torch_loader_content_order_and_casts():
    a = get_data_adapter(_loader())
    assert (a.num_batches, a.batch_size, a.partial_batch_size) == (3, 4, 2)
    jb = list(a.get_jax_iterator())
    assert [np.asarray(b[1]).tolist() for b in jb] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert jb[0][0].dtype == np.float32 and jb[0][1].dtype == np.int32  # int64 labels cast
    np.testing.assert_array_equal(np.concatenate([np.asarray(b[0]) for b in jb]), _xy()[0].astype(np.float32))
    nb = list(a.get_numpy_iterator())
    assert nb[0][1].dtype == np.int32 and isinstance(nb[0][0], np.ndarray)
    assert len(list(get_data_adapter(_loader(drop_last=True)).get_numpy_iterator())) == 2


def test_torch_float32_batches_reach_jax_without_copy():
    from fkeras.data.generator import leaf_to_jax

    t = torch.randn(128, 28, 28, 1)
    assert leaf_to_jax(t).unsafe_buffer_pointer() == t.data_ptr()
    u8 = torch.zeros(4, 3, dtype=torch.uint8)
    assert leaf_to_jax(u8).dtype == np.uint8 and leaf_to_jax(u8).unsafe_buffer_pointer() == u8.data_ptr()
    assert leaf_to_jax(torch.zeros(2, dtype=torch.float64)).dtype == np.float32


def test_torch_loader_shuffle_is_the_loaders_and_seeded():
    def epoch_labels(seed):
        g = torch.Generator().manual_seed(seed)
        a = get_data_adapter(_loader(shuffle=True, generator=g))
        return [_labels(a) for _ in range(2)]

    e = epoch_labels(0)
    assert e == epoch_labels(0) and e[0] != e[1]
    assert sorted(sum(e[0], [])) == list(range(10))
    with pytest.warns(UserWarning, match="shuffle=True` is ignored"):
        get_data_adapter(_loader(), shuffle=True)


def test_torch_loader_dicts_iterable_steps_and_errors():
    class DictDS(torch.utils.data.Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return {"img": torch.full((2,), float(i)), "id": torch.tensor(i)}, torch.tensor(i % 2)

    a = get_data_adapter(torch.utils.data.DataLoader(DictDS(), batch_size=4), class_weight={1: 3.0})
    b = next(a.get_jax_iterator())
    assert set(b[0]) == {"img", "id"} and b[0]["img"].shape == (4, 2)
    np.testing.assert_array_equal(b[2], [1, 3, 1, 3])

    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter([(torch.ones(2), torch.tensor(1))] * 5)

    a = get_data_adapter(torch.utils.data.DataLoader(Stream(), batch_size=2), steps_per_epoch=2)
    assert len(_labels(a)) == 2
    with pytest.warns(UserWarning, match="ran out of data"):  # the pass (3 batches) ends mid-epoch
        assert len(_labels(a)) == 1
    assert len(_labels(a)) == 2  # a new pass
    a = get_data_adapter(_loader(), steps_per_epoch=2)
    assert _labels(a) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    with pytest.warns(UserWarning, match="ran out of data"):
        assert _labels(a) == [[8, 9]]
    with pytest.raises(ValueError, match="empty"):
        get_data_adapter(_loader(n=0))
    with pytest.raises(ValueError, match="`y` should not be passed"):
        get_data_adapter(_loader(), np.zeros(10))


def test_tensor_dataset_fast_path_gives_the_loaders_own_batches():
    from fkeras.data.torch_loader import _can_gather

    x, y = _xy(37)
    ds = torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y))
    probe = torch.utils.data.DataLoader(ds, batch_size=8)
    assert _can_gather(probe, iter(probe))  # the path under test is taken
    for kw in ({}, {"shuffle": True}, {"drop_last": True}, {"sampler": torch.utils.data.SubsetRandomSampler(range(20))}):
        plain = torch.utils.data.DataLoader(ds, batch_size=8, generator=torch.Generator().manual_seed(5), **kw)
        fast = torch.utils.data.DataLoader(ds, batch_size=8, generator=torch.Generator().manual_seed(5), **kw)
        if "sampler" in kw:
            torch.manual_seed(3)
        want = [[t.numpy() for t in b] for _ in range(2) for b in plain]
        if "sampler" in kw:
            torch.manual_seed(3)
        a = get_data_adapter(fast)
        got = [b for _ in range(2) for b in a.get_numpy_iterator()]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g[0], w[0].astype(np.float32))
            np.testing.assert_array_equal(g[1], w[1])

