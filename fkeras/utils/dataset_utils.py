"""What the `*_dataset_from_directory` functions share: indexing class folders, the training/validation
split, labels, `split_dataset`, and `MapDataset`, the dataset they return when TensorFlow is absent.

With TensorFlow importable these functions return a real `tf.data.Dataset`, as Keras does (fit reads
it through `fkeras.data`); without it a `MapDataset`: batches by index (a `PyDataset`, so fit
reads it too), with `map`, `batch`, `shuffle`, `take`, `skip`, `prefetch`, `unbatch`, `class_names`.
"""

from __future__ import annotations

import importlib.util
import os
import random

import numpy as np

from fkeras.data.py_dataset import PyDataset
from fkeras.runtime import io_utils


def tf_available() -> bool:
    """True when `import tensorflow` would succeed (the dataset functions then return `tf.data`)."""
    return importlib.util.find_spec("tensorflow") is not None


def _tf():
    import tensorflow as tf

    return tf


# --- indexing -------------------------------------------------------------------------------------
def check_validation_split_arg(validation_split, subset, shuffle, seed):
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be between 0 and 1, received: {validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f'`subset` must be either "training", "validation" or "both", received: {subset}')
    if validation_split and shuffle and seed is None:
        raise ValueError("If using `validation_split` and shuffling the data, you must provide a `seed` argument, "
                         "to make sure that there is no overlap between the training and validation subset.")


def check_label_args(labels, label_mode, class_names, files, contents, the=False):
    """Keras's checks of `labels`/`label_mode`/`class_names`, worded per function (`files`: "image files",
    `contents`: "images"; `the`: the audio wording, "The `labels` argument ..."). Returns `(labels,
    label_mode)`, both None when either is None (a dataset of inputs only)."""
    article = "The `{}` argument" if the else "`{}` argument"
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError(f"{article.format('labels')} should be a list/tuple of integer labels, of the same size "
                             f"as the number of {files} in the target directory. If you wish to infer the labels from "
                             'the subdirectory names in the target directory, pass `labels="inferred"`. If you wish '
                             f"to get a dataset that only contains {contents} (no labels), pass `labels=None`. "
                             f"Received: labels={labels}")
        if class_names:
            raise ValueError(f'You can only pass `class_names` if `labels="inferred"`. Received: labels={labels}, '
                             f"and class_names={class_names}")
    if label_mode not in {"int", "categorical", "binary", None}:
        raise ValueError(f'{article.format("label_mode")} must be one of "int", "categorical", "binary", or None. '
                         f"Received: label_mode={label_mode}")
    if labels is None or label_mode is None:
        return None, None
    return labels, label_mode


def index_for_dataset(directory, labels, label_mode, class_names, formats, validation_split, subset, shuffle, seed,
                      follow_links, verbose):
    """The split check, a drawn `seed` when None, `index_directory`, and the binary-classes check:
    `(paths, labels, class_names, seed)`."""
    check_validation_split_arg(validation_split, subset, shuffle, seed)
    if seed is None:
        seed = np.random.randint(1e6)
    paths, labels, class_names = index_directory(directory, labels, formats=formats, class_names=class_names,
                                                 shuffle=shuffle, seed=seed, follow_links=follow_links,
                                                 verbose=verbose)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f'When passing `label_mode="binary"`, there must be exactly 2 class_names. Received: '
                         f"class_names={class_names}")
    return paths, labels, class_names, seed


def build_subsets(build, paths, labels, validation_split, subset, shuffle, no_files, both=list,
                  check_training_first=False):
    """`build(paths, labels, shuffled)` of the `subset`'s split, or `both([train, validation])` with
    `subset="both"` (validation unshuffled). An empty split raises `no_files(which)` ("training ",
    "validation " or ""); `check_training_first` checks the training split before splitting off the
    validation one (Keras's audio order)."""
    if subset == "both":
        train = get_training_or_validation_split(paths, labels, validation_split, "training")
        if check_training_first and not train[0]:
            raise ValueError(no_files("training "))
        val = get_training_or_validation_split(paths, labels, validation_split, "validation")
        if not train[0]:
            raise ValueError(no_files("training "))
        if not val[0]:
            raise ValueError(no_files("validation "))
        return both([build(*train, shuffle), build(*val, False)])
    paths, labels = get_training_or_validation_split(paths, labels, validation_split, subset)
    if not paths:
        raise ValueError(no_files(""))
    return build(paths, labels, shuffle)


