"""One rate of the confusion matrix at the best threshold where another rate meets a floor:
SensitivityAtSpecificity, SpecificityAtSensitivity, PrecisionAtRecall, RecallAtPrecision.

Counts are kept at ``num_thresholds`` thresholds 0, 1/(n-1), ..., 1 (a prediction is positive
when y_pred > t, predictions clipped to [0, 1]); the result is
``max(dependent[t] for t where constrained[t] >= value)``, or 0 when no threshold qualifies.
"""
from __future__ import annotations

import numpy as np

from .confusion import _ConfusionMetric, _divide_no_nan


class _AtConstraint(_ConfusionMetric):
    """Shared state and update; subclasses name the constraint (``constraint``) and say which
    rates are constrained and maximised (``_rates``)."""

    constraint = ""

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        cls = type(self).__name__
        if not 0 <= value <= 1:
            raise ValueError(f"{cls}: {self.constraint} must be in [0, 1], got {value}")
        if num_thresholds <= 0:
            raise ValueError(f"{cls}: num_thresholds must be an integer > 0, got {num_thresholds}")
        super().__init__(name=name, dtype=dtype)
        self.value, self.num_thresholds, self.class_id = value, num_thresholds, class_id
        setattr(self, self.constraint, value)
        self.thresholds = np.array([0.5]) if num_thresholds == 1 else np.linspace(0.0, 1.0, num_thresholds)
        self._evenly = num_thresholds > 1  # Keras buckets its 0, 1/(n-1), ..., 1 (``confusion_counts``)
        self.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred, weight = self._matched(y_true, y_pred, sample_weight)
        if self.class_id is not None:
            if y_pred.ndim < 2:
                raise ValueError(f"{self.name}: with class_id, y_pred must be (samples, classes), "
                                 f"got shape {y_pred.shape}")
            y_true, y_pred = y_true[..., self.class_id], y_pred[..., self.class_id]
            weight = None if weight is None else weight[..., self.class_id]
        self._add_counts(y_true, y_pred, weight)

    def _rates(self):  # pragma: no cover - interface
        raise NotImplementedError

    def result(self) -> float:
        constrained, dependent = self._rates()
        return float(np.max(np.where(constrained >= self.value, dependent, 0.0), initial=0.0))

    def _sensitivity(self):
        return _divide_no_nan(self.true_positives, self.true_positives + self.false_negatives)

    def _specificity(self):
        return _divide_no_nan(self.true_negatives, self.true_negatives + self.false_positives)

    def _precision(self):
        return _divide_no_nan(self.true_positives, self.true_positives + self.false_positives)

    def get_config(self) -> dict:
        return {**super().get_config(), "class_id": self.class_id, "num_thresholds": self.num_thresholds,
                self.constraint: self.value}


class SensitivityAtSpecificity(_AtConstraint):
    """The best sensitivity tp / (tp + fn) where specificity tn / (tn + fp) >= ``specificity``."""
    constraint = "specificity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name=name, dtype=dtype)

    def _rates(self):
        return self._specificity(), self._sensitivity()


class SpecificityAtSensitivity(_AtConstraint):
    """The best specificity where sensitivity >= ``sensitivity``."""
    constraint = "sensitivity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name=name, dtype=dtype)

    def _rates(self):
        return self._sensitivity(), self._specificity()


class PrecisionAtRecall(_AtConstraint):
    """The best precision tp / (tp + fp) where recall tp / (tp + fn) >= ``recall``."""
    constraint = "recall"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name=name, dtype=dtype)

    def _rates(self):
        return self._sensitivity(), self._precision()


class RecallAtPrecision(_AtConstraint):
    """The best recall where precision >= ``precision``."""
    constraint = "precision"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name=name, dtype=dtype)

    def _rates(self):
        return self._precision(), self._sensitivity()
