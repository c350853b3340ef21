"""What every `fkeras.applications` model shares: argument checks, the input, the pooling/top,
and loading weights (`"imagenet"` through Keras's cache and URLs, or a local file).

Keras's published weight files are legacy `.h5` files (`layer_names` / `weight_names` attributes,
one group per layer with weights); `model.load_weights` reads those (`fkeras.saving.legacy_h5`) as
well as `.weights.h5` and `.keras` files.
"""

from __future__ import annotations

import os

from fkeras import backend
from fkeras import layers
from fkeras.applications import imagenet_utils
from fkeras.models import Functional
from fkeras.utils import file_utils
from fkeras.utils import model_visualization

__all__ = ["check_weights_arg", "model_input", "finish", "get_file", "load_weights_file", "pool_or_top"]


def channel_axis():
    """The channel axis of an NHWC / NCHW image batch (3 or 1) under the current image data format."""
    return 1 if backend.image_data_format() == "channels_first" else 3


def rows_cols(input_shape):
    """(rows, cols) of a (H, W, C) / (C, H, W) `input_shape` under the current image data format."""
    row_axis, col_axis = (0, 1) if backend.image_data_format() == "channels_last" else (1, 2)
    return input_shape[row_axis], input_shape[col_axis]


def check_weights_arg(weights, include_top, classes):
    """Keras's checks of `weights` and `classes`, before any layer is made."""
    if not (weights in {"imagenet", None} or (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))):
        raise ValueError(
            "The `weights` argument should be either `None` (random initialization), 'imagenet' "
            "(pre-training on ImageNet), or the path to the weights file to be loaded.  "
            f"Received: weights={weights}")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError("If using `weights='imagenet'` with `include_top=True`, `classes` should be 1000.  "
                         f"Received classes={classes}")


def model_input(input_tensor, input_shape):
    """The model's image input: a new `Input(shape=input_shape)`, or `input_tensor` (wrapped if needed)."""
    if input_tensor is None:
        return layers.Input(shape=input_shape)
    if not backend.is_keras_tensor(input_tensor):
        return layers.Input(tensor=input_tensor, shape=input_shape)
    return input_tensor


def image_input(weights, include_top, classes, input_tensor, input_shape, default_size, min_size):
    """Keras's opening of most models: the `weights`/`classes` checks, the input shape Keras
    settles on, and the model's input. Returns (input tensor, input shape)."""
    check_weights_arg(weights, include_top, classes)
    input_shape = settled_input_shape(input_shape, default_size, min_size, include_top, weights)
    return model_input(input_tensor, input_shape), input_shape


def settled_input_shape(input_shape, default_size, min_size, include_top, weights):
    """`imagenet_utils.obtain_input_shape` under the current image data format (a flattening top
    needs a fixed shape)."""
    return imagenet_utils.obtain_input_shape(
        input_shape, default_size=default_size, min_size=min_size, data_format=backend.image_data_format(),
        require_flatten=include_top, weights=weights)


def conv_bn(x, filters, kernel_size, *, conv_name=None, bn_name=None, act_name=None, activation=None, axis=None,
            batch_norm=True, bn_args=None, **conv_args):
    """Conv2D (`conv_args`) -> BatchNormalization (when `batch_norm`; `bn_args`, on the channel axis
    unless `axis`) -> `activation` when given; each layer named as asked."""
    x = layers.Conv2D(filters, kernel_size, name=conv_name, **conv_args)(x)
    if batch_norm:
        x = layers.BatchNormalization(axis=channel_axis() if axis is None else axis, name=bn_name, **(bn_args or {}))(x)
    if activation is not None:
        x = layers.Activation(activation, name=act_name)(x)
    return x


