"""EfficientNet B0..B7 (Tan & Le, 2019), layer for layer as `keras.applications.efficientnet`.

The model takes [0, 255] pixels: it rescales to [0, 1] and normalizes inside (`Rescaling`,
`Normalization` whose mean/variance are weights of the published files), so `preprocess_input`
is the identity.
"""

import functools
import math

from fkeras import layers
from fkeras.applications import _base
from fkeras.applications import imagenet_utils
from fkeras.applications._efficientnet_common import CONV_KERNEL_INITIALIZER, block_schedule, bn_axis, conv_bn, finish
from fkeras.applications._efficientnet_common import head, residual, squeeze_excite
from fkeras.applications._efficientnet_common import DENSE_KERNEL_INITIALIZER  # noqa: F401  (Keras's module name)
from fkeras.applications._efficientnet_common import decode_predictions, preprocess_input  # noqa: F401  (public)

__all__ = [f"EfficientNetB{i}" for i in range(8)] + ["preprocess_input", "decode_predictions"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/keras-applications/"
WEIGHTS_HASHES = {
    "b0": ("902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d"),
    "b1": ("1d254153d4ab51201f1646940f018540", "74c4e6b3e1f6a1eea24c589628592432"),
    "b2": ("b15cce36ff4dcbd00b6dd88e7857a6ad", "111f8e2ac8aa800a7a99e3239f7bfb39"),
    "b3": ("ffd1fdc53d0ce67064dc6a9c7960ede0", "af6d107764bb5b1abb91932881670226"),
    "b4": ("18c95ad55216b8f92d7e70b3a046e2fc", "ebc24e6d6c33eaebbd558eafbeedf1ba"),
    "b5": ("ace28f2a6363774853a83a0b21b9421a", "38879255a25d3c92d5e44e04ae6cec6f"),
    "b6": ("165f6e37dce68623721b423839de8be5", "9ecce42647a20130c1f39a5d4cb75743"),
    "b7": ("8c03f828fec3ef71311cd463b6759d99", "cbcfe4450ddf6f3ad90b1b398090fe4a"),
}


def _args(kernel_size, repeats, filters_in, filters_out, expand_ratio, strides):
    return {"kernel_size": kernel_size, "repeats": repeats, "filters_in": filters_in, "filters_out": filters_out,
            "expand_ratio": expand_ratio, "id_skip": True, "strides": strides, "se_ratio": 0.25}


DEFAULT_BLOCKS_ARGS = [_args(3, 1, 32, 16, 1, 1), _args(3, 2, 16, 24, 6, 2), _args(5, 2, 24, 40, 6, 2),
                       _args(3, 3, 40, 80, 6, 2), _args(5, 3, 80, 112, 6, 1), _args(5, 4, 112, 192, 6, 2),
                       _args(3, 1, 192, 320, 6, 1)]
IMAGENET_STDDEV_RGB = [0.229, 0.224, 0.225]


def EfficientNet(width_coefficient, depth_coefficient, default_size, dropout_rate=0.2, drop_connect_rate=0.2,
                 depth_divisor=8, activation="swish", blocks_args="default", name="efficientnet", include_top=True,
                 weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
                 classifier_activation="softmax", weights_name=None):
    """EfficientNet scaled by `width_coefficient` (channels) and `depth_coefficient` (repeats):
    Rescaling + Normalization, a 3x3/2 stem, MBConv blocks with squeeze-excite, a 1x1 top conv."""
    if blocks_args == "default":
        blocks_args = DEFAULT_BLOCKS_ARGS
    img_input, _ = _base.image_input(weights, include_top, classes, input_tensor, input_shape, default_size, 32)

    def round_filters(filters):
        return int(_base.make_divisible(filters * width_coefficient, depth_divisor))

    def round_repeats(repeats):
        return int(math.ceil(depth_coefficient * repeats))

    x = layers.Rescaling(1.0 / 255.0)(img_input)
    x = layers.Normalization(axis=bn_axis())(x)
    if weights == "imagenet":
        # Keras's correction for the published weights' normalization (variance used as stddev).
        x = layers.Rescaling([1.0 / math.sqrt(stddev) for stddev in IMAGENET_STDDEV_RGB])(x)
    x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3), name="stem_conv_pad")(x)
    x = conv_bn(x, round_filters(32), 3, "stem_conv", "stem_bn", "stem_activation", activation, strides=2,
                padding="valid")

    blocks = float(sum(round_repeats(args["repeats"]) for args in blocks_args))
    schedule = block_schedule(blocks_args, round_filters, round_repeats, repeats="repeats", filters_in="filters_in",
                              filters_out="filters_out", model="EfficientNet")
    for b, (_, _, block_name, args) in enumerate(schedule):
        x = block(x, activation, drop_connect_rate * b / blocks, name=block_name, **args)

    x = conv_bn(x, round_filters(1280), 1, "top_conv", "top_bn", "top_activation", activation)
    x = head(x, include_top, pooling, dropout_rate, classes, classifier_activation, weights)
    return finish(img_input, input_tensor, x, name, weights, include_top, BASE_WEIGHTS_PATH, WEIGHTS_HASHES,
                  weights_name)


