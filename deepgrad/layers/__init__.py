"""Floor 4: Keras-style layers."""
from .base import Layer

__all__ = ["Layer"]
