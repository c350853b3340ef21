"""Random geometric and colour layers against Keras 3.15: given the transformation Keras's own layer
draws (`get_random_transformation`), fkeras's `transform_images` gives Keras's output (atol 2e-3 of the
value range). The draws themselves differ (other random streams) and are tested statistically in
test_image_preprocessing_random.py."""

import keras  # noqa: F401  (KERAS_BACKEND=jax is set by conftest)
import pytest
from image_preprocessing_common import COLOR_CASES, GEOMETRIC_CASES, case_id, check_transform_matches_keras

from fkeras import nn


@pytest.mark.parametrize("case", GEOMETRIC_CASES, ids=[case_id(c) for c in GEOMETRIC_CASES])
def test_geometric_transform_matches_keras(case):
    check_transform_matches_keras(case, keras, nn)


@pytest.mark.parametrize("case", COLOR_CASES, ids=[case_id(c) for c in COLOR_CASES])
def test_color_transform_matches_keras(case):
    check_transform_matches_keras(case, keras, nn)
