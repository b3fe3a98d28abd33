"""More colour augmentation, as Keras 3 draws and applies it: hue, saturation, sharpness,
posterization, colour degeneration, Gaussian blur and a colour jitter built from four of them.

Each layer draws its numbers for the whole batch at once (one value per image) in
``get_random_transformation`` and applies them in ``transform_images`` with deepgrad ops, so
gradients reach the input where the operation has one; bounding boxes, labels and
segmentation masks pass through unchanged.
"""
from __future__ import annotations

import numpy as np

from ... import backend, ops
from ...autograd import Tensor
from ...ops import image as image_ops
from .base import BaseImagePreprocessingLayer, check_value_range
from .color import RandomBrightness, RandomContrast, _to_range


def _channel_axis(data_format: str) -> int:
    return 3 if data_format == "channels_last" else 1


def _planes(images, data_format):
    """The three channel planes of a rank-4 batch (each rank 3)."""
    axis = _channel_axis(data_format)
    index = [slice(None)] * 4
    planes = []
    for c in range(3):
        index[axis] = c
        planes.append(images[tuple(index)])
    return planes


def _per_image(values, ndim=4) -> np.ndarray:
    return np.asarray(values).reshape((-1,) + (1,) * (ndim - 1))


def _factor_pair(layer, name, factor, bounds=(0, 1)) -> tuple:
    """Keras's reading of a factor: a number f gives (max(-|f|, low), |f|), a pair is sorted;
    values outside ``bounds`` are refused."""
    lo, hi = bounds
    message = (f"{layer}: the `{name}` argument should be a number (or a list of two numbers) in the "
               f"range [{lo}, {hi}]. Received: {name}={factor}")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or factor[0] > hi or factor[1] < lo:
            raise ValueError(message)
        return tuple(sorted(factor))
    if isinstance(factor, (int, float)) and not isinstance(factor, bool):
        if factor < lo or factor > hi:
            raise ValueError(message)
        return (max(-abs(factor), lo), abs(factor))
    raise ValueError(message)


class _ColorLayer(BaseImagePreprocessingLayer):
    """A factor in ``_FACTOR_BOUNDS``, a value range, a seed; Keras's argument order."""

    _SEED_DRAWS = (1, 1)
    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (0, 1)
    _SORT_VALUE_RANGE = True

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self._set_factor(factor)
        checked = check_value_range(type(self).__name__, value_range)
        self.value_range = checked if self._SORT_VALUE_RANGE else value_range

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range,
                "seed": self.seed}


class RandomHue(_ColorLayer):
    """Rotate the hue by ``d = ±f / 2`` (``f ~ U(factor)``, sign + or - with probability 1/2)
    in HSV on the [0, 1] scale, wrapping hue into [0, 1]; RGB is clipped to [0, 1] and mapped
    back to ``value_range``."""

    _SEED_DRAWS = (2, 2)
    _SORT_VALUE_RANGE = False

    def get_random_transformation(self, images, rng):
        n = images.shape[0]
        invert = np.where(rng.uniform(size=n) > 0.5, -1.0, 1.0)
        return invert * rng.uniform(self.factor[0], self.factor[1], size=n) * 0.5

    def transform_images(self, images, delta, training=True):
        if not training:
            return images
        x = _to_range(images, self.value_range, (0, 1))
        h, s, v = _planes(image_ops.rgb_to_hsv(x, data_format=self.data_format), self.data_format)
        h = h + _per_image(delta, 3).astype(images.dtype)
        h = ops.where(h.data > 1.0, h - 1.0, h)
        h = ops.where(h.data < 0.0, h + 1.0, h)
        hsv = ops.stack([h, s, v], axis=_channel_axis(self.data_format))
        rgb = ops.clip(image_ops.hsv_to_rgb(hsv, data_format=self.data_format), 0.0, 1.0)
        return _to_range(rgb, (0, 1), self.value_range)


