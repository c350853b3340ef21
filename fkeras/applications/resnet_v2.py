"""ResNet50V2/101V2/152V2 (He et al., 2016, pre-activation), layer for layer as `keras.applications.resnet_v2`."""

from fkeras.applications import _base
from fkeras.applications import resnet

__all__ = ["ResNet50V2", "ResNet101V2", "ResNet152V2", "preprocess_input", "decode_predictions"]


_V2 = {"stack": resnet.stack_residual_blocks_v2, "strides1": (2, 2, 2, 1), "preact": True, "module": __name__}
ResNet50V2 = resnet.variant("ResNet50V2", (3, 4, 6, 3),
                            "ResNet50V2: pre-activation stacks of 3, 4, 6, 3 blocks (tf-mode preprocessing).", **_V2)
ResNet101V2 = resnet.variant("ResNet101V2", (3, 4, 23, 3), "ResNet101V2: pre-activation stacks of 3, 4, 23, 3 blocks.",
                             **_V2)
ResNet152V2 = resnet.variant("ResNet152V2", (3, 8, 36, 3), "ResNet152V2: pre-activation stacks of 3, 8, 36, 3 blocks.",
                             **_V2)
preprocess_input = _base.preprocess_input_of("tf")
decode_predictions = _base.decode_predictions
