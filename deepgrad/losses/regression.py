"""Regression losses: squared, absolute, percentage, logarithmic, Huber, log-cosh, cosine."""
from __future__ import annotations

import math

from .. import ops
from .base import _eps, _prepare, loss_class


def _l2_normalize(x, axis):
    """x / max(||x||, eps), with a gradient that stays finite at x = 0."""
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True), _eps() ** 2))


def mean_squared_error(y_true, y_pred):
    """mean((y_true - y_pred)^2, axis=-1)"""
    y_true, y_pred = _prepare("mean_squared_error", y_true, y_pred, broadcast=True)
    return ops.mean(ops.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_true - y_pred|, axis=-1)"""
    y_true, y_pred = _prepare("mean_absolute_error", y_true, y_pred, broadcast=True)
    return ops.mean(ops.abs(y_pred - y_true), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(|y_true - y_pred| / max(|y_true|, eps), axis=-1)"""
    y_true, y_pred = _prepare("mean_absolute_percentage_error", y_true, y_pred, broadcast=True)
    return 100.0 * ops.mean(ops.abs((y_true - y_pred) / ops.maximum(ops.abs(y_true), _eps())), axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2, axis=-1)"""
    y_true, y_pred = _prepare("mean_squared_logarithmic_error", y_true, y_pred, broadcast=True)
    first = ops.log(ops.maximum(y_pred, _eps()) + 1.0)
    second = ops.log(ops.maximum(y_true, _eps()) + 1.0)
    return ops.mean(ops.square(first - second), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """mean(0.5 e^2 if |e| <= delta else delta |e| - 0.5 delta^2, axis=-1), e = y_pred - y_true"""
    y_true, y_pred = _prepare("huber", y_true, y_pred, broadcast=True)
    error = y_pred - y_true
    abs_error = ops.abs(error)
    quadratic = 0.5 * ops.square(error)
    linear = delta * abs_error - 0.5 * delta * delta
    return ops.mean(ops.where(abs_error.data <= delta, quadratic, linear), axis=-1)


def log_cosh(y_true, y_pred):
    """mean(log(cosh(e)), axis=-1) = mean(e + softplus(-2e) - log 2), stable for large |e|"""
    y_true, y_pred = _prepare("log_cosh", y_true, y_pred, broadcast=True)
    error = y_pred - y_true
    return ops.mean(error + ops.softplus(-2.0 * error) - math.log(2.0), axis=-1)


def cosine_similarity(y_true, y_pred, axis=-1):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)"""
    y_true, y_pred = _prepare("cosine_similarity", y_true, y_pred, broadcast=True)
    return -ops.sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)


# short names, as Keras accepts them
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
logcosh = log_cosh


MeanSquaredError = loss_class("MeanSquaredError", mean_squared_error, "mean_squared_error")
MeanAbsoluteError = loss_class("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error")
MeanAbsolutePercentageError = loss_class("MeanAbsolutePercentageError", mean_absolute_percentage_error,
                                          "mean_absolute_percentage_error")
MeanSquaredLogarithmicError = loss_class("MeanSquaredLogarithmicError", mean_squared_logarithmic_error,
                                          "mean_squared_logarithmic_error")
Huber = loss_class("Huber", huber, "huber_loss", delta=1.0)
LogCosh = loss_class("LogCosh", log_cosh, "log_cosh")
CosineSimilarity = loss_class("CosineSimilarity", cosine_similarity, "cosine_similarity", axis=-1)
