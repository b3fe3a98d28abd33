"""Accuracy metrics: the fraction of samples predicted right, as Keras 3 defines each one."""
from __future__ import annotations

import numpy as np

from .base import MeanMetricWrapper, as_array, squeeze_or_expand_to_same_rank


def accuracy(y_true, y_pred) -> np.ndarray:
    """1.0 where y_pred equals y_true exactly, elementwise."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(as_array(y_true), as_array(y_pred))
    return (y_true == y_pred).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold: float = 0.5) -> np.ndarray:
    """[(y_pred > threshold) == y_true] elementwise (Mean averages the non-batch axes)."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(as_array(y_true), as_array(y_pred))
    return ((y_pred > threshold).astype(y_true.dtype) == y_true).astype(np.float32)


def categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """[argmax(y_true) == argmax(y_pred)] per sample (one-hot targets)."""
    y_true, y_pred = as_array(y_true), as_array(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"categorical_accuracy: y_true of shape {y_true.shape} does not match y_pred "
                         f"of shape {y_pred.shape}; for integer labels use sparse_categorical_accuracy")
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def _sparse_labels(y_true: np.ndarray, y_pred: np.ndarray, name: str) -> np.ndarray:
    """Integer labels of shape y_pred.shape[:-1]; (N, 1) labels are squeezed."""
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true.reshape(y_true.shape[:-1])
    if y_true.shape != y_pred.shape[:-1]:
        raise ValueError(f"{name}: labels of shape {y_true.shape} do not match predictions of shape "
                         f"{y_pred.shape} (expected labels of shape {y_pred.shape[:-1]})")
    return y_true.astype(np.int64)


def sparse_categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """[y_true == argmax(y_pred)] per sample (integer targets)."""
    y_pred = as_array(y_pred)
    labels = _sparse_labels(as_array(y_true), y_pred, "sparse_categorical_accuracy")
    return (np.argmax(y_pred, axis=-1) == labels).astype(np.float32)


def _in_top_k(labels: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """The target is in the top k when fewer than k classes score strictly higher than it."""
    target_score = np.take_along_axis(y_pred, labels[..., None], axis=-1)
    return (np.sum(y_pred > target_score, axis=-1) < k).astype(np.float32)


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    y_true, y_pred = as_array(y_true), as_array(y_pred)
    return _in_top_k(np.argmax(y_true, axis=-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5, from_sorted_ids: bool = False) -> np.ndarray:
    """1.0 where the label is among the k best scores; with ``from_sorted_ids``, y_pred holds
    class ids sorted from best to worst and the label is looked for in its first k."""
    y_pred = as_array(y_pred)
    labels = _sparse_labels(as_array(y_true), y_pred, "sparse_top_k_categorical_accuracy")
    if from_sorted_ids:
        return np.any(y_pred[..., :k] == labels[..., None], axis=-1).astype(np.float32)
    return _in_top_k(labels, y_pred, k)


class Accuracy(MeanMetricWrapper):
    def __init__(self, name: str = "accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name: str = "binary_accuracy", dtype=None, threshold: float = 0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name: str = "categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name: str = "sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy", dtype=None,
                 from_sorted_ids: bool = False):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)


class AutoAccuracy(MeanMetricWrapper):
    """``"accuracy"`` whose kind is decided by the shapes of the first batch, as Keras does when
    the loss does not tell: y_pred's last axis of 1 -> binary; y_true shaped like y_pred ->
    categorical; otherwise sparse categorical."""

    def __init__(self, name: str = "accuracy", dtype=None):
        super().__init__(self._resolve, name=name, dtype=dtype)
        self.kind = None

    def _resolve(self, y_true, y_pred):
        if self.kind is None:
            if y_pred.ndim <= 1 or y_pred.shape[-1] == 1:
                self.kind = binary_accuracy
            elif y_true.shape == y_pred.shape:
                self.kind = categorical_accuracy
            else:
                self.kind = sparse_categorical_accuracy
        return self.kind(y_true, y_pred)
