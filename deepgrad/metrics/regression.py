"""Regression metrics: squared, absolute, percentage and logarithmic errors, log-cosh, cosine
similarity, the root of the mean squared error, and R^2."""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import backend, losses
from .base import Mean, MeanMetricWrapper, Metric, as_array, loss_values, squeeze_or_expand_to_same_rank


def _pair(name, y_true, y_pred):
    y_pred = as_array(y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(as_array(y_true, y_pred.dtype), y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{name}: y_true of shape {y_true.shape} does not match y_pred of shape {y_pred.shape}")
    return y_true, y_pred


def mean_squared_error(y_true, y_pred) -> np.ndarray:
    """mean over the last axis of (y_true - y_pred)^2."""
    y_true, y_pred = _pair("mean_squared_error", y_true, y_pred)
    return np.mean(np.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred) -> np.ndarray:
    """mean over the last axis of |y_true - y_pred|."""
    y_true, y_pred = _pair("mean_absolute_error", y_true, y_pred)
    return np.mean(np.abs(y_true - y_pred), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred) -> np.ndarray:
    """100 * mean(|y_true - y_pred| / max(|y_true|, eps), axis=-1)"""
    return loss_values(losses.mean_absolute_percentage_error, y_true, y_pred)


def mean_squared_logarithmic_error(y_true, y_pred) -> np.ndarray:
    """mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2, axis=-1)"""
    return loss_values(losses.mean_squared_logarithmic_error, y_true, y_pred)


def log_cosh(y_true, y_pred) -> np.ndarray:
    """mean(log(cosh(y_pred - y_true)), axis=-1)"""
    return loss_values(losses.log_cosh, y_true, y_pred)


def huber(y_true, y_pred, delta=1.0) -> np.ndarray:
    """mean(0.5 e^2 if |e| <= delta else delta |e| - 0.5 delta^2, axis=-1)"""
    return loss_values(losses.huber, y_true, y_pred, delta=delta)


def cosine_similarity(y_true, y_pred, axis=-1) -> np.ndarray:
    """sum(l2_normalize(y_true) * l2_normalize(y_pred), axis): +1 for the same direction (the
    loss of that name is its negative)."""
    return -loss_values(losses.cosine_similarity, y_true, y_pred, axis=axis)


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name: str = "mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name: str = "mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """sqrt(sum(w * (y_true - y_pred)^2) / sum(w)) over every element seen."""

    def __init__(self, name: str = "root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred = _pair(self.name, y_true, y_pred)
        super().update_state(np.square(y_true - y_pred), sample_weight=sample_weight)

    def result(self) -> float:
        return math.sqrt(super().result())


class MeanAbsolutePercentageError(MeanMetricWrapper):
    def __init__(self, name: str = "mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    def __init__(self, name: str = "mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, name=name, dtype=dtype)


class LogCoshError(MeanMetricWrapper):
    def __init__(self, name: str = "logcosh", dtype=None):
        super().__init__(log_cosh, name=name, dtype=dtype)


class CosineSimilarity(MeanMetricWrapper):
    def __init__(self, name: str = "cosine_similarity", dtype=None, axis: int = -1):
        super().__init__(cosine_similarity, name=name, dtype=dtype, axis=axis)


class R2Score(Metric):
    """The coefficient of determination, per output column: 1 - SS_res / SS_tot, from weighted
    running sums (SS_tot = sum(w y^2) - sum(w y)^2 / sum(w)).

    ``class_aggregation``: "uniform_average" (the mean over columns), "variance_weighted_average"
    (weighted by SS_tot) or None (one score per column). ``num_regressors`` p > 0 gives the
    adjusted score 1 - (1 - R^2)(n - 1) / (n - p - 1), n the number of values seen.
    """

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError("R2Score: class_aggregation must be None, 'uniform_average' or "
                             f"'variance_weighted_average', got {class_aggregation!r}")
        if num_regressors < 0:
            raise ValueError(f"R2Score: num_regressors must be >= 0, got {num_regressors}")
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors
        self.reset_state()

    def reset_state(self) -> None:
        # per-column sums, made on the first batch (zeroed in place of their shape afterwards)
        columns = getattr(self, "sum", None)
        zeros = None if columns is None else np.zeros_like(columns)
        self.sum = zeros
        self.squared_sum = self.total_mse = self.count = None if zeros is None else zeros.copy()
        self.num_samples = 0

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_pred = as_array(y_pred, np.float64)
        y_true, y_pred = squeeze_or_expand_to_same_rank(as_array(y_true, np.float64), y_pred)
        if y_true.ndim != 2 or y_pred.ndim != 2 or y_true.shape != y_pred.shape:
            raise ValueError(f"R2Score: expects 2-D inputs (batch, outputs) of one shape, got y_true of shape "
                             f"{y_true.shape} and y_pred of shape {y_pred.shape}")
        weight = np.ones(()) if sample_weight is None else as_array(sample_weight, np.float64)
        if weight.ndim == 1:
            weight = weight[:, None]
        weight = np.broadcast_to(weight, y_true.shape)
        sums = (np.sum(weight * y_true, axis=0), np.sum(weight * y_true ** 2, axis=0),
                np.sum(weight * (y_true - y_pred) ** 2, axis=0), np.sum(weight, axis=0))
        if self.sum is None:
            self.sum, self.squared_sum, self.total_mse, self.count = sums
        else:
            self.sum, self.squared_sum, self.total_mse, self.count = (
                a + b for a, b in zip((self.sum, self.squared_sum, self.total_mse, self.count), sums))
        self.num_samples += y_true.size

    def result(self):
        if self.sum is None:
            return 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            total = self.squared_sum - self.sum * (self.sum / self.count)
            scores = 1.0 - self.total_mse / total
        scores = np.where(np.isinf(scores), 0.0, scores)
        if self.class_aggregation == "uniform_average":
            r2 = np.mean(scores)
        elif self.class_aggregation == "variance_weighted_average":
            r2 = np.sum(total * scores) / np.sum(total)
        else:
            r2 = scores
        n, p = self.num_samples, self.num_regressors
        if p != 0:
            if p >= n - 1:
                warnings.warn(f"R2Score: {p} regressors for {n} values leave no degrees of freedom for the adjusted "
                              "score; returning the plain R^2", stacklevel=2)
            else:
                r2 = 1.0 - (1.0 - r2) * (n - 1) / (n - p - 1)
        return float(r2) if np.ndim(r2) == 0 else np.asarray(r2, self.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
