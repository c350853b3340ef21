"""VGG19 (Simonyan & Zisserman, 2014), layer for layer as `keras.applications.vgg19`."""

from fkeras.applications.vgg16 import build_vgg, decode_predictions, preprocess_input

WEIGHTS_HASHES = ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6")  # with top, without

__all__ = ["VGG19", "preprocess_input", "decode_predictions"]


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name="vgg19"):
    """VGG19: 16 convs in 5 blocks, then (include_top) Flatten + fc1/fc2 (4096) + predictions.

    Input (224, 224, 3) by default; without the top, any size >= 32 (caffe preprocessing).
    """
    return build_vgg((2, 2, 4, 4, 4), "vgg19", WEIGHTS_HASHES,
                     include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation, name)
