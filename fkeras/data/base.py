"""The `DataAdapter` protocol, batch standardization and the prefetching iterator.

A batch leaving any adapter is a tuple `(x,)`, `(x, y)` or `(x, y, sample_weight)`, where
each element is a pytree (array, tuple/list/dict of arrays) whose leaves share the batch
dimension. Leaves are cast the way Keras's adapters cast them: floating arrays become
`floatx()` (float32); 64-bit integers become 32-bit (what JAX does without x64); all other
dtypes (uint8 images, bool masks, int32 labels) pass unchanged, so images cross to the
device at 1 byte per pixel and the model casts them at its input.

torch, tensorflow and pandas are never imported here: objects are recognized by the
class names in their MRO, and the framework is imported only once such an object arrives.
"""

from __future__ import annotations

import queue
import threading
import warnings

import jax
import numpy as np

from fkeras.backend import floatx
from fkeras.data.sparse import SparseRows, is_sparse, to_rows

# --------------------------------------------------------------------------- type tests


def _mro_has(x, names, module_part):
    for parent in type(x).__mro__:
        if parent.__name__ in names and module_part in str(parent.__module__):
            return True
    return False


_KIND_CACHE: dict = {}


def _kind(x) -> str | None:
    """"torch", "tf", "pandas" or None for `x`'s class (cached per class: this runs per leaf)."""
    cls = type(x)
    kind = _KIND_CACHE.get(cls, False)
    if kind is False:
        if _mro_has(x, ("Tensor",), "torch"):
            kind = "torch"
        elif _mro_has(x, ("Tensor", "RaggedTensor", "SparseTensor", "Variable", "BaseResourceVariable"),
                      "tensorflow"):
            kind = "tf"
        elif _mro_has(x, ("DataFrame", "Series"), "pandas"):
            kind = "pandas"
        else:
            kind = None
        _KIND_CACHE[cls] = kind
    return kind


def is_torch_tensor(x) -> bool:
    return _kind(x) == "torch"


def is_tf_tensor(x) -> bool:
    return _kind(x) == "tf"


def is_jax_array(x) -> bool:
    return isinstance(x, jax.Array)


def is_pandas(x) -> bool:
    return _kind(x) == "pandas"


def is_tf_dataset(x) -> bool:
    return _mro_has(x, ("DatasetV2", "DistributedDataset", "DistributedDatasetsFromFunction"),
                    "tensorflow.python.")


def is_torch_dataloader(x) -> bool:
    return _mro_has(x, ("DataLoader",), "torch.utils.data")


def is_array_like(x) -> bool:
    """True for the leaves an array adapter can slice along axis 0."""
    return (
        isinstance(x, np.ndarray)
        or is_jax_array(x)
        or is_sparse(x)
        or is_torch_tensor(x)
        or is_tf_tensor(x)
        or is_pandas(x)
        or (hasattr(x, "__array__") and hasattr(x, "shape") and not isinstance(x, type))
    )


def describe(x) -> str:
    """A short description of `x` for error messages (type and shape, never the values)."""
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    t = f"{type(x).__module__}.{type(x).__qualname__}"
    if shape is not None:
        return f"{t}(shape={tuple(shape)}, dtype={dtype})"
    return t


# --------------------------------------------------------------------------- dtypes and leaves


def _x64() -> bool:
    return bool(jax.config.jax_enable_x64)


def standard_dtype(dtype):
    """The dtype a batch leaf of `dtype` is cast to (None if it stays as is)."""

    dtype = np.dtype(dtype)
    if jax.dtypes.issubdtype(dtype, np.floating):
        return None if dtype == np.dtype(floatx()) else np.dtype(floatx())
    if not _x64():
        if dtype == np.int64:
            return np.dtype(np.int32)
        if dtype == np.uint64:
            return np.dtype(np.uint32)
    return None


def to_numpy(x) -> np.ndarray:
    """Any array-like leaf as a NumPy array (no copy for CPU torch/TF/JAX arrays), cast to the
    standard batch dtype."""
    if x is None:
        return None
    if is_sparse(x):  # a host COO (SparseRows); a batch of it reaches the model as a BCOO
        rows = to_rows(x)
        target = standard_dtype(rows.dtype)
        return rows if target is None else rows.astype(target)
    if isinstance(x, np.ndarray):
        a = x
    elif is_jax_array(x):
        a = np.asarray(x)
    elif is_torch_tensor(x):
        t = x.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        try:
            a = t.numpy()
        except TypeError:  # bfloat16 and friends have no NumPy view; they become floatx anyway
            a = t.float().numpy()
    elif is_tf_tensor(x):
        a = _tf_to_numpy(x)
    elif is_pandas(x):
        a = x.to_numpy()
    else:
        a = np.asarray(x)
    target = standard_dtype(a.dtype) if a.dtype != object else None
    if target is not None:
        a = a.astype(target)
    return a


