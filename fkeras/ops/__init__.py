"""`fkeras.ops`: one math vocabulary with `keras.ops` names and signatures.

Every op looks at its array arguments and runs on their framework: JAX arrays,
NumPy arrays and Python scalars on JAX (jit-traceable); torch tensors on torch;
TF tensors on TF. The implementations live in `_jax.py`, `_torch.py`, `_tf.py`,
one module per framework; this module only declares and documents.
"""

# ruff: noqa: A001, A002  (NumPy names shadow builtins on purpose)
import functools
import importlib

import jax

from fkeras.ops import _dispatch
from fkeras.ops._args import PART_B_OPS as _PART_B_OPS
from fkeras.ops._dispatch import framework_of, op


# --- numpy-like -------------------------------------------------------------

@op
def matmul(x1, x2):
    """Matrix product with NumPy broadcasting rules."""


@op
def einsum(subscripts, *operands, **kwargs):
    """Einstein summation over `operands` (`kwargs`: jnp.einsum's `optimize`, `precision`; int8 operands
    accumulate and return int32, as Keras)."""


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
def arange(start, stop=None, step=None, dtype=None):
    """Evenly spaced values in `[start, stop)` (step 1 when None)."""


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


# --- nn / math / linalg / core / control flow (issue 14 part B) --------------------
# Implementations: `_jax_extra.py`, `_torch_extra.py`, `_tf_extra.py` (star-imported by the
# framework modules). Image ops live in `fkeras.ops.image` only, as in Keras.

def _nested_op(fn):
    """`op` for control flow: the framework is found anywhere inside nested loop state / operands
    (callables are skipped); no arrays at all means JAX."""
    name = fn.__name__

    @functools.wraps(fn)
    def dispatched(*args, **kwargs):
        leaves = [x for x in jax.tree_util.tree_leaves((args, kwargs)) if not callable(x)]
        fw = _dispatch.framework_of(*leaves)
        if fw == _dispatch.VARIABLE:
            args, kwargs = jax.tree_util.tree_map(
                lambda x: x.value if _dispatch._framework_of_one(x) == _dispatch.VARIABLE else x, (args, kwargs))
            leaves = [x for x in jax.tree_util.tree_leaves((args, kwargs)) if not callable(x)]
            fw = _dispatch.framework_of(*leaves)
        if fw == _dispatch.SYMBOLIC:
            raise NotImplementedError(f"fkeras.ops.{name}: control flow on KerasTensors is not supported; "
                                      "call it inside a layer's call() on concrete arrays.")
        return _dispatch.resolve(name, fw)(*args, **kwargs)

    dispatched.__fkeras_op__ = name
    return dispatched


# core / control flow
@_nested_op
def cond(pred, true_fn, false_fn):
    """`true_fn()` if `pred` else `false_fn()` (a traced branch on JAX/TF, Python `if` on torch)."""


@_nested_op
def switch(index, branches, *operands):
    """`branches[index](*operands)`; `index` is clamped into range."""


@_nested_op
def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Repeat `loop_vars = body(*loop_vars)` while `cond(*loop_vars)` (at most `maximum_iterations` times)."""


@_nested_op
def fori_loop(lower, upper, body_fun, init_val):
    """`val = body_fun(i, val)` for i in [lower, upper); returns the final val."""


@_nested_op
def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """`carry, y = f(carry, x)` over the leading axis of `xs`: returns (final carry, stacked ys)."""


@_nested_op
def associative_scan(f, elems, reverse=False, axis=0):
    """Inclusive prefix scan of the associative binary `f` over `axis` of each leaf of `elems`."""


@_nested_op
def map(f, xs):
    """`f` applied to each slice of `xs` along its leading axis; results stacked."""


@_nested_op
def vectorized_map(function, elements):
    """`function` vectorised over the leading axis of `elements` (vmap)."""


def custom_gradient(f):
    """Decorator: `f(*args)` returns `(output, grad_fn)`; `grad_fn(upstream)` gives the gradients of
    the arguments. The framework is picked when the decorated function is called."""
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return _dispatch.resolve("custom_gradient", _dispatch.framework_of(*args, **kwargs))(f)(*args, **kwargs)

    return wrapper


@op
def slice(inputs, start_indices, shape):
    """The block of `shape` starting at `start_indices` (-1 in `shape`: to the end of that axis)."""


@op
def slice_update(inputs, start_indices, updates):
    """`inputs` with the block at `start_indices` replaced by `updates`."""


@op
def scatter(indices, values, shape):
    """Zeros of `shape` with `values` added at `indices` (N, ndim); duplicates add up."""


@op
def scatter_update(inputs, indices, updates, reduction=None):
    """`inputs` with `updates` written at `indices` (N, k); reduction None/'add'/'max'/'min'/'mul'."""


@op
def unstack(x, num=None, axis=0):
    """List of the slices of `x` along `axis`."""


@op
def saturate_cast(x, dtype):
    """Cast to `dtype`, clipping to its range first (no wrap-around)."""


@op
def is_tensor(x):
    """True for a tensor of the framework it dispatches to (JAX array, torch tensor, TF tensor)."""


# math
@op
def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    """Sum of `data` rows per segment id -> (num_segments, *data.shape[1:])."""


@op
def segment_max(data, segment_ids, num_segments=None, sorted=False):
    """Max of `data` rows per segment id (-inf / int min for empty segments)."""


@op
def segment_min(data, segment_ids, num_segments=None, sorted=False):
    """Min of `data` rows per segment id (+inf / int max for empty segments)."""


@op
def segment_prod(data, segment_ids, num_segments=None, sorted=False):
    """Product of `data` rows per segment id (1 for empty segments)."""


@op
def in_top_k(targets, predictions, k):
    """Bool (batch,): is `predictions[i, targets[i]]` among the top `k` of row i (ties count as in)."""


@op
def cdist(x, y):
    """Euclidean distances between rows: (..., P, M), (..., R, M) -> (..., P, R)."""


@op
def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of the last axis: (..., n) -> (..., num_frames, sequence_length)."""


