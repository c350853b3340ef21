"""MobileNetV3 Small/Large (Howard et al., 2019), layer for layer as `keras.applications.mobilenet_v3`.

The model rescales its own inputs to [-1, 1] (`include_preprocessing=True`), so
`preprocess_input` is the identity.
"""

import warnings

from fkeras import backend
from fkeras import layers
from fkeras.applications import _base
from fkeras.applications import _mobilenet_common
from fkeras.applications import imagenet_utils

__all__ = ["MobileNetV3Small", "MobileNetV3Large", "preprocess_input", "decode_predictions"]

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/"
WEIGHTS_HASHES = {
    "large_224_0.75_float": ("765b44a33ad4005b3ac83185abf1d0eb", "40af19a13ebea4e2ee0c676887f69a2e"),
    "large_224_1.0_float": ("59e551e166be033d707958cf9e29a6a7", "07fb09a5933dd0c8eaafa16978110389"),
    "large_minimalistic_224_1.0_float": ("675e7b876c45c57e9e63e6d90a36599c", "ec5221f64a2f6d1ef965a614bdae7973"),
    "small_224_0.75_float": ("cb65d4e5be93758266aa0a7f2c6708b7", "ebdb5cc8e0b497cd13a7c275d475c819"),
    "small_224_1.0_float": ("8768d4c2e7dee89b9d02b2d03d65d862", "d3e8ec802a04aa4fc771ee12a9a9b836"),
    "small_minimalistic_224_1.0_float": ("99cd97fb2fcdad2bf028eb838de69e37", "cde8136e733e811080d9fcd8a252f7e4"),
}


