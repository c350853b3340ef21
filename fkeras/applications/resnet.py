"""ResNet50/101/152 (He et al., 2015), layer for layer as `keras.applications.resnet`;
also the shared builder and the v2 (pre-activation) blocks that `resnet_v2` uses."""

import functools

from fkeras import layers
from fkeras.applications import _base

__all__ = ["ResNet50", "ResNet101", "ResNet152", "preprocess_input", "decode_predictions"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
WEIGHTS_HASHES = {
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50v2": ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}


def ResNet(stack_fn, preact, use_bias, include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
           pooling=None, classes=1000, classifier_activation="softmax", name="resnet", weights_name=None):
    """The ResNet stem (7x7/2 conv, 3x3/2 max-pool), `stack_fn`'s blocks, then the top or pooling.

    `preact`: ResNetV2's pre-activation layout (no BN after conv1, a final post_bn/post_relu).
    """
    img_input, _ = _base.image_input(weights, include_top, classes, input_tensor, input_shape, 224, 32)
    bn_axis = _base.channel_axis()
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    if not preact:
        x = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name="conv1_bn")(x)
        x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = stack_fn(x)
    if preact:
        x = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name="post_bn")(x)
        x = layers.Activation("relu", name="post_relu")(x)

    x = _base.avg_pool_head(x, include_top, pooling, classes, classifier_activation, weights, avg_name="avg_pool",
                            max_name="max_pool")
    imagenet_file = None
    if weights_name in WEIGHTS_HASHES:
        imagenet_file = functools.partial(_base.tf_kernels_file, weights_name, BASE_WEIGHTS_PATH, include_top,
                                          WEIGHTS_HASHES[weights_name])
    return _base.finish(img_input, input_tensor, x, name, weights, imagenet_file)


def residual_block_v1(x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None):
    """Bottleneck block: 1x1 (stride) -> kxk -> 1x1 (4*filters), plus the shortcut, then relu."""
    bn_axis = _base.channel_axis()
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name=f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, kernel_size, padding="SAME", name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name=f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stack_residual_blocks_v1(x, filters, blocks, stride1=2, name=None):
    """`blocks` v1 blocks; the first has the conv shortcut and stride `stride1`."""
    x = residual_block_v1(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = residual_block_v1(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def residual_block_v2(x, filters, kernel_size=3, stride=1, conv_shortcut=False, name=None):
    """Pre-activation bottleneck block (BN-relu first); the stride sits on the 3x3 conv."""
    bn_axis = _base.channel_axis()
    preact = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name=f"{name}_preact_bn")(x)
    preact = layers.Activation("relu", name=f"{name}_preact_relu")(preact)
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(preact)
    else:
        shortcut = layers.MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = layers.Conv2D(filters, 1, strides=1, use_bias=False, name=f"{name}_1_conv")(preact)
    x = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_2_pad")(x)
    x = layers.Conv2D(filters, kernel_size, strides=stride, use_bias=False, name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(axis=bn_axis, epsilon=1.001e-5, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    return layers.Add(name=f"{name}_out")([shortcut, x])


def stack_residual_blocks_v2(x, filters, blocks, stride1=2, name=None):
    """`blocks` v2 blocks; the first has the conv shortcut, the last the stride `stride1`."""
    x = residual_block_v2(x, filters, conv_shortcut=True, name=f"{name}_block1")
    for i in range(2, blocks):
        x = residual_block_v2(x, filters, name=f"{name}_block{i}")
    return residual_block_v2(x, filters, stride=stride1, name=f"{name}_block{blocks}")


def variant(public, depths, doc, *, stack, strides1, preact, module):
    """The public model function `public` (of `module`): a ResNet whose four stages `conv2`..`conv5`
    (64..512 filters) are `stack`s of `depths` blocks with first/last strides `strides1`; its name and
    weights file are `public.lower()`."""
    def stack_fn(x):
        for i, (filters, blocks, stride1) in enumerate(zip((64, 128, 256, 512), depths, strides1)):
            x = stack(x, filters, blocks, stride1=stride1, name=f"conv{i + 2}")
        return x

    name = public.lower()
    build = functools.partial(ResNet, stack_fn, preact, True, weights_name=name)
    return _base.model_function(public, build, name, doc, module)


_V1 = {"stack": stack_residual_blocks_v1, "strides1": (1, 2, 2, 2), "preact": False, "module": __name__}
ResNet50 = variant("ResNet50", (3, 4, 6, 3),
                   "ResNet50: bottleneck stacks of 3, 4, 6, 3 blocks (caffe preprocessing; input >= 32 pixels).", **_V1)
ResNet101 = variant("ResNet101", (3, 4, 23, 3), "ResNet101: bottleneck stacks of 3, 4, 23, 3 blocks.", **_V1)
ResNet152 = variant("ResNet152", (3, 8, 36, 3), "ResNet152: bottleneck stacks of 3, 8, 36, 3 blocks.", **_V1)
preprocess_input = _base.preprocess_input_of("caffe")
decode_predictions = _base.decode_predictions