@op
def fft(x):
    """FFT over the last axis of the complex `(real, imag)` pair; returns (real, imag)."""


@op
def fft2(x):
    """2-D FFT over the last two axes of `(real, imag)`; returns (real, imag)."""


@op
def ifft2(x):
    """Inverse 2-D FFT over the last two axes of `(real, imag)`; returns (real, imag)."""


@op
def rfft(x, fft_length=None):
    """Real FFT of the last axis: (..., n) -> (real, imag), each (..., fft_length // 2 + 1)."""


@op
def irfft(x, fft_length=None):
    """Inverse real FFT of `(real, imag)` -> (..., fft_length)."""


@op
def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """Short-time Fourier transform of the last axis -> (real, imag), each (..., frames, fft_length // 2 + 1)."""


@op
def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann", center=True):
    """Inverse STFT of `(real, imag)` (..., frames, bins) -> (..., samples) by windowed overlap-add."""


@op
def erfc(x):
    """Complementary error function 1 - erf(x)."""


@op
def erfinv(x):
    """Inverse error function."""


@op
def logdet(x):
    """log(det(x)) of (..., M, M) Hermitian positive-definite matrices."""


@op
def view_as_complex(x):
    """(..., 2) float -> (...) complex (last axis: real, imag)."""


@op
def view_as_real(x):
    """(...) complex -> (..., 2) float (last axis: real, imag)."""


# nn
@op
def celu(x, alpha=1.0):
    """max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))."""


@op
def glu(x, axis=-1):
    """Gated linear unit: a * sigmoid(b) with (a, b) the halves of `x` along `axis`."""


@op
def hard_shrink(x, threshold=0.5):
    """x where |x| > threshold, else 0."""


@op
def hard_silu(x):
    """x * relu6(x + 3) / 6."""


@op
def hard_swish(x):
    """Alias of hard_silu."""


@op
def hard_tanh(x):
    """clip(x, -1, 1)."""


@op
def log_sigmoid(x):
    """log(sigmoid(x)) computed stably."""


@op
def soft_shrink(x, threshold=0.5):
    """x - threshold above threshold, x + threshold below -threshold, else 0."""


@op
def sparse_plus(x):
    """0 for x <= -1, (x + 1)^2 / 4 for |x| < 1, x for x >= 1."""


@op
def sparse_sigmoid(x):
    """0 for x <= -1, (x + 1) / 2 for |x| < 1, 1 for x >= 1."""


@op
def sparsemax(x, axis=-1):
    """Euclidean projection onto the simplex along `axis` (sparse softmax)."""


@op
def squareplus(x, b=4):
    """(x + sqrt(x^2 + b)) / 2."""


@op
def swish(x):
    """x * sigmoid(x) (alias of silu)."""


@op
def tanh_shrink(x):
    """x - tanh(x)."""


@op
def threshold(x, threshold, default_value):
    """x where x > threshold, else default_value."""


@op
def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """(x - mean) / sqrt(var + epsilon) * gamma + beta over `axis` (computed in at least float32)."""


@op
def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """x / sqrt(mean(x^2) + epsilon) * scale over `axis` (computed in at least float32)."""


@op
def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """(batch, n) int -> (batch, num_classes): 1 where a class occurs in the row."""


@op
def polar(abs_, angle):
    """Complex abs_ * (cos(angle) + i sin(angle))."""


@op
def psnr(x1, x2, max_val):
    """Peak signal-to-noise ratio 20 log10(max_val) - 10 log10(mse) over all elements."""


@op
def depth_to_space(x, block_size, data_format="channels_last"):
    """Pixel shuffle: (N, H, W, C) -> (N, H*b, W*b, C / b^2)."""


