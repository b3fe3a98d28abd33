"""Keras's image preprocessing and augmentation layers."""
from .base import BaseImagePreprocessingLayer
from .color import RandomBrightness, RandomContrast, RandomGrayscale, RandomInvert
from .geometric import RandomCrop, RandomFlip, RandomRotation, RandomTranslation, RandomZoom
from .resizing import CenterCrop, Rescaling, Resizing

__all__ = ["CenterCrop", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip",
           "RandomGrayscale", "RandomInvert", "RandomRotation", "RandomTranslation", "RandomZoom",
           "Rescaling", "Resizing"]
