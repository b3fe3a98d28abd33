"""Non-affine warps: ``RandomPerspective`` (the four corners moved, a homography between) and
``RandomElasticTransform`` (a smooth random displacement field). Both resample through
``ops.image`` and so are differentiable in the input; masks follow with nearest sampling."""
from __future__ import annotations

import numpy as np

from ... import ops
from ...ops import image as image_ops
from ...ops.image import FILL_MODES
from . import boxes
from .base import BaseImagePreprocessingLayer
from .color_adjust import _factor_pair, _per_image

_INTERPOLATIONS = ("nearest", "bilinear")


def _check_interpolation(layer, interpolation):
    if interpolation not in _INTERPOLATIONS:
        raise NotImplementedError(f"{layer}: unknown `interpolation` {interpolation}. "
                                  f"Expected one of {_INTERPOLATIONS}.")


class RandomPerspective(BaseImagePreprocessingLayer):
    """With probability ``p ~ U(factor)`` per image, move each corner ``c`` of the image to
    ``c (1 + d)``, ``d ~ U(-scale / 2, scale / 2)`` per coordinate, and warp by the homography
    taking the corners to their new places (outside: ``fill_value``)."""

    _SEED_DRAWS = (3, 0)
    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (0, 1)

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_value=0.0, seed=None,
                 data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self._set_factor(factor)
        if not isinstance(scale, (int, float)) or scale < 0.0 or scale > 1.0:
            raise ValueError(f"RandomPerspective: the `scale` argument should be a number in the range "
                             f"[0,1]. Received: scale={scale}")
        _check_interpolation("RandomPerspective", interpolation)
        self.scale, self.fill_value, self.interpolation = scale, fill_value, interpolation

    def get_random_transformation(self, images, rng):
        n = images.shape[0]
        height, width = self.image_size(tuple(images.shape))
        probability = rng.uniform(self.factor[0], self.factor[1], size=n)
        apply = rng.uniform(0.0, 1.0, size=n) < probability
        shift = rng.uniform(-0.5 * self.scale, 0.5 * self.scale, size=(n, 4, 2)).astype(np.float32)
        start = np.array([[0.0, 0.0], [width - 1, 0.0], [0.0, height - 1], [width - 1, height - 1]], np.float32)
        start = np.repeat(start[None], n, axis=0)
        return apply, start, start + start * shift

    def _warp(self, images, transformation, interpolation):
        apply, start, end = transformation
        if not apply.any():
            return images
        warped = image_ops.perspective_transform(images, start, end, interpolation=interpolation,
                                                 fill_value=self.fill_value, data_format=self.data_format)
        return ops.where(_per_image(apply), warped, images)

    def transform_images(self, images, transformation, training=True):
        if not training or transformation is None:
            return images
        return self._warp(images, transformation, self.interpolation)

    def transform_segmentation_masks(self, masks, transformation, training=True):
        if not training or transformation is None:
            return masks
        return self._warp(masks, transformation, "nearest")

    def transform_bounding_boxes(self, bounding_boxes, transformation, image_shape, training=True):
        if not training or transformation is None:
            return bounding_boxes
        apply, start, end = transformation
        height, width = self.image_size(image_shape)
        return boxes.perspective(bounding_boxes, self.bounding_box_format, start, end, apply, height, width)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "scale": self.scale,
                "interpolation": self.interpolation, "fill_value": self.fill_value, "seed": self.seed}


class RandomElasticTransform(BaseImagePreprocessingLayer):
    """With probability ``p ~ U(factor)`` per image, displace pixels by ``alpha`` times a
    Gaussian-smoothed (``sigma``) noise field, ``alpha = 0.1 d max(H, W)``,
    ``sigma = 0.05 d min(H, W)``, ``d ~ U(scale)`` per batch; then clip to ``value_range``."""

    _SEED_DRAWS = (3, 0)
    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (0, 1)

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_mode="reflect", fill_value=0.0,
                 value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self._set_factor(factor)
        self.scale = _factor_pair("RandomElasticTransform", "scale", scale)
        _check_interpolation("RandomElasticTransform", interpolation)
        if fill_mode not in FILL_MODES:
            raise NotImplementedError(f"RandomElasticTransform: unknown `fill_mode` {fill_mode}. "
                                      f"Expected one of {FILL_MODES}.")
        self.interpolation, self.fill_mode, self.fill_value = interpolation, fill_mode, fill_value
        self.value_range = value_range

    def get_random_transformation(self, images, rng):
        if self.scale[1] == 0 or self.factor[1] == 0:
            return None
        n = images.shape[0]
        height, width = self.image_size(tuple(images.shape))
        probability = rng.uniform(self.factor[0], self.factor[1], size=n)
        apply = rng.uniform(0.0, 1.0, size=n) < probability
        distortion = rng.uniform(self.scale[0], self.scale[1])
        noise = rng.standard_normal((2, n, height, width)).astype(np.float32)
        return apply, distortion, noise

    def _warp(self, images, transformation, interpolation, clip):
        if transformation is None:
            return images
        apply, distortion, noise = transformation
        height, width = self.image_size(tuple(images.shape))
        alpha, sigma = max(height, width) * 0.1 * distortion, min(height, width) * 0.05 * distortion
        if apply.any() and sigma > 0:
            noise = noise.astype(images.dtype if images.dtype.kind == "f" else np.float32)
            warped = image_ops._elastic(images, noise[0], noise[1], alpha, sigma, interpolation,
                                        self.fill_mode, self.fill_value, self.data_format)
            images = ops.where(_per_image(apply), warped, images)
        return ops.clip(images, self.value_range[0], self.value_range[1]) if clip else images

    def transform_images(self, images, transformation, training=True):
        if not training:
            return images
        return self._warp(images, transformation, self.interpolation, clip=True)

    def transform_segmentation_masks(self, masks, transformation, training=True):
        if not training:
            return masks
        return self._warp(masks, transformation, "nearest", clip=False)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "scale": self.scale,
                "interpolation": self.interpolation, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "value_range": self.value_range, "seed": self.seed}
