"""How each geometric layer moves bounding boxes with its images (Keras's arithmetic).

Every function takes the densified ``{"boxes": (batch, n, 4), "labels": (batch, n)}`` in the
layer's ``bounding_box_format``, works in ``xyxy`` (or ``rel_xyxy``) pixels, clips to the
output image (a box left with no area gets label -1) and returns the same format.
"""
from __future__ import annotations

import numpy as np

from ...ops.image import _homography
from .bounding_boxes import affine_transform, clip_to_image_size, convert_format


def _in(bounding_boxes, fmt, target, height, width) -> dict:
    return convert_format(bounding_boxes, source=fmt, target=target, height=height, width=width)


def _out(bounding_boxes, fmt, source, height, width) -> dict:
    return convert_format(bounding_boxes, source=source, target=fmt, height=height, width=width)


def _replace(bounding_boxes, boxes) -> dict:
    out = dict(bounding_boxes)
    out["boxes"] = boxes
    return out


def flip(bounding_boxes, fmt, flips, mode, height, width) -> dict:
    """Left-right: ``x -> 1 - x`` (corners swapped), up-down: ``y -> 1 - y``, in relative units."""
    rel = _in(bounding_boxes, fmt, "rel_xyxy", height, width)
    b = rel["boxes"]
    flips = np.asarray(flips).reshape(-1, 1, 1)
    if mode in ("horizontal", "horizontal_and_vertical"):
        b = np.where(flips, np.stack([1 - b[..., 2], b[..., 1], 1 - b[..., 0], b[..., 3]], -1), b)
    if mode in ("vertical", "horizontal_and_vertical"):
        b = np.where(flips, np.stack([b[..., 0], 1 - b[..., 3], b[..., 2], 1 - b[..., 1]], -1), b)
    clipped = clip_to_image_size(_replace(rel, b), height=height, width=width, bounding_box_format="xyxy")
    return _out(clipped, fmt, "rel_xyxy", height, width)


def rotate(bounding_boxes, fmt, angle, height, width) -> dict:
    """The hull of each box's corners rotated by ``angle`` degrees about the image centre."""
    xyxy = _in(bounding_boxes, fmt, "xyxy", height, width)
    n = len(angle)
    zeros = np.zeros(n, np.float32)
    moved = affine_transform(xyxy["boxes"], np.asarray(angle, np.float32), zeros, zeros, np.ones(n, np.float32),
                             zeros, zeros, height, width)
    clipped = clip_to_image_size(_replace(xyxy, moved.astype(np.float32)), height=height, width=width)
    return _out(clipped, fmt, "xyxy", height, width)


def translate(bounding_boxes, fmt, shift, height, width) -> dict:
    """Boxes move with the image by ``(dx, dy)`` pixels."""
    xyxy = _in(bounding_boxes, fmt, "xyxy", height, width)
    dx, dy = (np.asarray(shift[:, i], np.float32).reshape(-1, 1) for i in range(2))
    b = xyxy["boxes"]
    moved = np.stack([b[..., 0] + dx, b[..., 1] + dy, b[..., 2] + dx, b[..., 3] + dy], axis=-1)
    clipped = clip_to_image_size(_replace(xyxy, moved), height=height, width=width)
    return _out(clipped, fmt, "xyxy", height, width)


def zoom(bounding_boxes, fmt, zooms, height, width) -> dict:
    """The visible window is ``[s, s + z L]`` per axis with ``s = (L - 1)(1 - z) / 2``; a box is
    clipped to it and rescaled to the image: ``x' = (clip(x, s, e) - s) L / (e - s)``."""
    xyxy = _in(bounding_boxes, fmt, "xyxy", height, width)
    zx, zy = (np.asarray(zooms[:, i], np.float32).reshape(-1, 1) for i in range(2))
    x_start, y_start = (width - 1.0) / 2.0 * (1.0 - zx), (height - 1.0) / 2.0 * (1.0 - zy)
    x_end, y_end = zx * width + x_start, zy * height + y_start
    b = xyxy["boxes"]
    rel = np.stack([(np.clip(b[..., 0], x_start, x_end) - x_start) / (x_end - x_start),
                    (np.clip(b[..., 1], y_start, y_end) - y_start) / (y_end - y_start),
                    (np.clip(b[..., 2], x_start, x_end) - x_start) / (x_end - x_start),
                    (np.clip(b[..., 3], y_start, y_end) - y_start) / (y_end - y_start)], axis=-1)
    clipped = clip_to_image_size(_replace(xyxy, rel.astype(np.float32)), bounding_box_format="rel_xyxy")
    return _out(clipped, fmt, "rel_xyxy", height, width)


def shear(bounding_boxes, fmt, shears, height, width) -> dict:
    """Keras's sheared box, in relative units: ``x -> x - s_x y`` taken at the top or bottom
    edge by the sign of ``s_x`` (and likewise ``y -> y - s_y x``)."""
    rel = _in(bounding_boxes, fmt, "rel_xyxy", height, width)
    sx, sy = (np.asarray(shears[:, i], np.float32).reshape(-1, 1) for i in range(2))
    x1, y1, x2, y2 = (rel["boxes"][..., i] for i in range(4))
    x1 = np.where(sx < 0, x1 - sx * y1, x1 - sx * y2)
    x2 = np.where(sx < 0, x2 - sx * y2, x2 - sx * y1)
    y1 = np.where(sy > 0, y1 - sy * x2, y1 - sy * x1)
    y2 = np.where(sy > 0, y2 - sy * x1, y2 - sy * x2)
    moved = np.stack([x1, y1, x2, y2], axis=-1).astype(np.float32)
    clipped = clip_to_image_size(_replace(rel, moved), bounding_box_format="rel_xyxy")
    return _out(clipped, fmt, "rel_xyxy", height, width)