def _tf_to_numpy(x):
    import tensorflow as tf

    if isinstance(x, tf.SparseTensor):
        x = tf.sparse.to_dense(x)
    elif isinstance(x, tf.RaggedTensor):
        x = x.to_tensor()
    return x.numpy()


def numpy_to_jax(a):
    if a is None:
        return None
    if isinstance(a, SparseRows):
        return jax.device_put(a.to_bcoo())
    if is_sparse(a):  # a BCOO already
        return jax.device_put(a)
    if a.dtype == object or a.dtype.kind in "USO":
        raise TypeError(
            f"fkeras data: a batch leaf has dtype {a.dtype} (strings or Python objects), which "
            "cannot become a JAX array. Encode it to numbers first (e.g. a StringLookup / "
            "tokenizer in your pipeline)."
        )
    return jax.device_put(a)


def tree_map(fn, tree):
    """`jax.tree_util.tree_map` where None stays None and any non-container is a leaf (a sparse tensor too)."""
    return jax.tree_util.tree_map(fn, tree, is_leaf=is_sparse)


def tree_leaves(tree):
    return jax.tree_util.tree_leaves(tree, is_leaf=is_sparse)


def sparse_to_bcoo(leaf):
    """A SparseRows batch leaf as the JAX BCOO the model receives; any other leaf unchanged."""
    return leaf.to_bcoo() if isinstance(leaf, SparseRows) else leaf


# --------------------------------------------------------------------------- packing


def unpack_x_y_sample_weight(data):
    """`(x,)`, `(x, y)` or `(x, y, sample_weight)` (or a bare `x`) -> `(x, y, sample_weight)`
    with None for what is missing. Keras's `keras.utils.unpack_x_y_sample_weight`."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return (data, None, None)
    if len(data) == 1:
        return (data[0], None, None)
    if len(data) == 2:
        return (data[0], data[1], None)
    if len(data) == 3:
        return (data[0], data[1], data[2])
    raise ValueError(
        "Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`; "
        f"found a tuple of length {len(data)}."
    )


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """Keras's `keras.utils.pack_x_y_sample_weight`: the tuple format `fit` consumes."""
    if y is None:
        return x if not isinstance(x, (tuple, list)) else (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def as_batch_tuple(batch, source: str, index: int):
    """A raw batch from a dataset-like source as `(x,)`, `(x, y)` or `(x, y, sw)`.

    A dict or a bare array is `x`; a list is read as a tuple (as Keras does).
    """
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple):
        return (batch,)
    if not 1 <= len(batch) <= 3:
        raise ValueError(
            f"{source} batch {index} is a tuple of length {len(batch)}; expected `(x,)`, `(x, y)` "
            "or `(x, y, sample_weight)` (x and y may themselves be tuples/dicts of arrays)."
        )
    return batch


def class_weight_to_sample_weights(y, class_weight) -> np.ndarray:
    """Per-sample weights `(n,)` float32 from class ids in `y`: integer labels `(n,)`/`(n, 1)`
    or one-hot/probabilities `(n, classes)` (argmax). Missing classes weigh 1.0."""
    y = to_numpy(y)
    if y.ndim > 1:
        y = np.argmax(y, axis=-1) if y.shape[-1] != 1 else np.squeeze(y, axis=-1)
    if y.ndim != 1:
        raise ValueError(f"class_weight needs labels of shape (n,), (n, 1) or (n, classes); got {y.shape}.")
    ids = np.round(y).astype(np.int64)
    keys = np.array(sorted(class_weight), dtype=np.int64)
    values = np.array([float(class_weight[k]) for k in sorted(class_weight)], dtype=np.float32)
    out = np.ones(ids.shape, np.float32)
    if keys.size:
        pos = np.clip(np.searchsorted(keys, ids), 0, keys.size - 1)
        hit = keys[pos] == ids
        out[hit] = values[pos[hit]]
    return out


