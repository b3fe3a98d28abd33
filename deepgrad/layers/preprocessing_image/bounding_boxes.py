"""Bounding-box arithmetic in NumPy, with Keras's formats and results (``keras.utils.bounding_boxes``).

Formats (last axis of 4): ``xyxy`` corners, ``yxyx``, ``xywh`` (corner + size),
``center_xywh``, ``center_yxhw``, and the relative ``rel_xyxy``, ``rel_yxyx``, ``rel_xywh``,
``rel_center_xywh`` (fractions of the image's width and height). Every conversion goes
through ``xyxy``. A box with label -1 is padding.
"""
from __future__ import annotations

import math

import numpy as np

from ... import backend

SUPPORTED_FORMATS = ("xyxy", "yxyx", "xywh", "center_xywh", "center_yxhw", "rel_xyxy", "rel_yxyx",
                     "rel_xywh", "rel_center_xywh")


def _array(x) -> np.ndarray:
    return np.asarray(x.data if hasattr(x, "data") and not isinstance(x, np.ndarray) else x)


def _split(boxes):
    return [boxes[..., i:i + 1] for i in range(4)]


def _to_xyxy(boxes, source, height, width):
    a, b, c, d = _split(boxes)
    if source == "xyxy":
        return boxes
    if source == "yxyx":
        return np.concatenate([b, a, d, c], axis=-1)
    if source == "xywh":
        return np.concatenate([a, b, a + c, b + d], axis=-1)
    if source == "center_xywh":
        return np.concatenate([a - c / 2.0, b - d / 2.0, a + c / 2.0, b + d / 2.0], axis=-1)
    if source == "center_yxhw":
        return np.concatenate([b - d / 2.0, a - c / 2.0, b + d / 2.0, a + c / 2.0], axis=-1)
    if source == "rel_xyxy":
        return np.concatenate([a * width, b * height, c * width, d * height], axis=-1)
    if source == "rel_yxyx":
        return np.concatenate([b * width, a * height, d * width, c * height], axis=-1)
    if source == "rel_xywh":
        return np.concatenate([a * width, b * height, (a + c) * width, (b + d) * height], axis=-1)
    # rel_center_xywh
    return np.concatenate([(a - c / 2.0) * width, (b - d / 2.0) * height, (a + c / 2.0) * width,
                           (b + d / 2.0) * height], axis=-1)


def _from_xyxy(boxes, target, height, width):
    x1, y1, x2, y2 = _split(boxes)
    w, h = x2 - x1, y2 - y1
    if target == "xyxy":
        return boxes
    if target == "yxyx":
        return np.concatenate([y1, x1, y2, x2], axis=-1)
    if target == "xywh":
        return np.concatenate([x1, y1, w, h], axis=-1)
    if target == "center_xywh":
        return np.concatenate([x1 + w / 2.0, y1 + h / 2.0, w, h], axis=-1)
    if target == "center_yxhw":
        return np.concatenate([y1 + h / 2.0, x1 + w / 2.0, h, w], axis=-1)
    if target == "rel_xyxy":
        return np.concatenate([x1 / width, y1 / height, x2 / width, y2 / height], axis=-1)
    if target == "rel_yxyx":
        return np.concatenate([y1 / height, x1 / width, y2 / height, x2 / width], axis=-1)
    if target == "rel_xywh":
        return np.concatenate([x1 / width, y1 / height, w / width, h / height], axis=-1)
    return np.concatenate([(x1 + w / 2.0) / width, (y1 + h / 2.0) / height, w / width, h / height], axis=-1)


def convert_format(boxes, source, target, height=None, width=None, dtype="float32"):
    """Boxes (or a dict with ``"boxes"``) from format ``source`` to ``target``; the relative
    formats need ``height`` and ``width`` (numbers or arrays broadcasting against the boxes)."""
    if isinstance(boxes, dict):
        out = dict(boxes)
        out["boxes"] = convert_format(boxes["boxes"], source, target, height, width, dtype)
        return out
    boxes = _array(boxes)
    if boxes.shape[-1] != 4:
        raise ValueError("convert_format: `boxes` must be a tensor with the last dimension of 4. "
                         f"Received: boxes.shape={boxes.shape}")
    source, target = source.lower(), target.lower()
    if source not in SUPPORTED_FORMATS or target not in SUPPORTED_FORMATS:
        raise ValueError(f"convert_format: invalid source or target format ({source!r}, {target!r}). "
                         f"Supported formats: {SUPPORTED_FORMATS}")
    if (source.startswith("rel_") or target.startswith("rel_")) and (width is None or height is None):
        raise ValueError("convert_format: `height` and `width` are needed to convert between relative "
                         f"and absolute formats. Received source={source!r}, target={target!r}, "
                         f"height={height}, width={width}.")
    boxes = boxes.astype(dtype)
    if source == target:
        return boxes
    height = None if height is None else np.asarray(height, dtype)
    width = None if width is None else np.asarray(width, dtype)
    if source.startswith("rel_") and target.startswith("rel_"):
        source, target = source[4:], target[4:]
    return _from_xyxy(_to_xyxy(boxes, source, height, width), target, height, width).astype(dtype)


