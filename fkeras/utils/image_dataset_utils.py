"""`image_dataset_from_directory`: a folder of class subfolders of images → a dataset of `(images, labels)`.

Images are float32 `(batch, height, width, channels)` (or channels first), resized to `image_size`;
labels int32 `(batch,)`, one-hot float32 `(batch, classes)` or float32 `(batch, 1)` per `label_mode`.
With TensorFlow importable this builds the same `tf.data` pipeline Keras builds (TF's decoder and
resize, `shuffle(batch_size * 8, seed)`), so batches equal Keras's; otherwise Pillow decodes and
NumPy resizes with the same sampling (Keras's "grain" path) into a `MapDataset`.
"""

from __future__ import annotations

import numpy as np

from fkeras import ops
from fkeras.backend import image_data_format
from fkeras.utils import dataset_utils
from fkeras.utils.image_utils import _center_crop_box, _pil

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic")


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, color_mode="rgb",
                                 batch_size=32, image_size=(256, 256), shuffle=True, seed=None, validation_split=None,
                                 subset=None, interpolation="bilinear", follow_links=False, crop_to_aspect_ratio=False,
                                 pad_to_aspect_ratio=False, data_format=None, format="tf", verbose=True):
    """Images from `directory` (`.bmp .gif .jpeg .jpg .png`, class subfolders with `labels="inferred"`).

    Returns one dataset, or `[train, validation]` with `subset="both"`; each has `class_names` and
    `file_paths`. `format="tf"` gives a `tf.data.Dataset` when TensorFlow is installed, else (and for
    `format="grain"`) an fkeras `MapDataset`.
    """
    labels, label_mode = dataset_utils.check_label_args(labels, label_mode, class_names, "image files", "images")
    channels = {"rgb": 3, "rgba": 4, "grayscale": 1}.get(color_mode)
    if channels is None:
        raise ValueError('`color_mode` must be one of {"rgb", "rgba", "grayscale"}. '
                         f"Received: color_mode={color_mode}")
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    elif not isinstance(image_size, (list, tuple)) or len(image_size) != 2:
        raise ValueError("Invalid `image_size` value. Expected a tuple of 2 integers. "
                         f"Received: image_size={image_size}")
    interpolation = interpolation.lower()
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"Argument `interpolation` should be one of {_INTERPOLATIONS}. Received: "
                         f"interpolation={interpolation}")
    if format not in ("tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={format}')
    if pad_to_aspect_ratio and crop_to_aspect_ratio:
        raise ValueError("Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` can be set to `True`.")
    data_format = (data_format or image_data_format()).lower()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"The `data_format` argument must be one of {{'channels_first', 'channels_last'}}. "
                         f"Received: data_format={data_format}")
    paths, labels, class_names, seed = dataset_utils.index_for_dataset(
        directory, labels, label_mode, class_names, ALLOWLIST_FORMATS, validation_split, subset, shuffle, seed,
        follow_links, verbose)
    use_tf = format == "tf" and dataset_utils.tf_available()
    load = dict(image_size=tuple(image_size), channels=channels, interpolation=interpolation, data_format=data_format,
                crop=crop_to_aspect_ratio, pad=pad_to_aspect_ratio)
    num_classes = len(class_names) if class_names else 0
    buffer = batch_size * 8 if batch_size is not None else 1024

    def build(split_paths, split_labels, shuffled):
        if use_tf:
            ds = dataset_utils.files_dataset_tf(split_paths, split_labels, label_mode, num_classes, shuffled, buffer,
                                                seed, lambda path: _load_image_tf(path, **load))
            ds = dataset_utils.finish_tf(ds, batch_size)
        else:
            ds = dataset_utils.files_dataset(split_paths, split_labels, label_mode, num_classes, shuffled, seed,
                                             lambda path: load_image_numpy(path, **load))
            if batch_size is not None:
                ds = ds.batch(batch_size)
        ds.class_names, ds.file_paths = class_names, split_paths
        return ds

    return dataset_utils.build_subsets(
        build, paths, labels, validation_split, subset, shuffle,
        lambda which: f"No {which}images found in directory {directory}. Allowed formats: {ALLOWLIST_FORMATS}")