class RandomSaturation(_ColorLayer):
    """Scale the HSV saturation by ``f / (1 - f + eps)``, ``f ~ U(factor)`` per image
    (``f = 0.5`` keeps the image, 0 makes it grey), the saturation clipped to ``value_range``
    as Keras does. Images are converted to HSV as they are (no rescaling)."""

    _FACTOR_BOUNDS = (-1, 1)  # Keras's base bounds: a number f draws from (-f, f)

    def get_random_transformation(self, images, rng):
        f = rng.uniform(self.factor[0], self.factor[1], size=images.shape[0])
        return f / (1.0 - f + backend.epsilon())

    def transform_images(self, images, scale, training=True):
        if not training:
            return images
        h, s, v = _planes(image_ops.rgb_to_hsv(images, data_format=self.data_format), self.data_format)
        s = ops.clip(s * _per_image(scale, 3).astype(images.dtype), self.value_range[0], self.value_range[1])
        hsv = ops.stack([h, s, v], axis=_channel_axis(self.data_format))
        return image_ops.hsv_to_rgb(hsv, data_format=self.data_format)


# Keras's smoothing kernel: 1/13 around, 5/13 in the centre (zero padding, "same" size)
_SMOOTH = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], dtype=np.float64) / 13.0


class RandomSharpness(_ColorLayer):
    """``y = clip(x + (1 - 2f) (smooth(x) - x))``, ``f ~ U(factor)`` per image: 0 blurs,
    0.5 keeps, 1 sharpens; ``smooth`` is a 3x3 depthwise convolution with ``_SMOOTH``."""

    def get_random_transformation(self, images, rng):
        return rng.uniform(self.factor[0], self.factor[1], size=images.shape[0])

    def transform_images(self, images, factor, training=True):
        if not training:
            return images
        channels = images.shape[_channel_axis(self.data_format)]
        kernel = np.tile(_SMOOTH[:, :, None, None], (1, 1, channels, 1)).astype(images.dtype)
        smooth = ops.depthwise_conv(images, kernel, strides=1, padding="same", data_format=self.data_format)
        sharpness = _per_image(2.0 * np.asarray(factor)).astype(images.dtype)
        out = images + (1.0 - sharpness) * (smooth - images)
        return ops.clip(out, self.value_range[0], self.value_range[1])


class RandomPosterization(_ColorLayer):
    """Keep the top ``b`` bits of each 8-bit value (on the 0-255 scale): ``b`` is drawn from
    ``randint(factor[0], factor[1])`` per image (``factor[1]`` excluded, as Keras), or is
    ``factor[0]`` when both ends agree. Piecewise constant, so no gradient flows."""

    _FACTOR_BOUNDS = (1, 8)

    def get_random_transformation(self, images, rng):
        n = images.shape[0]
        low, high = int(self.factor[0]), int(self.factor[1])
        bits = rng.integers(low, high, size=n) if low != high else np.full(n, low)
        return (8 - bits).astype(np.uint8)

    def transform_images(self, images, shift, training=True):
        if not training:
            return images
        x = _to_range(images.data, self.value_range, (0, 255)).astype(np.float32)
        x = x.astype(np.int64).astype(np.uint8)  # a float-to-uint8 cast truncates, as Keras's
        shift = _per_image(shift)
        x = np.left_shift(np.right_shift(x, shift), shift).astype(images.dtype)
        return Tensor(_to_range(x, (0, 255), self.value_range).astype(images.dtype))


class RandomColorDegeneration(_ColorLayer):
    """``y = clip(x + f (gray(x) - x))`` with ``f ~ U(factor)`` per image (Keras's factor
    bounds are [-1, 1]: a number f draws from (-f, f))."""

    _FACTOR_BOUNDS = (-1, 1)

    def get_random_transformation(self, images, rng):
        return rng.uniform(self.factor[0], self.factor[1], size=images.shape[0])

    def transform_images(self, images, factor, training=True):
        if not training:
            return images
        gray = image_ops.rgb_to_grayscale(images, data_format=self.data_format)
        out = images + _per_image(factor).astype(images.dtype) * (gray - images)
        return ops.clip(out, self.value_range[0], self.value_range[1])

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1 if self.data_format == "channels_last" else -3]
        if channels is not None and channels != 3:
            raise ValueError(f"RandomColorDegeneration: input images must have 3 channels, but "
                             f"received images with {channels} channels.")
        return tuple(input_shape)


