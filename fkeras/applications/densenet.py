"""DenseNet121/169/201 (Huang et al., 2016), layer for layer as `keras.applications.densenet`."""

import functools

from fkeras import backend
from fkeras import layers
from fkeras.applications import _base

__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "preprocess_input", "decode_predictions"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
_HASHES = {  # blocks -> (file stem, hash with top, hash without)
    (6, 12, 24, 16): ("densenet121", "9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
    (6, 12, 32, 32): ("densenet169", "d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
    (6, 12, 48, 32): ("densenet201", "1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
}


def dense_block(x, blocks, name):
    """`blocks` conv blocks, each concatenating 32 new channels."""
    for i in range(blocks):
        x = conv_block(x, 32, name=f"{name}_block{i + 1}")
    return x


def transition_block(x, reduction, name):
    """BN-relu, a 1x1 conv to `reduction` of the channels, 2x2 average pooling."""
    bn_axis = _base.channel_axis()
    x = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(int(x.shape[bn_axis] * reduction), 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def conv_block(x, growth_rate, name):
    """BN-relu-1x1 conv (4*growth), BN-relu-3x3 conv (growth), concatenated to the input."""
    bn_axis = _base.channel_axis()
    x1 = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name=f"{name}_0_bn")(x)
    x1 = layers.Activation("relu", name=f"{name}_0_relu")(x1)
    x1 = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(x1)
    x1 = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name=f"{name}_1_bn")(x1)
    x1 = layers.Activation("relu", name=f"{name}_1_relu")(x1)
    x1 = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(x1)
    return layers.Concatenate(axis=bn_axis, name=f"{name}_concat")([x, x1])


def DenseNet(blocks, include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
             classes=1000, classifier_activation="softmax", name="densenet"):
    """DenseNet with `blocks` conv blocks in its four dense blocks (input >= 32 pixels, torch preprocessing)."""
    if backend.image_data_format() == "channels_first":
        raise ValueError("DenseNet does not support the `channels_first` image data format.")
    img_input, _ = _base.image_input(weights, include_top, classes, input_tensor, input_shape, 224, 32)
    bn_axis = _base.channel_axis()
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for i, n in enumerate(blocks):
        x = dense_block(x, n, name=f"conv{i + 2}")
        if i < 3:
            x = transition_block(x, 0.5, name=f"pool{i + 2}")
    x = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)

    x = _base.avg_pool_head(x, include_top, pooling, classes, classifier_activation, weights, avg_name="avg_pool",
                            max_name="max_pool")

    def imagenet_file():
        if tuple(blocks) not in _HASHES:
            raise ValueError("weights_path undefined")
        stem, *hashes = _HASHES[tuple(blocks)]
        return _base.tf_kernels_file(stem, BASE_WEIGHTS_PATH, include_top, hashes)

    return _base.finish(img_input, input_tensor, x, name, weights, imagenet_file)


def _variant(public, blocks):
    return _base.model_function(public, functools.partial(DenseNet, blocks), public.lower(),
                                f"{public}: dense blocks of {', '.join(map(str, blocks))} conv blocks.", __name__)


DenseNet121 = _variant("DenseNet121", [6, 12, 24, 16])
DenseNet169 = _variant("DenseNet169", [6, 12, 32, 32])
DenseNet201 = _variant("DenseNet201", [6, 12, 48, 32])
preprocess_input = _base.preprocess_input_of("torch")
decode_predictions = _base.decode_predictions
