"""fkeras.utils (to_categorical, normalize, pad_sequences, set_random_seed) vs Keras 3, and
the lazy-import promise of fkeras.interop / fkeras.utils / fkeras.data."""

import random
import subprocess
import sys

import numpy as np
import pytest

import fkeras.utils as fu


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def test_to_categorical_matches_keras(keras):
    for y, n in (([0, 2, 1, 2], None), (np.array([[1], [0], [3]]), 5), (np.array([[0, 1], [2, 0]]), 3),
                 (np.array([1.0, 0.0]), 2)):
        got, want = fu.to_categorical(y, n), keras.utils.to_categorical(y, n)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        fu.to_categorical([0, 3], 3)
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        fu.to_categorical([-1, 0], 3)
    with pytest.raises(ValueError, match="integer"):
        fu.to_categorical([0.5, 1.0])


def test_normalize_matches_keras(keras):
    x = np.random.default_rng(0).normal(size=(4, 3))
    x[1] = 0
    for axis, order in ((-1, 2), (1, 1), (-1, 1)):
        np.testing.assert_allclose(fu.normalize(x, axis, order), keras.utils.normalize(x, axis, order), rtol=1e-6)
    # axis=0: Keras's own NumPy path turns axis 0 into -1 (`axis or -1`); check the closed form
    np.testing.assert_allclose(fu.normalize(x, 0, 1), x / np.abs(x).sum(0, keepdims=True), rtol=1e-6)
    import jax.numpy as jnp

    np.testing.assert_allclose(np.asarray(fu.normalize(jnp.asarray(x, jnp.float32))),
                               keras.utils.normalize(x), rtol=1e-5, atol=1e-6)


def test_pad_sequences_matches_keras(keras):
    seqs = [[1], [2, 3], [4, 5, 6, 7], []]
    for kw in ({}, {"maxlen": 2}, {"padding": "post"}, {"truncating": "post", "maxlen": 3},
               {"value": -1, "maxlen": 5}, {"dtype": "float32", "value": 0.5}):
        got, want = fu.pad_sequences(seqs, **kw), keras.utils.pad_sequences(seqs, **kw)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    nested = [np.ones((2, 3)), np.zeros((1, 3))]
    np.testing.assert_array_equal(fu.pad_sequences(nested), keras.utils.pad_sequences(nested))
    with pytest.raises(ValueError, match="Padding type"):
        fu.pad_sequences(seqs, padding="middle")
    with pytest.raises(ValueError, match="different from expected shape"):
        fu.pad_sequences([np.ones((2, 3)), np.ones((2, 2))])


def test_set_random_seed_seeds_python_numpy_and_shuffling():
    from fkeras.data import get_data_adapter

    x = np.arange(20)

    def draw():
        return random.random(), np.random.rand(), [b[0].tolist() for b in
                                                   get_data_adapter(x, batch_size=20, shuffle=True).get_numpy_iterator()]

    fu.set_random_seed(7)
    a = draw()
    fu.set_random_seed(7)
    assert draw() == a and fu.get_random_seed() == 7
    with pytest.raises(ValueError, match="integer"):
        fu.set_random_seed(1.5)


def test_unpack_and_progbar_reexports():
    assert fu.unpack_x_y_sample_weight((1, 2)) == (1, 2, None)
    assert fu.pack_x_y_sample_weight(1, 2) == (1, 2)
    with pytest.raises(AttributeError):
        fu.not_a_util  # noqa: B018


def test_imports_never_pull_torch_tensorflow_or_pandas():
    code = (
        "import sys, numpy as np\n"
        "import fkeras.interop, fkeras.interop.data, fkeras.interop.dlpack, fkeras.utils, fkeras.data\n"
        "from fkeras.data import get_data_adapter\n"
        "a = get_data_adapter(np.zeros((4, 2)), np.zeros(4), batch_size=2)\n"
        "list(a.get_jax_iterator())\n"
        "fkeras.utils.PyDataset; fkeras.utils.to_categorical([1])\n"
        "print(sorted(m for m in ('torch', 'tensorflow', 'pandas') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_py_dataset_loads_without_jax():
    """What a `PyDataset`'s worker process imports (`fkeras.data.py_dataset`, `fkeras.utils.PyDataset`,
    `Progbar`, `set_random_seed`) loads no JAX, so spawned workers start quickly."""
    code = ("import sys\nimport fkeras.data.py_dataset, fkeras.utils\n"
            "fkeras.utils.PyDataset; fkeras.utils.Progbar; fkeras.utils.set_random_seed\n"
            "print('jax' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_one_definition_under_every_name():
    """`fkeras.data` defines the adapters, PyDataset and DLPack conversion; the older and the Keras names hand on
    the same objects, and `fkeras.runtime` defines what `keras.utils`/`keras.config` name from it."""
    import fkeras.data
    import fkeras.interop.data
    import fkeras.interop.dlpack
    from fkeras.data import dlpack
    from fkeras.runtime import io_utils, progbar, rng_utils

    assert sorted(fkeras.data.__all__) == sorted(set(dir(fkeras.data)) & set(fkeras.data.__all__))
    for name in fkeras.data.__all__:
        assert getattr(fkeras.data, name) is not None, name
    for name in fkeras.interop.data.__all__:
        assert getattr(fkeras.interop.data, name) is getattr(fkeras.data, name), name
    for name in dlpack.__all__:
        assert getattr(fkeras.interop.dlpack, name) is getattr(dlpack, name), name
    assert fu.PyDataset is fu.Sequence is fkeras.data.PyDataset
    assert fu.pack_x_y_sample_weight is fkeras.data.pack_x_y_sample_weight
    assert fu.Progbar is progbar.Progbar and fu.set_random_seed is rng_utils.set_random_seed
    assert fkeras.config.disable_interactive_logging is fu.disable_interactive_logging is \
        io_utils.disable_interactive_logging
    with pytest.raises(AttributeError, match="fkeras.data"):
        fkeras.data.not_a_name  # noqa: B018
