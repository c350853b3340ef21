"""NASNetMobile vs Keras 3.15: same layer names, classes, weight shapes and order, parameter counts;
Keras's weights (saved as .weights.h5) give fkeras the same predictions (<= 1e-4), and back.

The smallest variant of the family at a small input; the bigger variants are checked structurally
in test_applications_variants.py."""

import pytest

pytest.importorskip("keras")

from applications_common import check_against_keras  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("name, kwargs", [
    ("NASNetMobile", dict(include_top=False, input_shape=(32, 32, 3))),
])
def test_same_as_keras(name, kwargs, tmp_path):
    check_against_keras(name, kwargs, tmp_path)