def block(inputs, activation="swish", drop_rate=0.0, name="", filters_in=32, filters_out=16, kernel_size=3,
          strides=1, expand_ratio=1, se_ratio=0.0, id_skip=True):
    """MBConv: 1x1 expand, depthwise conv, squeeze-excite, 1x1 project (+ dropped-path residual)."""
    filters = filters_in * expand_ratio
    x = inputs
    if expand_ratio != 1:
        x = conv_bn(x, filters, 1, f"{name}expand_conv", f"{name}expand_bn", f"{name}expand_activation", activation)
    if strides == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, kernel_size), name=f"{name}dwconv_pad")(x)
        conv_pad = "valid"
    else:
        conv_pad = "same"
    x = layers.DepthwiseConv2D(kernel_size, strides=strides, padding=conv_pad, use_bias=False,
                               depthwise_initializer=CONV_KERNEL_INITIALIZER, name=f"{name}dwconv")(x)
    x = layers.BatchNormalization(axis=bn_axis(), name=f"{name}bn")(x)
    x = layers.Activation(activation, name=f"{name}activation")(x)
    if 0 < se_ratio <= 1:
        x = squeeze_excite(x, name, filters_in, filters, se_ratio, activation)
    x = conv_bn(x, filters_out, 1, f"{name}project_conv", f"{name}project_bn")
    if id_skip and strides == 1 and filters_in == filters_out:
        x = residual(x, inputs, name, drop_rate)
    return x


_VARIANTS = {  # width, depth, default size, dropout
    "b0": (1.0, 1.0, 224, 0.2), "b1": (1.0, 1.1, 240, 0.2), "b2": (1.1, 1.2, 260, 0.3), "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4), "b5": (1.6, 2.2, 456, 0.4), "b6": (1.8, 2.6, 528, 0.5), "b7": (2.0, 3.1, 600, 0.5),
}


def _make(variant):
    width, depth, size, dropout = _VARIANTS[variant]
    build = functools.partial(EfficientNet, width, depth, size, dropout, weights_name=variant)
    return _base.model_function(
        f"EfficientNet{variant.upper()}", build, f"efficientnet{variant}",
        f"EfficientNet-{variant.upper()}: width x{width}, depth x{depth}, input ({size}, {size}, 3) by default, "
        "[0, 255] pixels (the model rescales and normalizes).", __name__)


(EfficientNetB0, EfficientNetB1, EfficientNetB2, EfficientNetB3, EfficientNetB4, EfficientNetB5, EfficientNetB6,
 EfficientNetB7) = map(_make, _VARIANTS)