def _area(boxes):
    x1, y1, x2, y2 = _split(boxes)
    return ((x2 - x1) * (y2 - y1))[..., 0]


def clip_to_image_size(bounding_boxes, height=None, width=None, bounding_box_format="xyxy"):
    """Clip ``xyxy`` boxes to ``[0, width] x [0, height]`` (``rel_xyxy``: to [0, 1]); a box left
    with no area gets label -1."""
    if bounding_box_format not in ("xyxy", "rel_xyxy"):
        raise NotImplementedError("clip_to_image_size: only 'xyxy' and 'rel_xyxy' boxes are supported. "
                                  f"Received: bounding_box_format={bounding_box_format!r}")
    if bounding_box_format == "xyxy" and (height is None or width is None):
        raise ValueError("clip_to_image_size: `height` and `width` must be set if `format='xyxy'`.")
    boxes = _array(bounding_boxes["boxes"])
    if bounding_box_format == "xyxy":
        width, height = np.asarray(width, boxes.dtype), np.asarray(height, boxes.dtype)
    else:
        width = height = np.asarray(1.0, boxes.dtype)
    x1, y1, x2, y2 = _split(boxes)
    zero = np.zeros((), boxes.dtype)
    boxes = np.concatenate([np.clip(x1, zero, width), np.clip(y1, zero, height),
                            np.clip(x2, zero, width), np.clip(y2, zero, height)], axis=-1)
    out = dict(bounding_boxes)
    out["boxes"] = boxes
    if bounding_boxes.get("labels") is not None:
        labels = _array(bounding_boxes["labels"])
        out["labels"] = np.where(_area(boxes) > 0, labels, -1).astype(labels.dtype)
    return out


def _inverse_affine_matrix(center_x, center_y, angle, translate_x, translate_y, scale, shear_x, shear_y,
                           height, width):
    """Keras's matrix taking input points to output points for a rotation (degrees), a
    translation (fractions of the size), a scale and shears (degrees) about a centre given
    as fractions: (batch, 3, 3)."""
    angle, shear_x, shear_y = -np.asarray(angle), -np.asarray(shear_x), -np.asarray(shear_y)
    dtype = angle.dtype
    cx, cy = center_x * (width - 1), center_y * (height - 1)
    rot = angle * (math.pi / 180.0)
    tx, ty = -np.asarray(translate_x) * (width - 1), -np.asarray(translate_y) * (height - 1)
    sx, sy = shear_x * (math.pi / 180.0), shear_y * (math.pi / 180.0)
    a = np.cos(rot - sy) / np.cos(sy)
    b = a * np.tan(sx) + np.sin(rot)
    c = -np.sin(rot - sy) / np.cos(sy)
    d = np.cos(rot) - c * np.tan(sx)
    a0, a1, b0, b1 = d * scale, -b * scale, -c * scale, a * scale
    a2 = cx - a0 * (cx + tx) - a1 * (cy + ty)
    b2 = cy - b0 * (cx + tx) - b1 * (cy + ty)
    n = angle.shape[0]
    zeros, ones = np.zeros(n, dtype), np.ones(n, dtype)
    return np.stack([a0, a1, a2, b0, b1, b2, zeros, zeros, ones], axis=-1).reshape(n, 3, 3)


