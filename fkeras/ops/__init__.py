"""`fkeras.ops`: one math vocabulary with `keras.ops` names and signatures.

Every op looks at its array arguments and runs on their framework: JAX arrays,
NumPy arrays and Python scalars on JAX (jit-traceable); torch tensors on torch;
TF tensors on TF. The implementations live in `_jax.py`, `_torch.py`, `_tf.py`,
one module per framework; this module only declares and documents.
"""

# ruff: noqa: A001, A002  (NumPy names shadow builtins on purpose)
from fkeras.ops._dispatch import framework_of, op


# --- numpy-like -------------------------------------------------------------

@op
def matmul(x1, x2):
    """Matrix product with NumPy broadcasting rules."""


@op
def einsum(subscripts, *operands):
    """Einstein summation over `operands`."""


@op
def dot(x1, x2):
    """Dot product (NumPy `dot` semantics)."""


@op
def add(x1, x2):
    """Elementwise `x1 + x2` with broadcasting."""


@op
def subtract(x1, x2):
    """Elementwise `x1 - x2` with broadcasting."""


@op
def multiply(x1, x2):
    """Elementwise `x1 * x2` with broadcasting."""


@op
def divide(x1, x2):
    """Elementwise true division with broadcasting."""


@op
def power(x1, x2):
    """Elementwise `x1 ** x2`."""


@op
def negative(x):
    """Elementwise `-x`."""


@op
def exp(x):
    """Elementwise exponential."""


@op
def log(x):
    """Elementwise natural logarithm."""


@op
def log1p(x):
    """Elementwise `log(1 + x)`."""


@op
def sqrt(x):
    """Elementwise square root."""


@op
def rsqrt(x):
    """Elementwise `1 / sqrt(x)`."""


@op
def square(x):
    """Elementwise square."""


@op
def abs(x):
    """Elementwise absolute value."""


@op
def sign(x):
    """Elementwise sign."""


@op
def tanh(x):
    """Elementwise hyperbolic tangent."""


@op
def erf(x):
    """Elementwise error function."""


@op
def floor(x):
    """Elementwise floor."""


@op
def round(x, decimals=0):
    """Round half to even, like NumPy."""


@op
def maximum(x1, x2):
    """Elementwise maximum with broadcasting."""


@op
def minimum(x1, x2):
    """Elementwise minimum with broadcasting."""


@op
def clip(x, x_min, x_max):
    """Clip values into `[x_min, x_max]`."""


@op
def equal(x1, x2):
    """Elementwise `x1 == x2`."""


@op
def not_equal(x1, x2):
    """Elementwise `x1 != x2`."""


@op
def greater(x1, x2):
    """Elementwise `x1 > x2`."""


@op
def greater_equal(x1, x2):
    """Elementwise `x1 >= x2`."""


@op
def less(x1, x2):
    """Elementwise `x1 < x2`."""


@op
def less_equal(x1, x2):
    """Elementwise `x1 <= x2`."""


@op
def logical_and(x1, x2):
    """Elementwise logical and."""


@op
def logical_or(x1, x2):
    """Elementwise logical or."""


@op
def logical_not(x):
    """Elementwise logical not."""


@op
def sum(x, axis=None, keepdims=False):
    """Sum over `axis` (all axes when None)."""


@op
def prod(x, axis=None, keepdims=False, dtype=None):
    """Product over `axis`."""


@op
def mean(x, axis=None, keepdims=False):
    """Mean over `axis`."""


@op
def max(x, axis=None, keepdims=False, initial=None):
    """Maximum over `axis`."""


@op
def min(x, axis=None, keepdims=False, initial=None):
    """Minimum over `axis`."""


@op
def any(x, axis=None, keepdims=False):
    """Logical or over `axis`."""


@op
def all(x, axis=None, keepdims=False):
    """Logical and over `axis`."""


@op
def argmax(x, axis=None, keepdims=False):
    """Index of the maximum along `axis` (flattened when None)."""


@op
def argmin(x, axis=None, keepdims=False):
    """Index of the minimum along `axis`."""


@op
def var(x, axis=None, keepdims=False):
    """Population variance over `axis`."""


@op
def std(x, axis=None, keepdims=False):
    """Population standard deviation over `axis`."""


@op
def logsumexp(x, axis=None, keepdims=False):
    """`log(sum(exp(x)))` computed stably."""


@op
def reshape(x, newshape):
    """Reshape; one dimension may be -1."""


@op
def transpose(x, axes=None):
    """Permute axes (reverse them when `axes` is None)."""


@op
def expand_dims(x, axis):
    """Insert a length-1 axis at `axis`."""


@op
def squeeze(x, axis=None):
    """Remove length-1 axes."""


@op
def broadcast_to(x, shape):
    """Broadcast `x` to `shape`."""


@op
def tile(x, repeats):
    """Tile `x` `repeats` times per axis."""


@op
def repeat(x, repeats, axis=None):
    """Repeat elements along `axis`."""


@op
def flip(x, axis=None):
    """Reverse the order of elements along `axis`."""


@op
def concatenate(xs, axis=0):
    """Join a sequence of arrays along an existing axis."""


@op
def stack(x, axis=0):
    """Join a sequence of arrays along a new axis."""


@op
def split(x, indices_or_sections, axis=0):
    """Split into a list of sub-arrays."""


@op
def pad(x, pad_width, mode="constant", constant_values=None):
    """Pad with `pad_width` ((before, after) per axis)."""


@op
def take(x, indices, axis=None):
    """Take elements along `axis` (flattened when None)."""


@op
def take_along_axis(x, indices, axis=None):
    """Gather with `indices` broadcast along `axis`."""


@op
def where(condition, x1=None, x2=None):
    """Choose from `x1` where `condition`, else `x2`."""