# --- TensorFlow: Keras's own pipeline -------------------------------------------------------------
def _load_image_tf(path, image_size, channels, interpolation, data_format, crop, pad):
    tf = dataset_utils._tf()
    img = tf.image.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
    if crop:
        shape = tf.shape(img)
        height, width = shape[0], shape[1]
        th, tw = image_size
        crop_h = tf.maximum(tf.minimum(height, tf.cast(tf.cast(width * th, "float32") / tw, "int32")), 1)
        crop_w = tf.maximum(tf.minimum(width, tf.cast(tf.cast(height * tw, "float32") / th, "int32")), 1)
        top = tf.cast(tf.cast(height - crop_h, "float32") / 2, "int32")
        left = tf.cast(tf.cast(width - crop_w, "float32") / 2, "int32")
        img = img[top:top + crop_h, left:left + crop_w, :]
        img = tf.image.resize(img, image_size, method=interpolation)
    elif pad:
        img = tf.image.resize_with_pad(img, image_size[0], image_size[1], method=interpolation)
    else:
        img = tf.image.resize(img, image_size, method=interpolation)
    if data_format == "channels_first":
        img = tf.transpose(img, (2, 0, 1))
        img.set_shape((channels, image_size[0], image_size[1]))
    else:
        img.set_shape((image_size[0], image_size[1], channels))
    return img


# --- without TensorFlow: Pillow + fkeras.ops ------------------------------------------------------
_JAX_METHODS = {"bicubic": "bicubic", "lanczos3": "lanczos3", "lanczos5": "lanczos5"}


def _axis_weights(n_out, n_in, method):
    """(n_out, n_in) weights sampling at half-pixel centres, as `tf.image.resize` does without antialiasing:
    bilinear (edges clamped) or nearest (floor of the centre)."""
    scale = n_in / n_out
    m = np.zeros((n_out, n_in), np.float64)
    if method == "nearest":
        m[np.arange(n_out), np.minimum(np.floor((np.arange(n_out) + 0.5) * scale).astype(int), n_in - 1)] = 1.0
        return m
    src = np.clip((np.arange(n_out) + 0.5) * scale - 0.5, 0, n_in - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    np.add.at(m, (np.arange(n_out), lo), 1 - frac)
    np.add.at(m, (np.arange(n_out), hi), frac)
    return m


def resize_numpy(img, size, interpolation):
    """Resize `(h, w, c)` float32 to `size`: bilinear and nearest in NumPy (two small matrix products, no
    compilation per image size); bicubic/lanczos with `jax.image.resize`; the rest with `fkeras.ops`."""
    if interpolation in ("bilinear", "nearest"):
        rows, cols = _axis_weights(size[0], img.shape[0], interpolation), _axis_weights(size[1], img.shape[1],
                                                                                       interpolation)
        return np.einsum("ij,jkc,lk->ilc", rows, img.astype(np.float64), cols).astype("float32")
    if interpolation in _JAX_METHODS:
        import jax

        return np.asarray(jax.image.resize(img, (*size, img.shape[2]), _JAX_METHODS[interpolation],
                                           antialias=False), dtype="float32")
    return np.asarray(ops.image.resize(img, size=size, interpolation=interpolation), dtype="float32")


def load_image_numpy(path, image_size, channels, interpolation, data_format, crop, pad):
    """One image file → float32 array of `image_size`: Pillow decodes; then, as Keras's tf.data path does, a
    centre crop to the target aspect ratio or `tf.image.resize_with_pad`'s fit-and-pad, resized by
    `resize_numpy` (TF's half-pixel sampling)."""
    Image = _pil()
    with Image.open(path) as img:
        mode = {1: "L", 3: "RGB", 4: "RGBA"}[channels]
        if channels == 1 and img.mode in ("I;16", "I"):
            mode = img.mode
        arr = np.asarray(img.convert(mode) if img.mode != mode else img, dtype="float32")
    if arr.ndim == 2:
        arr = arr[..., None]
    height, width = arr.shape[:2]
    if crop:
        top, left, ch, cw = _center_crop_box(height, width, image_size)
        arr = arr[top:top + ch, left:left + cw]
    elif pad:  # tf.image.resize_with_pad: fit inside the target keeping the aspect ratio, then zero-pad
        th, tw = image_size
        ratio = max(np.float32(width) / np.float32(tw), np.float32(height) / np.float32(th))
        rh, rw = np.float32(height) / ratio, np.float32(width) / ratio
        top, left = max(0, int(np.floor((th - rh) / 2))), max(0, int(np.floor((tw - rw) / 2)))
        resized = resize_numpy(arr, (int(np.floor(rh)), int(np.floor(rw))), interpolation)
        out = np.zeros((th, tw, arr.shape[2]), "float32")
        out[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
        return out.transpose(2, 0, 1) if data_format == "channels_first" else out
    out = resize_numpy(arr, tuple(image_size), interpolation)
    return out.transpose(2, 0, 1) if data_format == "channels_first" else out
