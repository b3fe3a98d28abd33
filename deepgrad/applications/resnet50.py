"""``applications.resnet50``: ResNet50 under its own module name, as Keras has it."""
from .resnet import ResNet50, decode_predictions, preprocess_input

__all__ = ["ResNet50", "decode_predictions", "preprocess_input"]
