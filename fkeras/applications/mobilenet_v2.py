"""MobileNetV2 (Sandler et al., 2018), layer for layer as `keras.applications.mobilenet_v2`."""

from fkeras import backend
from fkeras import layers
from fkeras.applications import _base
from fkeras.applications import _mobilenet_common
from fkeras.applications import imagenet_utils
from fkeras.applications._mobilenet_common import check_input_tensor, square_size, weights_rows

__all__ = ["MobileNetV2", "preprocess_input", "decode_predictions"]

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
_SIZES = (96, 128, 160, 192, 224)


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet", input_tensor=None, pooling=None,
                classes=1000, classifier_activation="softmax", name=None):
    """MobileNetV2: 17 inverted residual blocks (width `alpha`), a 1x1 conv to 1280, then the top.

    Input (224, 224, 3) by default (or the side of a square `input_shape`/`input_tensor` in
    96..224); imagenet weights for alpha 0.35/0.5/0.75/1.0/1.3/1.4. Name defaults to
    `mobilenetv2_{alpha:.2f}_{rows}`.
    """
    _base.check_weights_arg(weights, include_top, classes)
    check_input_tensor(input_tensor, input_shape,
                       "input_tensor is not a Keras tensor; Received `input_tensor={input_tensor}`",
                       "input_tensor.shape[{axis}] must equal input_shape[1]; Received "
                       "`input_tensor.shape={input_tensor.shape}`, `input_shape={input_shape}`")
    if input_shape is None and input_tensor is not None and backend.is_keras_tensor(input_tensor):
        default_size = square_size(tuple(input_tensor.shape[1:]), _SIZES)
    else:
        default_size = square_size(input_shape, _SIZES)
    input_shape = _base.settled_input_shape(input_shape, default_size, 32, include_top, weights)
    rows, cols = _base.rows_cols(input_shape)
    if weights == "imagenet":
        if alpha not in [0.35, 0.50, 0.75, 1.0, 1.3, 1.4]:
            raise ValueError("If imagenet weights are being loaded, alpha must be one of `0.35`, `0.50`, `0.75`, "
                             f"`1.0`, `1.3` or `1.4` only; Received `alpha={alpha}`")
        rows = weights_rows(rows, cols, _SIZES)
    img_input = _base.model_input(input_tensor, input_shape)
    channel_axis = _mobilenet_common.channel_axis()
    x = layers.Conv2D(_base.make_divisible(32 * alpha, 8), kernel_size=3, strides=(2, 2), padding="same",
                      use_bias=False, name="Conv1")(img_input)
    x = layers.BatchNormalization(axis=channel_axis, epsilon=1e-3, momentum=0.999, name="bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    plan = [(16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6), (64, 2, 6), (64, 1, 6),
            (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6), (160, 2, 6), (160, 1, 6), (160, 1, 6),
            (320, 1, 6)]
    for block_id, (filters, stride, expansion) in enumerate(plan):
        x = _inverted_res_block(x, filters=filters, alpha=alpha, stride=stride, expansion=expansion,
                                block_id=block_id)
    last_block_filters = _base.make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_block_filters, kernel_size=1, use_bias=False, name="Conv_1")(x)
    x = layers.BatchNormalization(axis=channel_axis, epsilon=1e-3, momentum=0.999, name="Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)

    x = _base.avg_pool_head(x, include_top, pooling, classes, classifier_activation, weights, pool_name=None)
    if name is None:
        name = f"mobilenetv2_{alpha:0.2f}_{rows}"

    def imagenet_file():
        fname = (f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}"
                 f"{'' if include_top else '_no_top'}.h5")
        return fname, BASE_WEIGHT_PATH + fname, None

    return _base.finish(img_input, input_tensor, x, name, weights, imagenet_file)


def _inverted_res_block(inputs, expansion, stride, alpha, filters, block_id):
    """1x1 expand (not in block 0) -> 3x3 depthwise (stride) -> 1x1 linear project, + input when shapes allow."""
    channel_axis = _mobilenet_common.channel_axis()
    in_channels = inputs.shape[channel_axis]
    pointwise_filters = _base.make_divisible(int(filters * alpha), 8)
    x = inputs
    prefix = f"block_{block_id}_"
    if block_id:
        x = layers.Conv2D(expansion * in_channels, kernel_size=1, padding="same", use_bias=False, activation=None,
                          name=f"{prefix}expand")(x)
        x = layers.BatchNormalization(axis=channel_axis, epsilon=1e-3, momentum=0.999, name=f"{prefix}expand_BN")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3), name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(kernel_size=3, strides=stride, activation=None, use_bias=False,
                               padding="same" if stride == 1 else "valid", name=f"{prefix}depthwise")(x)
    x = layers.BatchNormalization(axis=channel_axis, epsilon=1e-3, momentum=0.999, name=f"{prefix}depthwise_BN")(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(pointwise_filters, kernel_size=1, padding="same", use_bias=False, activation=None,
                      name=f"{prefix}project")(x)
    x = layers.BatchNormalization(axis=channel_axis, epsilon=1e-3, momentum=0.999, name=f"{prefix}project_BN")(x)
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


preprocess_input = _base.preprocess_input_of("tf")
decode_predictions = _base.decode_predictions
