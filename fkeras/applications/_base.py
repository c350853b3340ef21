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


def avg_pool_top(classes, classifier_activation, weights):
    """The classifier head most families share: `avg_pool` global average pooling, then the `predictions` Dense."""
    def top(x):
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)

    return top


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