def MobileNetV3(stack_fn, last_point_ch, input_shape=None, alpha=1.0, model_type="large", minimalistic=False,
                include_top=True, weights="imagenet", input_tensor=None, classes=1000, pooling=None,
                dropout_rate=0.2, classifier_activation="softmax", include_preprocessing=True, name=None):
    """The shared MobileNetV3 body: Rescaling, a 3x3/2 stem, `stack_fn`'s inverted residual blocks,
    a 1x1 conv to 6x the channels, then the top (pool, 1x1 conv to `last_point_ch`, dropout, 1x1
    logits) or pooling. Input sides >= 32; imagenet weights were trained at 224."""
    _base.check_weights_arg(weights, include_top, classes)
    _mobilenet_common.check_input_tensor(
        input_tensor, input_shape, "input_tensor specified: {input_tensor} is not a keras tensor",
        "input_shape[1] must equal input_tensor.shape[{axis}].  Received input_shape={input_shape}, "
        "input_tensor.shape={input_tensor.shape}")
    if input_shape is None and input_tensor is not None and backend.is_keras_tensor(input_tensor):
        if backend.image_data_format() == "channels_first":
            input_shape = (3, input_tensor.shape[3], input_tensor.shape[2])
        else:
            input_shape = (input_tensor.shape[2], input_tensor.shape[1], 3)
    if input_shape is None and input_tensor is None:
        input_shape = (None, None, 3) if backend.image_data_format() == "channels_last" else (3, None, None)
    rows, cols = _base.rows_cols(input_shape)
    if rows and cols and (rows < 32 or cols < 32):
        raise ValueError(f"Input size must be at least 32x32; Received `input_shape={input_shape}`")
    if weights == "imagenet":
        if (not minimalistic and alpha not in [0.75, 1.0]) or (minimalistic and alpha != 1.0):
            raise ValueError("If imagenet weights are being loaded, alpha can be one of `0.75`, `1.0` for non "
                             "minimalistic or `1.0` for minimalistic only.")
        if rows != cols or rows != 224:
            warnings.warn("`input_shape` is undefined or non-square, or `rows` is not 224. Weights for input shape "
                          "(224, 224) will be loaded as the default.", stacklevel=2)
    img_input = _base.model_input(input_tensor, input_shape)
    ch = _mobilenet_common.channel_axis()
    if minimalistic:
        kernel, activation, se_ratio = 3, relu, None
    else:
        kernel, activation, se_ratio = 5, hard_swish, 0.25
    x = img_input
    if include_preprocessing:
        x = layers.Rescaling(scale=1.0 / 127.5, offset=-1.0)(x)
    x = layers.Conv2D(16, kernel_size=3, strides=(2, 2), padding="same", use_bias=False, name="conv")(x)
    x = layers.BatchNormalization(axis=ch, epsilon=1e-3, momentum=0.999, name="conv_bn")(x)
    x = activation(x)
    x = stack_fn(x, kernel, activation, se_ratio)
    last_conv_ch = _depth(x.shape[ch] * 6)
    if alpha > 1.0:
        last_point_ch = _depth(last_point_ch * alpha)
    x = layers.Conv2D(last_conv_ch, kernel_size=1, padding="same", use_bias=False, name="conv_1")(x)
    x = layers.BatchNormalization(axis=ch, epsilon=1e-3, momentum=0.999, name="conv_1_bn")(x)
    x = activation(x)

    def top(x):
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Conv2D(last_point_ch, kernel_size=1, padding="same", use_bias=True, name="conv_2")(x)
        x = activation(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate)(x)
        x = layers.Conv2D(classes, kernel_size=1, padding="same", name="logits")(x)
        x = layers.Flatten()(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        return layers.Activation(activation=classifier_activation, name="predictions")(x)

    x = _base.pool_or_top(x, include_top, pooling, top=top, avg_name="avg_pool", max_name="max_pool")

    def imagenet_file():
        model_name = f"{model_type}{'_minimalistic' if minimalistic else ''}_224_{alpha}_float"
        fname = f"weights_mobilenet_v3_{model_name}{'' if include_top else '_no_top_v2'}.h5"
        return fname, BASE_WEIGHT_PATH + fname, WEIGHTS_HASHES[model_name][0 if include_top else 1]

    return _base.finish(img_input, input_tensor, x, name, weights, imagenet_file)


def MobileNetV3Small(input_shape=None, alpha=1.0, minimalistic=False, include_top=True, weights="imagenet",
                     input_tensor=None, classes=1000, pooling=None, dropout_rate=0.2,
                     classifier_activation="softmax", include_preprocessing=True, name="MobileNetV3Small"):
    """MobileNetV3-Small: 11 inverted residual blocks (squeeze-excite, hard-swish), last point 1024."""
    def plan(kernel, activation, se_ratio):
        return [(1, 16, 3, 2, se_ratio, relu), (72.0 / 16, 24, 3, 2, None, relu), (88.0 / 24, 24, 3, 1, None, relu),
                (4, 40, kernel, 2, se_ratio, activation), (6, 40, kernel, 1, se_ratio, activation),
                (6, 40, kernel, 1, se_ratio, activation), (3, 48, kernel, 1, se_ratio, activation),
                (3, 48, kernel, 1, se_ratio, activation), (6, 96, kernel, 2, se_ratio, activation),
                (6, 96, kernel, 1, se_ratio, activation), (6, 96, kernel, 1, se_ratio, activation)]

    return MobileNetV3(_stack(plan, alpha), 1024, input_shape, alpha, "small", minimalistic, include_top, weights,
                       input_tensor, classes, pooling, dropout_rate, classifier_activation, include_preprocessing,
                       name=name)


def MobileNetV3Large(input_shape=None, alpha=1.0, minimalistic=False, include_top=True, weights="imagenet",
                     input_tensor=None, classes=1000, pooling=None, dropout_rate=0.2,
                     classifier_activation="softmax", include_preprocessing=True, name="MobileNetV3Large"):
    """MobileNetV3-Large: 15 inverted residual blocks (squeeze-excite, hard-swish), last point 1280."""
    def plan(kernel, activation, se_ratio):
        return [(1, 16, 3, 1, None, relu), (4, 24, 3, 2, None, relu), (3, 24, 3, 1, None, relu),
                (3, 40, kernel, 2, se_ratio, relu), (3, 40, kernel, 1, se_ratio, relu),
                (3, 40, kernel, 1, se_ratio, relu), (6, 80, 3, 2, None, activation),
                (2.5, 80, 3, 1, None, activation), (2.3, 80, 3, 1, None, activation),
                (2.3, 80, 3, 1, None, activation), (6, 112, 3, 1, se_ratio, activation),
                (6, 112, 3, 1, se_ratio, activation), (6, 160, kernel, 2, se_ratio, activation),
                (6, 160, kernel, 1, se_ratio, activation), (6, 160, kernel, 1, se_ratio, activation)]

    return MobileNetV3(_stack(plan, alpha), 1280, input_shape, alpha, "large", minimalistic, include_top, weights,
                       input_tensor, classes, pooling, dropout_rate, classifier_activation, include_preprocessing,
                       name=name)


def _stack(plan, alpha):
    """MobileNetV3's `stack_fn`: the inverted residual blocks of `plan(kernel, activation, se_ratio)`
    (expansion, filters before `alpha`, kernel, stride, se_ratio, activation), in order."""
    def stack_fn(x, kernel, activation, se_ratio):
        for block_id, (e, f, k, s, se, act) in enumerate(plan(kernel, activation, se_ratio)):
            x = _inverted_res_block(x, e, _depth(f * alpha), k, s, se, act, block_id)
        return x

    return stack_fn


def relu(x):
    return layers.ReLU()(x)


def hard_sigmoid(x):
    return layers.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)


