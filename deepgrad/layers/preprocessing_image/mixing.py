"""Augmentations that cut or blend: ``RandomErasing`` (a random box filled), ``MixUp``
(images and labels blended with a shuffled copy of the batch) and ``CutMix`` (a random box
pasted from a shuffled copy, labels weighted by the pasted area)."""
from __future__ import annotations

import numpy as np

from ... import ops
from .base import BaseImagePreprocessingLayer, spatial_axes
from .color_adjust import _factor_pair, _per_image


def _box_bounds(rng, n, length, ratio):
    """Keras's crop bounds along one axis: length ``r L`` starting at ``U(0, 1) (L - r L)``."""
    crop = (ratio * length).astype(np.float32)
    start = rng.uniform(0.0, 1.0, size=n).astype(np.float32) * (np.float32(length) - crop)
    return start, start + crop


def _box_masks(shape, data_format, x0, x1, y0, y1) -> np.ndarray:
    """True inside ``[x0, x1) x [y0, y1)`` for each image, broadcast over the channels."""
    h_axis, w_axis = spatial_axes(4, data_format)
    grid_y, grid_x = np.meshgrid(np.arange(shape[h_axis], dtype=np.float32),
                                 np.arange(shape[w_axis], dtype=np.float32), indexing="ij")
    view = (1, shape[h_axis], shape[w_axis], 1) if data_format == "channels_last" else (1, 1, shape[h_axis], shape[w_axis])
    grid_y, grid_x = grid_y.reshape(view), grid_x.reshape(view)
    x0, x1, y0, y1 = (_per_image(v) for v in (x0, x1, y0, y1))
    inside = (grid_x >= x0) & (grid_x < x1) & (grid_y >= y0) & (grid_y < y1)
    return np.broadcast_to(inside, shape)


class RandomErasing(BaseImagePreprocessingLayer):
    """Fill a box of each image with ``fill_value`` (None: ``N(0, 1) * value_range[1]``, clipped
    to ``value_range``) with probability ``p ~ U(factor)``; the box's sides are
    ``sqrt(s_w) W`` and ``sqrt(s_h) H``, ``s ~ U(scale)``, at a uniform position."""

    _SEED_DRAWS = (6, 0)
    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (0, 1)

    def __init__(self, factor=1.0, scale=(0.02, 0.33), fill_value=None, value_range=(0, 255), seed=None,
                 data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self._set_factor(factor)
        self.scale = _factor_pair("RandomErasing", "scale", scale)
        if fill_value is not None and not (isinstance(fill_value, (int, float)) or
                                           (isinstance(fill_value, (tuple, list)) and len(fill_value) == 3)):
            raise ValueError("RandomErasing: the `fill_value` argument should be a number (or a list "
                             f"of three numbers). Received: fill_value={fill_value}")
        self.fill_value = fill_value
        self.value_range = value_range

    def get_random_transformation(self, images, rng):
        shape = tuple(images.shape)
        n = shape[0]
        height, width = self.image_size(shape)
        ratio = np.sqrt(rng.uniform(self.scale[0], self.scale[1], size=(n, 2)).astype(np.float32))
        x0, x1 = _box_bounds(rng, n, width, ratio[:, 0])
        y0, y1 = _box_bounds(rng, n, height, ratio[:, 1])
        masks = _box_masks(shape, self.data_format, x0, x1, y0, y1)
        probability = rng.uniform(self.factor[0], self.factor[1], size=n)
        apply = rng.uniform(0.0, 1.0, size=n) < probability
        if self.fill_value is None:
            fill = rng.standard_normal(shape) * self.value_range[1]
        else:
            fill = np.asarray(self.fill_value, dtype=np.float64)
            if fill.ndim == 1:  # one value per channel
                fill = fill.reshape((1, 1, 1, 3) if self.data_format == "channels_last" else (1, 3, 1, 1))
            fill = np.broadcast_to(fill, shape)
        fill = np.clip(fill, self.value_range[0], self.value_range[1]).astype(images.dtype)
        return masks & _per_image(apply), fill

    def transform_images(self, images, transformation, training=True):
        if not training or transformation is None:
            return images
        erase, fill = transformation
        return ops.where(erase, fill, images)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "scale": self.scale,
                "fill_value": self.fill_value, "value_range": self.value_range, "seed": self.seed}


