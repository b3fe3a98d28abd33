"""ImageNet helpers shared by every architecture: ``preprocess_input`` in Keras's three modes,
``decode_predictions``, and the input-shape rules of ``keras.applications``.

Images are channels-last ``(batch, height, width, channels)``, as everywhere in deepgrad;
``data_format="channels_first"`` is accepted by ``preprocess_input`` for arrays laid out that way.
"""
from __future__ import annotations

import json
import warnings

import numpy as np

from .. import activations, backend, ops
from ..autograd import Tensor
from ..symbolic import KerasTensor
from . import weights_cache

CLASS_INDEX = None
CLASS_INDEX_FILE = "imagenet_class_index.json"
CLASS_INDEX_PATH = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"

# per-channel statistics of ImageNet: RGB mean and std in [0, 1] ("torch"), BGR mean in [0, 255] ("caffe")
TORCH_MEAN, TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CAFFE_MEAN = (103.939, 116.779, 123.68)


def preprocess_input(x, data_format=None, mode="caffe"):
    """Scale a batch of images with values in [0, 255] as the ImageNet weights expect.

    ``mode="tf"``: ``x / 127.5 - 1`` (into [-1, 1]); ``"torch"``: ``(x / 255 - mean) / std`` per
    RGB channel; ``"caffe"``: RGB -> BGR, then ``x - mean`` per channel, no scaling.
    A float NumPy array is overwritten in place (as Keras does; pass a copy to keep it); an
    integer array becomes floatx; a Tensor gives a new Tensor, and a symbolic input (inside a
    functional model, ``preprocess_input(keras.Input(...))``) a symbolic result.
    """
    if mode not in {"caffe", "tf", "torch"}:
        raise ValueError(f"Expected mode to be one of `caffe`, `tf` or `torch`. Received: mode={mode}")
    if data_format is None:
        data_format = "channels_last"
    elif data_format not in {"channels_first", "channels_last"}:
        raise ValueError("Expected data_format to be one of `channels_first` or `channels_last`. "
                         f"Received: data_format={data_format}")
    if isinstance(x, (Tensor, KerasTensor)):  # a symbolic input too: the step of a functional model
        return _preprocess_tensor(x, data_format, mode)
    x = x if isinstance(x, np.ndarray) else np.asarray(x)
    if not issubclass(x.dtype.type, np.floating):
        x = x.astype(backend.floatx(), copy=False)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    axis = _channel_axis(x.ndim, data_format)
    if mode == "caffe":
        x = np.flip(x, axis=axis)  # RGB -> BGR, a view as in Keras
        mean, std = CAFFE_MEAN, None
    else:
        x /= 255.0
        mean, std = TORCH_MEAN, TORCH_STD
    x -= np.asarray(mean, dtype=x.dtype).reshape(_channel_shape(x.ndim, axis))
    if std is not None:
        x /= np.asarray(std, dtype=x.dtype).reshape(_channel_shape(x.ndim, axis))
    return x


def _channel_axis(ndim: int, data_format: str) -> int:
    if data_format == "channels_last":
        return ndim - 1
    return 0 if ndim == 3 else 1


def _channel_shape(ndim: int, axis: int) -> tuple:
    """The shape that broadcasts a per-channel vector along ``axis``."""
    return tuple(-1 if i == axis else 1 for i in range(ndim))


def _preprocess_tensor(x: Tensor, data_format: str, mode: str) -> Tensor:
    """The same maths through differentiable ops, so gradients reach the raw image."""
    if mode == "tf":
        return x / 127.5 - 1.0
    axis = _channel_axis(x.ndim, data_format)
    shape = _channel_shape(x.ndim, axis)
    if mode == "caffe":
        x = ops.flip(x, axis=axis)
        return x - Tensor(np.asarray(CAFFE_MEAN, dtype=x.dtype).reshape(shape))
    x = x / 255.0 - Tensor(np.asarray(TORCH_MEAN, dtype=x.dtype).reshape(shape))
    return x / Tensor(np.asarray(TORCH_STD, dtype=x.dtype).reshape(shape))


