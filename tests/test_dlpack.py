"""fkeras.interop.dlpack: values, dtypes and memory sharing across JAX, torch, TF and NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fkeras.interop.dlpack import to_jax, to_numpy, to_tf, to_torch

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")

DTYPES = ["float32", "float16", "bfloat16", "int32", "int64", "uint8", "bool"]


def _ref(dtype, shape=(3, 4)):
    a = (np.arange(np.prod(shape)) % 7).reshape(shape)
    if dtype == "bool":
        return a % 2 == 0
    return np.asarray(jnp.asarray(a, dtype)) if dtype == "bfloat16" else a.astype(dtype)


def _np(x):
    if isinstance(x, torch.Tensor):
        return np.asarray(jnp.asarray(to_jax(x)))
    if isinstance(x, tf.Tensor):
        return np.asarray(to_jax(x))
    return np.asarray(x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trips_keep_values_and_dtype(dtype):
    ref = _ref(dtype)
    j = jnp.asarray(ref)
    t = to_torch(j)
    f = to_tf(j)
    for out in (to_jax(t), to_jax(f), to_jax(to_tf(t)), to_jax(to_torch(f)), to_jax(to_numpy(t))):
        assert out.dtype == j.dtype
        np.testing.assert_array_equal(np.asarray(out), np.asarray(j))
    assert str(t.dtype).endswith(str(j.dtype)) and f.dtype.name == str(j.dtype)


def test_zero_copy_torch_jax_both_ways():
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    j = to_jax(t)
    assert j.unsafe_buffer_pointer() == t.data_ptr()
    j2 = jnp.arange(12.0).reshape(3, 4)
    t2 = to_torch(j2)
    assert t2.data_ptr() == j2.unsafe_buffer_pointer()
    t3 = to_torch(j2, copy=True)
    assert t3.data_ptr() != j2.unsafe_buffer_pointer()
    t3.add_(1.0)  # the copy may be mutated; the JAX array is untouched
    np.testing.assert_array_equal(np.asarray(j2), np.arange(12.0).reshape(3, 4))


def test_zero_copy_tf_to_jax_and_numpy_to_torch():
    f = tf.constant(np.arange(16, dtype=np.float32).reshape(4, 4))
    j = to_jax(f)
    assert j.unsafe_buffer_pointer() == torch.from_dlpack(f).data_ptr()  # TF buffer address
    a = np.arange(5, dtype=np.int32)
    assert to_torch(a).data_ptr() == a.ctypes.data
    assert to_torch(a, copy=True).data_ptr() != a.ctypes.data


def test_fallbacks_for_what_dlpack_cannot_carry():
    t = torch.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(np.asarray(to_jax(t.T)), np.arange(12.0).reshape(3, 4).T)  # strided
    g = torch.ones(3, requires_grad=True) * 2
    np.testing.assert_array_equal(np.asarray(to_jax(g)), np.full(3, 2.0, np.float32))  # needs detach
    c = torch.tensor([1 + 2j]).conj()  # lazy conjugate bit
    np.testing.assert_array_equal(np.asarray(to_jax(c)), np.array([1 - 2j], np.complex64))
    ro = np.arange(4.0)
    ro.flags.writeable = False
    np.testing.assert_array_equal(to_torch(ro).numpy(), np.arange(4.0))  # read-only -> copied
    np.testing.assert_array_equal(np.asarray(to_jax(tf.Variable([1.0, 2.0]))), [1.0, 2.0])
    rag = tf.ragged.constant([[1, 2], [3]])
    np.testing.assert_array_equal(np.asarray(to_jax(rag)), [[1, 2], [3, 0]])
    e = jnp.zeros((0, 3))
    assert tuple(to_torch(e).shape) == (0, 3) and tuple(to_tf(e).shape) == (0, 3)
    assert to_torch(jnp.asarray(2.5)).item() == 2.5 and to_tf(jnp.asarray(2.5)).numpy() == 2.5


def test_other_inputs_and_errors():
    pd = pytest.importorskip("pandas")
    s = pd.Series([1.0, 2.0])
    np.testing.assert_array_equal(np.asarray(to_jax(s)), [1.0, 2.0])
    np.testing.assert_array_equal(np.asarray(to_jax([1, 2, 3])), [1, 2, 3])
    assert isinstance(to_jax(np.ones(2)), jax.Array)
    with pytest.raises(TypeError, match="string"):
        to_jax(tf.constant(["a"]))
    with pytest.raises(TypeError, match="strings"):
        to_jax(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="strings"):
        to_torch(np.array(["a"]))


def test_host_fallback_when_dlpack_refuses(monkeypatch):
    """A device/dtype pair DLPack cannot carry (e.g. a CUDA tensor with CPU-only JAX) takes
    the host path and still gives the right values."""

    def refuse(*a, **k):
        raise BufferError("no DLPack for this device")

    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    f = tf.constant([[1, 2]], dtype=tf.int32)
    j = jnp.arange(4.0)
    monkeypatch.setattr(jax.dlpack, "from_dlpack", refuse)
    monkeypatch.setattr(torch, "from_dlpack", refuse)
    monkeypatch.setattr(tf.experimental.dlpack, "from_dlpack", refuse)
    monkeypatch.setattr(tf.experimental.dlpack, "to_dlpack", refuse)
    np.testing.assert_array_equal(np.asarray(to_jax(t)), t.numpy())
    np.testing.assert_array_equal(np.asarray(to_jax(f)), [[1, 2]])
    np.testing.assert_array_equal(to_torch(j).numpy(), np.arange(4.0))
    np.testing.assert_array_equal(to_torch(f).numpy(), [[1, 2]])
    np.testing.assert_array_equal(to_tf(j).numpy(), np.arange(4.0))
    np.testing.assert_array_equal(to_tf(t).numpy(), t.numpy())
