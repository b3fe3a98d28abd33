"""Hinge metrics, averaged per sample: the losses' formulas (``deepgrad.losses.hinge``) run
without a graph; labels in {-1, 1} (or {0, 1}, mapped to {-1, 1})."""
from __future__ import annotations

import numpy as np

from .. import losses
from .base import MeanMetricWrapper, loss_values


def hinge(y_true, y_pred) -> np.ndarray:
    """mean(max(1 - y_true y_pred, 0), axis=-1)"""
    return loss_values(losses.hinge, y_true, y_pred)


def squared_hinge(y_true, y_pred) -> np.ndarray:
    """mean(max(1 - y_true y_pred, 0)^2, axis=-1)"""
    return loss_values(losses.squared_hinge, y_true, y_pred)


def categorical_hinge(y_true, y_pred) -> np.ndarray:
    """max(max((1 - y_true) y_pred) - sum(y_true y_pred) + 1, 0)"""
    return loss_values(losses.categorical_hinge, y_true, y_pred)


class Hinge(MeanMetricWrapper):
    def __init__(self, name: str = "hinge", dtype=None):
        super().__init__(hinge, name=name, dtype=dtype)


class SquaredHinge(MeanMetricWrapper):
    def __init__(self, name: str = "squared_hinge", dtype=None):
        super().__init__(squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(MeanMetricWrapper):
    def __init__(self, name: str = "categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name=name, dtype=dtype)