def decode_predictions(preds, top=5):
    """``[[(wordnet_id, class_name, score), ...] per sample]``, the ``top`` best classes first.

    Reads Keras's ``imagenet_class_index.json`` from ``~/.keras/models/`` or deepgrad's cache,
    downloading it there when it is in neither.
    """
    global CLASS_INDEX
    preds = preds.numpy() if isinstance(preds, Tensor) else np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError("`decode_predictions` expects a batch of predictions (i.e. a 2D array of shape "
                         f"(samples, 1000)). Received array with shape: {preds.shape}")
    if CLASS_INDEX is None:
        path = weights_cache.cached_file(CLASS_INDEX_FILE, CLASS_INDEX_PATH, CLASS_INDEX_HASH,
                                         what="decode_predictions")
        with open(path, encoding="utf-8") as f:
            CLASS_INDEX = json.load(f)
    results = []
    for pred in preds:
        best = np.argsort(pred, kind="stable")[-top:][::-1]
        result = [tuple(CLASS_INDEX[str(i)]) + (pred[i],) for i in best]
        result.sort(key=lambda r: r[2], reverse=True)
        results.append(result)
    return results


def obtain_input_shape(input_shape, default_size, min_size, data_format="channels_last", require_flatten=True,
                       weights=None):
    """The model's input shape from the user's ``input_shape``, by Keras's rules: the default
    square when none is given (``(None, None, 3)`` without a classifier), the exact default with
    ImageNet weights and a classifier, at least ``min_size`` pixels a side, three channels for
    ImageNet weights."""
    if data_format != "channels_last":
        raise ValueError(f"deepgrad.applications: only channels_last images are supported, got {data_format!r}")
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        if input_shape[-1] not in {1, 3}:
            warnings.warn("This model usually expects 1 or 3 input channels. However, it was passed an "
                          f"input_shape with {input_shape[-1]} input channels.", stacklevel=2)
        default_shape = (default_size, default_size, input_shape[-1])
    else:
        default_shape = (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and tuple(input_shape) != default_shape:
            raise ValueError("When setting `include_top=True` and loading `imagenet` weights, `input_shape` "
                             f"should be {default_shape}.  Received: input_shape={input_shape}")
        return default_shape
    if input_shape:
        if len(input_shape) != 3:
            raise ValueError("`input_shape` must be a tuple of three integers.")
        if input_shape[-1] != 3 and weights == "imagenet":
            raise ValueError(f"The input must have 3 channels; Received `input_shape={input_shape}`")
        if ((input_shape[0] is not None and input_shape[0] < min_size)
                or (input_shape[1] is not None and input_shape[1] < min_size)):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; "
                             f"Received: input_shape={input_shape}")
    else:
        input_shape = default_shape if require_flatten else (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError("If `include_top` is True, you should specify a static `input_shape`. "
                         f"Received: input_shape={input_shape}")
    return tuple(input_shape)


def correct_pad(inputs, kernel_size):
    """Zero padding ``((top, bottom), (left, right))`` that makes a stride-2 'valid' convolution
    cover the image as TensorFlow's 'same' does: one pixel less before on even sizes."""
    height, width = inputs.shape[1:3]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if height is None else (1 - height % 2, 1 - width % 2)
    correct = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((correct[0] - adjust[0], correct[0]), (correct[1] - adjust[1], correct[1]))


def validate_activation(classifier_activation, weights):
    """Pretrained classifiers were trained with softmax: only ``None`` or ``"softmax"`` with them."""
    if weights is None:
        return
    fn = activations.get(classifier_activation)
    if fn not in {activations.get("softmax"), activations.get(None)}:
        raise ValueError("Only `None` and `softmax` activations are allowed for the `classifier_activation` "
                         f"argument when using pretrained weights, with `include_top=True`; Received: "
                         f"classifier_activation={classifier_activation}")
