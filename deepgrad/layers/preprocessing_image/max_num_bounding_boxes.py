"""``MaxNumBoundingBoxes``: a fixed number of boxes per image, for batching detection data."""
from __future__ import annotations

import numpy as np

from .base import BaseImagePreprocessingLayer


class MaxNumBoundingBoxes(BaseImagePreprocessingLayer):
    """Keep the first ``max_number`` boxes of each image and pad with ``fill_value`` up to
    ``max_number`` (boxes and their labels); images, labels and masks pass unchanged."""

    _USE_BASE_FACTOR = False

    def __init__(self, max_number, fill_value=-1, **kwargs):
        super().__init__(**kwargs)
        self.max_number = int(max_number)
        self.fill_value = int(fill_value)

    def get_random_transformation(self, images, rng):
        return None

    def transform_images(self, images, transformation=None, training=True):
        return images

    def transform_bounding_boxes(self, bounding_boxes, transformation, image_shape, training=True):
        boxes, labels = bounding_boxes["boxes"][:, :self.max_number], bounding_boxes["labels"][:, :self.max_number]
        pad = self.max_number - boxes.shape[1]
        out = dict(bounding_boxes)
        out["boxes"] = np.pad(boxes, [(0, 0), (0, pad), (0, 0)], constant_values=self.fill_value)
        out["labels"] = np.pad(labels, [(0, 0), (0, pad)], constant_values=self.fill_value)
        return out

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, dict) and "bounding_boxes" in input_shape:
            extra = set(input_shape["bounding_boxes"]) - {"boxes", "labels"}
            if extra:
                raise KeyError(f"MaxNumBoundingBoxes: there are unsupported keys in `bounding_boxes`: "
                               f"{list(extra)}. Only `boxes` and `labels` are supported.")
            shapes = dict(input_shape["bounding_boxes"])
            shapes["boxes"] = (shapes["boxes"][0], self.max_number) + tuple(shapes["boxes"][2:])
            shapes["labels"] = (shapes["labels"][0], self.max_number)
            return {**input_shape, "bounding_boxes": shapes}
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_number": self.max_number}
