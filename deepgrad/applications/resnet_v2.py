"""ResNet50V2/101V2/152V2: the pre-activation stacks of ``resnet.py``; inputs scaled to [-1, 1]."""
from __future__ import annotations

from . import imagenet_utils
from .resnet import ResNet, four_stages, name_of, stack_residual_blocks_v2


def _v2(blocks, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation, name):
    # v2 strides at the end of each stage but the last, so conv5 keeps stride 1
    return ResNet(four_stages(stack_residual_blocks_v2, blocks, 2, 1), True, True, include_top, weights, input_tensor,
                  input_shape, pooling, classes, classifier_activation, name, weights_name=name_of(blocks, "v2"))


def ResNet50V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,  # noqa: N802
               classes=1000, classifier_activation="softmax", name="resnet50v2"):
    """ResNet50V2; expects images preprocessed by ``resnet_v2.preprocess_input`` (tf mode)."""
    return _v2((3, 4, 6, 3), include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation, name)


def ResNet101V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,  # noqa: N802
                classes=1000, classifier_activation="softmax", name="resnet101v2"):
    """ResNet101V2; expects images preprocessed by ``resnet_v2.preprocess_input`` (tf mode)."""
    return _v2((3, 4, 23, 3), include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation, name)


def ResNet152V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,  # noqa: N802
                classes=1000, classifier_activation="softmax", name="resnet152v2"):
    """ResNet152V2; expects images preprocessed by ``resnet_v2.preprocess_input`` (tf mode)."""
    return _v2((3, 8, 36, 3), include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation, name)


def preprocess_input(x, data_format=None):
    """Scale to [-1, 1] (tf mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = imagenet_utils.decode_predictions
