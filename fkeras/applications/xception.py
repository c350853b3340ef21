"""Xception (Chollet, 2017), layer for layer as `keras.applications.xception`."""

from fkeras import backend
from fkeras import layers
from fkeras.applications import _base
from fkeras.applications import imagenet_utils

__all__ = ["Xception", "preprocess_input", "decode_predictions"]

_URL = "https://storage.googleapis.com/tensorflow/keras-applications/xception/"


def Xception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name="xception"):
    """Xception: entry flow (strided separable blocks with 1x1 conv shortcuts), 8 middle-flow
    residual blocks of three 728-channel separable convs, exit flow to 2048 channels.

    Input (299, 299, 3) by default; without the top, any size >= 71 (tf preprocessing).
    """
    _base.check_weights_arg(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=299, min_size=71, data_format=backend.image_data_format(),
        require_flatten=include_top, weights=weights)
    img_input = _base.model_input(input_tensor, input_shape)
    ch = 1 if backend.image_data_format() == "channels_first" else -1

    def sep(x, filters, name):
        x = layers.SeparableConv2D(filters, (3, 3), padding="same", use_bias=False, name=name)(x)
        return layers.BatchNormalization(axis=ch, name=f"{name}_bn")(x)

    def shortcut(x, filters):
        r = layers.Conv2D(filters, (1, 1), strides=(2, 2), padding="same", use_bias=False)(x)
        return layers.BatchNormalization(axis=ch)(r)

    x = layers.Conv2D(32, (3, 3), strides=(2, 2), use_bias=False, name="block1_conv1")(img_input)
    x = layers.BatchNormalization(axis=ch, name="block1_conv1_bn")(x)
    x = layers.Activation("relu", name="block1_conv1_act")(x)
    x = layers.Conv2D(64, (3, 3), use_bias=False, name="block1_conv2")(x)
    x = layers.BatchNormalization(axis=ch, name="block1_conv2_bn")(x)
    x = layers.Activation("relu", name="block1_conv2_act")(x)

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

    top = _base.avg_pool_top(classes, classifier_activation, weights)
    x = _base.pool_or_top(x, include_top, pooling, top=top)

    def imagenet_file():
        fname = f"xception_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
        return (fname, _URL + fname,
                "0a58e3b7378bc2990ea3b43d5981f1f6" if include_top else "b0042744bf5b25fce3cb969f33bebb97")

    return _base.finish(img_input, input_tensor, x, name, weights, imagenet_file)


def preprocess_input(x, data_format=None):
    """tf-mode preprocessing: pixels scaled to [-1, 1]."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """See `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
