"""Image (and audio) preprocessing and augmentation layers: Keras 3.15's names, arguments, configs and
numbers, as pure `fkeras.nn` layers over `fkeras.ops` (random ones draw from the `rng` key of `apply`)."""

from fkeras.nn.image_preprocessing.audio import MelSpectrogram, STFTSpectrogram
from fkeras.nn.image_preprocessing.color import (
    AutoContrast, ContrastLimitedAdaptiveHistogramEqualization, Equalization, RandomBrightness,
    RandomColorDegeneration, RandomColorJitter, RandomContrast, RandomGaussianBlur, RandomGrayscale, RandomHue,
    RandomInvert, RandomPosterization, RandomSaturation, RandomSharpness, Solarization,
)
from fkeras.nn.image_preprocessing.geometric import (
    RandomElasticTransform, RandomFlip, RandomPerspective, RandomRotation, RandomShear, RandomTranslation, RandomZoom,
)
from fkeras.nn.image_preprocessing.mixing import AugMix, CutMix, MixUp, RandAugment, RandomErasing
from fkeras.nn.image_preprocessing.pipeline import MaxNumBoundingBoxes, Pipeline
from fkeras.nn.image_preprocessing.resizing import CenterCrop, RandomCrop, Resizing

__all__ = [
    "AugMix", "AutoContrast", "CenterCrop", "ContrastLimitedAdaptiveHistogramEqualization", "CutMix", "Equalization",
    "MaxNumBoundingBoxes", "MelSpectrogram", "MixUp", "Pipeline", "RandAugment", "RandomBrightness",
    "RandomColorDegeneration", "RandomColorJitter", "RandomContrast", "RandomCrop", "RandomElasticTransform",
    "RandomErasing", "RandomFlip", "RandomGaussianBlur", "RandomGrayscale", "RandomHue", "RandomInvert",
    "RandomPerspective", "RandomPosterization", "RandomRotation", "RandomSaturation", "RandomSharpness",
    "RandomShear", "RandomTranslation", "RandomZoom", "Resizing", "Solarization", "STFTSpectrogram",
]
