"""Metric-learning losses on embeddings: Circle loss (Sun et al., 2020)."""
from __future__ import annotations

import numpy as np

from .. import ops
from .base import loss_class
from .reduction import _data, _pred


def _labels(labels, name: str) -> np.ndarray:
    labels = np.asarray(_data(labels))
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(f"circle: {name} must be integer labels of shape (batch,) or (batch, 1), "
                         f"got shape {labels.shape}")
    return labels.astype(np.int64)


def _masked_logsumexp(x, mask):
    """log sum exp(x) over axis 1 where ``mask`` holds; -inf for a row with nothing in it
    (computed on a stand-in there, so no 0 * inf reaches the gradient)."""
    has_any = mask.any(axis=1)
    lse = ops.logsumexp(ops.where(mask | ~has_any[:, None], x, -np.inf), axis=1)
    return ops.where(has_any, lse, -np.inf)


def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True, gamma=80, margin=0.4):
    """softplus(logsumexp_p(-gamma a_p (m - d_p)) + logsumexp_n(gamma a_n (1 - m - d_n))) per query.

    d = max(1 - y_pred . ref^T, 0) is the cosine distance of L2-normalised embeddings; positives
    are pairs of one label (minus the diagonal with ``remove_diagonal``), negatives the rest;
    the weights a_p = max(m + d_p, 0), a_n = max(1 + m - d_n, 0). Queries whose loss is zero
    (no positive or no negative pair) are masked out of the mean.
    """
    y_pred = _pred(y_pred)
    if y_pred.ndim != 2:
        raise ValueError(f"circle: y_pred must be embeddings of shape (batch, dim), got shape {tuple(y_pred.shape)}")
    labels = _labels(y_true, "y_true")
    ref = y_pred if ref_embeddings is None else _pred(ref_embeddings).astype(y_pred.dtype)
    ref_ids = labels if ref_labels is None else _labels(ref_labels, "ref_labels")
    if labels.shape[0] != y_pred.shape[0] or ref_ids.shape[0] != ref.shape[0]:
        raise ValueError(f"circle: {labels.shape[0]} labels for {y_pred.shape[0]} embeddings, "
                         f"{ref_ids.shape[0]} reference labels for {ref.shape[0]} reference embeddings")
    distance = ops.maximum(1.0 - ops.matmul(y_pred, ops.transpose(ref)), 0.0)
    positive = labels[:, None] == ref_ids[None, :]
    negative = ~positive
    if remove_diagonal:
        positive = positive & ~np.eye(*positive.shape, dtype=bool)
    pos_weight = ops.maximum((margin + distance) * positive.astype(y_pred.dtype), 0.0)
    neg_weight = ops.maximum((1.0 + margin - distance) * negative.astype(y_pred.dtype), 0.0)
    pos_logits = -gamma * pos_weight * (margin - distance)
    neg_logits = gamma * neg_weight * (1.0 - margin - distance)
    losses = ops.softplus(_masked_logsumexp(pos_logits, positive) + _masked_logsumexp(neg_logits, negative))
    losses._keras_mask = losses.data > 0
    return losses


Circle = loss_class("Circle", circle, "circle", gamma=80.0, margin=0.4, remove_diagonal=True)