def _files_under(directory, follow_links, formats):
    """(root, name) of the files with an allowed suffix under `directory`, in Keras's (sorted) order."""
    for root, _, files in sorted(os.walk(directory, followlinks=follow_links), key=lambda w: w[0]):
        for name in sorted(files):
            if name.lower().endswith(formats):
                yield root, name


def index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None, follow_links=False,
                    verbose=True):
    """`(file_paths, labels, class_names)` of the files under `directory`, Keras's order and labels.

    With `labels="inferred"` each non-hidden subfolder (sorted, or `class_names`' order) is a class and
    its files (recursively, sorted) get its index; otherwise `labels` lists one label per file (sorted
    order) and `class_names` is `str` of the sorted distinct labels; `labels=None` gives no labels. With
    `shuffle` paths and labels are permuted by `np.random.RandomState(seed)`, as Keras does.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"Expected `directory` to be an existing folder; got {directory!r}.")
    if labels == "inferred":
        subdirs = [d.rstrip("/") for d in sorted(os.listdir(directory))
                   if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")]
        if class_names is not None:
            if not set(class_names).issubset(set(subdirs)):
                raise ValueError("The `class_names` passed did not match the names of the subdirectories of the "
                                 f"target directory. Expected: {subdirs} (or a subset of it), but received: "
                                 f"class_names={class_names}")
            subdirs = list(class_names)
    else:
        subdirs = [""]
        if class_names is not None:
            if labels is None:
                raise ValueError("When `labels=None` (no labels), argument `class_names` cannot be specified.")
            raise ValueError("When argument `labels` is specified, argument `class_names` cannot be specified "
                             "(the `class_names` will be the sorted list of labels).")
    class_names = subdirs
    filenames, found = [], []
    for index, sub in enumerate(subdirs):
        folder = os.path.join(directory, sub)
        name = os.path.basename(folder)
        for root, fname in _files_under(folder, follow_links, formats):
            filenames.append(os.path.join(name, os.path.relpath(os.path.join(root, fname), folder)))
            found.append(index)
    if labels == "inferred":
        labels = np.asarray(found, dtype="int32")
    elif labels is None:
        class_names = None
    else:
        if len(labels) != len(filenames):
            raise ValueError("Expected the lengths of `labels` to match the number of files in the target directory. "
                             f"len(labels) is {len(labels)} while we found {len(filenames)} files in directory "
                             f"{directory}.")
        class_names = [str(label) for label in sorted(set(labels))]
    if verbose:
        if labels is None:
            io_utils.print_msg(f"Found {len(filenames)} files.")
        else:
            io_utils.print_msg(f"Found {len(filenames)} files belonging to {len(class_names)} classes.")
    paths = [os.path.join(directory, f) for f in filenames]
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(paths)
        if labels is not None:
            labels = np.array(labels) if not isinstance(labels, np.ndarray) else labels
            np.random.RandomState(seed).shuffle(labels)
    return paths, labels, class_names


def get_training_or_validation_split(samples, labels, validation_split, subset):
    """The first `1 - validation_split` of the samples for "training", the last part for "validation"."""
    if not validation_split:
        return samples, labels
    n_val = int(validation_split * len(samples))
    if subset == "training":
        io_utils.print_msg(f"Using {len(samples) - n_val} files for training.")
        return samples[:-n_val], (labels[:-n_val] if labels is not None else None)
    if subset == "validation":
        io_utils.print_msg(f"Using {n_val} files for validation.")
        return samples[-n_val:], (labels[-n_val:] if labels is not None else None)
    raise ValueError(f'`subset` must be either "training" or "validation", received: {subset}')


def encode_labels(labels, label_mode, num_classes):
    """NumPy labels as Keras's label datasets give them: int32, one-hot float32, or `(n, 1)` float32."""
    labels = np.asarray(labels)
    if label_mode == "binary":
        return labels.astype("float32")[:, None]
    if label_mode == "categorical":
        return np.eye(num_classes, dtype="float32")[labels.astype("int64")]
    return labels.astype("int32")


def labels_to_dataset_tf(labels, label_mode, num_classes):
    tf = _tf()
    ds = tf.data.Dataset.from_tensor_slices(labels)
    if label_mode == "binary":
        return ds.map(lambda x: tf.expand_dims(tf.cast(x, "float32"), axis=-1), num_parallel_calls=tf.data.AUTOTUNE)
    if label_mode == "categorical":
        return ds.map(lambda x: tf.one_hot(x, num_classes), num_parallel_calls=tf.data.AUTOTUNE)
    return ds


