"""`fkeras.applications`: Keras 3.15's model zoo (`keras.applications`) as fkeras Functional models.

Each model has Keras's signature and the same layer names, weight shapes and order, so Keras's
published weight files load unchanged:

    import fkeras as keras
    base = keras.applications.MobileNetV2(include_top=False, weights="imagenet", input_shape=(224, 224, 3))

`weights="imagenet"` downloads Keras's file into Keras's cache (`~/.keras/models`, reusing a
file Keras already fetched); `weights=<path>` loads a local `.h5` / `.weights.h5` file.
Modules load on first use.
"""

import importlib

_MODULES = ("convnext", "densenet", "efficientnet", "efficientnet_v2", "imagenet_utils", "inception_resnet_v2",
            "inception_v3", "mobilenet", "mobilenet_v2", "mobilenet_v3", "nasnet", "resnet", "resnet50",
            "resnet_v2", "vgg16", "vgg19", "xception")
_MODELS = {
    "ConvNeXtTiny": "convnext", "ConvNeXtSmall": "convnext", "ConvNeXtBase": "convnext",
    "ConvNeXtLarge": "convnext", "ConvNeXtXLarge": "convnext",
    "DenseNet121": "densenet", "DenseNet169": "densenet", "DenseNet201": "densenet",
    **{f"EfficientNetB{i}": "efficientnet" for i in range(8)},
    **{f"EfficientNetV2{v}": "efficientnet_v2" for v in ("B0", "B1", "B2", "B3", "S", "M", "L")},
    "InceptionResNetV2": "inception_resnet_v2", "InceptionV3": "inception_v3",
    "MobileNet": "mobilenet", "MobileNetV2": "mobilenet_v2",
    "MobileNetV3Small": "mobilenet_v3", "MobileNetV3Large": "mobilenet_v3",
    "NASNetMobile": "nasnet", "NASNetLarge": "nasnet",
    "ResNet50": "resnet", "ResNet101": "resnet", "ResNet152": "resnet",
    "ResNet50V2": "resnet_v2", "ResNet101V2": "resnet_v2", "ResNet152V2": "resnet_v2",
    "VGG16": "vgg16", "VGG19": "vgg19", "Xception": "xception",
}

__all__ = sorted(_MODELS) + list(_MODULES)


def __getattr__(name):
    if name in _MODULES:
        value = importlib.import_module(f"fkeras.applications.{name}")
    elif name in _MODELS:
        value = getattr(importlib.import_module(f"fkeras.applications.{_MODELS[name]}"), name)
    else:
        raise AttributeError(f"module 'fkeras.applications' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
