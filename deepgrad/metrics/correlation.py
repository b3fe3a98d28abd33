"""Correlation metrics, one value per sample along ``axis`` and averaged over samples:
Pearson's r and the concordance correlation (Keras 3's formulas)."""
from __future__ import annotations

import numpy as np

from .. import backend
from .base import MeanMetricWrapper, as_array, squeeze_or_expand_to_same_rank


def _pair(y_true, y_pred):
    y_pred = as_array(y_pred)
    dtype = y_pred.dtype if y_pred.dtype.kind == "f" else np.dtype(backend.floatx())
    return squeeze_or_expand_to_same_rank(as_array(y_true, dtype), y_pred.astype(dtype, copy=False))


def pearson_correlation(y_true, y_pred, axis=-1) -> np.ndarray:
    """mean(z(y_true) z(y_pred), axis), z(x) = (x - mean(x)) / std(x) along ``axis``."""
    y_true, y_pred = _pair(y_true, y_pred)
    with np.errstate(divide="ignore", invalid="ignore"):  # a constant row has no correlation: nan, as in Keras
        t = y_true - y_true.mean(axis=axis, keepdims=True)
        p = y_pred - y_pred.mean(axis=axis, keepdims=True)
        t = t / t.std(axis=axis, keepdims=True)
        p = p / p.std(axis=axis, keepdims=True)
    return np.mean(t * p, axis=axis)


def concordance_correlation(y_true, y_pred, axis=-1) -> np.ndarray:
    """mean(2 (y_true - mean(y_pred)) (y_pred - mean(y_pred)) / (var(y_true) + var(y_pred)
    + (mean(y_true) - mean(y_pred))^2 + eps), axis). Keras centres y_true on y_pred's mean in
    the covariance term; that formula is kept so the numbers agree."""
    y_true, y_pred = _pair(y_true, y_pred)
    true_mean = y_true.mean(axis=axis, keepdims=True)
    pred_mean = y_pred.mean(axis=axis, keepdims=True)
    norm = y_true.var(axis=axis, keepdims=True) + y_pred.var(axis=axis, keepdims=True) + (true_mean - pred_mean) ** 2
    covariance = (y_true - pred_mean) * (y_pred - pred_mean)
    return np.mean(2 * covariance / (norm + backend.epsilon()), axis=axis)


class PearsonCorrelation(MeanMetricWrapper):
    def __init__(self, name: str = "pearson_correlation", dtype=None, axis: int = -1):
        super().__init__(pearson_correlation, name=name, dtype=dtype, axis=axis)


class ConcordanceCorrelation(MeanMetricWrapper):
    def __init__(self, name: str = "concordance_correlation", dtype=None, axis: int = -1):
        super().__init__(concordance_correlation, name=name, dtype=dtype, axis=axis)
