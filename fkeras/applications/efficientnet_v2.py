"""EfficientNetV2 B0..B3, S, M, L (Tan & Le, 2021), layer for layer as `keras.applications.efficientnet_v2`.

The model takes [0, 255] pixels and preprocesses inside (`include_preprocessing=True`: B variants
rescale to [0, 1] and normalize by the ImageNet mean/variance, S/M/L rescale to [-1, 1]), so
`preprocess_input` is the identity.
"""

import math

from fkeras import backend
from fkeras import initializers
from fkeras import layers
from fkeras.applications import _base
from fkeras.applications._efficientnet_common import CONV_KERNEL_INITIALIZER, block_schedule, bn_axis, conv_bn, finish
from fkeras.applications._efficientnet_common import head, residual, squeeze_excite
from fkeras.applications._efficientnet_common import DENSE_KERNEL_INITIALIZER  # noqa: F401  (Keras's module name)
from fkeras.applications._efficientnet_common import decode_predictions, preprocess_input  # noqa: F401  (public)

__all__ = ["EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3", "EfficientNetV2S",
           "EfficientNetV2M", "EfficientNetV2L", "preprocess_input", "decode_predictions"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/"
WEIGHTS_HASHES = {
    "b0": ("21ecbf6da12460d5c40bb2f29ceb2188", "893217f2bb855e2983157299931e43ff"),
    "b1": ("069f0534ff22adf035c89e2d9547a9dc", "0e80663031ca32d657f9caa404b6ec37"),
    "b2": ("424e49f28180edbde1e94797771950a7", "1dfe2e7a5d45b6632553a8961ea609eb"),
    "b3": ("1f1fc43bd98a6e4fd8fdfd551e02c7a0", "f6abf7b5849ac99a89b50dd3fd532856"),
    "-s": ("e1d88a8495beba45748fedd0cecbe016", "af0682fb74e8c54910f2d4393339c070"),
    "-m": ("a3bf6aa3276309f4fc6a34aa114c95cd", "1b8dc055df72dde80d614482840fe342"),
    "-l": ("27e6d408b53c7ebc868fefa357689935", "b0b66b5c863aef5b46e8608fe1711615"),
}
_BLOCKS = {  # kernel_size, num_repeat, input_filters, output_filters, expand_ratio, se_ratio, strides, conv_type
    "efficientnetv2-s": [
        (3, 2, 24, 24, 1, 0.0, 1, 1),
        (3, 4, 24, 48, 4, 0.0, 2, 1),
        (3, 4, 48, 64, 4, 0, 2, 1),
        (3, 6, 64, 128, 4, 0.25, 2, 0),
        (3, 9, 128, 160, 6, 0.25, 1, 0),
        (3, 15, 160, 256, 6, 0.25, 2, 0),
    ],
    "efficientnetv2-m": [
        (3, 3, 24, 24, 1, 0, 1, 1),
        (3, 5, 24, 48, 4, 0, 2, 1),
        (3, 5, 48, 80, 4, 0, 2, 1),
        (3, 7, 80, 160, 4, 0.25, 2, 0),
        (3, 14, 160, 176, 6, 0.25, 1, 0),
        (3, 18, 176, 304, 6, 0.25, 2, 0),
        (3, 5, 304, 512, 6, 0.25, 1, 0),
    ],
    "efficientnetv2-l": [
        (3, 4, 32, 32, 1, 0, 1, 1),
        (3, 7, 32, 64, 4, 0, 2, 1),
        (3, 7, 64, 96, 4, 0, 2, 1),
        (3, 10, 96, 192, 4, 0.25, 2, 0),
        (3, 19, 192, 224, 6, 0.25, 1, 0),
        (3, 25, 224, 384, 6, 0.25, 2, 0),
        (3, 7, 384, 640, 6, 0.25, 1, 0),
    ],
    **{f"efficientnetv2-b{i}": [  # B0..B3 share one table (scaled by width/depth)
        (3, 1, 32, 16, 1, 0, 1, 1),
        (3, 2, 16, 32, 4, 0, 2, 1),
        (3, 2, 32, 48, 4, 0, 2, 1),
        (3, 3, 48, 96, 4, 0.25, 2, 0),
        (3, 5, 96, 112, 6, 0.25, 1, 0),
        (3, 8, 112, 192, 6, 0.25, 2, 0),
    ] for i in range(4)},
}
_FIELDS = ("kernel_size", "num_repeat", "input_filters", "output_filters", "expand_ratio", "se_ratio", "strides",
           "conv_type")
DEFAULT_BLOCKS_ARGS = {key: [dict(zip(_FIELDS, row)) for row in rows] for key, rows in _BLOCKS.items()}


def round_filters(filters, width_coefficient, min_depth, depth_divisor):
    """`filters * width_coefficient` rounded to a multiple of `depth_divisor` (at least `min_depth`)."""
    filters *= width_coefficient
    minimum_depth = min_depth or depth_divisor
    return int(max(minimum_depth, int(filters + depth_divisor / 2) // depth_divisor * depth_divisor))


def round_repeats(repeats, depth_coefficient):
    return int(math.ceil(depth_coefficient * repeats))


def _residual(x, inputs, name, strides, input_filters, output_filters, survival_probability):
    if strides == 1 and input_filters == output_filters:
        x = residual(x, inputs, name, survival_probability)
    return x


def MBConvBlock(input_filters, output_filters, expand_ratio=1, kernel_size=3, strides=1, se_ratio=0.0,
                bn_momentum=0.9, activation="swish", survival_probability=0.8, name=None):
    """1x1 expand, depthwise conv, squeeze-excite, 1x1 project (+ residual with path dropout)."""
    if name is None:
        name = backend.get_uid("block0")

    def apply(inputs):
        filters = input_filters * expand_ratio
        x = inputs
        if expand_ratio != 1:
            x = conv_bn(x, filters, 1, f"{name}expand_conv", f"{name}expand_bn", f"{name}expand_activation", activation,
                        momentum=bn_momentum)
        x = layers.DepthwiseConv2D(kernel_size=kernel_size, strides=strides, depthwise_initializer=CONV_KERNEL_INITIALIZER,
                                   padding="same", use_bias=False, name=f"{name}dwconv2")(x)
        x = layers.BatchNormalization(axis=bn_axis(), momentum=bn_momentum, name=f"{name}bn")(x)
        x = layers.Activation(activation, name=f"{name}activation")(x)
        if 0 < se_ratio <= 1:
            x = squeeze_excite(x, name, input_filters, filters, se_ratio, activation)
        x = conv_bn(x, output_filters, 1, f"{name}project_conv", f"{name}project_bn", momentum=bn_momentum)
        return _residual(x, inputs, name, strides, input_filters, output_filters, survival_probability)

    return apply


def FusedMBConvBlock(input_filters, output_filters, expand_ratio=1, kernel_size=3, strides=1, se_ratio=0.0,
                     bn_momentum=0.9, activation="swish", survival_probability=0.8, name=None):
    """A full kxk expand conv in place of 1x1 expand + depthwise, then squeeze-excite and 1x1 project."""
    if name is None:
        name = backend.get_uid("block0")

    def apply(inputs):
        filters = input_filters * expand_ratio
        x = inputs
        if expand_ratio != 1:
            x = conv_bn(x, filters, kernel_size, f"{name}expand_conv", f"{name}expand_bn", f"{name}expand_activation",
                        activation, strides=strides, momentum=bn_momentum)
        if 0 < se_ratio <= 1:
            x = squeeze_excite(x, name, input_filters, filters, se_ratio, activation)
        x = conv_bn(x, output_filters, 1 if expand_ratio != 1 else kernel_size, f"{name}project_conv",
                    f"{name}project_bn", strides=1 if expand_ratio != 1 else strides, momentum=bn_momentum)
        if expand_ratio == 1:
            x = layers.Activation(activation=activation, name=f"{name}project_activation")(x)
        return _residual(x, inputs, name, strides, input_filters, output_filters, survival_probability)

    return apply


def EfficientNetV2(width_coefficient, depth_coefficient, default_size, dropout_rate=0.2, drop_connect_rate=0.2,
                   depth_divisor=8, min_depth=8, bn_momentum=0.9, activation="swish", blocks_args="default",
                   name="efficientnetv2", include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                   pooling=None, classes=1000, classifier_activation="softmax", include_preprocessing=True,
                   weights_name=None):
    """EfficientNetV2: preprocessing, a 3x3/2 stem, Fused-MBConv then MBConv stages, a 1x1 top conv.

    `blocks_args="default"` takes the stages of the variant `name` (e.g. "efficientnetv2-b0").
    """
    if blocks_args == "default":
        if name not in DEFAULT_BLOCKS_ARGS:
            raise ValueError(f"blocks_args='default' needs `name` to be one of {sorted(DEFAULT_BLOCKS_ARGS)}; "
                             f"got name={name!r}.")
        blocks_args = DEFAULT_BLOCKS_ARGS[name]
    return _efficientnet_v2(name, width_coefficient, depth_coefficient, default_size, dropout_rate, drop_connect_rate,
                            depth_divisor, min_depth, bn_momentum, activation, blocks_args, name, include_top, weights,
                            input_tensor, input_shape, pooling, classes, classifier_activation, include_preprocessing,
                            weights_name)


def _efficientnet_v2(variant, width_coefficient, depth_coefficient, default_size, dropout_rate, drop_connect_rate,
                     depth_divisor, min_depth, bn_momentum, activation, blocks_args, name, include_top, weights,
                     input_tensor, input_shape, pooling, classes, classifier_activation, include_preprocessing,
                     weights_name):
    img_input, input_shape = _base.image_input(weights, include_top, classes, input_tensor, input_shape, default_size,
                                               32)
    x = img_input
    if include_preprocessing:
        num_channels = input_shape[bn_axis() - 1]
        if variant.split("-")[-1].startswith("b") and num_channels == 3:
            x = layers.Rescaling(scale=1.0 / 255)(x)
            x = layers.Normalization(mean=[0.485, 0.456, 0.406], variance=[0.229**2, 0.224**2, 0.225**2],
                                     axis=bn_axis())(x)
        else:
            x = layers.Rescaling(scale=1.0 / 128.0, offset=-1)(x)

    def rf(filters):
        return round_filters(filters=filters, width_coefficient=width_coefficient, min_depth=min_depth,
                             depth_divisor=depth_divisor)

    x = conv_bn(x, rf(blocks_args[0]["input_filters"]), 3, "stem_conv", "stem_bn", "stem_activation", activation,
                strides=2, momentum=bn_momentum)

    blocks = float(sum(args["num_repeat"] for args in blocks_args))  # unrounded, as in Keras (V1 rounds)
    schedule = block_schedule(blocks_args, rf, lambda n: round_repeats(n, depth_coefficient), repeats="num_repeat",
                              filters_in="input_filters", filters_out="output_filters", model="EfficientNetV2")
    for b, (_, j, block_name, args) in enumerate(schedule):
        if j == 0:
            block = {0: MBConvBlock, 1: FusedMBConvBlock}[args.pop("conv_type")]
        x = block(activation=activation, bn_momentum=bn_momentum, survival_probability=drop_connect_rate * b / blocks,
                  name=block_name, **args)(x)

    x = conv_bn(x, rf(1280), 1, "top_conv", "top_bn", "top_activation", activation, momentum=bn_momentum)
    x = head(x, include_top, pooling, dropout_rate, classes, classifier_activation, weights,
             dense_bias_initializer=initializers.Constant(0.0))
    return finish(img_input, input_tensor, x, name, weights, include_top, BASE_WEIGHTS_PATH, WEIGHTS_HASHES,
                  weights_name)


_VARIANTS = {  # public name -> (variant key, width, depth, default size, weights key)
    "EfficientNetV2B0": ("efficientnetv2-b0", 1.0, 1.0, 224, "b0"),
    "EfficientNetV2B1": ("efficientnetv2-b1", 1.0, 1.1, 240, "b1"),
    "EfficientNetV2B2": ("efficientnetv2-b2", 1.1, 1.2, 260, "b2"),
    "EfficientNetV2B3": ("efficientnetv2-b3", 1.2, 1.4, 300, "b3"),
    "EfficientNetV2S": ("efficientnetv2-s", 1.0, 1.0, 384, "-s"),
    "EfficientNetV2M": ("efficientnetv2-m", 1.0, 1.0, 480, "-m"),
    "EfficientNetV2L": ("efficientnetv2-l", 1.0, 1.0, 480, "-l"),
}


def _make(public):
    variant, width, depth, size, weights_name = _VARIANTS[public]

    def model(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", include_preprocessing=True, name=variant):
        return _efficientnet_v2(variant, width, depth, size, 0.2, 0.2, 8, 8, 0.9, "swish", DEFAULT_BLOCKS_ARGS[variant],
                                name, include_top, weights, input_tensor, input_shape, pooling, classes,
                                classifier_activation, include_preprocessing, weights_name)

    return _base.named(model, public, f"{public}: input ({size}, {size}, 3) by default, [0, 255] pixels (the model "
                       "preprocesses them itself).", __name__)


(EfficientNetV2B0, EfficientNetV2B1, EfficientNetV2B2, EfficientNetV2B3, EfficientNetV2S, EfficientNetV2M,
 EfficientNetV2L) = map(_make, _VARIANTS)
