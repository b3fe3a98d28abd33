"""F-scores of multi-label or multi-class predictions: FBetaScore and F1Score (Keras 3's semantics).

F_beta = (1 + beta^2) p r / (beta^2 p + r) from weighted tp, fp and fn per class (or pooled,
with average="micro"); eps keeps every division finite, as in Keras.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .base import Metric, as_array


class FBetaScore(Metric):
    """``average``: None (one score per class), "micro" (counts pooled over classes), "macro"
    (the mean of the per-class scores) or "weighted" (the mean weighted by each class's
    weighted count of true labels). ``threshold``: y_pred > threshold is positive; None marks
    the highest score of each row positive (when it is not ~0)."""

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        cls = type(self).__name__
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(f"{cls}: average must be None, 'micro', 'macro' or 'weighted', got {average!r}")
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(f"{cls}: beta must be a Python float > 0, got {beta!r}")
        if threshold is not None and (not isinstance(threshold, float) or not 0.0 < threshold <= 1.0):
            raise ValueError(f"{cls}: threshold must be None or a Python float in (0, 1], got {threshold!r}")
        self.average, self.beta, self.threshold = average, beta, threshold
        self.reset_state()

    def reset_state(self) -> None:
        # the per-class counts are made on the first batch, when the number of classes is known
        # (after that a reset zeroes them, keeping their shape)
        if getattr(self, "true_positives", None) is None:
            self.true_positives = self.false_positives = self.false_negatives = self.intermediate_weights = None
            return
        zeros = np.zeros_like(self.true_positives)
        self.true_positives, self.false_positives, self.false_negatives, self.intermediate_weights = \
            zeros, zeros.copy(), zeros.copy(), zeros.copy()

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred = as_array(y_true, np.float64), as_array(y_pred, np.float64)
        if y_true.ndim != 2 or y_pred.ndim != 2:
            raise ValueError(f"{self.name}: expects 2-D inputs (batch, classes), got y_true of shape "
                             f"{y_true.shape} and y_pred of shape {y_pred.shape}")
        if self.threshold is None:
            predicted = (y_pred >= y_pred.max(axis=-1, keepdims=True)) & (np.abs(y_pred) > 1e-9)
        else:
            predicted = y_pred > self.threshold
        predicted = predicted.astype(np.float64)
        weight = 1.0 if sample_weight is None else as_array(sample_weight, np.float64).reshape(-1, 1)
        axis = None if self.average == "micro" else 0

        def total(values):
            return np.sum(values * weight, axis=axis)

        counts = (total(predicted * y_true), total(predicted * (1 - y_true)), total((1 - predicted) * y_true),
                  total(y_true))
        if self.true_positives is None:
            self.true_positives, self.false_positives, self.false_negatives, self.intermediate_weights = counts
        else:
            self.true_positives = self.true_positives + counts[0]
            self.false_positives = self.false_positives + counts[1]
            self.false_negatives = self.false_negatives + counts[2]
            self.intermediate_weights = self.intermediate_weights + counts[3]

    def result(self):
        if self.true_positives is None:
            return 0.0
        eps = backend.epsilon()
        tp = self.true_positives
        precision = tp / (tp + self.false_positives + eps)
        recall = tp / (tp + self.false_negatives + eps)
        beta2 = self.beta ** 2
        score = (1 + beta2) * precision * recall / (beta2 * precision + recall + eps)
        if self.average == "weighted":
            weights = self.intermediate_weights / (np.sum(self.intermediate_weights) + eps)
            return float(np.sum(score * weights))
        if self.average is not None:
            return float(np.mean(score))
        return np.asarray(score, dtype=self.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "average": self.average, "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    """The F-score with beta = 1: 2 p r / (p + r)."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["beta"]
        return config
