"""Regression metrics: mean squared and absolute error, and the root of the mean squared error."""
from __future__ import annotations

import math

import numpy as np

from .base import Mean, MeanMetricWrapper, as_array, squeeze_or_expand_to_same_rank


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
