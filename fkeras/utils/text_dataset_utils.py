"""`text_dataset_from_directory`: class subfolders of `.txt` files → a dataset of `(texts, labels)`.

Texts are strings `(batch,)` (TF string tensors with TensorFlow, NumPy `str` arrays without), cut to
`max_length` characters; labels as in `image_dataset_from_directory`. With TensorFlow importable this is
Keras's own `tf.data` pipeline (same order for the same `seed`); otherwise a `MapDataset`.
"""

from __future__ import annotations

import numpy as np

from fkeras.utils import dataset_utils


def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                max_length=None, shuffle=True, seed=None, validation_split=None, subset=None,
                                follow_links=False, format="tf", verbose=True):
    """Texts from `directory`'s `.txt` files (class subfolders with `labels="inferred"`).

    Returns one dataset, or `[train, validation]` with `subset="both"`; each has `class_names`.
    """
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError("`labels` argument should be a list/tuple of integer labels, of the same size as the "
                             "number of text files in the target directory. If you wish to infer the labels from "
                             'the subdirectory names in the target directory, pass `labels="inferred"`. If you wish '
                             f"to get a dataset that only contains text (no labels), pass `labels=None`. Received: "
                             f"labels={labels}")
        if class_names:
            raise ValueError(f'You can only pass `class_names` if `labels="inferred"`. Received: labels={labels}, '
                             f"and class_names={class_names}")
    if label_mode not in {"int", "categorical", "binary", None}:
        raise ValueError('`label_mode` argument must be one of "int", "categorical", "binary", or None. Received: '
                         f"label_mode={label_mode}")
    if format not in ("tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={format}')
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    dataset_utils.check_validation_split_arg(validation_split, subset, shuffle, seed)
    if seed is None:
        seed = np.random.randint(1e6)
    paths, labels, class_names = dataset_utils.index_directory(
        directory, labels, formats=(".txt",), class_names=class_names, shuffle=shuffle, seed=seed,
        follow_links=follow_links, verbose=verbose)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f'When passing `label_mode="binary"`, there must be exactly 2 class_names. Received: '
                         f"class_names={class_names}")
    use_tf = format == "tf" and dataset_utils.tf_available()
    num_classes = len(class_names) if class_names else 0
    buffer = batch_size * 8 if batch_size is not None else 1024

    def build(split_paths, split_labels, shuffled):
        if use_tf:
            tf = dataset_utils._tf()
            ds = tf.data.Dataset.from_tensor_slices(split_paths)
            if label_mode:
                ds = tf.data.Dataset.zip((ds, dataset_utils.labels_to_dataset_tf(split_labels, label_mode,
                                                                                 num_classes)))
            if shuffled:
                ds = ds.shuffle(buffer_size=buffer or 1024, seed=seed)

            def read(path):
                txt = tf.io.read_file(path)
                return tf.strings.substr(txt, 0, max_length) if max_length is not None else txt

            ds = ds.map((lambda x, y: (read(x), y)) if label_mode else read, num_parallel_calls=tf.data.AUTOTUNE)
            ds = dataset_utils.finish_tf(ds, batch_size)
        else:
            encoded = (dataset_utils.encode_labels(split_labels, label_mode, num_classes) if label_mode else None)

            def get(i):
                with open(split_paths[i], encoding="utf-8") as f:
                    txt = f.read()
                txt = txt[:max_length] if max_length is not None else txt
                return (txt, encoded[i]) if encoded is not None else txt

            ds = dataset_utils.MapDataset(get, len(split_paths))
            if shuffled:
                ds = ds.shuffle(seed=seed)
            if batch_size is not None:
                ds = ds.batch(batch_size)
        ds.class_names = class_names
        return ds

    if subset == "both":
        train = dataset_utils.get_training_or_validation_split(paths, labels, validation_split, "training")
        val = dataset_utils.get_training_or_validation_split(paths, labels, validation_split, "validation")
        if not train[0]:
            raise ValueError(f"No training text files found in directory {directory}. Allowed format: .txt")
        if not val[0]:
            raise ValueError(f"No validation text files found in directory {directory}. Allowed format: .txt")
        return [build(*train, shuffle), build(*val, False)]
    paths, labels = dataset_utils.get_training_or_validation_split(paths, labels, validation_split, subset)
    if not paths:
        raise ValueError(f"No text files found in directory {directory}. Allowed format: .txt")
    return build(paths, labels, shuffle)
