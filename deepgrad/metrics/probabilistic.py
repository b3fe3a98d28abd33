"""Cross-entropy metrics, averaged per sample: the formulas are the losses' own
(``deepgrad.losses.probabilistic``), run without a graph on the batch's arrays."""
from __future__ import annotations

import numpy as np

from .. import losses
from ..autograd import no_grad
from .base import MeanMetricWrapper, as_array


def _values(loss_fn, y_true, y_pred, **kwargs) -> np.ndarray:
    """Per-sample values of a loss function, computed without a graph."""
    with no_grad():
        return loss_fn(y_true, as_array(y_pred), **kwargs).data


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1) -> np.ndarray:
    """mean over ``axis`` of -(y log p + (1 - y) log(1 - p))."""
    return _values(losses.binary_crossentropy, y_true, y_pred, from_logits=from_logits,
                   label_smoothing=label_smoothing, axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1) -> np.ndarray:
    """-sum over ``axis`` of y log p (one-hot or soft targets)."""
    return _values(losses.categorical_crossentropy, y_true, y_pred, from_logits=from_logits,
                   label_smoothing=label_smoothing, axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1) -> np.ndarray:
    """-log p[label] per sample (integer labels of shape (N,) or (N, 1))."""
    return _values(losses.sparse_categorical_crossentropy, y_true, y_pred, from_logits=from_logits, axis=axis)


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
