"""The bigger variants of each family vs Keras 3.15, structurally: layer names and classes, weight
shapes and order, parameter counts (no predictions; the smallest variant of each family is checked
numerically in test_applications_<family>.py, and a variant differs from it only in widths/depths).

Building a big model twice (Keras and fkeras) costs 10-60 s of CPU each, so these run only when
FKERAS_TEST_ALL_APPLICATIONS=1 (e.g. before a release):
    FKERAS_TEST_ALL_APPLICATIONS=1 python -m pytest tests/test_applications_variants.py
"""

import os

import pytest

keras = pytest.importorskip("keras")

from applications_common import build_pair, same_structure  # noqa: E402

SMALL = dict(include_top=False, input_shape=(32, 32, 3))
VARIANTS = (["VGG19", "ResNet101", "ResNet152", "ResNet101V2", "ResNet152V2", "DenseNet169", "DenseNet201",
             "MobileNetV3Large", "ConvNeXtSmall", "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtXLarge", "NASNetLarge"]
            + [f"EfficientNetB{i}" for i in range(1, 8)]
            + [f"EfficientNetV2{v}" for v in ("B1", "B2", "B3", "S", "M", "L")])
TESTED_NUMERICALLY = {"VGG16", "ResNet50", "ResNet50V2", "MobileNet", "MobileNetV2", "MobileNetV3Small", "DenseNet121",
                      "Xception", "InceptionV3", "InceptionResNetV2", "ConvNeXtTiny", "NASNetMobile", "EfficientNetB0",
                      "EfficientNetV2B0"}


def test_every_model_is_checked_somewhere():
    models = {n for n in dir(keras.applications) if n[0].isupper()}
    assert models == set(VARIANTS) | TESTED_NUMERICALLY


if os.environ.get("FKERAS_TEST_ALL_APPLICATIONS") == "1":  # opt-in (not collected otherwise: no skips in CI)
    @pytest.mark.slow
    @pytest.mark.parametrize("name", VARIANTS)
    def test_same_structure_as_keras(name):
        km, fm = build_pair(name, **SMALL)
        same_structure(km, fm)
