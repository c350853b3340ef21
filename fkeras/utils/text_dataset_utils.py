"""`text_dataset_from_directory`: class subfolders of `.txt` files → a dataset of `(texts, labels)`.

Texts are strings `(batch,)` (TF string tensors with TensorFlow, NumPy `str` arrays without), cut to
`max_length` characters; labels as in `image_dataset_from_directory`. With TensorFlow importable this is
Keras's own `tf.data` pipeline (same order for the same `seed`); otherwise a `MapDataset`.
"""

from __future__ import annotations

from fkeras.utils import dataset_utils


def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                max_length=None, shuffle=True, seed=None, validation_split=None, subset=None,
                                follow_links=False, format="tf", verbose=True):
    """Texts from `directory`'s `.txt` files (class subfolders with `labels="inferred"`).

    Returns one dataset, or `[train, validation]` with `subset="both"`; each has `class_names`.
    """
    labels, label_mode = dataset_utils.check_label_args(labels, label_mode, class_names, "text files", "text")
    if format not in ("tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={format}')
    paths, labels, class_names, seed = dataset_utils.index_for_dataset(
        directory, labels, label_mode, class_names, (".txt",), validation_split, subset, shuffle, seed, follow_links,
        verbose)
    use_tf = format == "tf" and dataset_utils.tf_available()
    num_classes = len(class_names) if class_names else 0
    buffer = batch_size * 8 if batch_size is not None else 1024

    def read_tf(path):
        tf = dataset_utils._tf()
        txt = tf.io.read_file(path)
        return tf.strings.substr(txt, 0, max_length) if max_length is not None else txt

    def read(path):
        with open(path, encoding="utf-8") as f:
            txt = f.read()
        return txt[:max_length] if max_length is not None else txt

    def build(split_paths, split_labels, shuffled):
        if use_tf:
            ds = dataset_utils.files_dataset_tf(split_paths, split_labels, label_mode, num_classes, shuffled, buffer,
                                                seed, read_tf)
            ds = dataset_utils.finish_tf(ds, batch_size)
        else:
            ds = dataset_utils.files_dataset(split_paths, split_labels, label_mode, num_classes, shuffled, seed, read)
            if batch_size is not None:
                ds = ds.batch(batch_size)
        ds.class_names = class_names
        return ds

    return dataset_utils.build_subsets(
        build, paths, labels, validation_split, subset, shuffle,
        lambda which: f"No {which}text files found in directory {directory}. Allowed format: .txt")
