"""Metrics from confusion counts at thresholds: Precision, Recall and AUC (Keras 3's formulas)."""
from __future__ import annotations

import numpy as np

from .. import backend
from .base import Metric, as_array, squeeze_or_expand_to_same_rank


def _divide_no_nan(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)


def confusion_counts(y_true, y_pred, thresholds: np.ndarray, sample_weight=None, evenly: bool = False):
    """Weighted (tp, fp, tn, fn) at each threshold, compared in float32 as Keras compares them.
    ``sample_weight`` is None or has the shape of ``y_pred`` (see ``_broadcast_weight``).

    Thresholds in any order: a prediction is positive when y_pred > t. Vectorised by sorting:
    the weight of positives above t is the total minus a prefix sum, found with one
    ``searchsorted`` for all thresholds (O(N log N), no (N, T) matrix).

    ``evenly`` (thresholds spaced 1/(n-1) over [0, 1], possibly with -eps and 1+eps ends): Keras's
    bucketing, p clipped to [0, 1] lands in bucket b = ceil(p (n-1)) - 1 (floored at 0 when the
    ends carry an epsilon; a bucket of -1 counts nowhere) and is positive at thresholds 0..b.
    """
    y_true = as_array(y_true).reshape(-1).astype(bool)
    y_pred = as_array(y_pred).reshape(-1).astype(np.float32)
    w = np.ones(y_pred.size) if sample_weight is None else np.reshape(sample_weight, -1).astype(np.float64)
    pos_w, neg_w = w * y_true, w * ~y_true
    if evenly:
        n = len(thresholds)
        bucket = np.ceil(np.clip(y_pred, 0.0, 1.0) * np.float32(n - 1)) - np.float32(1)
        if thresholds[0] < 0 or thresholds[-1] > 1:
            bucket = np.maximum(bucket, np.float32(0))
        bucket = bucket.astype(np.int64)
        kept = bucket >= 0
        tp = np.cumsum(np.bincount(bucket[kept], pos_w[kept], minlength=n)[::-1])[::-1]
        fp = np.cumsum(np.bincount(bucket[kept], neg_w[kept], minlength=n)[::-1])[::-1]
        total_pos, total_neg = pos_w.sum(), neg_w.sum()
        return tp, fp, total_neg - fp, total_pos - tp
    order = np.argsort(y_pred, kind="stable")
    y_pred = y_pred[order]
    pos_cum = np.concatenate([[0.0], np.cumsum(pos_w[order])])
    neg_cum = np.concatenate([[0.0], np.cumsum(neg_w[order])])
    at_or_below = np.searchsorted(y_pred, np.asarray(thresholds, np.float32), side="right")  # count of preds <= t
    tp = pos_cum[-1] - pos_cum[at_or_below]
    fp = neg_cum[-1] - neg_cum[at_or_below]
    return tp, fp, neg_cum[-1] - fp, pos_cum[-1] - tp


def is_evenly_distributed(thresholds) -> bool:
    """Keras's test for the bucketed path: at least 3 thresholds, within epsilon of i / (n-1)."""
    n = len(thresholds)
    return n >= 3 and bool(np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1),
                                       atol=backend.epsilon()))


def _broadcast_weight(sample_weight, y_pred: np.ndarray):
    if sample_weight is None:
        return None
    w = as_array(sample_weight, np.float64)
    if w.ndim < y_pred.ndim:
        w = w.reshape(w.shape + (1,) * (y_pred.ndim - w.ndim))
    return np.broadcast_to(w, y_pred.shape)


class _ConfusionMetric(Metric):
    """Shared by Precision, Recall and AUC: tp, fp, tn and fn summed at ``self.thresholds``."""

    _evenly = False  # the thresholds are Keras's evenly spaced ones (``confusion_counts``)

    def reset_state(self) -> None:
        n = len(self.thresholds)
        self.true_positives, self.false_positives = np.zeros(n), np.zeros(n)
        self.true_negatives, self.false_negatives = np.zeros(n), np.zeros(n)

    def _matched(self, y_true, y_pred, sample_weight):
        """y_true and y_pred of one shape, and the weight broadcast to it (or None)."""
        y_pred = as_array(y_pred)
        y_true, y_pred = squeeze_or_expand_to_same_rank(as_array(y_true), y_pred)
        if y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name}: y_true of shape {y_true.shape} does not match y_pred of "
                             f"shape {y_pred.shape}")
        return y_true, y_pred, _broadcast_weight(sample_weight, y_pred)

    def _add_counts(self, y_true, y_pred, weight) -> None:
        tp, fp, tn, fn = confusion_counts(y_true, y_pred, self.thresholds, weight, self._evenly)
        self.true_positives += tp
        self.false_positives += fp
        self.true_negatives += tn
        self.false_negatives += fn