class RandomGaussianBlur(BaseImagePreprocessingLayer):
    """Blur an image with probability ``p ~ U(factor)`` (``u < p``, ``u ~ U(0, 1)``) by a
    Gaussian of size ``kernel_size`` and ``sigma ~ U(sigma) + 1e-6`` (one pair per batch, as
    Keras), then clip to ``value_range``."""

    _SEED_DRAWS = (3, 0)
    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (0, 1)

    def __init__(self, factor=1.0, kernel_size=3, sigma=1.0, value_range=(0, 255), data_format=None,
                 seed=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self._set_factor(factor)
        self.kernel_size = _odd_pair(kernel_size)
        self.sigma = _factor_pair("RandomGaussianBlur", "sigma", sigma)
        self.value_range = value_range

    def get_random_transformation(self, images, rng):
        n = images.shape[0]
        probability = rng.uniform(self.factor[0], self.factor[1], size=n)
        apply = rng.uniform(0.0, 1.0, size=n) < probability
        sigma = rng.uniform(self.sigma[0], self.sigma[1], size=2) + 1e-6
        return apply, sigma

    def transform_images(self, images, transformation, training=True):
        if not training or transformation is None:
            return images
        apply, sigma = transformation
        if not apply.any():
            return ops.clip(images, self.value_range[0], self.value_range[1])
        blurred = image_ops.gaussian_blur(images, kernel_size=self.kernel_size, sigma=tuple(sigma),
                                          data_format=self.data_format)
        out = ops.where(_per_image(apply), blurred, images)
        return ops.clip(out, self.value_range[0], self.value_range[1])

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "kernel_size": self.kernel_size,
                "sigma": self.sigma, "value_range": self.value_range, "seed": self.seed}


def _odd_pair(kernel_size) -> tuple:
    if isinstance(kernel_size, (tuple, list)):
        if len(kernel_size) != 2:
            raise ValueError("RandomGaussianBlur: the `kernel_size` argument should be a number (or "
                             f"a list of two numbers). Received: kernel_size={kernel_size}")
        pair = tuple(kernel_size)
    elif isinstance(kernel_size, (int, float)):
        pair = (kernel_size, kernel_size)
    else:
        raise ValueError(f"RandomGaussianBlur: kernel_size must be an odd number. Received: "
                         f"kernel_size={kernel_size}")
    if any(k % 2 == 0 for k in pair):
        raise ValueError(f"RandomGaussianBlur: kernel_size must be an odd number. Received: "
                         f"kernel_size={kernel_size}")
    return pair


class RandomColorJitter(BaseImagePreprocessingLayer):
    """Brightness, contrast, saturation and hue, in that order, each a layer of its own made
    from the given factor (left out when the factor is None), all drawing from this layer's
    generator."""

    _USE_BASE_FACTOR = False

    def __init__(self, value_range=(0, 255), brightness_factor=None, contrast_factor=None,
                 saturation_factor=None, hue_factor=None, seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.value_range = value_range
        self.brightness_factor, self.contrast_factor = brightness_factor, contrast_factor
        self.saturation_factor, self.hue_factor = saturation_factor, hue_factor
        parts = [(RandomBrightness, brightness_factor), (RandomContrast, contrast_factor),
                 (RandomSaturation, saturation_factor), (RandomHue, hue_factor)]
        self._parts = [cls(factor=f, value_range=value_range, seed=seed, data_format=data_format)
                       for cls, f in parts if f is not None]

    def _seed_draws(self, images, training):
        return sum(part._seed_draws(images, True) for part in self._parts) if training else 0

    def transform_images(self, images, rng, training=True):
        # the "transformation" is the generator: each part draws from it in turn
        if not training:
            return images
        for part in self._parts:
            images = part.transform_images(images, part.get_random_transformation(images, rng))
        return images

    def get_config(self):
        return {**super().get_config(), "value_range": self.value_range,
                "brightness_factor": self.brightness_factor, "contrast_factor": self.contrast_factor,
                "saturation_factor": self.saturation_factor, "hue_factor": self.hue_factor,
                "seed": self.seed}
