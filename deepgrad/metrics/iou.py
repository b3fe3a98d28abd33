"""Intersection over union from a running confusion matrix: IoU, MeanIoU, BinaryIoU, OneHotIoU,
OneHotMeanIoU (Keras 3's semantics).

IoU of class c = cm[c, c] / (sum of row c + sum of column c - cm[c, c]), rows the true class
and columns the predicted one; the result averages it over the target classes whose
denominator is non-zero.
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import backend
from .base import Metric, as_array


class IoU(Metric):
    """The mean IoU of ``target_class_ids``. Labels are class ids (``sparse_y_true``/``sparse_y_pred``)
    or scores whose argmax along ``axis`` is taken. Ids outside [0, num_classes) and
    ``ignore_class`` are left out. The matrix accumulates in ``dtype`` (Keras's default "int",
    so fractional sample weights are truncated, with a warning)."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(name=name, dtype=dtype or "int")
        target_class_ids = list(target_class_ids)
        if max(target_class_ids) >= num_classes:
            raise ValueError(f"{type(self).__name__}: target class id {max(target_class_ids)} is out of range "
                             f"[0, {num_classes})")
        self.num_classes, self.target_class_ids = num_classes, target_class_ids
        self.ignore_class, self.sparse_y_true, self.sparse_y_pred, self.axis = \
            ignore_class, sparse_y_true, sparse_y_pred, axis
        self.reset_state()

    def reset_state(self) -> None:
        self.total_cm = np.zeros((self.num_classes, self.num_classes), self.dtype)

    def _ids(self, y, sparse: bool) -> np.ndarray:
        y = as_array(y)
        if not sparse:
            y = np.argmax(y, axis=self.axis)
        return y.astype(self.dtype)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred = self._ids(y_true, self.sparse_y_true), self._ids(y_pred, self.sparse_y_pred)
        if y_true.size != y_pred.size:
            raise ValueError(f"{self.name}: {y_true.size} true labels (shape {y_true.shape}) for {y_pred.size} "
                             f"predicted labels (shape {y_pred.shape})")
        if sample_weight is None:
            weight = np.ones(y_true.size, self.dtype)
        else:
            weight = as_array(sample_weight)
            if weight.dtype.kind == "f" and self.dtype.kind in "iu":
                warnings.warn(f"{self.name}: float sample weights are cast to the metric's dtype {self.dtype}; "
                              "pass integer weights or dtype='float32'", stacklevel=2)
            weight = weight.astype(self.dtype)
            if weight.size != y_true.size:  # per-sample weights over every label of the sample
                weight = weight.reshape(weight.shape + (1,) * (y_true.ndim - weight.ndim))
                try:
                    weight = np.broadcast_to(weight, y_true.shape)
                except ValueError:
                    raise ValueError(f"{self.name}: sample_weight of shape {weight.shape} does not match labels "
                                     f"of shape {y_true.shape}") from None
            weight = weight.reshape(-1)
        y_true, y_pred = y_true.reshape(-1), y_pred.reshape(-1)
        valid = (y_true >= 0) & (y_true < self.num_classes) & (y_pred >= 0) & (y_pred < self.num_classes)
        if self.ignore_class is not None:
            valid &= y_true != self.ignore_class
        cells = y_true[valid].astype(np.int64) * self.num_classes + y_pred[valid].astype(np.int64)
        counts = np.bincount(cells, weights=weight[valid].astype(np.float64), minlength=self.num_classes ** 2)
        self.total_cm = self.total_cm + counts.reshape(self.num_classes, self.num_classes).astype(self.dtype)

    def result(self) -> float:
        cm = self.total_cm.astype(np.float64)
        tp = np.diag(cm)
        denominator = (cm.sum(axis=0) + cm.sum(axis=1) - tp)[self.target_class_ids]
        tp = tp[self.target_class_ids]
        valid = denominator > 1e-9
        eps = backend.epsilon()
        iou = np.where(valid, tp / (denominator + eps), 0.0)
        return float(iou.sum() / (valid.sum() + eps))

    def get_config(self) -> dict:
        return {**super().get_config(), "num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class BinaryIoU(IoU):
    """IoU of a binary problem: y_pred >= ``threshold`` is class 1."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(2, target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        super().update_state(y_true, as_array(y_pred) >= self.threshold, sample_weight)

    def get_config(self) -> dict:
        return {**Metric.get_config(self), "target_class_ids": self.target_class_ids, "threshold": self.threshold}


class MeanIoU(IoU):
    """IoU averaged over every class."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True, sparse_y_pred=True,
                 axis=-1):
        super().__init__(num_classes, list(range(num_classes)), name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["target_class_ids"]
        return config


class OneHotIoU(IoU):
    """IoU with one-hot y_true (and scores for y_pred unless ``sparse_y_pred``)."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_pred=False,
                 axis=-1):
        super().__init__(num_classes, target_class_ids, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["sparse_y_true"]
        return config


class OneHotMeanIoU(MeanIoU):
    """MeanIoU with one-hot y_true (and scores for y_pred unless ``sparse_y_pred``)."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["sparse_y_true"]
        return config
