"""Xception (Chollet, 2017), layer for layer as `keras.applications.xception`."""

import functools

from fkeras import backend
from fkeras import layers
from fkeras.applications import _base

__all__ = ["Xception", "preprocess_input", "decode_predictions"]

_URL = "https://storage.googleapis.com/tensorflow/keras-applications/xception/"
_HASHES = ("0a58e3b7378bc2990ea3b43d5981f1f6", "b0042744bf5b25fce3cb969f33bebb97")  # with top, without


def Xception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name="xception"):
    """Xception: entry flow (strided separable blocks with 1x1 conv shortcuts), 8 middle-flow
    residual blocks of three 728-channel separable convs, exit flow to 2048 channels.

    Input (299, 299, 3) by default; without the top, any size >= 71 (tf preprocessing).
    """
    img_input, _ = _base.image_input(weights, include_top, classes, input_tensor, input_shape, 299, 71)
    ch = 1 if backend.image_data_format() == "channels_first" else -1

    def sep(x, filters, name):
        x = layers.SeparableConv2D(filters, (3, 3), padding="same", use_bias=False, name=name)(x)
        return layers.BatchNormalization(axis=ch, name=f"{name}_bn")(x)

    def shortcut(x, filters):
        r = layers.Conv2D(filters, (1, 1), strides=(2, 2), padding="same", use_bias=False)(x)
        return layers.BatchNormalization(axis=ch)(r)

    x = img_input
    for i, (filters, strides) in enumerate(((32, (2, 2)), (64, (1, 1))), start=1):
        x = _base.conv_bn(x, filters, (3, 3), strides=strides, use_bias=False, axis=ch, conv_name=f"block1_conv{i}",
                          bn_name=f"block1_conv{i}_bn", activation="relu", act_name=f"block1_conv{i}_act")

    for block, (f1, f2) in ((2, (128, 128)), (3, (256, 256)), (4, (728, 728)), (13, (728, 1024))):
        residual = shortcut(x, f2)
        if block != 2:
            x = layers.Activation("relu", name=f"block{block}_sepconv1_act")(x)
        x = sep(x, f1, f"block{block}_sepconv1")
        x = layers.Activation("relu", name=f"block{block}_sepconv2_act")(x)
        x = sep(x, f2, f"block{block}_sepconv2")
        x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name=f"block{block}_pool")(x)
        x = layers.Add()([x, residual])
        if block == 4:
            for i in range(5, 13):
                residual = x
                for j in (1, 2, 3):
                    x = layers.Activation("relu", name=f"block{i}_sepconv{j}_act")(x)
                    x = sep(x, 728, f"block{i}_sepconv{j}")
                x = layers.Add()([x, residual])

    x = sep(x, 1536, "block14_sepconv1")
    x = layers.Activation("relu", name="block14_sepconv1_act")(x)
    x = sep(x, 2048, "block14_sepconv2")
    x = layers.Activation("relu", name="block14_sepconv2_act")(x)

    x = _base.avg_pool_head(x, include_top, pooling, classes, classifier_activation, weights)
    imagenet_file = functools.partial(_base.tf_kernels_file, "xception", _URL, include_top, _HASHES)
    return _base.finish(img_input, input_tensor, x, name, weights, imagenet_file)


preprocess_input = _base.preprocess_input_of("tf")
decode_predictions = _base.decode_predictions
