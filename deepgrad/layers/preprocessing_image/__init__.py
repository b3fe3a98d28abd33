"""Keras's image preprocessing and augmentation layers."""
from .base import BaseImagePreprocessingLayer, Pipeline
from .color import (
    AutoContrast, RandomBrightness, RandomContrast, RandomGrayscale, RandomInvert, Solarization,
)
from .geometric import RandomCrop, RandomFlip, RandomRotation, RandomShear, RandomTranslation, RandomZoom
from .resizing import CenterCrop, Rescaling, Resizing

__all__ = ["AutoContrast", "CenterCrop", "Pipeline", "RandomShear", "Solarization", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip",
           "RandomGrayscale", "RandomInvert", "RandomRotation", "RandomTranslation", "RandomZoom",
           "Rescaling", "Resizing"]
from .color_adjust import (
    RandomColorDegeneration, RandomColorJitter, RandomGaussianBlur, RandomHue, RandomPosterization,
    RandomSaturation, RandomSharpness,
)
from .histogram import ContrastLimitedAdaptiveHistogramEqualization, Equalization
from .max_num_bounding_boxes import MaxNumBoundingBoxes
from .mixing import CutMix, MixUp, RandomErasing
from .policies import AugMix, RandAugment
from .warping import RandomElasticTransform, RandomPerspective

__all__ += ["RandomHue", "RandomSaturation", "RandomSharpness", "RandomPosterization", "RandomColorJitter",
            "RandomColorDegeneration", "RandomErasing", "RandomGaussianBlur", "RandomPerspective",
            "RandomElasticTransform", "Equalization", "ContrastLimitedAdaptiveHistogramEqualization", "MixUp",
            "CutMix", "AugMix", "RandAugment", "MaxNumBoundingBoxes"]
