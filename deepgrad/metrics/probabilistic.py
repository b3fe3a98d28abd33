"""Cross-entropy metrics: the loss functions of ``deepgrad.losses`` averaged per sample."""
from __future__ import annotations

from .. import losses
from .base import MeanMetricWrapper


def _data(fn):
    def metric_fn(y_true, y_pred, **kwargs):
        return fn(y_true, y_pred, **kwargs).data

    metric_fn.__name__ = fn.__name__
    return metric_fn


binary_crossentropy = _data(losses.binary_crossentropy)
categorical_crossentropy = _data(losses.categorical_crossentropy)
sparse_categorical_crossentropy = _data(losses.sparse_categorical_crossentropy)


class BinaryCrossentropy(MeanMetricWrapper):
    def __init__(self, name: str = "binary_crossentropy", dtype=None, from_logits: bool = False,
                 label_smoothing: float = 0.0):
        super().__init__(binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    def __init__(self, name: str = "categorical_crossentropy", dtype=None, from_logits: bool = False,
                 label_smoothing: float = 0.0, axis: int = -1):
        super().__init__(categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    def __init__(self, name: str = "sparse_categorical_crossentropy", dtype=None, from_logits: bool = False,
                 axis: int = -1):
        super().__init__(sparse_categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         axis=axis)