def window(bounding_boxes, fmt, top, left, height, width, input_size) -> dict:
    """Boxes in the frame of a ``(height, width)`` window at (``top``, ``left``); when the window
    was resized (an input smaller than the target), scaled with it."""
    in_h, in_w = input_size
    xyxy = _in(bounding_boxes, fmt, "xyxy", in_h, in_w)
    win_h, win_w = min(height, in_h - top), min(width, in_w - left)
    b = xyxy["boxes"]
    sx, sy = width / max(min(win_w, in_w), 1), height / max(min(win_h, in_h), 1)
    moved = np.stack([(b[..., 0] - left) * sx, (b[..., 1] - top) * sy, (b[..., 2] - left) * sx,
                      (b[..., 3] - top) * sy], axis=-1).astype(np.float32)
    clipped = clip_to_image_size(_replace(xyxy, moved), height=height, width=width)
    return _out(clipped, fmt, "xyxy", height, width)


def center_crop(bounding_boxes, fmt, height, width, input_size) -> dict:
    """Keras's ``CenterCrop`` boxes: clipped to the central window; when the input is smaller
    than the target, the window has the target's aspect ratio and is scaled to it."""
    in_h, in_w = input_size
    xyxy = _in(bounding_boxes, fmt, "xyxy", in_h, in_w)
    if in_h >= height and in_w >= width:
        crop_h, crop_w = height, width
    else:
        crop_h = max(min(in_h, int(float(in_w * height) / width)), 1)
        crop_w = max(min(in_w, int(float(in_h * width) / height)), 1)
    top, left = int((in_h - crop_h) / 2), int((in_w - crop_w) / 2)
    b = xyxy["boxes"]
    moved = np.stack([(np.clip(b[..., 0], left, left + crop_w) - left) * (width / crop_w),
                      (np.clip(b[..., 1], top, top + crop_h) - top) * (height / crop_h),
                      (np.clip(b[..., 2], left, left + crop_w) - left) * (width / crop_w),
                      (np.clip(b[..., 3], top, top + crop_h) - top) * (height / crop_h)], axis=-1)
    clipped = clip_to_image_size(_replace(xyxy, moved.astype(np.float32)), height=height, width=width)
    return _out(clipped, fmt, "xyxy", height, width)


def resize(layer, bounding_boxes, input_size) -> dict:
    """Keras's ``Resizing`` boxes: scaled by the size ratios (with the offsets of
    ``pad_to_aspect_ratio`` or ``crop_to_aspect_ratio``), clipped; padding boxes (all -1 or all
    0) become zeros."""
    in_h, in_w = input_size
    raw = np.asarray(bounding_boxes["boxes"])
    padding = np.all(raw == -1, axis=-1) | np.all(raw == 0, axis=-1)
    xyxy = _in(bounding_boxes, layer.bounding_box_format, "xyxy", in_h, in_w)
    b = xyxy["boxes"]
    if layer.pad_to_aspect_ratio:
        s = np.float32(min(layer.height / in_h, layer.width / in_w))
        sx = sy = s
        off_x, off_y = (layer.width - in_w * s) // 2, (layer.height - in_h * s) // 2
    elif layer.crop_to_aspect_ratio:
        source, target = in_w / in_h, layer.width / layer.height
        new_w = layer.height * source if source > target else layer.width
        new_h = layer.height if source > target else layer.width / source
        sx, sy = new_w / in_w, new_h / in_h
        off_x, off_y = -((new_w - layer.width) // 2), -((new_h - layer.height) // 2)
    else:
        sx, sy, off_x, off_y = np.float32(layer.width / in_w), np.float32(layer.height / in_h), 0.0, 0.0
    moved = np.stack([b[..., 0] * sx + off_x, b[..., 1] * sy + off_y, b[..., 2] * sx + off_x,
                      b[..., 3] * sy + off_y], axis=-1).astype(np.float32)
    clipped = clip_to_image_size(_replace(xyxy, moved), height=layer.height, width=layer.width)
    clipped["boxes"] = np.where(padding[..., None], np.float32(0), clipped["boxes"])
    return _out(clipped, layer.bounding_box_format, "xyxy", layer.height, layer.width)


def perspective(bounding_boxes, fmt, start, end, apply, height, width) -> dict:
    """Each corner goes through the homography taking ``start`` points to ``end`` points
    (the inverse of the one the image is sampled with); a box becomes the hull of its four
    corners."""
    xyxy = _in(bounding_boxes, fmt, "xyxy", height, width)
    coeffs = _homography(np.asarray(start, np.float64), np.asarray(end, np.float64), np.float64)
    matrix = np.linalg.inv(np.concatenate([coeffs, np.ones((len(coeffs), 1))], axis=-1).reshape(-1, 3, 3))
    b = xyxy["boxes"].astype(np.float64)
    corners = np.stack([b[..., [0, 1]], b[..., [2, 3]], b[..., [0, 3]], b[..., [2, 1]]], axis=2)
    points = np.concatenate([corners, np.ones(corners.shape[:-1] + (1,))], axis=-1)
    moved = np.einsum("bij,bnkj->bnki", matrix, points)
    moved = moved[..., :2] / moved[..., 2:]
    hull = np.concatenate([moved.min(axis=2), moved.max(axis=2)], axis=-1).astype(np.float32)
    hull = np.where(np.asarray(apply).reshape(-1, 1, 1), hull, xyxy["boxes"])
    clipped = clip_to_image_size(_replace(xyxy, hull), height=height, width=width)
    return _out(clipped, fmt, "xyxy", height, width)