def make_divisible(v, divisor, min_value=None):
    """`v` rounded to a multiple of `divisor`, at least `min_value` (default `divisor`), never more
    than 10% below `v` (the width rounding of the MobileNets and EfficientNet)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def source_inputs(tensor):
    """The Input tensors `tensor` was computed from (Keras's `operation_utils.get_source_inputs`)."""
    return model_visualization.get_source_inputs(tensor)


def pool_or_top(x, include_top, pooling, *, top, avg_name=None, max_name=None):
    """`top(x)` when include_top, else Keras's optional global pooling (`pooling` None / "avg" / "max")."""
    if include_top:
        return top(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=avg_name)(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=max_name)(x)
    return x


def avg_pool_top(classes, classifier_activation, weights, pool_name="avg_pool"):
    """The classifier head most families share: global average pooling (`pool_name`), then the
    `predictions` Dense."""
    def top(x):
        x = layers.GlobalAveragePooling2D(name=pool_name)(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)

    return top


def avg_pool_head(x, include_top, pooling, classes, classifier_activation, weights, avg_name=None, max_name=None,
                  pool_name="avg_pool"):
    """`avg_pool_top` when include_top, else the optional global pooling (`pool_or_top`)."""
    return pool_or_top(x, include_top, pooling, top=avg_pool_top(classes, classifier_activation, weights, pool_name),
                       avg_name=avg_name, max_name=max_name)


def tf_kernels_file(stem, base_url, include_top, hashes):
    """(file name, url, hash) of Keras's `<stem>_weights_tf_dim_ordering_tf_kernels[_notop].h5`;
    `hashes`: (with top, without)."""
    fname = f"{stem}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    return fname, base_url + fname, hashes[0 if include_top else 1]


def finish(img_input, input_tensor, outputs, name, weights, imagenet_file=None):
    """The Functional model; then its weights: `imagenet_file()` -> (file name, url, hash) for
    `weights="imagenet"`, or the local file `weights`."""
    inputs = source_inputs(input_tensor) if input_tensor is not None else img_input
    if isinstance(inputs, list) and len(inputs) == 1:
        inputs = inputs[0]
    model = Functional(inputs, outputs, name=name)
    if weights == "imagenet":
        if imagenet_file is not None:
            fname, url, file_hash = imagenet_file()
            load_weights_file(model, get_file(fname, url, cache_subdir="models", file_hash=file_hash))
    elif weights is not None:
        load_weights_file(model, weights)
    return model


# --- files -------------------------------------------------------------------------------------------
def get_file(fname, origin, cache_subdir="models", file_hash=None):
    """The local path of `fname` in Keras's cache (`$KERAS_HOME` or `~/.keras`, then `cache_subdir`),
    downloaded from `origin` only when missing or when its hash differs (`fkeras.utils.get_file`), so
    a file Keras already downloaded is reused. Offline, the error names the URL and where to place it."""
    return file_utils.get_file(fname, origin, cache_subdir=cache_subdir, file_hash=file_hash)


def load_weights_file(model, path):
    """Load `path` into `model` with `model.load_weights`: a legacy Keras `.h5`/`.hdf5` file (the layout
    of Keras's published application weights) by layer order, or a `.weights.h5`/`.keras` file."""
    path = os.fspath(path)
    if not path.endswith((".h5", ".hdf5", ".keras")):
        raise ValueError(f"Expected a weights file ending in '.h5', '.hdf5', '.weights.h5' or '.keras'; got {path!r}.")
    model.load_weights(path)


# --- the modules' public faces -----------------------------------------------------------------------
_MODES = {"caffe": "Caffe-mode preprocessing: RGB->BGR, minus the ImageNet mean per channel, no scaling.",
          "tf": "tf-mode preprocessing: pixels scaled to [-1, 1].",
          "torch": "torch-mode preprocessing: pixels to [0, 1], then the ImageNet mean/std per channel."}


def preprocess_input_of(mode):
    """A module's `preprocess_input(x, data_format=None)`: `imagenet_utils.preprocess_input` in `mode`."""
    def preprocess_input(x, data_format=None):
        return imagenet_utils.preprocess_input(x, data_format=data_format, mode=mode)

    preprocess_input.__doc__ = _MODES[mode]
    return preprocess_input


def identity_preprocess_input(x, data_format=None):
    """The identity, for models that preprocess inside themselves (kept for API compatibility)."""
    return x


def decode_predictions(preds, top=5):
    """See `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)


def model_function(public, build, default_name, doc, module):
    """A public model function (of `module`) with Keras's usual signature `(include_top=True, weights="imagenet",
    input_tensor=None, input_shape=None, pooling=None, classes=1000, classifier_activation="softmax",
    name=default_name)`, passing those on to `build` by keyword."""
    def model(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name=default_name):
        return build(include_top=include_top, weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                     pooling=pooling, classes=classes, classifier_activation=classifier_activation, name=name)

    return named(model, public, doc, module)


def named(fn, public, doc, module):
    """`fn` under its public name, docstring and module (for a model function made by a factory)."""
    fn.__name__ = fn.__qualname__ = public
    fn.__doc__, fn.__module__ = doc, module
    return fn
