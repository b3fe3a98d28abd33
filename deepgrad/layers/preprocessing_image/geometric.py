"""Random geometric augmentation: flips, rotations, zooms, translations and crops.

Each draws one transform per image and resamples with ``ops.image.affine_transform`` (so the
output is differentiable in the input), with Keras's matrices: an output pixel (x, y) reads
the input at ``(a0 x + a1 y + a2, b0 x + b1 y + b2)``.
"""
from __future__ import annotations

import random

import numpy as np

from ... import ops
from ...autograd import Tensor, is_grad_enabled
from ...ops import image as image_ops
from . import boxes
from .base import BaseImagePreprocessingLayer, spatial_axes

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("nearest", "bilinear")


def _check_fill(layer, fill_mode, interpolation):
    if fill_mode not in _FILL_MODES:
        raise NotImplementedError(f"{layer}: unknown `fill_mode` {fill_mode}. Expected one of {_FILL_MODES}.")
    if interpolation not in _INTERPOLATIONS:
        raise NotImplementedError(f"{layer}: unknown `interpolation` {interpolation}. "
                                  f"Expected one of {_INTERPOLATIONS}.")


def affine_matrix(angle_deg, height, width, shear_x_deg=0.0, shear_y_deg=0.0):
    """Keras's rotation (and shear) about the image centre ``c = ((w-1)/2, (h-1)/2)``:
    ``A = [[cos + tx sin, -sin + tx cos], [ty cos + sin, -ty sin + cos]]``, offset ``c - A c``."""
    angle = np.deg2rad(np.asarray(angle_deg, np.float32))
    tx, ty = np.tan(np.deg2rad(shear_x_deg)), np.tan(np.deg2rad(shear_y_deg))
    cos, sin = np.cos(angle), np.sin(angle)
    cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
    a0, a1 = cos + tx * sin, -sin + tx * cos
    b0, b1 = ty * cos + sin, -ty * sin + cos
    a2, b2 = cx - cx * a0 - cy * a1, cy - cx * b0 - cy * b1
    zeros = np.zeros_like(a0)
    return np.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=-1).astype(np.float32)


class _AffineLayer(BaseImagePreprocessingLayer):
    """Shared by the layers that resample through an affine matrix per image."""

    _USE_BASE_FACTOR = False

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        _check_fill(type(self).__name__, fill_mode, interpolation)
        self.fill_mode, self.interpolation, self.fill_value = fill_mode, interpolation, fill_value

    def matrices(self, n, height, width, rng) -> dict:
        """``{"matrix": (n, 8) Keras transforms, ...the drawn parameters}``."""
        raise NotImplementedError

    def get_random_transformation(self, images, rng):
        height, width = self.image_size(tuple(images.shape))
        return self.matrices(images.shape[0], height, width, rng)

    def _resample(self, images, transformation, interpolation):
        return image_ops.affine_transform(images, transformation["matrix"], interpolation=interpolation,
                                          fill_mode=self.fill_mode, fill_value=self.fill_value,
                                          data_format=self.data_format)

    def transform_images(self, images, transformation, training=True):
        return self._resample(images, transformation, self.interpolation) if training else images

    def transform_segmentation_masks(self, masks, transformation, training=True):
        return self._resample(masks, transformation, "nearest") if training else masks

    def transform_bounding_boxes(self, bounding_boxes, transformation, image_shape, training=True):
        if not training:
            return bounding_boxes
        height, width = self.image_size(image_shape)
        return self.move_boxes(bounding_boxes, transformation, height, width)

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode, "fill_value": self.fill_value,
                "interpolation": self.interpolation, "seed": self.seed}


def _symmetric_factor(layer, name, factor, low=-1.0):
    """A number f gives (-|f|, |f|); a pair is sorted. Values must lie in [low, 1]."""
    message = (f"{layer}: the `{name}` argument should be a number (or a list of two numbers) in "
               f"the range [{low}, 1.0]. Received: {name}={factor}")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or any(v > 1.0 or v < low for v in factor):
            raise ValueError(message)
        return tuple(sorted(factor))
    if isinstance(factor, (int, float)):
        if factor > 1.0 or factor < low:
            raise ValueError(message)
        return (-abs(factor), abs(factor))
    raise ValueError(message)


