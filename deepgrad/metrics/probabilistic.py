"""Probabilistic metrics (cross-entropies, KL divergence, Poisson), averaged per sample: the
formulas are the losses' own (``deepgrad.losses.probabilistic``), run without a graph on the
batch's arrays."""
from __future__ import annotations

import numpy as np

from .. import losses
from .base import MeanMetricWrapper, as_array, loss_values as _values


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1) -> np.ndarray:
    """mean over ``axis`` of -(y log p + (1 - y) log(1 - p))."""
    return _values(losses.binary_crossentropy, y_true, y_pred, from_logits=from_logits,
                   label_smoothing=label_smoothing, axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1) -> np.ndarray:
    """-sum over ``axis`` of y log p (one-hot or soft targets)."""
    return _values(losses.categorical_crossentropy, y_true, y_pred, from_logits=from_logits,
                   label_smoothing=label_smoothing, axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1) -> np.ndarray:
    """-log p[label] per sample (integer labels of shape (N,) or (N, 1)); 0 where the label is
    ``ignore_class``."""
    return _values(losses.sparse_categorical_crossentropy, y_true, y_pred, from_logits=from_logits,
                   ignore_class=ignore_class, axis=axis)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                              label_smoothing=0.0, axis=-1) -> np.ndarray:
    """mean over ``axis`` of (1 - p_t)^gamma * bce, optionally weighted by alpha / 1 - alpha."""
    return _values(losses.binary_focal_crossentropy, y_true, y_pred, apply_class_balancing=apply_class_balancing,
                   alpha=alpha, gamma=gamma, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                                   axis=-1) -> np.ndarray:
    """sum over ``axis`` of alpha (1 - p)^gamma * -y log p."""
    return _values(losses.categorical_focal_crossentropy, y_true, y_pred, alpha=alpha, gamma=gamma,
                   from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


def kl_divergence(y_true, y_pred) -> np.ndarray:
    """sum(y log(y / p), axis=-1), both clipped to [eps, 1]."""
    return _values(losses.kl_divergence, y_true, y_pred)


def poisson(y_true, y_pred) -> np.ndarray:
    """mean(y_pred - y_true log(y_pred + eps), axis=-1)."""
    return _values(losses.poisson, y_true, y_pred)


class KLDivergence(MeanMetricWrapper):
    def __init__(self, name: str = "kl_divergence", dtype=None):
        super().__init__(kl_divergence, name=name, dtype=dtype)


class Poisson(MeanMetricWrapper):
    def __init__(self, name: str = "poisson", dtype=None):
        super().__init__(poisson, name=name, dtype=dtype)


class BinaryCrossentropy(MeanMetricWrapper):
    def __init__(self, name: str = "binary_crossentropy", dtype=None, from_logits: bool = False,
                 label_smoothing: float = 0):
        super().__init__(binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    def __init__(self, name: str = "categorical_crossentropy", dtype=None, from_logits: bool = False,
                 label_smoothing: float = 0, axis: int = -1):
        super().__init__(categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """With ``ignore_class``, ignored labels add 0 to the mean; given sample weights, their
    weight is also zeroed so they leave the mean altogether (as in Keras, where the loss's
    mask reaches the weights only)."""

    def __init__(self, name: str = "sparse_categorical_crossentropy", dtype=None, from_logits: bool = False,
                 ignore_class=None, axis: int = -1):
        super().__init__(sparse_categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        ignore_class = self._fn_kwargs["ignore_class"]
        if ignore_class is not None and sample_weight is not None:
            labels = as_array(y_true)
            if labels.ndim == as_array(y_pred).ndim:
                labels = labels.reshape(labels.shape[:-1])
            weight = np.asarray(as_array(sample_weight), np.float64)
            sample_weight = (labels != ignore_class) * weight.reshape(weight.shape + (1,) * (labels.ndim - weight.ndim))
        super().update_state(y_true, y_pred, sample_weight)