@op
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """One-hot encode integer `x` into `num_classes`."""


@op
def cast(x, dtype):
    """Cast to `dtype` (a string like "float32" or a dtype object)."""


@op
def convert_to_tensor(x, dtype=None, sparse=None):
    """Make an array of the op's framework (JAX for Python/NumPy input)."""


@op
def convert_to_numpy(x):
    """Copy any framework's array to a NumPy array on the host."""


@op
def shape(x):
    """Static shape as a tuple of ints (None for unknown TF dims)."""


@op
def ndim(x):
    """Number of dimensions."""


@op
def size(x):
    """Number of elements."""


@op
def dtype(x):
    """The dtype's standard name, e.g. "float32"."""


@op
def zeros(shape, dtype=None):
    """Array of zeros (float32 by default)."""


@op
def ones(shape, dtype=None):
    """Array of ones (float32 by default)."""


@op
def zeros_like(x, dtype=None):
    """Zeros with the shape (and dtype) of `x`."""


@op
def ones_like(x, dtype=None):
    """Ones with the shape (and dtype) of `x`."""


@op
def full(shape, fill_value, dtype=None):
    """Array filled with `fill_value`."""


@op
def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values in `[start, stop)`."""


@op
def cumsum(x, axis=None, dtype=None):
    """Cumulative sum along `axis` (flattened when None)."""


@op
def sort(x, axis=-1):
    """Sorted copy along `axis`."""


@op
def top_k(x, k, sorted=True):
    """Values and indices of the `k` largest entries of the last axis."""


@op
def stop_gradient(variable):
    """Treat as a constant for differentiation."""


# --- nn ---------------------------------------------------------------------

@op
def relu(x):
    """max(x, 0)."""


@op
def relu6(x):
    """min(max(x, 0), 6)."""


@op
def leaky_relu(x, negative_slope=0.2):
    """x if x > 0 else negative_slope * x."""


@op
def elu(x, alpha=1.0):
    """x if x > 0 else alpha * (exp(x) - 1)."""


@op
def selu(x):
    """Scaled ELU with the self-normalising constants."""


@op
def gelu(x, approximate=True):
    """Gaussian error linear unit (tanh approximation by default, as keras.ops)."""


@op
def silu(x):
    """x * sigmoid(x)."""


@op
def sigmoid(x):
    """1 / (1 + exp(-x))."""


@op
def hard_sigmoid(x):
    """relu6(x + 3) / 6."""


@op
def softplus(x):
    """log(1 + exp(x))."""


@op
def softsign(x):
    """x / (1 + |x|)."""


@op
def softmax(x, axis=-1):
    """Softmax along `axis`."""


@op
def log_softmax(x, axis=-1):
    """Log of softmax along `axis`, computed stably."""


@op
def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution. inputs: (batch, *spatial, in) for channels_last; kernel: (*window, in // groups, out)."""


@op
def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """Depthwise N-D convolution. kernel: (*window, in, multiplier)."""


@op
def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """N-D max pooling; strides default to `pool_size`."""


@op
def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """N-D average pooling (padding excluded from the count, as Keras)."""


@op
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Per-sample crossentropy for integer targets. target: (batch, ...); output: (batch, ..., classes)."""


@op
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Per-sample crossentropy for one-hot/probability targets of the same shape as `output`."""


@op
def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary crossentropy (no reduction)."""


@op
def normalize(x, axis=-1, order=2, epsilon=None):
    """`x` divided by its `order`-norm along `axis`."""


@op
def moments(x, axes, keepdims=False, synchronized=False):
    """(mean, variance) over `axes`."""


@op
def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """(x - mean) / sqrt(variance + epsilon) * scale + offset, broadcast along `axis`."""


__all__ = ["framework_of", "matmul", "einsum", "dot", "add", "subtract", "multiply", "divide", "power", "negative", "exp", "log", "log1p", "sqrt", "rsqrt", "square", "abs", "sign", "tanh", "erf", "floor", "round", "maximum", "minimum", "clip", "equal", "not_equal", "greater", "greater_equal", "less", "less_equal", "logical_and", "logical_or", "logical_not", "sum", "prod", "mean", "max", "min", "any", "all", "argmax", "argmin", "var", "std", "logsumexp", "reshape", "transpose", "expand_dims", "squeeze", "broadcast_to", "tile", "repeat", "flip", "concatenate", "stack", "split", "pad", "take", "take_along_axis", "where", "one_hot", "cast", "convert_to_tensor", "convert_to_numpy", "shape", "ndim", "size", "dtype", "zeros", "ones", "zeros_like", "ones_like", "full", "arange", "cumsum", "sort", "top_k", "stop_gradient", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "sigmoid", "hard_sigmoid", "softplus", "softsign", "softmax", "log_softmax", "conv", "depthwise_conv", "max_pool", "average_pool", "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy", "normalize", "moments", "batch_normalization"]



# --- numpy family (table-driven; issue 14 part A) ----------------------------------
# The rest of `keras.ops.numpy`: one documented declaration per row of `_numpy_table.TABLE`
# (name, Keras signature, dtype rule, per-framework callable). Each is an `op` like the ones
# above, so `dir()`, `from fkeras.ops import cos` and `inspect.signature` work as for them.
# Implementations: `_numpy_jax.py`, `_numpy_torch.py`, `_numpy_tf.py` (built from the same table,
# installed into `_jax`/`_torch`/`_tf` at their ends); `fkeras.ops.numpy` holds the whole family.
from fkeras.ops import _numpy_table  # noqa: E402

globals().update(_numpy_table.declare(op))
from fkeras.ops import numpy  # noqa: E402  (after the declarations it re-exports)

__all__ += [*_numpy_table.ROWS, "numpy"]
# --- end numpy family ---
