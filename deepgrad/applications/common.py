"""What every architecture does around its body: check ``weights``, make the input, put the
classifier or the pooling on top, make the Model, and load the weights.

``keras.applications`` repeats these steps in each family; here each family calls them.
"""
from __future__ import annotations

import os

from .. import layers
from ..models import Model
from ..utils.session_utils import get_source_inputs, is_keras_tensor
from . import imagenet_utils, weights_cache

KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


def check_weights(weights, include_top: bool, classes: int) -> None:
    """``weights`` is None, "imagenet" or an existing file; ImageNet classifiers have 1000 classes."""
    if not (weights in {"imagenet", None} or (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))):
        raise ValueError("The `weights` argument should be either `None` (random initialization), 'imagenet' "
                         "(pre-training on ImageNet), or the path to the weights file to be loaded.  "
                         f"Received: weights={weights}")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError("If using `weights='imagenet'` with `include_top=True`, `classes` should be 1000.  "
                         f"Received classes={classes}")


def image_input(input_tensor, input_shape):
    """The symbolic image the body starts from: a new ``Input`` or the caller's tensor."""
    if input_tensor is None:
        return layers.Input(shape=input_shape)
    if not is_keras_tensor(input_tensor):
        raise ValueError("`input_tensor` must be a symbolic tensor (the output of `layers.Input()` or of a "
                         f"layer called on one); Received: input_tensor of type {type(input_tensor).__name__}")
    return input_tensor


def top(x, include_top, pooling, classes, classifier_activation, weights, top_name=None, avg_name=None,
        max_name=None, dense_kwargs=None):
    """``GlobalAveragePooling2D`` + ``Dense(classes)`` named "predictions" with a classifier;
    otherwise the chosen global pooling, or the feature map when ``pooling`` is None."""
    if include_top:
        x = layers.GlobalAveragePooling2D(name=top_name)(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        return layers.Dense(classes, activation=classifier_activation, name="predictions",
                            **(dense_kwargs or {}))(x)
    return pool(x, pooling, avg_name, max_name)


def pool(x, pooling, avg_name=None, max_name=None):
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=avg_name)(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=max_name)(x)
    return x


def make_model(img_input, input_tensor, outputs, name) -> Model:
    """The functional Model from the source inputs of ``input_tensor`` (or the new Input)."""
    if input_tensor is not None:
        sources = get_source_inputs(input_tensor)
        inputs = sources[0] if len(sources) == 1 else sources
    else:
        inputs = img_input
    return Model(inputs, outputs, name=name)


def load_weights(model: Model, weights, fname: str | None = None, origin: str | None = None,
                 file_hash: str | None = None) -> Model:
    """``weights="imagenet"``: Keras's file ``fname`` from a cache or ``origin``; a path: that file."""
    if weights == "imagenet":
        path = weights_cache.cached_file(fname, origin, file_hash, what=f"{model.name} weights")
        model.load_weights(path)
    elif weights is not None:
        model.load_weights(weights)
    return model


def make_divisible(v, divisor=8, min_value=None):
    """``v`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``), never more
    than 10% below ``v``: the channel rounding of MobileNet V2/V3."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def square_size(input_shape, input_tensor, sizes, fallback=224):
    """The side of a square input among ``sizes`` (a size pretrained weights exist for), from
    ``input_shape`` or else ``input_tensor``'s shape; ``fallback`` otherwise."""
    shape = input_shape if input_shape is not None else (
        tuple(input_tensor.shape[1:]) if input_tensor is not None else None)
    if shape is None:
        return fallback
    rows, cols = shape[0], shape[1]
    return rows if rows == cols and rows in sizes else fallback
