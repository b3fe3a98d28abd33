"""Sequence losses: CTC over unsegmented label sequences (the recursion is ``ops.ctc_loss``)."""
from __future__ import annotations

import numpy as np

from .. import ops
from .base import loss_class
from .reduction import _data, _pred


def ctc(y_true, y_pred):
    """-log p(labels | logits) summed over every alignment, per sample.

    ``y_true`` (batch, max_length) integer labels padded with 0, which is also the blank;
    ``y_pred`` (batch, time, classes) logits, not softmax-normalised. Every sample uses all
    ``time`` frames; a label's length is its count of non-zero ids.
    """
    y_pred = _pred(y_pred)
    labels = np.asarray(_data(y_true))
    if labels.ndim != 2:
        raise ValueError(f"ctc: y_true must be integer labels of shape (batch, max_length), got shape {labels.shape}")
    if y_pred.ndim != 3:
        raise ValueError(f"ctc: y_pred must be logits of shape (batch, time, classes), got shape {tuple(y_pred.shape)}")
    labels = labels.astype(np.int64)
    label_length = np.sum(labels != 0, axis=-1)
    frames = np.full(y_pred.shape[0], y_pred.shape[1], dtype=np.int64)
    return ops.ctc_loss(labels, y_pred, label_length, frames, mask_index=0)


CTC = loss_class("CTC", ctc, "ctc")
