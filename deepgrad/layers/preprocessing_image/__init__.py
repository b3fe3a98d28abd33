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
