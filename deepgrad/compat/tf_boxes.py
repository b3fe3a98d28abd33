"""``tf.image``'s non-maximum suppression, as object detectors' inference code calls it.

Boxes are ``[y1, x1, y2, x2]`` (either corner order: TF takes the min and max of each pair).
Greedy selection: the highest-scoring box is kept, then every remaining box whose IoU with a kept
box exceeds ``iou_threshold`` is dropped, and boxes scoring at most ``score_threshold`` never enter.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd import Tensor


def _array(x, dtype=np.float32) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x, dtype=dtype)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box with each of ``boxes``: |A n B| / (|A| + |B| - |A n B|), 0 when either is empty."""
    y1, y2 = np.minimum(box[0], box[2]), np.maximum(box[0], box[2])
    x1, x2 = np.minimum(box[1], box[3]), np.maximum(box[1], box[3])
    by1, by2 = np.minimum(boxes[:, 0], boxes[:, 2]), np.maximum(boxes[:, 0], boxes[:, 2])
    bx1, bx2 = np.minimum(boxes[:, 1], boxes[:, 3]), np.maximum(boxes[:, 1], boxes[:, 3])
    inter = (np.clip(np.minimum(y2, by2) - np.maximum(y1, by1), 0, None)
             * np.clip(np.minimum(x2, bx2) - np.maximum(x1, bx1), 0, None))
    union = (y2 - y1) * (x2 - x1) + (by2 - by1) * (bx2 - bx1) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _select(boxes: np.ndarray, scores: np.ndarray, max_output_size: int, iou_threshold: float,
            score_threshold: float) -> np.ndarray:
    """The indices kept, best score first (ties: the lower index first, as TF's stable order)."""
    order = np.argsort(-scores, kind="stable")
    order = order[scores[order] > score_threshold]
    kept: list = []
    while order.size and len(kept) < max_output_size:
        best, order = order[0], order[1:]
        kept.append(best)
        if order.size:
            order = order[_iou(boxes[best], boxes[order]) <= iou_threshold]
    return np.array(kept, dtype=np.int32)


def non_max_suppression(boxes, scores, max_output_size, iou_threshold=0.5, score_threshold=float("-inf"),
                        name=None) -> Tensor:
    """The indices (int32) of the kept boxes among ``boxes`` (num_boxes, 4), at most ``max_output_size``."""
    b, s = _array(boxes), _array(scores)
    if b.ndim != 2 or b.shape[-1] != 4 or s.shape != b.shape[:1]:
        raise ValueError(f"tf.image.non_max_suppression: boxes must be (num_boxes, 4) and scores (num_boxes,), "
                         f"got {b.shape} and {s.shape}")
    kept = _select(b, s, int(_array(max_output_size, np.int64)), float(iou_threshold), float(score_threshold))
    return Tensor(kept, dtype=np.int32)


# TF's named result
CombinedNonMaxSuppression = namedtuple("CombinedNonMaxSuppression",
                                       ["nmsed_boxes", "nmsed_scores", "nmsed_classes", "valid_detections"])


def combined_non_max_suppression(boxes, scores, max_output_size_per_class, max_total_size, iou_threshold=0.5,
                                 score_threshold=float("-inf"), pad_per_class=False, clip_boxes=True, name=None):
    """Per image and per class suppression, then the best ``max_total_size`` of all classes.

    ``boxes`` (batch, num_boxes, q, 4) with q 1 (shared by the classes) or num_classes, ``scores``
    (batch, num_boxes, num_classes). Returns boxes (batch, k, 4), scores, classes (float32) padded
    with zeros and ``valid_detections`` (int32), k = ``max_total_size`` (or, with
    ``pad_per_class``, min(max_total_size, max_output_size_per_class * num_classes)). ``clip_boxes``
    clips the coordinates to [0, 1]."""
    b, s = _array(boxes), _array(scores)
    if (b.ndim != 4 or b.shape[-1] != 4 or s.ndim != 3 or s.shape[:2] != b.shape[:2]
            or b.shape[2] not in (1, s.shape[2])):
        raise ValueError("tf.image.combined_non_max_suppression: boxes must be (batch, num_boxes, q, 4) with q 1 or "
                         f"num_classes and scores (batch, num_boxes, num_classes), got {b.shape} and {s.shape}")
    per_class, total = int(_array(max_output_size_per_class, np.int64)), int(_array(max_total_size, np.int64))
    batch, num_classes = s.shape[0], s.shape[2]
    size = min(total, per_class * num_classes) if pad_per_class else total
    out_boxes = np.zeros((batch, size, 4), np.float32)
    out_scores = np.zeros((batch, size), np.float32)
    out_classes = np.zeros((batch, size), np.float32)
    valid = np.zeros((batch,), np.int32)
    for i in range(batch):
        found = []  # (score, class, box index)
        for c in range(num_classes):
            class_boxes = b[i, :, 0 if b.shape[2] == 1 else c]
            for k in _select(class_boxes, s[i, :, c], per_class, float(iou_threshold), float(score_threshold)):
                found.append((s[i, k, c], c, k))
        found.sort(key=lambda t: -t[0])  # stable: classes in order among equal scores
        found = found[:size]
        for j, (score, c, k) in enumerate(found):
            out_boxes[i, j] = b[i, k, 0 if b.shape[2] == 1 else c]
            out_scores[i, j], out_classes[i, j] = score, c
        valid[i] = len(found)
    if clip_boxes:
        out_boxes = np.clip(out_boxes, 0.0, 1.0)
    return CombinedNonMaxSuppression(Tensor(out_boxes), Tensor(out_scores), Tensor(out_classes),
                                     Tensor(valid, dtype=np.int32))
