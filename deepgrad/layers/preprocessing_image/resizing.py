"""Deterministic image layers: ``Rescaling``, ``Resizing``, ``CenterCrop`` (active in inference too)."""
from __future__ import annotations

import numpy as np

from ... import ops
from ...ops import image as image_ops
from ..base import Layer
from .base import spatial_axes, standardize_data_format


class Rescaling(Layer):
    """``y = x * scale + offset`` (``scale``/``offset`` scalars or one value per channel)."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset

    def call(self, inputs):
        scale = np.asarray(self.scale, dtype=inputs.dtype)
        offset = np.asarray(self.offset, dtype=inputs.dtype)
        return inputs * scale + offset if np.any(offset) else inputs * scale

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Resizing(Layer):
    """Resize images to ``(height, width)`` with ``ops.image.resize``."""

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, antialias=False,
                 data_format=None, **kwargs):
        super().__init__(**kwargs)
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
        self.data_format = standardize_data_format(data_format)

    def call(self, inputs):
        return image_ops.resize(inputs, (self.height, self.width), interpolation=self.interpolation,
                                antialias=self.antialias, crop_to_aspect_ratio=self.crop_to_aspect_ratio,
                                pad_to_aspect_ratio=self.pad_to_aspect_ratio, fill_mode=self.fill_mode,
                                fill_value=self.fill_value, data_format=self.data_format)

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


class CenterCrop(Layer):
    """The central ``(height, width)`` window; an image smaller than that is cropped to the
    target's aspect ratio and resized (Keras's ``smart_resize``)."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = int(height), int(width)
        self.data_format = standardize_data_format(data_format)

    def call(self, inputs):
        h_axis, w_axis = spatial_axes(inputs.ndim, self.data_format)
        h_diff, w_diff = inputs.shape[h_axis] - self.height, inputs.shape[w_axis] - self.width
        if h_diff >= 0 and w_diff >= 0:
            index = [slice(None)] * inputs.ndim
            index[h_axis] = slice(h_diff // 2, h_diff // 2 + self.height)
            index[w_axis] = slice(w_diff // 2, w_diff // 2 + self.width)
            return inputs[tuple(index)]
        return image_ops.resize(inputs, (self.height, self.width), crop_to_aspect_ratio=True,
                                data_format=self.data_format)

    compute_output_shape = Resizing.compute_output_shape

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "height": self.height,
                "width": self.width}
