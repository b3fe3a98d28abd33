"""VGG19: VGG16 (``vgg16.py``) with four convolutions in blocks 3 to 5."""
from __future__ import annotations

from .vgg16 import VGG, decode_predictions, preprocess_input


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,  # noqa: N802
          classes=1000, classifier_activation="softmax", name="vgg19"):
    """VGG19; expects images preprocessed by ``vgg19.preprocess_input`` (caffe mode)."""
    return VGG((2, 2, 4, 4, 4), "vgg19", include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation, name)


__all__ = ["VGG19", "decode_predictions", "preprocess_input"]
