"""``as_predict_fn``: a model as the plain function that SHAP and LIME explain.

SHAP's ``KernelExplainer``/``PermutationExplainer`` and LIME's tabular and image explainers
all take ``f(numpy_batch) -> numpy_probabilities``; they differ in the shape of the batch
they pass (flat features, or RGB images even for a grayscale model), which is fitted here.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..autograd import Tensor, no_grad
from .core import BATCH_SIZE, check_batch_size


def _input_shape(model):
    try:
        inputs = model.inputs
    except AttributeError:
        return None, None
    if not inputs or len(inputs) != 1:
        return None, None
    shape = tuple(inputs[0].shape[1:])
    return (shape if all(s is not None for s in shape) else None), inputs[0].dtype


def _fit(x: np.ndarray, shape) -> np.ndarray:
    """A batch as the model's input shape: flat features are reshaped, an RGB image becomes
    gray (the mean of its channels, which undoes LIME's gray-to-RGB copy), a channel axis is added."""
    if shape is None or x.shape[1:] == shape:
        return x
    if x.ndim == 2 and x.shape[1] == int(np.prod(shape)):
        return x.reshape((len(x),) + shape)
    if len(shape) >= 2 and shape[-1] == 1:
        if x.shape[1:] == shape[:-1]:
            return x[..., None]
        if x.shape[1:] == shape[:-1] + (3,):
            return x.mean(axis=-1, keepdims=True)
    raise ValueError(f"as_predict_fn(): the model takes samples of shape {shape}, got a batch of shape "
                     f"{x.shape} (flat features of size {int(np.prod(shape))} and RGB images of a "
                     "grayscale model are accepted too)")


def as_predict_fn(model, batch_size=None, probabilities=True):
    """``f(batch) -> array (samples, classes)``: the model's probabilities, in inference mode,
    ``batch_size`` samples at a time.

    With ``probabilities=True`` an output that is not already a softmax or sigmoid gets one,
    and a single sigmoid column becomes two, ``[1 - p, p]`` (the explainers want one column per class).
    """
    batch_size = check_batch_size("as_predict_fn", batch_size or BATCH_SIZE)
    shape, dtype = _input_shape(model)

    def predict(batch) -> np.ndarray:
        x = np.asarray(batch)
        if x.dtype.kind != "f" or (dtype is not None and x.dtype != dtype and np.dtype(dtype).kind == "f"):
            x = x.astype(dtype if dtype is not None and np.dtype(dtype).kind == "f" else np.float32)
        x = _fit(x, shape)
        outs = []
        with no_grad():
            for start in range(0, len(x), batch_size):
                out = model(Tensor(x[start:start + batch_size], dtype=x.dtype), training=False)
                if not isinstance(out, Tensor) or out.ndim != 2:
                    raise ValueError("as_predict_fn(): the model must return (samples, classes) scores, "
                                     f"got {getattr(out, 'shape', type(out).__name__)}")
                if probabilities and out._keras_logits is None:   # logits: make them probabilities
                    out = ops.sigmoid(out) if out.shape[1] == 1 else ops.softmax(out, axis=-1)
                outs.append(out.data)
        p = np.concatenate(outs) if outs else np.zeros((0, 0))
        if probabilities and p.shape[1] == 1:
            p = np.concatenate([1 - p, p], axis=1)
        return p

    return predict
