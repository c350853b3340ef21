"""ResNet50V2/101V2/152V2 (He et al., 2016, pre-activation), layer for layer as `keras.applications.resnet_v2`."""

from fkeras.applications import _base
from fkeras.applications import resnet

__all__ = ["ResNet50V2", "ResNet101V2", "ResNet152V2", "preprocess_input", "decode_predictions"]


def _v2(public, depths, doc):
    name = public.lower()
    build = resnet.stages(resnet.stack_residual_blocks_v2, depths, (2, 2, 2, 1), True, name)
    return _base.model_function(public, build, name, doc, __name__)


ResNet50V2 = _v2("ResNet50V2", (3, 4, 6, 3),
                 "ResNet50V2: pre-activation stacks of 3, 4, 6, 3 blocks (tf-mode preprocessing).")
ResNet101V2 = _v2("ResNet101V2", (3, 4, 23, 3), "ResNet101V2: pre-activation stacks of 3, 4, 23, 3 blocks.")
ResNet152V2 = _v2("ResNet152V2", (3, 8, 36, 3), "ResNet152V2: pre-activation stacks of 3, 8, 36, 3 blocks.")
preprocess_input = _base.preprocess_input_of("tf")
decode_predictions = _base.decode_predictions
