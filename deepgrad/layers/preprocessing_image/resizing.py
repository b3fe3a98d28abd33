"""Deterministic image layers: ``Rescaling``, ``Resizing``, ``CenterCrop`` (active in inference too).
``Resizing`` and ``CenterCrop`` also take Keras's dict input and move boxes and masks along."""
from __future__ import annotations

import numpy as np

from ... import ops
from ...ops import image as image_ops
from ..base import Layer
from . import boxes
from .base import BaseImagePreprocessingLayer, spatial_axes


class Rescaling(Layer):
    """``y = x * scale + offset`` (``scale``/``offset`` scalars or one value per channel)."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset
        self.supports_masking = True  # a mask passes through, as Keras's

    def call(self, inputs):
        scale = np.asarray(self.scale, dtype=inputs.dtype)
        offset = np.asarray(self.offset, dtype=inputs.dtype)
        return inputs * scale + offset if np.any(offset) else inputs * scale

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Resizing(BaseImagePreprocessingLayer):
    """Resize images to ``(height, width)`` with ``ops.image.resize``."""

    _USE_BASE_FACTOR = False

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, antialias=False,
                 data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        if interpolation not in image_ops.RESIZE_INTERPOLATIONS:
            raise ValueError(f"Resizing: invalid `interpolation` {interpolation!r}; expected one of "
                             f"{image_ops.RESIZE_INTERPOLATIONS}")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError("Resizing: only one of `crop_to_aspect_ratio` and "
                             "`pad_to_aspect_ratio` can be True.")
        self.height, self.width = int(height), int(width)
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = crop_to_aspect_ratio
        self.pad_to_aspect_ratio = pad_to_aspect_ratio
        self.fill_mode = fill_mode
        self.fill_value = fill_value
        self.antialias = antialias

    def call(self, inputs, training=True):
        return self._resize(inputs, self.interpolation)

    def _resize(self, images, interpolation):
        return image_ops.resize(images, (self.height, self.width), interpolation=interpolation,
                                antialias=self.antialias, crop_to_aspect_ratio=self.crop_to_aspect_ratio,
                                pad_to_aspect_ratio=self.pad_to_aspect_ratio, fill_mode=self.fill_mode,
                                fill_value=self.fill_value, data_format=self.data_format)

    def get_random_transformation(self, images, rng):
        return None

    def transform_images(self, images, transformation=None, training=True):
        return self._resize(images, self.interpolation)

    def transform_segmentation_masks(self, masks, transformation=None, training=True):
        return self._resize(masks, "nearest")

    def transform_bounding_boxes(self, bounding_boxes, transformation, image_shape, training=True):
        return boxes.resize(self, bounding_boxes, self.image_size(image_shape))

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        h, w = spatial_axes(len(shape), self.data_format)
        shape[h], shape[w] = self.height, self.width
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "height": self.height,
                "width": self.width, "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias}


class CenterCrop(BaseImagePreprocessingLayer):
    """The central ``(height, width)`` window; an image smaller than that is cropped to the
    target's aspect ratio and resized (Keras's ``smart_resize``)."""

    _USE_BASE_FACTOR = False

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.height, self.width = int(height), int(width)

    def call(self, inputs, training=True):
        return self.transform_images(inputs)

    def get_random_transformation(self, images, rng):
        return None

    def transform_images(self, inputs, transformation=None, training=True):
        h_axis, w_axis = spatial_axes(inputs.ndim, self.data_format)
        h_diff, w_diff = inputs.shape[h_axis] - self.height, inputs.shape[w_axis] - self.width
        if h_diff >= 0 and w_diff >= 0:
            index = [slice(None)] * inputs.ndim
            index[h_axis] = slice(h_diff // 2, h_diff // 2 + self.height)
            index[w_axis] = slice(w_diff // 2, w_diff // 2 + self.width)
            return inputs[tuple(index)]
        return image_ops.resize(inputs, (self.height, self.width), crop_to_aspect_ratio=True,
                                data_format=self.data_format)

    transform_segmentation_masks = transform_images

    def transform_bounding_boxes(self, bounding_boxes, transformation, image_shape, training=True):
        return boxes.center_crop(bounding_boxes, self.bounding_box_format, self.height, self.width,
                                 self.image_size(image_shape))

    compute_output_shape = Resizing.compute_output_shape

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "height": self.height,
                "width": self.width}
