"""Cross-entropy metrics, averaged per sample; the formulas of ``deepgrad.losses`` in plain NumPy
(metrics need no graph, and this keeps a per-batch update in the tens of microseconds).

Probabilities are clipped to [eps, 1 - eps] as Keras does; ``from_logits`` uses log-softmax
(or the stable sigmoid form max(x, 0) - x y + log(1 + e^{-|x|})).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .base import MeanMetricWrapper, as_array, squeeze_or_expand_to_same_rank


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _log_probs(y_pred: np.ndarray, from_logits: bool, axis: int) -> np.ndarray:
    if from_logits:
        return _log_softmax(y_pred, axis)
    eps = backend.epsilon()
    probs = y_pred / np.sum(y_pred, axis=axis, keepdims=True)
    return np.log(np.clip(probs, eps, 1 - eps))


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1) -> np.ndarray:
    """mean over ``axis`` of -(y log p + (1 - y) log(1 - p))."""
    y_pred = as_array(y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(as_array(y_true, y_pred.dtype), y_pred)
    if label_smoothing:
        y_true = y_true * (1 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        values = np.maximum(y_pred, 0) - y_pred * y_true + np.log1p(np.exp(-np.abs(y_pred)))
    else:
        eps = backend.epsilon()
        p = np.clip(y_pred, eps, 1 - eps)
        values = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))
    return np.mean(values, axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1) -> np.ndarray:
    """-sum over ``axis`` of y log p (one-hot or soft targets)."""
    y_pred = as_array(y_pred)
    y_true = as_array(y_true, y_pred.dtype)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"categorical_crossentropy: y_true of shape {y_true.shape} does not match y_pred of "
                         f"shape {y_pred.shape}; for integer labels use sparse_categorical_crossentropy")
    if label_smoothing:
        y_true = y_true * (1 - label_smoothing) + label_smoothing / y_pred.shape[axis]
    return -np.sum(y_true * _log_probs(y_pred, from_logits, axis), axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1) -> np.ndarray:
    """-log p[label] per sample (integer labels of shape (N,) or (N, 1))."""
    y_pred = np.moveaxis(as_array(y_pred), axis, -1)
    labels = as_array(y_true)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(f"sparse_categorical_crossentropy: labels of shape {labels.shape} do not match "
                         f"predictions of shape {y_pred.shape}")
    log_p = _log_probs(y_pred, from_logits, -1)
    return -np.take_along_axis(log_p, labels.astype(np.int64)[..., None], axis=-1)[..., 0]


class BinaryCrossentropy(MeanMetricWrapper):
    def __init__(self, name: str = "binary_crossentropy", dtype=None, from_logits: bool = False,
                 label_smoothing: float = 0.0):
        super().__init__(binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    def __init__(self, name: str = "categorical_crossentropy", dtype=None, from_logits: bool = False,
                 label_smoothing: float = 0.0, axis: int = -1):
        super().__init__(categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    def __init__(self, name: str = "sparse_categorical_crossentropy", dtype=None, from_logits: bool = False,
                 axis: int = -1):
        super().__init__(sparse_categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         axis=axis)