class MixUp(BaseImagePreprocessingLayer):
    """``x' = w x + (1 - w) x[perm]`` and the same for labels and masks, ``w ~ Beta(alpha, alpha)``
    per image and ``perm`` a random permutation of the batch; boxes of both images are kept."""

    _SEED_DRAWS = (2, 2)
    _USE_BASE_FACTOR = False

    def __init__(self, alpha=0.2, data_format=None, seed=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.alpha = alpha

    def get_random_transformation(self, images, rng):
        n = images.shape[0]
        permutation = rng.permutation(n)
        weight = rng.beta(self.alpha, self.alpha, size=n)
        return weight, permutation

    def _mix(self, x, transformation):
        weight, permutation = transformation
        w = weight.reshape((-1,) + (1,) * (x.ndim - 1)).astype(x.dtype)
        return x * w + ops.take(x, permutation, axis=0) * (1.0 - w)

    def transform_images(self, images, transformation, training=True):
        return self._mix(images, transformation) if training else images

    def transform_labels(self, labels, transformation, training=True):
        return self._mix(labels, transformation) if training else labels

    def transform_segmentation_masks(self, masks, transformation, training=True):
        return self._mix(masks, transformation) if training else masks

    def transform_bounding_boxes(self, bounding_boxes, transformation, image_shape, training=True):
        if not training:
            return bounding_boxes
        permutation = transformation[1]
        out = dict(bounding_boxes)
        for key in ("boxes", "labels"):
            out[key] = np.concatenate([bounding_boxes[key], bounding_boxes[key][permutation]], axis=1)
        return out

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "seed": self.seed}


class CutMix(BaseImagePreprocessingLayer):
    """Paste into each image a box of a shuffled partner image: ``a ~ U(factor) + 1e-6``,
    ``w ~ Beta(a, a)``, box sides ``sqrt(1 - w)`` of the image's; labels become
    ``w' y + (1 - w') y[perm]`` with ``w'`` one minus the box's share of the area. A single
    image (rank 3) is left as it is."""

    _SEED_DRAWS = (5, 0)
    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (0, 1)

    def __init__(self, factor=1.0, seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self._set_factor(factor)

    def __call__(self, inputs, *args, **kwargs):
        images = inputs["images"] if isinstance(inputs, dict) else inputs
        if np.ndim(images.data if hasattr(images, "data") else images) == 3:
            kwargs["training"] = False  # Keras draws no transformation for an unbatched image
        return super().__call__(inputs, *args, **kwargs)

    def get_random_transformation(self, images, rng):
        shape = tuple(images.shape)
        n = shape[0]
        height, width = self.image_size(shape)
        alpha = rng.uniform(self.factor[0], self.factor[1]) + 1e-6
        weight = rng.beta(alpha, alpha, size=n).astype(np.float32)
        ratio = np.sqrt(1.0 - weight)
        x0, x1 = _box_bounds(rng, n, width, ratio)
        y0, y1 = _box_bounds(rng, n, height, ratio)
        masks = _box_masks(shape, self.data_format, x0, x1, y0, y1)
        area_weight = 1.0 - (x1 - x0) * (y1 - y0) / (width * height)
        return masks, area_weight, rng.permutation(n)

    def transform_images(self, images, transformation, training=True):
        if not training or transformation is None:
            return images
        masks, _, permutation = transformation
        masks = masks if masks.shape == tuple(images.shape) else np.broadcast_to(
            masks[..., :1] if self.data_format == "channels_last" else masks[:, :1], images.shape)
        return ops.where(masks, ops.take(images, permutation, axis=0), images)

    def transform_labels(self, labels, transformation, training=True):
        if not training or transformation is None:
            return labels
        _, weight, permutation = transformation
        w = weight.reshape(-1, 1).astype(labels.dtype)
        return labels * w + ops.take(labels, permutation, axis=0) * (1.0 - w)

    def transform_segmentation_masks(self, masks, transformation, training=True):
        return self.transform_images(masks, transformation, training)

    def transform_bounding_boxes(self, bounding_boxes, transformation, image_shape, training=True):
        raise NotImplementedError("CutMix: bounding boxes are not supported (as in Keras).")

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "seed": self.seed}
