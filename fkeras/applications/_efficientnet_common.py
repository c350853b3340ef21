"""What EfficientNet (V1) and EfficientNetV2 share, written once: the initializers, conv + batch norm
(+ activation) units, squeeze-excite, the block schedule of the stages, the dropped-path residual,
the classifier head and the weights file. Layer names are the callers' (Keras's), so the two families keep their own names.
"""

import copy

from fkeras import layers
from fkeras.applications import _base
from fkeras.applications import imagenet_utils

CONV_KERNEL_INITIALIZER = {"class_name": "VarianceScaling",
                           "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"}}
DENSE_KERNEL_INITIALIZER = {"class_name": "VarianceScaling",
                            "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"}}


bn_axis = _base.channel_axis


def conv_bn(x, filters, kernel_size, conv_name, bn_name, act_name=None, activation=None, strides=1, padding="same",
            momentum=0.99):
    """Conv2D (no bias, He-style fan-out init) + BatchNormalization, then `activation` if `act_name`."""
    x = _base.conv_bn(x, filters, kernel_size, strides=strides, padding=padding, use_bias=False,
                      kernel_initializer=CONV_KERNEL_INITIALIZER, conv_name=conv_name, bn_name=bn_name,
                      bn_args={"momentum": momentum})
    if act_name is not None:  # named, not given: `activation=None` still makes a (linear) Activation layer
        x = layers.Activation(activation, name=act_name)(x)
    return x


def squeeze_excite(x, name, filters_in, filters, se_ratio, activation):
    """Global average -> 1x1 reduce (`filters_in * se_ratio`) -> 1x1 expand (sigmoid) -> scale `x`."""
    filters_se = max(1, int(filters_in * se_ratio))
    se = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
    se = layers.Reshape((filters, 1, 1) if bn_axis() == 1 else (1, 1, filters), name=f"{name}se_reshape")(se)
    se = layers.Conv2D(filters_se, 1, padding="same", activation=activation, kernel_initializer=CONV_KERNEL_INITIALIZER,
                       name=f"{name}se_reduce")(se)
    se = layers.Conv2D(filters, 1, padding="same", activation="sigmoid", kernel_initializer=CONV_KERNEL_INITIALIZER,
                       name=f"{name}se_expand")(se)
    return layers.Multiply(name=f"{name}se_excite")([x, se])


def block_schedule(blocks_args, round_filters, round_repeats, *, repeats, filters_in, filters_out, model):
    """Each block of the stages `blocks_args` (dicts keyed `repeats`, `filters_in`, `filters_out`,
    `strides`, ...), in order, as (stage index, repeat index, Keras's name `block{stage}{letter}_`,
    the block's arguments): widths through `round_filters`, repeats through `round_repeats`; after a
    stage's first block, stride 1 and `filters_in = filters_out`. The stage dict handed out is
    reused across its repeats (the caller may pop keys from it on the first)."""
    for i, args in enumerate(copy.deepcopy(blocks_args)):
        if args[repeats] <= 0:
            raise ValueError(f"The number of repeats in `{model}` must be > 0. Received: {repeats}={args[repeats]}")
        args[filters_in] = round_filters(args[filters_in])
        args[filters_out] = round_filters(args[filters_out])
        for j in range(round_repeats(args.pop(repeats))):
            if j > 0:
                args["strides"] = 1
                args[filters_in] = args[filters_out]
            yield i, j, f"block{i + 1}{chr(j + 97)}_", args


def residual(x, inputs, name, drop_rate):
    """`x + inputs`, with per-sample path dropout at `drop_rate` first (shapes must agree: stride 1, same width)."""
    if drop_rate > 0:
        x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
    return layers.Add(name=f"{name}add")([x, inputs])


def head(x, include_top, pooling, dropout_rate, classes, classifier_activation, weights, dense_bias_initializer=None):
    """`avg_pool` (+ `top_dropout`) + `predictions` when include_top, else the optional global pooling."""
    def top(x):
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate, name="top_dropout")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        extra = {} if dense_bias_initializer is None else {"bias_initializer": dense_bias_initializer}
        return layers.Dense(classes, activation=classifier_activation, kernel_initializer=DENSE_KERNEL_INITIALIZER,
                            name="predictions", **extra)(x)

    return _base.pool_or_top(x, include_top, pooling, top=top, avg_name="avg_pool", max_name="max_pool")


def finish(img_input, input_tensor, x, name, weights, include_top, base_url, hashes, weights_name):
    """The model, with `weights="imagenet"` read from `<base_url><name>[_notop].h5`
    (`hashes[weights_name]`: the (top, notop) files' hashes)."""
    def imagenet_file():
        fname = name + (".h5" if include_top else "_notop.h5")
        return fname, base_url + fname, hashes[weights_name][0 if include_top else 1]

    return _base.finish(img_input, input_tensor, x, name, weights, imagenet_file)


preprocess_input = _base.identity_preprocess_input  # EfficientNets rescale and normalize inside the model
decode_predictions = _base.decode_predictions