def files_dataset_tf(paths, labels, label_mode, num_classes, shuffle, buffer, seed, read):
    """Keras's file pipeline: paths (zipped with their labels), shuffled, mapped by `read(path)`."""
    tf = _tf()
    ds = tf.data.Dataset.from_tensor_slices(paths)
    if label_mode:
        ds = tf.data.Dataset.zip((ds, labels_to_dataset_tf(labels, label_mode, num_classes)))
    if shuffle:
        ds = ds.shuffle(buffer_size=buffer or 1024, seed=seed)
    return ds.map((lambda x, y: (read(x), y)) if label_mode else read, num_parallel_calls=tf.data.AUTOTUNE)


def files_dataset(paths, labels, label_mode, num_classes, shuffle, seed, read):
    """The same without TensorFlow: a `MapDataset` of `read(path)` (with its encoded label)."""
    encoded = encode_labels(labels, label_mode, num_classes) if label_mode else None

    def get(i):
        x = read(paths[i])
        return (x, encoded[i]) if encoded is not None else x

    ds = MapDataset(get, len(paths))
    return ds.shuffle(seed=seed) if shuffle else ds


def finish_tf(ds, batch_size):
    tf = _tf()
    if batch_size is not None:
        ds = ds.batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)


# --- the dataset without TensorFlow ---------------------------------------------------------------
def _per_leaf(leaves_fn, items):
    """`leaves_fn(list of the items' leaves at one position)` at each position of tuples/dicts of items."""
    first = items[0]
    if isinstance(first, tuple):
        return tuple(_per_leaf(leaves_fn, [it[i] for it in items]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _per_leaf(leaves_fn, [it[k] for it in items]) for k in first}
    return leaves_fn(items)


def _stack(items):
    return _per_leaf(lambda leaves: np.stack([np.asarray(it) for it in leaves]), items)


def _pad_stack(items):
    """Stack after zero-padding every array to the largest shape among them (`padded_batch`)."""
    return _per_leaf(_pad_stack_leaves, items)


def _pad_stack_leaves(items):
    arrays = [np.asarray(it) for it in items]
    if not arrays[0].ndim:
        return np.stack(arrays)
    shape = tuple(max(s) for s in zip(*(a.shape for a in arrays)))
    out = np.zeros((len(arrays), *shape), dtype=arrays[0].dtype)
    for row, a in zip(out, arrays):
        row[tuple(slice(0, d) for d in a.shape)] = a
    return out


def _unstack(batch, i):
    if isinstance(batch, tuple):
        return tuple(_unstack(b, i) for b in batch)
    if isinstance(batch, dict):
        return {k: _unstack(v, i) for k, v in batch.items()}
    return batch[i]


def _length(batch):
    if isinstance(batch, tuple):
        return _length(batch[0])
    if isinstance(batch, dict):
        return _length(next(iter(batch.values())))
    return len(batch)


class MapDataset(PyDataset):
    """A dataset of elements by index (`ds[i]`, `len(ds)`), built lazily like `tf.data`: `map(fn)`,
    `batch(n, drop_remainder=False)`, `unbatch()`, `shuffle(buffer_size, seed)` (a fresh permutation
    per pass, of all elements: a full-size buffer), `take(n)`, `skip(n)`, `prefetch(n)` (no-op),
    `repeat(1)`. Iterating yields the elements (NumPy arrays, tuples of them); after `batch` a
    `PyDataset` of batches, which `fit`/`evaluate`/`predict` read.
    """

    def __init__(self, getitem, length, class_names=None, file_paths=None):
        super().__init__()
        self._get, self._len = getitem, int(length)
        self._order = None  # a permutation while shuffled, redrawn at each pass
        self._shuffle_rng = None
        self._parent = None
        self.class_names, self.file_paths = class_names, file_paths

    @classmethod
    def from_tensor_slices(cls, data):
        """Elements `data[i]` of an array, or tuples/dicts of equally long arrays."""
        n = _length(data)
        return cls(lambda i: _unstack(data, i), n)

    def __len__(self):
        return self._len

    def __getitem__(self, index):
        if not -self._len <= index < self._len:
            raise IndexError(f"index {index} out of range for a dataset of {self._len} elements")
        index %= self._len
        if self._order is not None:
            index = int(self._order[index])
        return self._get(index)

    def __iter__(self):
        self._new_pass()
        for i in range(self._len):
            yield self[i]

    def _new_pass(self):
        """Redraw the shuffle orders of this dataset and those it is built on (one per pass, as tf.data)."""
        if self._parent is not None:
            self._parent._new_pass()
        if self._shuffle_rng is not None:
            self._order = self._shuffle_rng.permutation(self._len)

    def on_epoch_begin(self):
        self._new_pass()

    def cardinality(self):
        return self._len

    def _derive(self, getitem, length):
        out = MapDataset(getitem, length, self.class_names, self.file_paths)
        out._parent = self
        return out

    def map(self, fn, num_parallel_calls=None, deterministic=None):
        """Apply `fn` to each element (a tuple element is passed as separate arguments, as tf.data does)."""
        return self._derive(lambda i: (fn(*e) if isinstance(e := self[i], tuple) else fn(e)), self._len)

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None, deterministic=None):
        return self._batched(batch_size, drop_remainder, _stack)

    def padded_batch(self, batch_size, drop_remainder=False):
        """Like `batch`, zero-padding each batch's arrays to their largest shape (tf.data's `padded_batch`)."""
        return self._batched(batch_size, drop_remainder, _pad_stack)

    def _batched(self, batch_size, drop_remainder, stack):
        """Batches of `batch_size` consecutive elements joined by `stack` (the last one shorter, or dropped)."""
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size}.")
        n = self._len // batch_size if drop_remainder else -(-self._len // batch_size)
        return self._derive(
            lambda b: stack([self[i] for i in range(b * batch_size, min((b + 1) * batch_size, self._len))]), n)

    def unbatch(self):
        sizes = [_length(self[b]) for b in range(self._len)]
        starts = np.cumsum([0] + sizes)

        def get(i):
            b = int(np.searchsorted(starts, i, side="right") - 1)
            return _unstack(self[b], i - starts[b])

        return self._derive(get, int(starts[-1]))

    def shuffle(self, buffer_size=None, seed=None, reshuffle_each_iteration=True):
        out = self._derive(lambda i: self[i], self._len)
        out._shuffle_rng = np.random.default_rng(seed)
        out._order = out._shuffle_rng.permutation(self._len)
        return out

    def take(self, count):
        count = self._len if count is None or count < 0 else min(int(count), self._len)
        return self._derive(lambda i: self[i], count)

    def skip(self, count):
        count = min(int(count), self._len)
        return self._derive(lambda i: self[i + count], self._len - count)

    def prefetch(self, buffer_size=None):
        return self

    def repeat(self, count=None):
        if count not in (1,):
            raise ValueError("MapDataset.repeat supports count=1 only (fit runs one pass per epoch already); "
                             f"got {count}.")
        return self

    def as_numpy_iterator(self):
        return iter(self)