@op
def space_to_depth(x, block_size, data_format="channels_last"):
    """Pixel unshuffle: (N, H, W, C) -> (N, H / b, W / b, C*b^2)."""


@op
def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    """N-D transposed convolution. kernel: (*window, out, in); 'same' gives in*strides per axis."""


@op
def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """Depthwise conv (kernel (*window, in, mult)) then 1x1 conv (kernel (*1, in*mult, out))."""


@op
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """softmax(q k^T * scale + bias, masked) v. query (B, T, N, H); key/value (B, S, K, H), N % K == 0."""


@op
def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: (N, C, H, W) -> (N, C*kh*kw, L) sliding blocks (torch's Unfold)."""


@op
def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im: (N, C*kh*kw, L) -> (N, C, *output_size), overlapping blocks summed."""


@op
def adaptive_average_pool(inputs, output_size, data_format=None):
    """Average pooling to a fixed `output_size` (windows as torch's adaptive pooling)."""


@op
def adaptive_max_pool(inputs, output_size, data_format=None):
    """Max pooling to a fixed `output_size` (windows as torch's adaptive pooling)."""


@op
def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """CTC loss per batch item. target (B, L) int; output (B, T, classes) logits."""


@op
def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1, merge_repeated=True,
               mask_index=0):
    """CTC decoding -> (decoded (top_paths, B, T) with -1 padding, scores (B, top_paths))."""


# linalg
@op
def cholesky(x, upper=False):
    """Cholesky factor of (..., M, M) positive-definite matrices (lower unless `upper`)."""


@op
def cholesky_inverse(x, upper=False):
    """Inverse of A from its Cholesky factor `x` (lower unless `upper`)."""


@op
def det(x):
    """Determinant of (..., M, M)."""


@op
def eig(x):
    """(eigenvalues, eigenvectors) of general square matrices (complex)."""


@op
def eigh(x):
    """(eigenvalues ascending, eigenvectors) of symmetric/Hermitian matrices."""


@op
def inv(x):
    """Inverse of (..., M, M)."""


@op
def lu_factor(x):
    """(lu, pivots) of (..., M, N): packed LU factors and 0-based row pivots (int32)."""


@op
def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm (NumPy's `linalg.norm` rules)."""


@op
def qr(x, mode="reduced"):
    """(q, r) of (..., M, N); mode 'reduced' or 'complete'."""


@op
def solve(a, b):
    """x with a @ x = b; a (..., M, M)."""


@op
def solve_triangular(a, b, lower=False):
    """x with a @ x = b for triangular `a`."""


@op
def svd(x, full_matrices=True, compute_uv=True):
    """(u, s, vh) of (..., M, N) (only s when compute_uv=False)."""


@op
def lstsq(a, b, rcond=None):
    """Least-squares solution x of a @ x = b; a (M, N), b (M,) or (M, K)."""


@op
def matrix_rank(x, tol=None):
    """Rank from the singular values above `tol` (NumPy's default tolerance when None); int32."""


@op
def pinv(x, rcond=None):
    """Moore-Penrose pseudo-inverse."""


@_nested_op
def jvp(fun, primals, tangents, has_aux=False):
    """(fun(*primals), J @ tangents) (plus aux when has_aux): forward-mode derivative."""


@op
def rearrange(tensor, pattern, **axes_lengths):
    """einops-style axis rearrangement, e.g. 'b (h w) c -> b h w c' with h=4."""


from fkeras.ops import image  # noqa: E402  (declares the image ops; the other Keras submodules re-export, below)

__all__ += [*_PART_B_OPS, "core", "image", "linalg", "math", "nn"]


# --- numpy family (table-driven; issue 14 part A) ----------------------------------
# The rest of `keras.ops.numpy`: one documented declaration per row of `_numpy_table.TABLE`
# (name, Keras signature, dtype rule, per-framework callable). Each is an `op` like the ones
# above, so `dir()`, `from fkeras.ops import cos` and `inspect.signature` work as for them.
# Implementations: `_numpy_jax.py`, `_numpy_torch.py`, `_numpy_tf.py` (built from the same table; each
# framework's modules are merged by `_dispatch.backend`); `fkeras.ops.numpy` holds the whole family.
from fkeras.ops import _numpy_table  # noqa: E402

globals().update(_numpy_table.declare(op))

__all__ += [*_numpy_table.ROWS, "numpy"]
# --- end numpy family ---

# Keras's submodules that only re-export ops declared here (`fkeras.ops.nn.relu is fkeras.ops.relu`) load on
# first use: they import this package, never the other way round, so the two form no import cycle.
_VIEWS = ("core", "linalg", "math", "nn", "numpy")


def __getattr__(name):
    if name in _VIEWS:
        module = importlib.import_module(f"fkeras.ops.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'fkeras.ops' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_VIEWS))
