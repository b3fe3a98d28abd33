"""Weighting and reducing per-sample losses to a scalar, as Keras 3 does."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..autograd import Tensor


def _pred(y_pred) -> Tensor:
    return y_pred if isinstance(y_pred, Tensor) else Tensor(y_pred)


def _data(x) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else x


def _reshape(x, shape):
    return x.reshape(shape) if isinstance(x, Tensor) else np.reshape(x, shape)


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Make ranks equal when they differ by one trailing axis of size 1 (Keras's rule):
    (N,) against (N, 1) becomes (N, 1) against (N, 1)."""
    r1, r2 = len(x1.shape), len(x2.shape)
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = _reshape(x2, tuple(x2.shape) + (1,))
        else:
            x1 = _reshape(x1, tuple(x1.shape[:-1]))
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = _reshape(x1, tuple(x1.shape) + (1,))
        else:
            x2 = _reshape(x2, tuple(x2.shape[:-1]))
    return x1, x2


REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


class Reduction:
    """TF-Keras's ``tf.keras.losses.Reduction`` (``ReductionV2``) names, for programs written for
    it: ``NONE``, ``SUM``, ``SUM_OVER_BATCH_SIZE``, and ``AUTO``, which outside a distribution
    strategy is ``SUM_OVER_BATCH_SIZE`` (so it is that string here; Keras 3 has no ``"auto"``)."""

    AUTO = "sum_over_batch_size"
    NONE = "none"
    SUM = "sum"
    SUM_OVER_BATCH_SIZE = "sum_over_batch_size"

    @classmethod
    def all(cls) -> tuple:
        return (cls.AUTO, cls.NONE, cls.SUM, cls.SUM_OVER_BATCH_SIZE)

    @classmethod
    def validate(cls, key) -> None:
        if key not in cls.all():
            raise ValueError(f'Invalid Reduction Key: {key}. Expected keys are "{cls.all()}"')


def standardize_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"Invalid reduction {reduction!r}; expected one of {REDUCTIONS}")
    return reduction


def _weights_like(weights: np.ndarray, values, name: str) -> np.ndarray:
    """Per-sample weights (N,) broadcast over the trailing axes of per-sample losses (N, ...)."""
    if tuple(weights.shape) == tuple(values.shape):
        return weights
    values_shape = tuple(values.shape)
    if weights.ndim < len(values_shape):
        weights = weights.reshape(weights.shape + (1,) * (len(values_shape) - weights.ndim))
    try:
        np.broadcast_shapes(weights.shape, values_shape)
    except ValueError:
        raise ValueError(f"{name}: sample_weight of shape {weights.shape} does not match the "
                         f"per-sample losses of shape {values_shape}") from None
    return weights


def reduce_weighted_values(values, sample_weight=None, mask=None, reduction="sum_over_batch_size",
                           name: str = "loss"):
    """Weight per-sample losses and reduce them as Keras 3 does.

    "sum_over_batch_size" / "mean": sum(loss * w) / loss.size; "sum": sum(loss * w);
    "mean_with_sample_weight": sum(loss * w) / sum(w); "none" / None: loss * w.
    A mask (bool, the losses' shape) zeroes masked entries and, for the mean reductions,
    rescales by total / valid so the mean runs over the valid entries only.
    """
    reduction = standardize_reduction(reduction)
    values = _pred(values)
    weights = None
    if sample_weight is not None:
        weights = np.asarray(_data(sample_weight), dtype=values.dtype)
        weights, values = squeeze_or_expand_to_same_rank(weights, values)
    if mask is not None:
        mask = np.asarray(_data(mask)).astype(values.dtype)
        if reduction in ("sum_over_batch_size", "mean"):
            valid = mask.sum()
            mask = mask * (mask.size / valid if valid > 0 else 0.0)
        if weights is None:
            weights = mask
        else:
            mask, weights = squeeze_or_expand_to_same_rank(mask, weights)
            weights = _weights_like(weights, mask, name) * mask
    if weights is not None:
        weights = _weights_like(weights, values, name)
        values = values * weights
    if reduction in (None, "none") or values.ndim == 0 or values.shape == (0,):
        return values
    if reduction == "sum":
        return ops.sum(values)
    if reduction == "mean_with_sample_weight" and weights is not None:
        divisor = float(np.broadcast_to(weights, values.shape).sum())
        total = ops.sum(values)
        return total / divisor if divisor != 0 else total * 0.0
    return ops.mean(values) if values.size else ops.sum(values) * 0.0  # sum / size, as one node