# --- split_dataset --------------------------------------------------------------------------------
def _is_tf_dataset(x):
    return any(c.__name__ in ("DatasetV2", "Dataset") and "tensorflow" in c.__module__ for c in type(x).__mro__)


def _is_torch_dataset(x):
    return any(c.__name__ == "Dataset" and c.__module__.startswith("torch.utils.data") for c in type(x).__mro__)


def _rescale_split_sizes(left_size, right_size, total):
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if size is not None and type(size) not in (int, float):
            raise TypeError(f"Invalid `{name}` Type. Expected: int or float or None, Received: type({name})="
                            f"{type(size)}.")
    if left_size is None and right_size is None:
        raise ValueError("At least one of the `left_size` or `right_size` must be specified. Received: "
                         "left_size=None and right_size=None")
    if left_size == 0 and right_size == 0:
        raise ValueError("Both `left_size` and `right_size` are zero. At least one of the split sizes must be "
                         "non-zero.")
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if (type(size) is int and (size <= 0 or size >= total)) or (type(size) is float and (size <= 0 or size >= 1)):
            raise ValueError(f"`{name}` should be either a positive integer smaller than {total}, or a float within "
                             f"the range `[0, 1]`. Received: {name}={size}")
    if type(left_size) is float and type(right_size) is float and left_size + right_size > 1:
        raise ValueError("The sum of `left_size` and `right_size` is greater than 1. It must be less than or equal "
                         "to 1.")
    left = round(left_size * total) if type(left_size) is float else left_size
    right = round(right_size * total) if type(right_size) is float else right_size
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total:
        raise ValueError(f"The sum of `left_size` and `right_size` should be smaller than the {total}. Received: "
                         f"left_size + right_size = {left + right} and total_length = {total}")
    for split, side in ((left, "left"), (right, "right")):
        if split == 0:
            raise ValueError(f"With `dataset` of length={total}, `left_size`={left} and `right_size`={right}. "
                             f"Resulting {side} side dataset split will be empty. Adjust any of the aforementioned "
                             "parameters")
    return int(left), int(right)


