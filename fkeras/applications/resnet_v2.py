"""ResNet50V2/101V2/152V2 (He et al., 2016, pre-activation), layer for layer as `keras.applications.resnet_v2`."""

from fkeras.applications import imagenet_utils
from fkeras.applications import resnet

__all__ = ["ResNet50V2", "ResNet101V2", "ResNet152V2", "preprocess_input", "decode_predictions"]


def _v2(depths, weights_name, name, include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation):
    def stack_fn(x):
        x = resnet.stack_residual_blocks_v2(x, 64, depths[0], name="conv2")
        x = resnet.stack_residual_blocks_v2(x, 128, depths[1], name="conv3")
        x = resnet.stack_residual_blocks_v2(x, 256, depths[2], name="conv4")
        return resnet.stack_residual_blocks_v2(x, 512, depths[3], stride1=1, name="conv5")

    return resnet.ResNet(stack_fn, True, True, name=name, weights_name=weights_name, include_top=include_top,
                         weights=weights, input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                         classes=classes, classifier_activation=classifier_activation)


def ResNet50V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
               classes=1000, classifier_activation="softmax", name="resnet50v2"):
    """ResNet50V2: pre-activation stacks of 3, 4, 6, 3 blocks (tf-mode preprocessing)."""
    return _v2((3, 4, 6, 3), "resnet50v2", name, include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation)


def ResNet101V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax", name="resnet101v2"):
    """ResNet101V2: pre-activation stacks of 3, 4, 23, 3 blocks."""
    return _v2((3, 4, 23, 3), "resnet101v2", name, include_top, weights, input_tensor, input_shape, pooling,
               classes, classifier_activation)


def ResNet152V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax", name="resnet152v2"):
    """ResNet152V2: pre-activation stacks of 3, 8, 36, 3 blocks."""
    return _v2((3, 8, 36, 3), "resnet152v2", name, include_top, weights, input_tensor, input_shape, pooling,
               classes, classifier_activation)


def preprocess_input(x, data_format=None):
    """tf-mode preprocessing: pixels scaled to [-1, 1]."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """See `imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