def check_class_weight(class_weight):
    if class_weight is None:
        return None
    if not isinstance(class_weight, dict):
        raise TypeError(f"`class_weight` must be a dict mapping class index -> weight; got {type(class_weight).__name__}.")
    for k, v in class_weight.items():
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
            raise TypeError(f"`class_weight` keys must be integer class indices; got key {k!r}.")
        try:
            float(v)
        except (TypeError, ValueError):
            raise TypeError(f"`class_weight[{k}]` must be a number; got {v!r}.") from None
    return {int(k): float(v) for k, v in class_weight.items()}


def apply_class_weight(batch, class_weight, source: str):
    """Append class-derived sample weights to an `(x, y)` batch."""
    if class_weight is None:
        return batch
    if len(batch) == 3 and batch[2] is not None:
        raise ValueError(f"{source}: you cannot use `class_weight` and `sample_weight` at the same time.")
    if len(batch) < 2 or batch[1] is None:
        raise ValueError(f"{source}: `class_weight` needs targets `y` in each batch; the batches have none.")
    y = batch[1]
    if isinstance(y, (tuple, list, dict)):
        raise ValueError("`class_weight` is only supported for models with a single output (y is nested).")
    return (batch[0], y, class_weight_to_sample_weights(y, class_weight))


def check_cardinality(batch, where: str):
    """All leaves of `batch` have rank >= 1 and the same first dimension; returns it."""
    sizes = {}
    for name, part in zip(("x", "y", "sample_weight"), batch):
        for leaf in tree_leaves(part):
            shape = getattr(leaf, "shape", None)
            if shape is None or len(shape) == 0:
                raise ValueError(
                    f"{where}: every array must have a batch dimension (rank >= 1); `{name}` has "
                    f"a leaf {describe(leaf)}."
                )
            sizes.setdefault(name, []).append(int(shape[0]))
    distinct = {s for v in sizes.values() for s in v}
    if len(distinct) > 1:
        detail = "; ".join(f"'{k}' sizes: {', '.join(map(str, v))}" for k, v in sizes.items())
        raise ValueError(
            f"{where}: data cardinality is ambiguous, the arrays do not all have the same number "
            f"of samples ({detail}). Make sure all arrays contain the same number of samples."
        )
    return distinct.pop() if distinct else None


# --------------------------------------------------------------------------- prefetching


_END = object()