def hard_swish(x):
    return layers.Activation("hard_swish")(x)


def _depth(v, divisor=8, min_value=None):
    """`v` rounded to a multiple of `divisor` (at least `min_value`, never more than 10% below `v`)."""
    return _base.make_divisible(v, divisor, min_value)


def _se_block(inputs, filters, se_ratio, prefix):
    """Squeeze-and-excite: pooled channels -> 1x1 conv (relu) -> 1x1 conv (hard sigmoid) -> scale the input."""
    x = layers.GlobalAveragePooling2D(keepdims=True, name=f"{prefix}squeeze_excite_avg_pool")(inputs)
    x = layers.Conv2D(_depth(filters * se_ratio), kernel_size=1, padding="same",
                      name=f"{prefix}squeeze_excite_conv")(x)
    x = layers.ReLU(name=f"{prefix}squeeze_excite_relu")(x)
    x = layers.Conv2D(filters, kernel_size=1, padding="same", name=f"{prefix}squeeze_excite_conv_1")(x)
    x = hard_sigmoid(x)
    return layers.Multiply(name=f"{prefix}squeeze_excite_mul")([inputs, x])


def _inverted_res_block(x, expansion, filters, kernel_size, stride, se_ratio, activation, block_id):
    ch = _mobilenet_common.channel_axis()
    shortcut = x
    prefix = "expanded_conv_"
    infilters = x.shape[ch]
    if block_id:
        prefix = f"expanded_conv_{block_id}_"
        x = layers.Conv2D(_depth(infilters * expansion), kernel_size=1, padding="same", use_bias=False,
                          name=f"{prefix}expand")(x)
        x = layers.BatchNormalization(axis=ch, epsilon=1e-3, momentum=0.999, name=f"{prefix}expand_bn")(x)
        x = activation(x)
    if stride == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, kernel_size), name=f"{prefix}depthwise_pad")(x)
    x = layers.DepthwiseConv2D(kernel_size, strides=stride, padding="same" if stride == 1 else "valid",
                               use_bias=False, name=f"{prefix}depthwise")(x)
    x = layers.BatchNormalization(axis=ch, epsilon=1e-3, momentum=0.999, name=f"{prefix}depthwise_bn")(x)
    x = activation(x)
    if se_ratio:
        x = _se_block(x, _depth(infilters * expansion), se_ratio, prefix)
    x = layers.Conv2D(filters, kernel_size=1, padding="same", use_bias=False, name=f"{prefix}project")(x)
    x = layers.BatchNormalization(axis=ch, epsilon=1e-3, momentum=0.999, name=f"{prefix}project_bn")(x)
    if stride == 1 and infilters == filters:
        x = layers.Add(name=f"{prefix}add")([shortcut, x])
    return x


preprocess_input = _base.identity_preprocess_input
decode_predictions = _base.decode_predictions