class _ThresholdMetric(_ConfusionMetric):
    """Shared by Precision and Recall: counts at user thresholds, optionally for one class."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        # one threshold, given alone or in a one-element list, gives a scalar result (Keras)
        self._scalar = thresholds is None or np.size(thresholds) == 1
        default = 0.5 if top_k is None else -np.inf  # with top_k, every kept score counts as positive
        self.thresholds = np.atleast_1d(np.asarray(default if thresholds is None else thresholds, np.float64))
        if thresholds is not None and (np.any(self.thresholds < 0) or np.any(self.thresholds > 1)):
            raise ValueError(f"{type(self).__name__}: thresholds must be in [0, 1], got {thresholds}")
        self._evenly = is_evenly_distributed(self.thresholds)
        self.top_k = top_k
        self.class_id = class_id
        self.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred, weight = self._matched(y_true, y_pred, sample_weight)
        if self.top_k is not None:
            # Keep each sample's top k scores; the rest are pushed below every threshold.
            kth = -np.sort(-y_pred, axis=-1)[..., self.top_k - 1:self.top_k]
            y_pred = np.where(y_pred >= kth, y_pred, -np.inf)
        if self.class_id is not None:
            y_true, y_pred = y_true[..., self.class_id], y_pred[..., self.class_id]
            weight = None if weight is None else weight[..., self.class_id]
        self._add_counts(y_true, y_pred, weight)

    def _value(self, numerator, denominator):
        value = _divide_no_nan(numerator, denominator)
        return float(value[0]) if self._scalar else value.tolist()

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_ThresholdMetric):
    """tp / (tp + fp)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(thresholds, top_k, class_id, name=name, dtype=dtype)

    def result(self):
        return self._value(self.true_positives, self.true_positives + self.false_positives)


class Recall(_ThresholdMetric):
    """tp / (tp + fn)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(thresholds, top_k, class_id, name=name, dtype=dtype)

    def result(self):
        return self._value(self.true_positives, self.true_positives + self.false_negatives)


class AUC(_ConfusionMetric):
    """Area under the ROC (or PR) curve from confusion counts at ``num_thresholds`` thresholds.

    Thresholds are i / (n - 1) for i = 1..n-2 plus -eps and 1 + eps. ROC "interpolation" is the
    trapezoid rule over (fpr, tpr); PR "interpolation" is Davis & Goadrich's (2006)
    interpolation of precision between thresholds; "minoring"/"majoring" use the lower/upper
    Riemann sums.
    """

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", summation_method: str = "interpolation",
                 name=None, dtype=None, thresholds=None, multi_label: bool = False,
                 num_labels=None, label_weights=None, from_logits: bool = False):
        super().__init__(name=name, dtype=dtype)
        if curve.upper() not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR', got {curve!r}")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError("AUC: summation_method must be 'interpolation', 'minoring' or 'majoring', "
                             f"got {summation_method!r}")
        if multi_label or label_weights is not None:
            raise NotImplementedError("AUC: multi_label and label_weights are not supported; "
                                      "AUC treats every label as one binary problem")
        self.curve = curve.upper()
        self.summation_method = summation_method
        self.from_logits = from_logits
        eps = backend.epsilon()
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            self._init_thresholds = inner
            self._evenly = is_evenly_distributed([0.0] + inner + [1.0])
        else:
            if num_thresholds <= 1:
                raise ValueError(f"AUC: num_thresholds must be > 1, got {num_thresholds}")
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._init_thresholds = None
            self._evenly = True
        self.thresholds = np.asarray([0.0 - eps] + inner + [1.0 + eps])
        self.num_thresholds = len(self.thresholds)
        self.multi_label = False
        self.num_labels, self.label_weights = num_labels, None  # Keras's attributes (one binary problem here)
        self.reset_state()

    def interpolate_pr_auc(self) -> float:
        """The area under the precision-recall curve, interpolated between thresholds (Davis &
        Goadrich, 2006), as Keras's ``AUC.interpolate_pr_auc``."""
        return self._interpolate_pr_auc()

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred, weight = self._matched(y_true, y_pred, sample_weight)
        if self.from_logits:
            y_pred = 1.0 / (1.0 + np.exp(-y_pred.astype(np.float32)))
        self._add_counts(y_true, y_pred, weight)

    def _interpolate_pr_auc(self) -> float:
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both_positive = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both_positive, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        increments = _divide_no_nan(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0))
        return float(np.sum(increments))

    def result(self) -> float:
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return float(np.sum((x[:-1] - x[1:]) * heights))

    def get_config(self) -> dict:
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "from_logits": self.from_logits}
        if self._init_thresholds is not None:
            config["thresholds"] = self._init_thresholds
        return config


class _ConditionCount(_ConfusionMetric):
    """One weighted count of the confusion matrix at each threshold (a prediction is positive
    when y_pred > t); a single threshold gives a number, several give a list."""

    condition = ""  # which of true_positives, false_positives, true_negatives, false_negatives

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = np.atleast_1d(np.asarray(0.5 if thresholds is None else thresholds, np.float64))
        self._evenly = is_evenly_distributed(self.thresholds)
        self.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred, weight = self._matched(y_true, y_pred, sample_weight)
        self._add_counts(y_true, y_pred, weight)

    @property
    def accumulator(self) -> np.ndarray:
        """The running count at each threshold (Keras's name for this metric's state)."""
        return getattr(self, self.condition)

    def result(self):
        counts = self.accumulator
        return float(counts[0]) if len(counts) == 1 else counts.tolist()

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConditionCount):
    """The weighted count of positives predicted positive."""
    condition = "true_positives"


class FalsePositives(_ConditionCount):
    """The weighted count of negatives predicted positive."""
    condition = "false_positives"


class TrueNegatives(_ConditionCount):
    """The weighted count of negatives predicted negative."""
    condition = "true_negatives"


class FalseNegatives(_ConditionCount):
    """The weighted count of positives predicted negative."""
    condition = "false_negatives"