def affine_transform(boxes, angle, translate_x, translate_y, scale, shear_x, shear_y, height, width,
                     center_x=None, center_y=None, bounding_box_format="xyxy"):
    """``xyxy`` boxes (batch, n, 4) moved by one affine transform per image; each box becomes
    the axis-aligned hull of its four transformed corners."""
    if bounding_box_format != "xyxy":
        raise NotImplementedError("affine_transform: only 'xyxy' boxes are supported. "
                                  f"Received: bounding_box_format={bounding_box_format!r}")
    boxes = _array(boxes)
    matrix = _inverse_affine_matrix(0.5 if center_x is None else center_x, 0.5 if center_y is None else center_y,
                                    np.asarray(angle), translate_x, translate_y, np.asarray(scale),
                                    shear_x, shear_y, height, width)
    boxes = boxes.astype(matrix.dtype)
    x1, y1, x2, y2 = (boxes[..., i] for i in range(4))
    corners = np.stack([np.stack([x1, y1], -1), np.stack([x2, y1], -1), np.stack([x2, y2], -1),
                        np.stack([x1, y2], -1)], axis=2)  # (batch, n, 4, 2)
    moved = np.einsum("bnkj,bij->bnki", corners, matrix[:, :2, :2]) + matrix[:, None, None, :2, 2]
    return np.concatenate([moved.min(axis=2), moved.max(axis=2)], axis=-1)


def crop(boxes, top, left, height, width, bounding_box_format="xyxy"):
    """``xyxy`` boxes in the frame of the window at (``top``, ``left``), clipped to its size."""
    if bounding_box_format != "xyxy":
        raise NotImplementedError("crop: only 'xyxy' boxes are supported.")
    x1, y1, x2, y2 = _split(_array(boxes))
    return np.concatenate([np.clip(x1 - left, 0, width), np.clip(y1 - top, 0, height),
                           np.clip(x2 - left, 0, width), np.clip(y2 - top, 0, height)], axis=-1)


def pad(boxes, top, left, height=None, width=None, bounding_box_format="xyxy"):
    """``xyxy`` boxes moved by the padding added above (``top``) and to the left (``left``)."""
    if bounding_box_format != "xyxy":
        raise NotImplementedError("pad: only 'xyxy' boxes are supported.")
    x1, y1, x2, y2 = _split(_array(boxes))
    return np.concatenate([x1 + left, y1 + top, x2 + left, y2 + top], axis=-1)


def _check_variance(variance):
    if variance is None:
        return None
    variance = np.asarray(variance, np.float32)
    if variance.shape[-1] != 4:
        raise ValueError(f"`variance` must be length 4, got {variance}")
    return variance


def encode_box_to_deltas(anchors, boxes, anchor_format, box_format, encoding_format="center_yxhw",
                         variance=None, image_shape=None):
    """Deltas of ``boxes`` from ``anchors`` in a centre format: ``(c - c_a) / s_a`` for the
    centre, ``log(s / s_a)`` for the sizes, divided by ``variance``."""
    variance = _check_variance(variance)
    if encoding_format not in ("center_xywh", "center_yxhw"):
        raise ValueError(f"`encoding_format` should be one of 'center_xywh' or 'center_yxhw', got {encoding_format}")
    height, width = (None, None) if image_shape is None else image_shape[:2]
    a = convert_format(anchors, anchor_format, encoding_format, height, width)
    b = convert_format(boxes, box_format, encoding_format, height, width)
    a_size = np.maximum(a[..., 2:], backend.epsilon())
    b_size = np.maximum(b[..., 2:], backend.epsilon())
    delta = np.concatenate([(b[..., :2] - a[..., :2]) / a_size, np.log(b_size / a_size)], axis=-1)
    return delta / variance if variance is not None else delta


def decode_deltas_to_boxes(anchors, boxes_delta, anchor_format, box_format, encoded_format="center_yxhw",
                           variance=None, image_shape=None):
    """The inverse of ``encode_box_to_deltas``; dicts of levels decode level by level."""
    variance = _check_variance(variance)
    if encoded_format not in ("center_xywh", "center_yxhw"):
        raise ValueError(f"`encoded_format` should be 'center_xywh' or 'center_yxhw', but got '{encoded_format}'.")
    height, width = (None, None) if image_shape is None else image_shape[:2]

    def decode(anchor, delta):
        a = convert_format(anchor, anchor_format, encoded_format, height, width)
        delta = _array(delta) * variance if variance is not None else _array(delta)
        box = np.concatenate([delta[..., :2] * a[..., 2:] + a[..., :2], np.exp(delta[..., 2:]) * a[..., 2:]], axis=-1)
        return convert_format(box, encoded_format, box_format, height, width)

    if isinstance(anchors, dict) and isinstance(boxes_delta, dict):
        return {level: decode(anchor, boxes_delta[level]) for level, anchor in anchors.items()}
    return decode(anchors, boxes_delta)