def _samples(dataset):
    """The dataset as a list of samples (tuples for tuple/list-of-array inputs), as Keras's split lists it."""
    if isinstance(dataset, (list, tuple)):
        if not dataset:
            raise ValueError("Received an empty list dataset. Please provide a non-empty list of arrays.")
        for i, a in enumerate(dataset):
            if not isinstance(a, np.ndarray):
                raise ValueError(f"Expected a list of `numpy.ndarray` objects,Received: {type(a)} at index {i}.")
            if a.shape[0] != dataset[0].shape[0]:
                raise ValueError(f"Received a list of NumPy arrays with different lengths. Mismatch found at index "
                                 f"{i}, Expected shape={dataset[0].shape} Received shape={a.shape}.")
        return list(zip(*dataset)), "tuple"
    if isinstance(dataset, np.ndarray):
        return list(dataset), "array"
    if _is_tf_dataset(dataset):
        if hasattr(dataset, "_batch_size"):
            dataset = dataset.unbatch()
        return [_to_numpy(s) for s in dataset], "tf"
    if isinstance(dataset, MapDataset):
        return list(dataset), "map"
    raise TypeError("The `dataset` argument must be either a `tf.data.Dataset` object, a fkeras MapDataset, or a "
                    f"list/tuple of arrays. Received: dataset={dataset} of type {type(dataset)}")


def _to_numpy(s):
    if isinstance(s, tuple):
        return tuple(_to_numpy(x) for x in s)
    if isinstance(s, dict):
        return {k: _to_numpy(v) for k, v in s.items()}
    return np.asarray(s)


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None, preferred_backend=None):
    """Split a dataset (NumPy array, list/tuple of arrays, `tf.data.Dataset`, torch `Dataset`) in two.

    Sizes are counts or fractions (the other side gets the rest). With `shuffle` the samples are shuffled
    first by Python's `random` seeded with `seed`, as Keras does. Returns two `tf.data.Dataset`s when
    TensorFlow is importable (batched like a batched input), else two `MapDataset`s; for torch inputs
    (or `preferred_backend="torch"`) two torch `Subset`s from `random_split`, as Keras does.
    """
    if preferred_backend is None:
        preferred_backend = "torch" if _is_torch_dataset(dataset) else "tensorflow"
    if preferred_backend == "torch":
        return _split_torch(dataset, left_size, right_size, shuffle, seed)
    samples, kind = _samples(dataset)
    if not samples:
        raise ValueError("Received an empty dataset. Argument `dataset` must be a non-empty list/tuple of "
                         "`numpy.ndarray` objects or `tf.data.Dataset` objects.")
    if shuffle:
        if seed is None:
            seed = random.randint(0, int(1e6))
        random.seed(seed)
        random.shuffle(samples)
    left, right = _rescale_split_sizes(left_size, right_size, len(samples))
    parts = [_restack(samples[:left], kind), _restack(samples[-right:], kind)]
    if tf_available():
        tf = _tf()
        out = [tf.data.Dataset.from_tensor_slices(p) for p in parts]
        batch = getattr(dataset, "_batch_size", None) if kind == "tf" else None
        if batch is not None:
            out = [d.batch(batch) for d in out]
        return tuple(d.prefetch(tf.data.AUTOTUNE) for d in out)
    return tuple(MapDataset.from_tensor_slices(p) for p in parts)


def _restack(samples, kind):
    if kind == "array":
        return np.array(samples)
    return _stack([s if isinstance(s, (tuple, dict)) else s for s in samples]) if kind != "tuple" else \
        tuple(np.array(col) for col in zip(*samples))


def _split_torch(dataset, left_size, right_size, shuffle, seed):
    import torch
    from torch.utils.data import TensorDataset, random_split

    if not _is_torch_dataset(dataset):
        if isinstance(dataset, np.ndarray):
            dataset = TensorDataset(torch.from_numpy(dataset))
        elif isinstance(dataset, (list, tuple)):
            dataset = TensorDataset(*[torch.from_numpy(np.asarray(a)) for a in dataset])
        else:
            samples, _ = _samples(dataset)
            dataset = TensorDataset(*[torch.from_numpy(np.array(col)) for col in zip(*samples)])
    left, right = _rescale_split_sizes(left_size, right_size, len(dataset))
    generator = None
    if shuffle:
        generator = torch.Generator()
        if seed is not None:
            generator.manual_seed(seed)
        else:
            generator.seed()
    return tuple(random_split(dataset, [left, right], generator=generator))
