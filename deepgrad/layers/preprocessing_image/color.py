"""Colour augmentation: contrast, brightness, grayscale, inversion, solarization, auto-contrast.

Values live in ``value_range`` (default ``(0, 255)``) and results are clipped back into it
where Keras clips them; the arithmetic goes through deepgrad ops, so gradients reach the input.
"""
from __future__ import annotations

import numpy as np

from ... import ops
from ...ops import image as image_ops
from .base import BaseImagePreprocessingLayer, check_value_range, spatial_axes


class _ValueRangeLayer(BaseImagePreprocessingLayer):
    def __init__(self, factor=None, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(factor=factor, data_format=data_format, seed=seed, **kwargs)
        self.value_range = check_value_range(type(self).__name__, value_range)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range,
                "seed": self.seed}


class RandomContrast(_ValueRangeLayer):
    """``y = clip((x - mean) * c + mean)``, the mean over height and width per image and
    channel, ``c ~ U(1 - factor[0], 1 + factor[1])`` per image."""

    _FACTOR_BOUNDS = (0, 1)

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(factor=factor, value_range=value_range, seed=seed, **kwargs)
        self.value_range = value_range  # as given, as Keras keeps it (checked above)

    def augment(self, images, rng):
        c = rng.uniform(1.0 - self.factor[0], 1.0 + self.factor[1], size=(images.shape[0], 1, 1, 1))
        mean = ops.mean(images, axis=spatial_axes(4, self.data_format), keepdims=True)
        out = (images - mean) * c.astype(images.dtype) + mean
        return ops.clip(out, self.value_range[0], self.value_range[1])


class RandomBrightness(_ValueRangeLayer):
    """``y = clip(x + d)``, ``d ~ U(factor) * (value_range[1] - value_range[0])`` per image."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(factor=factor, value_range=value_range, seed=seed, **kwargs)

    def augment(self, images, rng):
        span = self.value_range[1] - self.value_range[0]
        d = rng.uniform(self.factor[0], self.factor[1], size=(images.shape[0], 1, 1, 1)) * span
        return ops.clip(images + d.astype(images.dtype), self.value_range[0], self.value_range[1])


class RandomInvert(_ValueRangeLayer):
    """``y = value_range[1] - x`` for an image when ``u < p``, ``u ~ U(0, 1)``, ``p ~ U(factor)``."""

    _SEED_DRAWS = (2, 0)
    _FACTOR_BOUNDS = (0, 1)

    def __init__(self, factor=1.0, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(factor=factor, value_range=value_range, seed=seed, data_format=data_format,
                         **kwargs)
        self.value_range = value_range  # as given, as Keras keeps it (checked above)

    def augment(self, images, rng):
        n = images.shape[0]
        p = rng.uniform(self.factor[0], self.factor[1], size=n)
        apply = rng.uniform(0.0, 1.0, size=n) < p
        return ops.where(apply.reshape(-1, 1, 1, 1), self.value_range[1] - images, images)


class RandomGrayscale(BaseImagePreprocessingLayer):
    """Each image becomes its luminance (``0.2989 R + 0.587 G + 0.114 B``, repeated over the
    channels) with probability ``factor``."""

    _SEED_DRAWS = (1, 1)
    _USE_BASE_FACTOR = False

    def __init__(self, factor=0.5, data_format=None, seed=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        if not isinstance(factor, (int, float)) or not 0 <= factor <= 1:
            raise ValueError(f"RandomGrayscale: `factor` must be between 0 and 1. Received: factor={factor}")
        self.factor = factor

    def augment(self, images, rng):
        apply = rng.uniform(0.0, 1.0, size=images.shape[0]) < self.factor
        gray = image_ops.rgb_to_grayscale(images, data_format=self.data_format)
        return ops.where(apply.reshape(-1, 1, 1, 1), gray, images)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def _to_range(x, source, target):
    """Map values linearly from the interval ``source`` onto ``target``."""
    if list(source) == list(target):
        return x
    return (x - source[0]) * ((target[1] - target[0]) / (source[1] - source[0])) + target[0]


def _unit_factor(layer, name, factor):
    """A number f gives (0, f); a pair is sorted; values lie in [0, 1]."""
    values = factor if isinstance(factor, (tuple, list)) else [factor]
    if len(values) not in (1, 2) or not all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in values):
        raise ValueError(f"{layer}: the `{name}` argument should be a number (or a list of two "
                         f"numbers) in the range [0, 1]. Received: {name}={factor}")
    return tuple(sorted(values)) if len(values) == 2 else (0, factor)


class Solarization(BaseImagePreprocessingLayer):
    """On the 0-255 scale: ``y = clip(x + a)``, then ``255 - y`` where ``y >= t``, with
    ``a ~ U(addition_factor[0], 255 addition_factor[1])`` and likewise ``t`` per image."""

    _SEED_DRAWS = (2, 0)
    _USE_BASE_FACTOR = False

    def __init__(self, addition_factor=0.0, threshold_factor=0.0, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.addition_factor = _unit_factor("Solarization", "addition_factor", addition_factor)
        self.threshold_factor = _unit_factor("Solarization", "threshold_factor", threshold_factor)
        self.value_range = check_value_range("Solarization", value_range)

    def augment(self, images, rng):
        shape = (images.shape[0], 1, 1, 1)
        add = rng.uniform(self.addition_factor[0], self.addition_factor[1] * 255, size=shape)
        threshold = rng.uniform(self.threshold_factor[0], self.threshold_factor[1] * 255, size=shape)
        x = ops.clip(_to_range(images, self.value_range, (0, 255)) + add.astype(images.dtype), 0, 255)
        x = ops.where(x.data < threshold, x, 255 - x)
        return _to_range(x, (0, 255), self.value_range)

    def get_config(self):
        return {**super().get_config(), "value_range": self.value_range,
                "addition_factor": self.addition_factor, "threshold_factor": self.threshold_factor,
                "seed": self.seed}


class AutoContrast(BaseImagePreprocessingLayer):
    """Stretch each image and channel so its minimum maps to ``value_range[0]`` and its maximum
    to ``value_range[1]``; a constant channel is left as it is. Applied in inference too."""

    _SEED_DRAWS = (0, 0)
    _USE_BASE_FACTOR = False

    def __init__(self, value_range=(0, 255), **kwargs):
        super().__init__(**kwargs)
        self.value_range = check_value_range("AutoContrast", value_range)

    def augment(self, images, rng):
        x = _to_range(images, self.value_range, (0, 255))
        axes = spatial_axes(4, self.data_format)
        low, high = ops.min(x, axis=axes, keepdims=True), ops.max(x, axis=axes, keepdims=True)
        flat = (high - low).data == 0
        # y = 255 (x - low) / (high - low); a constant channel divides by 1 and is put back below
        span = ops.where(flat, 1.0, high - low)
        y = _to_range(ops.clip((x - low) * (255.0 / span), 0.0, 255.0), (0, 255), self.value_range)
        return ops.where(np.broadcast_to(flat, images.shape), images, y)

    def infer(self, images):
        return BaseImagePreprocessingLayer.call(self, images, training=True)

    def get_config(self):
        return {**super().get_config(), "value_range": self.value_range}