def compute_iou(boxes1, boxes2, bounding_box_format, use_masking=False, mask_val=-1, image_shape=None):
    """Pairwise IoU, (n1, n2) or (batch, n1, n2): ``|A ∩ B| / (|A| + |B| - |A ∩ B| + eps)``;
    with ``use_masking`` pairs with a padding box (all coordinates < 0) get ``mask_val``."""
    boxes1, boxes2 = _array(boxes1), _array(boxes2)
    for name, b in (("boxes1", boxes1), ("boxes2", boxes2)):
        if b.ndim not in (2, 3):
            raise ValueError(f"compute_iou() expects {name} to be batched, or to be unbatched. Received "
                             f"len({name}.shape)={b.ndim}. Expected 2 or 3.")
    if "rel" in bounding_box_format and image_shape is None:
        raise ValueError("compute_iou: relative bounding box formats need the `image_shape` argument. "
                         f"Received `image_shape`: {image_shape}")
    height, width = (None, None) if image_shape is None else image_shape[:2]
    b1 = convert_format(boxes1, bounding_box_format, "yxyx", height, width)
    b2 = convert_format(boxes2, bounding_box_format, "yxyx", height, width)
    # boxes1 along rows, boxes2 along columns
    top = np.maximum(b1[..., :, None, 0], np.expand_dims(b2[..., 0], -2))
    left = np.maximum(b1[..., :, None, 1], np.expand_dims(b2[..., 1], -2))
    bottom = np.minimum(b1[..., :, None, 2], np.expand_dims(b2[..., 2], -2))
    right = np.minimum(b1[..., :, None, 3], np.expand_dims(b2[..., 3], -2))
    intersection = np.maximum(0.0, bottom - top) * np.maximum(0.0, right - left)
    area1 = (b1[..., 2] - b1[..., 0]) * (b1[..., 3] - b1[..., 1])
    area2 = (b2[..., 2] - b2[..., 0]) * (b2[..., 3] - b2[..., 1])
    union = area1[..., :, None] + np.expand_dims(area2, -2) - intersection
    iou = (intersection / (union + np.float32(backend.epsilon()))).astype(np.float32)
    if not use_masking:
        return iou
    background = (b1.max(axis=-1) < 0)[..., :, None] | np.expand_dims(b2.max(axis=-1) < 0, -2)
    return np.where(background, np.float32(mask_val), iou)


def compute_ciou(boxes1, boxes2, bounding_box_format, image_shape=None):
    """Complete IoU of matching boxes: ``IoU - (d^2 / c^2 + alpha v)``, ``d`` the distance of
    the centres, ``c`` the diagonal of the enclosing box,
    ``v = 4 / pi^2 (atan(w2 / h2) - atan(w1 / h1))^2``, ``alpha = v / (v - IoU + 1 + eps)``."""
    if "rel" in bounding_box_format:
        raise ValueError("compute_ciou: relative bounding box formats are not supported. Received "
                         f"bounding_box_format={bounding_box_format!r}")
    eps = backend.epsilon()
    b1 = convert_format(boxes1, bounding_box_format, "xyxy")
    b2 = convert_format(boxes2, bounding_box_format, "xyxy")
    x11, y11, x12, y12 = (b1[..., i] for i in range(4))
    x21, y21, x22, y22 = (b2[..., i] for i in range(4))
    w1, h1 = x12 - x11, y12 - y11 + eps
    w2, h2 = x22 - x21, y22 - y21 + eps
    inter = (np.maximum(np.minimum(x12, x22) - np.maximum(x11, x21), 0)
             * np.maximum(np.minimum(y12, y22) - np.maximum(y11, y21), 0))
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / (union + eps)
    diagonal = (np.maximum(x12, x22) - np.minimum(x11, x21)) ** 2 + (np.maximum(y12, y22) - np.minimum(y11, y21)) ** 2 + eps
    centres = ((x11 + x12) / 2 - (x21 + x22) / 2) ** 2 + ((y11 + y12) / 2 - (y21 + y22) / 2) ** 2
    v = 4 / math.pi ** 2 * (np.arctan(w2 / h2) - np.arctan(w1 / h1)) ** 2
    alpha = v / (v - iou + (1 + eps))
    return (iou - (centres / diagonal + v * alpha)).astype(np.float32)
