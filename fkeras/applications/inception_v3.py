"""InceptionV3 (Szegedy et al., 2015), layer for layer as `keras.applications.inception_v3`."""

from fkeras import backend
from fkeras import layers
from fkeras.applications import _base
from fkeras.applications import imagenet_utils

__all__ = ["InceptionV3", "preprocess_input", "decode_predictions"]

_URL = "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"


def conv2d_bn(x, filters, num_row, num_col, padding="same", strides=(1, 1), name=None):
    """Conv (no bias) -> BatchNormalization (no scale) -> relu; `name` names the three `{name}_conv`,
    `{name}_bn`, `{name}`."""
    bn_axis = 1 if backend.image_data_format() == "channels_first" else 3
    x = layers.Conv2D(filters, (num_row, num_col), strides=strides, padding=padding, use_bias=False,
                      name=None if name is None else f"{name}_conv")(x)
    x = layers.BatchNormalization(axis=bn_axis, scale=False, name=None if name is None else f"{name}_bn")(x)
    return layers.Activation("relu", name=name)(x)


def InceptionV3(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax", name="inception_v3"):
    """InceptionV3: a conv stem, then inception modules mixed0..mixed10 (35x35, 17x17 with
    factorized 7x7 convs, 8x8 with split 1x3/3x1 branches).

    Input (299, 299, 3) by default; without the top, any size >= 75 (tf preprocessing).
    """
    _base.check_weights_arg(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=299, min_size=75, data_format=backend.image_data_format(),
        require_flatten=include_top, weights=weights)
    img_input = _base.model_input(input_tensor, input_shape)
    ch = 1 if backend.image_data_format() == "channels_first" else 3

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

    top = _base.avg_pool_top(classes, classifier_activation, weights)
    x = _base.pool_or_top(x, include_top, pooling, top=top)

    def imagenet_file():
        fname = f"inception_v3_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
        return (fname, _URL + fname,
                "9a0d58056eeedaa3f26cb7ebd46da564" if include_top else "bcbd6486424b2319ff4ef7d526e38f63")

    return _base.finish(img_input, input_tensor, x, name, weights, imagenet_file)


def preprocess_input(x, data_format=None):
    """tf-mode preprocessing: pixels scaled to [-1, 1]."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """See `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
