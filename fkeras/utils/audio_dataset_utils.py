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
    labels, label_mode = dataset_utils.check_label_args(labels, label_mode, class_names, "audio files",
                                                        "audio samples", the=True)
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
    buffer = batch_size * 8 if batch_size is not None else 1024
    paths, labels, class_names, seed = dataset_utils.index_for_dataset(
        directory, labels, label_mode, class_names, ALLOWED_FORMATS, validation_split, subset, shuffle, seed,
        follow_links, verbose)
    num_classes = len(class_names) if class_names else 0

    def read_tf(path):
        tf = dataset_utils._tf()
        audio, rate = tf.audio.decode_wav(contents=tf.io.read_file(path),
                                          desired_samples=-1 if output_sequence_length is None
                                          else output_sequence_length)
        if sampling_rate is not None:
            import tensorflow_io as tfio

            audio = tfio.audio.resample(input=audio, rate_in=tf.cast(rate, tf.int64), rate_out=sampling_rate)
        return tf.RaggedTensor.from_tensor(audio) if ragged else audio

    def build(split_paths, split_labels, shuffled):
        if use_tf:
            ds = dataset_utils.files_dataset_tf(split_paths, split_labels, label_mode, num_classes, shuffled, buffer,
                                                seed, read_tf)
            ds = ds.prefetch(dataset_utils._tf().data.AUTOTUNE)
            if batch_size is not None:
                ds = ds.padded_batch(batch_size) if output_sequence_length is None and not ragged \
                    else ds.batch(batch_size)
        else:
            ds = dataset_utils.files_dataset(split_paths, split_labels, label_mode, num_classes, shuffled, seed,
                                             lambda path: decode_wav(path, output_sequence_length))
            if batch_size is not None:
                ds = ds.padded_batch(batch_size) if output_sequence_length is None else ds.batch(batch_size)
        ds.class_names = class_names
        return ds

    return dataset_utils.build_subsets(
        build, paths, labels, validation_split, subset, shuffle,
        lambda which: f"No {which}audio files found in directory {directory}. Allowed format(s): {ALLOWED_FORMATS}",
        both=tuple, check_training_first=True)


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
