"""VGG16 (Simonyan & Zisserman, 2014), layer for layer as `keras.applications.vgg16`."""

import functools

from fkeras import layers
from fkeras.applications import _base
from fkeras.applications import imagenet_utils

__all__ = ["VGG16", "preprocess_input", "decode_predictions"]

WEIGHTS_HASHES = ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc")  # with top, without
_URL = "https://storage.googleapis.com/tensorflow/keras-applications/{0}/"


def build_vgg(convs, family, hashes, include_top, weights, input_tensor, input_shape, pooling, classes,
              classifier_activation, name):
    """VGG with `convs[i]` 3x3 convs in block i+1 (VGG16: 2,2,3,3,3; VGG19: 2,2,4,4,4)."""
    img_input, _ = _base.image_input(weights, include_top, classes, input_tensor, input_shape, 224, 32)
    x = img_input
    for block, (n, filters) in enumerate(zip(convs, (64, 128, 256, 512, 512)), start=1):
        for i in range(1, n + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same", name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)

    def top(x):
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)

    x = _base.pool_or_top(x, include_top, pooling, top=top)

    imagenet_file = functools.partial(_base.tf_kernels_file, family, _URL.format(family), include_top, hashes)
    return _base.finish(img_input, input_tensor, x, name, weights, imagenet_file)


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name="vgg16"):
    """VGG16: 13 convs in 5 blocks, then (include_top) Flatten + fc1/fc2 (4096) + predictions.

    Input (224, 224, 3) by default; without the top, any size >= 32. Inputs are
    `vgg16.preprocess_input`'d images (caffe mode).
    """
    return build_vgg((2, 2, 3, 3, 3), "vgg16", WEIGHTS_HASHES,
                     include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation, name)


preprocess_input = _base.preprocess_input_of("caffe")
decode_predictions = _base.decode_predictions
