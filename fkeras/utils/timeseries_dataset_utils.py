"""`timeseries_dataset_from_array`: sliding windows over a series → a dataset of `(windows, targets)`.

Window `i` is `data[start + p_i : start + p_i + sequence_length * sampling_rate : sampling_rate]` with
`p_i = i * sequence_stride`, shape `(batch, sequence_length, *data.shape[1:])`; its target is
`targets[start + p_i]`. With TensorFlow importable this is Keras's own `tf.data` pipeline (same shuffle
for the same `seed`); otherwise a `MapDataset` (shuffled window order from `np.random.RandomState(seed)`).
"""

from __future__ import annotations

import numpy as np

from fkeras.utils import dataset_utils


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1, batch_size=128,
                                  shuffle=False, seed=None, start_index=None, end_index=None, format="tf"):
    """Windows of `data` (an array of timesteps, `(steps, ...)`) with the target at each window's start.

    `targets=None` gives windows only. `start_index`/`end_index` bound the timesteps used (end exclusive).
    """
    n = len(data)
    if start_index:
        if start_index < 0:
            raise ValueError(f"`start_index` must be 0 or greater. Received: start_index={start_index}")
        if start_index >= n:
            raise ValueError(f"`start_index` must be lower than the length of the data. Received: "
                             f"start_index={start_index}, for data of length {n}")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(f"`end_index` must be higher than `start_index`. Received: start_index={start_index}, "
                             f"and end_index={end_index} ")
        if end_index >= n:
            raise ValueError(f"`end_index` must be lower than the length of the data. Received: "
                             f"end_index={end_index}, for data of length {n}")
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0. Received: end_index={end_index}")
    if sampling_rate <= 0:
        raise ValueError(f"`sampling_rate` must be higher than 0. Received: sampling_rate={sampling_rate}")
    if sampling_rate >= n:
        raise ValueError(f"`sampling_rate` must be lower than the length of the data. Received: "
                         f"sampling_rate={sampling_rate}, for data of length {n}")
    if sequence_stride <= 0:
        raise ValueError(f"`sequence_stride` must be higher than 0. Received: sequence_stride={sequence_stride}")
    if sequence_stride >= n:
        raise ValueError(f"`sequence_stride` must be lower than the length of the data. Received: "
                         f"sequence_stride={sequence_stride}, for data of length {n}")
    if format not in ("tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={format}')
    start = start_index or 0
    end = end_index or n
    num_seqs = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num_seqs = min(num_seqs, len(targets))
    index_dtype = "int32" if num_seqs < 2147483647 else "int64"
    starts = np.arange(0, num_seqs, sequence_stride, dtype=index_dtype)
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(starts)
    if format == "tf" and dataset_utils.tf_available():
        return _dataset_tf(data, targets, starts, sequence_length, sampling_rate, batch_size, shuffle, seed, start,
                           end, index_dtype)
    window = np.arange(sequence_length) * sampling_rate
    series = data[start:end]
    target_slice = targets[start:] if targets is not None else None

    def get(i):
        x = np.asarray(series[starts[i] + window])
        return (x, np.asarray(target_slice[starts[i]])) if target_slice is not None else x

    ds = dataset_utils.MapDataset(get, len(starts))
    if batch_size is not None:
        ds = ds.batch(batch_size)
    return ds


def _dataset_tf(data, targets, starts, sequence_length, sampling_rate, batch_size, shuffle, seed, start, end,
                index_dtype):
    tf = dataset_utils._tf()
    length = tf.cast(sequence_length, dtype=index_dtype)
    rate = tf.cast(sampling_rate, dtype=index_dtype)
    positions = tf.data.Dataset.from_tensors(starts).repeat()
    count = tf.data.Dataset.range(len(starts))

    def gather(array, indices):
        return tf.data.Dataset.zip((tf.data.Dataset.from_tensors(array[start:end]).repeat(), indices)).map(
            lambda steps, idx: tf.gather(steps, idx), num_parallel_calls=tf.data.AUTOTUNE)

    windows = tf.data.Dataset.zip((count, positions)).map(
        lambda i, p: tf.range(p[i], p[i] + length * rate, rate), num_parallel_calls=tf.data.AUTOTUNE)
    ds = gather(data, windows)
    if targets is not None:
        firsts = tf.data.Dataset.zip((count, positions)).map(lambda i, p: p[i], num_parallel_calls=tf.data.AUTOTUNE)
        ds = tf.data.Dataset.zip((ds, gather(targets, firsts)))
    ds = ds.prefetch(tf.data.AUTOTUNE)
    if batch_size is not None:
        if shuffle:
            ds = ds.shuffle(buffer_size=batch_size * 8, seed=seed)
        return ds.batch(batch_size)
    if shuffle:
        ds = ds.shuffle(buffer_size=1024, seed=seed)
    return ds
