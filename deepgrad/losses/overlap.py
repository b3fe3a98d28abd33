"""Overlap losses for segmentation masks: Dice and Tversky (1 - a soft set-overlap score)."""
from __future__ import annotations

from .. import ops
from .base import _eps, _prepare, loss_class


def dice(y_true, y_pred, axis=None):
    """1 - 2 sum(y p) / (sum(y) + sum(p) + eps), the sums over ``axis`` (None: every axis)."""
    y_true, y_pred = _prepare("dice", y_true, y_pred)
    intersection = ops.sum(y_true * y_pred, axis=axis)
    return 1.0 - 2.0 * intersection / (ops.sum(y_true, axis=axis) + ops.sum(y_pred, axis=axis) + _eps())


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """1 - tp / (tp + alpha fp + beta fn + eps), with tp = sum(y p), fp = sum((1 - p) y),
    fn = sum(p (1 - y)) over ``axis`` (Keras's naming of fp and fn; alpha = beta = 0.5 is Dice)."""
    y_true, y_pred = _prepare("tversky", y_true, y_pred)
    tp = ops.sum(y_true * y_pred, axis=axis)
    fp = ops.sum((1.0 - y_pred) * y_true, axis=axis)
    fn = ops.sum(y_pred * (1.0 - y_true), axis=axis)
    return 1.0 - tp / (tp + alpha * fp + beta * fn + _eps())


Dice = loss_class("Dice", dice, "dice", order=["reduction", "name", "axis", "dtype"], axis=None)
Tversky = loss_class("Tversky", tversky, "tversky", order=["alpha", "beta", "reduction", "name", "axis", "dtype"],
                     alpha=0.5, beta=0.5, axis=None)
