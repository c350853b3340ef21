"""`audio_dataset_from_directory`: class subfolders of `.wav` files → a dataset of `(audio, labels)`.

Audio is float32 `(batch, samples, channels)` in [-1, 1): cut or zero-padded to
`output_sequence_length`, else zero-padded to the longest clip of the batch (Keras's `padded_batch`).
With TensorFlow importable this is Keras's own `tf.data` pipeline (`tf.audio.decode_wav`); otherwise
Python's `wave` module decodes 8/16/32-bit PCM the same way into a `MapDataset`.
"""

from __future__ import annotations

import wave

import numpy as np

from fkeras.utils import dataset_utils

ALLOWED_FORMATS = (".wav",)


def audio_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                 sampling_rate=None, output_sequence_length=None, ragged=False, shuffle=True,
                                 seed=None, validation_split=None, subset=None, follow_links=False, verbose=True):
    """Audio clips from `directory`'s `.wav` files (class subfolders with `labels="inferred"`).

    `sampling_rate` resamples (needs `tensorflow-io`, as in Keras); `ragged=True` gives ragged batches
    (TensorFlow only). Returns one dataset, or `(train, validation)` with `subset="both"`.
    """
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError("The `labels` argument should be a list/tuple of integer labels, of the same size as "
                             "the number of audio files in the target directory. If you wish to infer the labels "
                             'from the subdirectory names in the target directory, pass `labels="inferred"`. If you '
                             "wish to get a dataset that only contains audio samples (no labels), pass "
                             f"`labels=None`. Received: labels={labels}")
        if class_names:
            raise ValueError(f'You can only pass `class_names` if `labels="inferred"`. Received: labels={labels}, '
                             f"and class_names={class_names}")
    if label_mode not in {"int", "categorical", "binary", None}:
        raise ValueError('The `label_mode` argument must be one of "int", "categorical", "binary", or None. '
                         f"Received: label_mode={label_mode}")
    if ragged and output_sequence_length is not None:
        raise ValueError("Cannot set both `ragged` and `output_sequence_length`")
    if sampling_rate is not None:
        if not isinstance(sampling_rate, int):
            raise ValueError(f"`sampling_rate` should have an integer value. Received: sampling_rate={sampling_rate}")
        if sampling_rate <= 0:
            raise ValueError(f"`sampling_rate` should be higher than 0. Received: sampling_rate={sampling_rate}")
        try:
            import tensorflow_io  # noqa: F401
        except ImportError as e:
            raise ImportError("To use the argument `sampling_rate`, you should install tensorflow_io. You can "
                              "install it via `pip install tensorflow-io`.") from e
    use_tf = dataset_utils.tf_available()
    if ragged and not use_tf:
        raise ImportError("audio_dataset_from_directory(ragged=True) needs TensorFlow (ragged tensors), which is not "
                          "installed: pip install tensorflow")
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    dataset_utils.check_validation_split_arg(validation_split, subset, shuffle, seed)
    if seed is None:
        seed = np.random.randint(1e6)
    buffer = batch_size * 8 if batch_size is not None else 1024
    paths, labels, class_names = dataset_utils.index_directory(
        directory, labels, formats=ALLOWED_FORMATS, class_names=class_names, shuffle=shuffle, seed=seed,
        follow_links=follow_links, verbose=verbose)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f'When passing `label_mode="binary"`, there must be exactly 2 class_names. Received: '
                         f"class_names={class_names}")
    num_classes = len(class_names) if class_names else 0

    def build(split_paths, split_labels, shuffled):
        if use_tf:
            ds = _dataset_tf(split_paths, split_labels, label_mode, num_classes, sampling_rate, output_sequence_length,
                             ragged, shuffled, buffer, seed)
            tf = dataset_utils._tf()
            ds = ds.prefetch(tf.data.AUTOTUNE)
            if batch_size is not None:
                ds = ds.padded_batch(batch_size) if output_sequence_length is None and not ragged \
                    else ds.batch(batch_size)
        else:
            encoded = dataset_utils.encode_labels(split_labels, label_mode, num_classes) if label_mode else None

            def get(i):
                audio = decode_wav(split_paths[i], output_sequence_length)
                return (audio, encoded[i]) if encoded is not None else audio

            ds = dataset_utils.MapDataset(get, len(split_paths))
            if shuffled:
                ds = ds.shuffle(seed=seed)
            if batch_size is not None:
                ds = ds.padded_batch(batch_size) if output_sequence_length is None else ds.batch(batch_size)
        ds.class_names = class_names
        return ds

    if subset == "both":
        train = dataset_utils.get_training_or_validation_split(paths, labels, validation_split, "training")
        if not train[0]:
            raise ValueError(f"No training audio files found in directory {directory}. Allowed format(s): "
                             f"{ALLOWED_FORMATS}")
        val = dataset_utils.get_training_or_validation_split(paths, labels, validation_split, "validation")
        if not val[0]:
            raise ValueError(f"No validation audio files found in directory {directory}. Allowed format(s): "
                             f"{ALLOWED_FORMATS}")
        return build(*train, shuffle), build(*val, False)
    paths, labels = dataset_utils.get_training_or_validation_split(paths, labels, validation_split, subset)
    if not paths:
        raise ValueError(f"No audio files found in directory {directory}. Allowed format(s): {ALLOWED_FORMATS}")
    return build(paths, labels, shuffle)


def _dataset_tf(paths, labels, label_mode, num_classes, sampling_rate, length, ragged, shuffle, buffer, seed):
    tf = dataset_utils._tf()

    def read(path):
        audio, rate = tf.audio.decode_wav(contents=tf.io.read_file(path),
                                          desired_samples=-1 if length is None else length)
        if sampling_rate is not None:
            import tensorflow_io as tfio

            audio = tfio.audio.resample(input=audio, rate_in=tf.cast(rate, tf.int64), rate_out=sampling_rate)
        return tf.RaggedTensor.from_tensor(audio) if ragged else audio

    ds = tf.data.Dataset.from_tensor_slices(paths)
    if label_mode:
        ds = tf.data.Dataset.zip((ds, dataset_utils.labels_to_dataset_tf(labels, label_mode, num_classes)))
    if shuffle:
        ds = ds.shuffle(buffer_size=buffer or 1024, seed=seed)
    return ds.map((lambda x, y: (read(x), y)) if label_mode else read, num_parallel_calls=tf.data.AUTOTUNE)


def decode_wav(path, desired_samples=None):
    """PCM `.wav` → float32 `(samples, channels)` scaled as `tf.audio.decode_wav` scales (÷ 2^(bits-1))."""
    with wave.open(path, "rb") as w:
        width, channels, frames = w.getsampwidth(), w.getnchannels(), w.readframes(w.getnframes())
    if width == 1:  # 8-bit PCM is unsigned
        x = (np.frombuffer(frames, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width in (2, 4):
        dtype = np.int16 if width == 2 else np.int32
        x = np.frombuffer(frames, dtype).astype(np.float32) / float(2 ** (8 * width - 1))
    else:
        raise ValueError(f"{path}: {8 * width}-bit PCM is not supported (8, 16 or 32 bits are).")
    x = x.reshape(-1, channels)
    if desired_samples is not None and desired_samples >= 0:
        x = x[:desired_samples]
        if len(x) < desired_samples:
            x = np.concatenate([x, np.zeros((desired_samples - len(x), channels), np.float32)])
    return x
