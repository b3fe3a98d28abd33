"""Hinge losses for labels in {-1, 1} (or {0, 1}, mapped to {-1, 1})."""
from __future__ import annotations

import numpy as np

from .. import ops
from .base import _prepare, loss_class
from .reduction import _data


def _hinge_labels(y_true):
    """Labels in {0, 1} become {-1, 1}; others are left as they are."""
    data = _data(y_true)
    if np.all((data == 0) | (data == 1)):
        return 2.0 * y_true - 1.0
    return y_true


def hinge(y_true, y_pred):
    """mean(max(1 - y_true y_pred, 0), axis=-1)"""
    y_true, y_pred = _prepare("hinge", y_true, y_pred, broadcast=True)
    return ops.mean(ops.relu(1.0 - _hinge_labels(y_true) * y_pred), axis=-1)


def squared_hinge(y_true, y_pred):
    """mean(max(1 - y_true y_pred, 0)^2, axis=-1)"""
    y_true, y_pred = _prepare("squared_hinge", y_true, y_pred, broadcast=True)
    return ops.mean(ops.square(ops.relu(1.0 - _hinge_labels(y_true) * y_pred)), axis=-1)


def categorical_hinge(y_true, y_pred):
    """max(neg - pos + 1, 0), pos = sum(y_true y_pred), neg = max((1 - y_true) y_pred)"""
    y_true, y_pred = _prepare("categorical_hinge", y_true, y_pred, broadcast=True)
    pos = ops.sum(y_true * y_pred, axis=-1)
    neg = ops.max((1.0 - y_true) * y_pred, axis=-1)
    return ops.relu(neg - pos + 1.0)


Hinge = loss_class("Hinge", hinge, "hinge")
SquaredHinge = loss_class("SquaredHinge", squared_hinge, "squared_hinge")
CategoricalHinge = loss_class("CategoricalHinge", categorical_hinge, "categorical_hinge")
