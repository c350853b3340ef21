"""InceptionV3 (Szegedy et al., 2015), layer for layer as `keras.applications.inception_v3`."""

import functools

from fkeras import layers
from fkeras.applications import _base

__all__ = ["InceptionV3", "preprocess_input", "decode_predictions"]

_URL = "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
_HASHES = ("9a0d58056eeedaa3f26cb7ebd46da564", "bcbd6486424b2319ff4ef7d526e38f63")  # with top, without


def conv2d_bn(x, filters, num_row, num_col, padding="same", strides=(1, 1), name=None):
    """Conv (no bias) -> BatchNormalization (no scale) -> relu; `name` names the three `{name}_conv`,
    `{name}_bn`, `{name}`."""
    conv_name, bn_name = (None, None) if name is None else (f"{name}_conv", f"{name}_bn")
    return _base.conv_bn(x, filters, (num_row, num_col), strides=strides, padding=padding, use_bias=False,
                         conv_name=conv_name, bn_name=bn_name, bn_args={"scale": False}, activation="relu",
                         act_name=name)


def InceptionV3(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax", name="inception_v3"):
    """InceptionV3: a conv stem, then inception modules mixed0..mixed10 (35x35, 17x17 with
    factorized 7x7 convs, 8x8 with split 1x3/3x1 branches).

    Input (299, 299, 3) by default; without the top, any size >= 75 (tf preprocessing).
    """
    img_input, _ = _base.image_input(weights, include_top, classes, input_tensor, input_shape, 299, 75)
    ch = _base.channel_axis()

    def avg_branch(x, filters):
        return conv2d_bn(layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same")(x), filters, 1, 1)

    x = conv2d_bn(img_input, 32, 3, 3, strides=(2, 2), padding="valid")
    x = conv2d_bn(x, 32, 3, 3, padding="valid")
    x = conv2d_bn(x, 64, 3, 3)
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = conv2d_bn(x, 80, 1, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, 3, padding="valid")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)

    for i, pool_filters in enumerate((32, 64, 64)):  # mixed0..2: 35x35
        b1 = conv2d_bn(x, 64, 1, 1)
        b5 = conv2d_bn(conv2d_bn(x, 48, 1, 1), 64, 5, 5)
        b3 = conv2d_bn(conv2d_bn(conv2d_bn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3)
        bp = avg_branch(x, pool_filters)
        x = layers.Concatenate(axis=ch, name=f"mixed{i}")([b1, b5, b3, bp])

    b3 = conv2d_bn(x, 384, 3, 3, strides=(2, 2), padding="valid")  # mixed3: to 17x17
    bd = conv2d_bn(conv2d_bn(conv2d_bn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3, strides=(2, 2), padding="valid")
    bp = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = layers.Concatenate(axis=ch, name="mixed3")([b3, bd, bp])

    for i, f in zip((4, 5, 6, 7), (128, 160, 160, 192)):  # mixed4..7: factorized 7x7
        b1 = conv2d_bn(x, 192, 1, 1)
        b7 = conv2d_bn(conv2d_bn(conv2d_bn(x, f, 1, 1), f, 1, 7), 192, 7, 1)
        bd = conv2d_bn(x, f, 1, 1)
        bd = conv2d_bn(conv2d_bn(conv2d_bn(bd, f, 7, 1), f, 1, 7), f, 7, 1)
        bd = conv2d_bn(bd, 192, 1, 7)
        bp = avg_branch(x, 192)
        x = layers.Concatenate(axis=ch, name=f"mixed{i}")([b1, b7, bd, bp])

    b3 = conv2d_bn(conv2d_bn(x, 192, 1, 1), 320, 3, 3, strides=(2, 2), padding="valid")  # mixed8: to 8x8
    b7 = conv2d_bn(conv2d_bn(conv2d_bn(x, 192, 1, 1), 192, 1, 7), 192, 7, 1)
    b7 = conv2d_bn(b7, 192, 3, 3, strides=(2, 2), padding="valid")
    bp = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = layers.Concatenate(axis=ch, name="mixed8")([b3, b7, bp])

    for i in range(2):  # mixed9, mixed10
        b1 = conv2d_bn(x, 320, 1, 1)
        b3 = conv2d_bn(x, 384, 1, 1)
        b3 = layers.Concatenate(axis=ch, name=f"mixed9_{i}")([conv2d_bn(b3, 384, 1, 3), conv2d_bn(b3, 384, 3, 1)])
        bd = conv2d_bn(conv2d_bn(x, 448, 1, 1), 384, 3, 3)
        bd = layers.Concatenate(axis=ch)([conv2d_bn(bd, 384, 1, 3), conv2d_bn(bd, 384, 3, 1)])
        bp = avg_branch(x, 192)
        x = layers.Concatenate(axis=ch, name=f"mixed{9 + i}")([b1, b3, bd, bp])

    x = _base.avg_pool_head(x, include_top, pooling, classes, classifier_activation, weights)
    imagenet_file = functools.partial(_base.tf_kernels_file, "inception_v3", _URL, include_top, _HASHES)
    return _base.finish(img_input, input_tensor, x, name, weights, imagenet_file)


preprocess_input = _base.preprocess_input_of("tf")
decode_predictions = _base.decode_predictions
