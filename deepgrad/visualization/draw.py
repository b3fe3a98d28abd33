"""Bounding boxes and segmentation masks drawn onto a batch of images (NumPy arrays out)."""
from __future__ import annotations

import numpy as np

from ..layers.preprocessing_image.bounding_boxes import convert_format


def _numpy(x) -> np.ndarray:
    return np.asarray(x.data if hasattr(x, "data") and not isinstance(x, np.ndarray) else x)


def _channels_last(images: np.ndarray, data_format) -> np.ndarray:
    return np.transpose(images, (0, 2, 3, 1)) if data_format == "channels_first" else images


def _to_uint8(images: np.ndarray) -> np.ndarray:
    """Keras's reading of float images: [0, 1] when the maximum is at most 1, else [0, 255]."""
    if images.dtype.kind == "f" and images.size:
        images = np.clip(images, 0, 1) * 255 if images.max() <= 1.0 else np.clip(images, 0, 255)
    return images.astype("uint8")


def _border_masks(boxes: np.ndarray, height: int, width: int, thickness: int) -> np.ndarray:
    """(batch, n, height, width): pixels within ``thickness / 2`` of each box's outline."""
    half = thickness // 2
    x1, y1, x2, y2 = (boxes[..., i, None, None] for i in range(4))
    ys = np.arange(height).reshape(1, 1, -1, 1)
    xs = np.arange(width).reshape(1, 1, 1, -1)
    outer = (xs >= x1 - half) & (xs <= x2 + half) & (ys >= y1 - half) & (ys <= y2 + half)
    inner_pad = thickness - half
    inner = (xs >= x1 + inner_pad) & (xs <= x2 - inner_pad) & (ys >= y1 + inner_pad) & (ys <= y2 - inner_pad)
    return outer & ~inner


def _draw_labels(images, boxes, labels, class_mapping, confidences, color, font_scale):
    try:
        from PIL import Image, ImageDraw
    except ImportError as e:
        raise ImportError("draw_bounding_boxes: writing class names needs Pillow: "
                          "pip install deepgrad[io]") from e
    for i in range(images.shape[0]):  # text is drawn image by image by Pillow
        canvas = Image.fromarray(images[i])
        pen = ImageDraw.Draw(canvas)
        for j in np.flatnonzero(np.isin(labels[i], list(class_mapping))):
            text = str(class_mapping[int(labels[i, j])])
            if confidences is not None:
                text = f"{text} | {confidences[i][j]:.2f}"
            x1, y1 = int(boxes[i, j, 0]), int(boxes[i, j, 1])
            height = int(font_scale * 12)
            origin = (x1, y1 - 8 - height) if y1 - 8 - 2 * height > 0 else (x1 + 3, y1 + 3)
            pen.text(origin, text, fill=tuple(int(c) for c in color))
        images[i] = np.asarray(canvas)
    return images


def draw_bounding_boxes(images, bounding_boxes, bounding_box_format, class_mapping=None, color=(128, 128, 128),
                        line_thickness=2, text_thickness=1, font_scale=1.0, data_format=None):
    """``uint8`` images (batch, height, width, channels) with each box outlined in ``color``
    (boxes with label -1 are skipped) and, for labels in ``class_mapping``, its name."""
    class_mapping = class_mapping or {}
    images = _numpy(images)
    if images.ndim != 4:
        raise ValueError(f"draw_bounding_boxes: `images` must be batched 4D tensor. Received: images.shape={images.shape}")
    if not isinstance(bounding_boxes, dict):
        raise TypeError(f"draw_bounding_boxes: `bounding_boxes` should be a dict. Received: {type(bounding_boxes)}")
    if "boxes" not in bounding_boxes or "labels" not in bounding_boxes:
        raise ValueError("draw_bounding_boxes: `bounding_boxes` should be a dict containing 'boxes' and 'labels' "
                         f"keys. Received keys: {list(bounding_boxes)}")
    images = _to_uint8(_channels_last(images, data_format)).copy()
    height, width = images.shape[1:3]
    boxes = convert_format(_numpy(bounding_boxes["boxes"]), bounding_box_format, "xyxy", height, width)
    boxes = boxes.astype("int32")
    labels = _numpy(bounding_boxes["labels"]).astype("int32")
    border = _border_masks(boxes, height, width, int(line_thickness))
    border = (border & (labels != -1)[..., None, None]).any(axis=1)
    images[border] = np.asarray(color, dtype="uint8")
    if class_mapping:
        confidences = bounding_boxes.get("confidences")
        confidences = None if confidences is None else _numpy(confidences)
        images = _draw_labels(images, boxes, labels, class_mapping, confidences, color, font_scale)
    return images


def _palette(num_classes):
    palette = np.array([2 ** 25 - 1, 2 ** 15 - 1, 2 ** 21 - 1])
    return [(i * palette % 255).tolist() for i in range(num_classes)]


def draw_segmentation_masks(images, segmentation_masks, num_classes=None, color_mapping=None, alpha=0.8,
                            blend=True, ignore_index=-1, data_format=None):
    """Colour each pixel by its class (Keras's palette or ``color_mapping``), blended with the
    image by ``alpha``; pixels labelled ``ignore_index`` keep the image. Classes
    ``0 .. num_classes - 1`` are drawn (``num_classes`` defaults to the largest label, as Keras)."""
    images, masks = _numpy(images), _numpy(segmentation_masks)
    if images.ndim != 4:
        raise ValueError("draw_segmentation_masks: `images` must be batched 4D tensor. "
                         f"Received: images.shape={images.shape}")
    images = _channels_last(images, data_format).astype("float32")
    masks = _channels_last(masks, data_format)
    if masks.dtype.kind not in "iu":
        raise TypeError("draw_segmentation_masks: `segmentation_masks` must be in integer dtype. "
                        f"Received: segmentation_masks.dtype={masks.dtype}")
    if num_classes is None:
        num_classes = int(masks.max())
    colors = _palette(num_classes) if color_mapping is None else [color_mapping[i] for i in range(num_classes)]
    labels = masks[..., 0]
    table = np.asarray(colors, dtype="float32").reshape(-1, 3) if num_classes else np.zeros((0, 3), "float32")
    drawn = images.copy()
    inside = (labels >= 0) & (labels < num_classes)
    drawn[inside] = table[labels[inside]]
    if not blend:
        return drawn
    out = images * (1 - alpha) + drawn * alpha
    out = np.where((labels != ignore_index)[..., None], out, images)
    return out.astype("uint8")
