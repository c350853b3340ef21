"""`keras.applications.resnet50`: ResNet50 and its caffe-mode preprocessing."""

from fkeras.applications.resnet import ResNet50, decode_predictions, preprocess_input

__all__ = ["ResNet50", "preprocess_input", "decode_predictions"]