class RandomRotation(_AffineLayer):
    """Rotate each image by an angle drawn uniformly from ``factor * 2π`` (radians)."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = _symmetric_factor("RandomRotation", "factor", factor)

    def matrices(self, n, height, width, rng):
        angle = rng.uniform(self.factor[0] * 360.0, self.factor[1] * 360.0, size=n)
        return {"matrix": affine_matrix(angle, height, width), "angle": angle}

    def move_boxes(self, bounding_boxes, t, height, width):
        return boxes.rotate(bounding_boxes, self.bounding_box_format, t["angle"], height, width)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class RandomShear(_AffineLayer):
    """Shear by ``s_x ~ U(x_factor)``, ``s_y ~ U(y_factor)``, both negated together with
    probability 1/2: the input is read at ``(x + s_x y, s_y x + y)``."""

    _SEED_DRAWS = (3, 0)

    def __init__(self, x_factor=0.0, y_factor=0.0, interpolation="bilinear", fill_mode="reflect",
                 fill_value=0.0, data_format=None, seed=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        # pairs may be negative here (Keras refuses them, so its own config of a number,
        # (-f, f), could not be read back)
        self.x_factor = _symmetric_factor("RandomShear", "x_factor", x_factor)
        self.y_factor = _symmetric_factor("RandomShear", "y_factor", y_factor)

    def matrices(self, n, height, width, rng):
        sign = np.where(rng.uniform(size=n) > 0.5, -1.0, 1.0)
        sy = rng.uniform(*self.y_factor, size=n) * sign
        sx = rng.uniform(*self.x_factor, size=n) * sign
        ones, zeros = np.ones(n), np.zeros(n)
        matrix = np.stack([ones, sx, zeros, sy, ones, zeros, zeros, zeros], axis=-1).astype(np.float32)
        return {"matrix": matrix, "shear": np.stack([sx, sy], axis=-1)}

    def move_boxes(self, bounding_boxes, t, height, width):
        return boxes.shear(bounding_boxes, self.bounding_box_format, t["shear"], height, width)

    def get_config(self):
        return {**super().get_config(), "x_factor": self.x_factor, "y_factor": self.y_factor}


class RandomZoom(_AffineLayer):
    """Zoom by ``z ~ U(1 + lower, 1 + upper)`` per axis about the centre (``z > 1`` zooms out):
    ``x_in = z_x x + (w - 1)/2 (1 - z_x)``; without ``width_factor`` both axes share ``z``."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear",
                 seed=None, fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_lower, self.height_upper = _symmetric_factor("RandomZoom", "height_factor", height_factor)
        if width_factor is not None:
            self.width_lower, self.width_upper = _symmetric_factor("RandomZoom", "width_factor", width_factor)

    def _seed_draws(self, images, training):
        return (1 + (self.width_factor is not None)) if training else 0  # Keras draws the width's zoom apart

    def matrices(self, n, height, width, rng):
        zy = rng.uniform(1.0 + self.height_lower, 1.0 + self.height_upper, size=n)
        zx = zy if self.width_factor is None else rng.uniform(1.0 + self.width_lower,
                                                              1.0 + self.width_upper, size=n)
        zeros = np.zeros(n)
        matrix = np.stack([zx, zeros, 0.5 * (width - 1) * (1 - zx), zeros, zy,
                           0.5 * (height - 1) * (1 - zy), zeros, zeros], axis=-1).astype(np.float32)
        return {"matrix": matrix, "zoom": np.stack([zx, zy], axis=-1)}

    def move_boxes(self, bounding_boxes, t, height, width):
        return boxes.zoom(bounding_boxes, self.bounding_box_format, t["zoom"], height, width)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomTranslation(_AffineLayer):
    """Shift by ``(dy, dx) = (U(height range) * height, U(width range) * width)`` pixels."""

    _SEED_DRAWS = (2, 0)

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear",
                 seed=None, fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_lower, self.height_upper = _symmetric_factor("RandomTranslation", "height_factor", height_factor)
        self.width_lower, self.width_upper = _symmetric_factor("RandomTranslation", "width_factor", width_factor)

    def matrices(self, n, height, width, rng):
        dy = rng.uniform(self.height_lower, self.height_upper, size=n) * height
        dx = rng.uniform(self.width_lower, self.width_upper, size=n) * width
        ones, zeros = np.ones(n), np.zeros(n)
        matrix = np.stack([ones, zeros, -dx, zeros, ones, -dy, zeros, zeros], axis=-1).astype(np.float32)
        return {"matrix": matrix, "shift": np.stack([dx, dy], axis=-1)}

    def move_boxes(self, bounding_boxes, t, height, width):
        return boxes.translate(bounding_boxes, self.bounding_box_format, t["shift"], height, width)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomFlip(BaseImagePreprocessingLayer):
    """Flip each image with probability 1/2: left-right, up-down, or both at once
    (``"horizontal_and_vertical"`` uses one draw per image for both flips, as Keras)."""

    _USE_BASE_FACTOR = False
    _MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        if mode not in self._MODES:
            raise ValueError(f"RandomFlip: invalid `mode` {mode!r}; expected one of {self._MODES}")
        self.mode = mode

    def get_random_transformation(self, images, rng):
        return rng.uniform(size=images.shape[0]) <= 0.5

    def transform_images(self, images, flips, training=True):
        if not training or not flips.any():
            return images
        h_axis, w_axis = spatial_axes(4, self.data_format)
        axes = {"horizontal": [w_axis], "vertical": [h_axis],
                "horizontal_and_vertical": [h_axis, w_axis]}[self.mode]
        data = getattr(images, "data", images)
        if isinstance(data, np.ndarray) and not (getattr(images, "requires_grad", False)
                                                 and is_grad_enabled()):
            # no gradient to record: copy the batch, then write the drawn images flipped
            out = data.copy()
            chosen = np.flatnonzero(flips)
            out[chosen] = np.flip(data[chosen], axis=tuple(axes))
            return Tensor(out, dtype=out.dtype)
        flipped = ops.flip(images, axis=axes)
        if flips.all():
            return flipped
        return ops.where(flips.reshape(-1, 1, 1, 1), flipped, images)

    transform_segmentation_masks = transform_images

    def transform_bounding_boxes(self, bounding_boxes, flips, image_shape, training=True):
        if not training:
            return bounding_boxes
        height, width = self.image_size(image_shape)
        return boxes.flip(bounding_boxes, self.bounding_box_format, flips, self.mode, height, width)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "mode": self.mode}