def prefetch(make_iterator, depth: int = 2):
    """Iterate `make_iterator()` on a background thread, `depth` items ahead.

    The producer thread prepares batch i+1 (slicing, casting, host->device transfer) while
    the consumer runs step i. An exception in the producer is re-raised in the consumer as
    the original exception object. Closing the consumer early stops and joins the producer,
    so the underlying source is never read from two threads at once.
    """
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item):
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for item in make_iterator():
                if not put((True, item)):
                    return
            put((True, _END))
        except BaseException as e:  # noqa: BLE001 - re-raised in the consumer
            put((False, e))

    thread = threading.Thread(target=produce, name="fkeras-data-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        thread.join()


# --------------------------------------------------------------------------- the adapter base


_RAN_OUT = (
    "Your input ran out of data; interrupting the epoch. Make sure that your dataset or generator "
    "can generate at least `steps_per_epoch * epochs` batches. You may need to use the "
    "`.repeat()` function when building your dataset."
)


class DataAdapter:
    """One data source seen as epochs of standardized batches.

    Subclasses implement `_source_batches()` (one pass over the source, raw batches as
    `(x,)`/`(x, y)`/`(x, y, sw)` tuples of native leaves) and set `_source_num_batches`
    (batches in one pass, None if unknown or infinite) and `_reiterable` (False for one-shot
    generators). The base class adds `steps_per_epoch` (epochs then continue the same pass,
    as in Keras), structure checks, dtype casting and prefetching.
    """

    _reiterable = True
    _source_num_batches = None
    _batch_size = None
    _partial_batch_size = None
    _name = "data"

    def __init__(self, steps_per_epoch=None):
        if steps_per_epoch is not None:
            if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, (int, np.integer)) or steps_per_epoch < 1:
                raise ValueError(f"`steps_per_epoch` must be a positive integer or None; got {steps_per_epoch!r}.")
            steps_per_epoch = int(steps_per_epoch)
        self._steps = steps_per_epoch
        self._stream = None
        self._stream_count = 0
        self._ever_yielded = False
        self.exhausted = False  # a one-shot source has nothing left: the fit loop should stop

    # ---- public contract

    @property
    def num_batches(self):
        """Batches per epoch (`steps_per_epoch` if given), None if unknown."""
        return self._steps if self._steps is not None else self._source_num_batches

    @property
    def batch_size(self):
        return self._batch_size

    @property
    def has_partial_batch(self):
        return bool(self._partial_batch_size)

    @property
    def partial_batch_size(self):
        return self._partial_batch_size or None

    def get_numpy_iterator(self):
        """One epoch of batches as NumPy pytrees."""
        return (self._to_numpy_batch(b) for b in self._epoch())

    def get_jax_iterator(self, prefetch_depth: int = 2):
        """One epoch of batches as JAX arrays, prepared `prefetch_depth` batches ahead on a
        background thread."""
        return prefetch(lambda: (self._to_jax_batch(b) for b in self._epoch()), prefetch_depth)

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass

    # ---- for subclasses

    def _source_batches(self):
        raise NotImplementedError

    def _to_numpy_batch(self, batch):
        return tuple(tree_map(lambda leaf: sparse_to_bcoo(to_numpy(leaf)), part) for part in batch)

    def _to_jax_batch(self, batch):
        return tuple(tree_map(lambda leaf: numpy_to_jax(to_numpy(leaf)), part) for part in batch)

    def _empty_error(self):
        return ValueError(f"{self._name} is empty: it produced no batches.")

    # ---- epochs

    def _fresh_stream(self):
        if not self._reiterable and self._stream_started_once:
            return iter(())
        self._stream_started_once = True
        rng = getattr(self, "_rng", None)
        self._pass_rng_state = None if rng is None else rng.bit_generator.state
        return iter(self._source_batches())

    _stream_started_once = False
    _pass_rng_state = None

    # ---- exact resume (BackupAndRestore)

    def resume_state(self):
        """JSON-able state that reproduces the next epoch's batches: the shuffle generator's
        state (at the start of the current pass when an epoch continues a pass under
        `steps_per_epoch`) and the position in that pass. None for sources that cannot be
        replayed (one-shot generators, tf.data, torch loaders, unseeded shuffling)."""
        rng = getattr(self, "_rng", None)
        if not self._reiterable or (rng is None and getattr(self, "_shuffle", False)):
            return None
        if self._stream is not None:
            return {"rng": self._pass_rng_state, "pos": int(self._stream_count)}
        return {"rng": None if rng is None else rng.bit_generator.state, "pos": None}

    def restore_resume_state(self, state):
        """Rewind to a `resume_state()`: the next epoch yields the batches it did when saved."""
        rng = getattr(self, "_rng", None)
        if state.get("rng") is not None:
            if rng is None:
                raise ValueError("The backup holds a shuffle state but this data source does not shuffle with "
                                 "a seeded generator; resume with the same data and `shuffle` as the saved run.")
            rng.bit_generator.state = state["rng"]
        self._stream = None
        self._stream_count = 0
        if state.get("pos") is not None:
            self._stream = self._fresh_stream()
            for _ in range(int(state["pos"])):
                next(self._stream)
            self._stream_count = int(state["pos"])

    def _epoch(self):
        if self._steps is None:
            produced = 0
            for batch in self._fresh_stream():
                produced += 1
                self._ever_yielded = True
                yield batch
            if produced == 0:
                self._nothing_left()
            return
        produced = 0
        while produced < self._steps:
            fresh = self._stream is None
            if fresh and produced > 0:  # a finite pass ended inside this epoch (Keras stops here)
                warnings.warn(_RAN_OUT, stacklevel=3)
                return
            if fresh:
                self._stream = self._fresh_stream()
                self._stream_count = 0
            try:
                batch = next(self._stream)
            except StopIteration:
                self._stream = None
                if not fresh and produced == 0 and self._reiterable:
                    continue  # the previous pass ended exactly at an epoch boundary
                if produced == 0:
                    self._nothing_left()
                else:
                    warnings.warn(_RAN_OUT, stacklevel=3)
                return
            self._stream_count += 1
            produced += 1
            self._ever_yielded = True
            yield batch
            if self._source_num_batches is not None and self._stream_count >= self._source_num_batches:
                try:  # let the pass finish (its end-of-pass code, e.g. PyDataset.on_epoch_end)
                    next(self._stream)
                except StopIteration:
                    pass
                self._stream = None

    def _nothing_left(self):
        if not self._ever_yielded:
            raise self._empty_error()
        self.exhausted = True
        warnings.warn(_RAN_OUT, stacklevel=4)
