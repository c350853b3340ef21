"""ops.matmul of two int8 arrays accumulates in int32 and returns int32 (Keras's rule), on every framework:
an int8 result would wrap around (100 * 100 * 64 = 640000)."""

import keras
import numpy as np
import pytest

import fkeras
from fkeras import ops


@pytest.mark.parametrize("framework", ["numpy", "torch", "tf"])
@pytest.mark.parametrize("shapes", [((2, 64), (64, 3)), ((4, 2, 64), (64, 3)), ((64,), (64, 2))])
def test_int8_matmul_accumulates_in_int32_as_keras(framework, shapes):
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, shapes[0]).astype("int8")
    b = rng.integers(-128, 128, shapes[1]).astype("int8")
    want = keras.ops.matmul(a, b)
    x, y = a, b
    if framework == "torch":
        torch = pytest.importorskip("torch")
        x, y = torch.from_numpy(a), torch.from_numpy(b)
    elif framework == "tf":
        tf = pytest.importorskip("tensorflow")
        x, y = tf.constant(a), tf.constant(b)
    got = ops.matmul(x, y)
    assert fkeras.backend.standardize_dtype(got.dtype) == keras.backend.standardize_dtype(want.dtype) == "int32"
    np.testing.assert_array_equal(ops.convert_to_numpy(got), np.asarray(want))