class RandomCrop(BaseImagePreprocessingLayer):
    """A random ``(height, width)`` window per batch in training; inference passes images on
    unchanged (Keras 3.15). Images no larger than the target are cropped centrally to its
    aspect ratio and resized."""

    _USE_BASE_FACTOR = False

    def __init__(self, height, width, seed=None, data_format=None, name=None, **kwargs):
        # without a seed Keras's layer keeps a default one (its config shows it), taken from
        # Python's ``random`` before its generator's; the draws still come from ``rng``
        default_seed = seed if seed is not None else random.randint(1, 10**9)
        super().__init__(data_format=data_format, seed=seed, name=name, **kwargs)
        self.seed = default_seed
        self.height, self.width = int(height), int(width)

    def _seed_draws(self, images, training):
        in_h, in_w = self.image_size(tuple(images.shape))
        return 2 if training and in_h > self.height and in_w > self.width else 0  # the window's top and left

    def get_random_transformation(self, images, rng):
        in_h, in_w = self.image_size(tuple(images.shape))
        if in_h > self.height and in_w > self.width:
            top = int(rng.uniform(0, in_h - self.height + 1))
            left = int(rng.uniform(0, in_w - self.width + 1))
        else:
            crop_h = max(min(in_h, int(in_w * self.height / self.width)), 1)
            crop_w = max(min(in_w, int(in_h * self.width / self.height)), 1)
            top, left = int((in_h - crop_h) / 2), int((in_w - crop_w) / 2)
        return top, left

    def transform_images(self, images, transformation, training=True):
        if not training:
            return images
        top, left = transformation
        h_axis, w_axis = spatial_axes(4, self.data_format)
        index = [slice(None)] * 4
        index[h_axis], index[w_axis] = slice(top, top + self.height), slice(left, left + self.width)
        out = images[tuple(index)]
        if out.shape[h_axis] != self.height or out.shape[w_axis] != self.width:
            out = image_ops.resize(out, (self.height, self.width), data_format=self.data_format)
        return out

    transform_segmentation_masks = transform_images

    def transform_bounding_boxes(self, bounding_boxes, transformation, image_shape, training=True):
        if not training:
            return bounding_boxes
        top, left = transformation
        return boxes.window(bounding_boxes, self.bounding_box_format, top, left, self.height, self.width,
                            self.image_size(image_shape))

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        h, w = spatial_axes(len(shape), self.data_format)
        shape[h], shape[w] = self.height, self.width
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width, "seed": self.seed}
