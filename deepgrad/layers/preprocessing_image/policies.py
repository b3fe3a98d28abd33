"""Augmentation policies built from the other layers: ``AugMix`` (chains of random operations,
mixed with Dirichlet weights and blended with the original) and ``RandAugment`` (``num_ops``
operations drawn from a fixed list, one choice per batch, as Keras)."""
from __future__ import annotations

import numpy as np

from ... import ops
from .base import BaseImagePreprocessingLayer
from .color import AutoContrast, RandomBrightness, RandomContrast, Solarization
from .color_adjust import RandomColorDegeneration, RandomPosterization, RandomSharpness
from .geometric import RandomRotation, RandomShear, RandomTranslation
from .histogram import Equalization


def _operations(layer, names) -> dict:
    """Keras's operation layers for a policy with ``factor``, ``value_range`` and ``seed``."""
    f, vr, seed, fmt, interp = layer.factor, layer.value_range, layer.seed, layer.data_format, layer.interpolation
    make = {
        "random_shear": lambda: RandomShear(x_factor=f, y_factor=f, interpolation=interp, seed=seed, data_format=fmt),
        "random_translation": lambda: RandomTranslation(height_factor=f, width_factor=f, interpolation=interp,
                                                        seed=seed, data_format=fmt),
        "random_rotation": lambda: RandomRotation(factor=f, interpolation=interp, seed=seed, data_format=fmt),
        "random_brightness": lambda: RandomBrightness(factor=f, value_range=vr, seed=seed, data_format=fmt),
        "random_color_degeneration": lambda: RandomColorDegeneration(factor=f, value_range=vr, seed=seed,
                                                                     data_format=fmt),
        "random_contrast": lambda: RandomContrast(factor=f, value_range=vr, seed=seed, data_format=fmt),
        "random_sharpness": lambda: RandomSharpness(factor=f, value_range=vr, seed=seed, data_format=fmt),
        "random_posterization": lambda: RandomPosterization(factor=max(1, int(8 * f[1])), value_range=vr,
                                                            seed=seed, data_format=fmt),
        "solarization": lambda: Solarization(addition_factor=f, threshold_factor=f, value_range=vr, seed=seed,
                                             data_format=fmt),
        "auto_contrast": lambda: AutoContrast(value_range=vr, data_format=fmt),
        "equalization": lambda: Equalization(value_range=vr, data_format=fmt),
    }
    operations = {name: make[name]() for name in names}
    for operation in operations.values():  # boxes go through the geometric operations
        operation.bounding_box_format = layer.bounding_box_format
    return operations


def _transformation(operation, shape, seed):
    """The operation's draws from a generator seeded by ``seed``, so the same seed repeats the
    same transformation for images, masks and boxes (only the shape of the images is read)."""
    return operation.get_random_transformation(np.broadcast_to(np.float32(0), shape), np.random.default_rng(int(seed)))


def _apply(operation, images, seed, part="images"):
    t = _transformation(operation, tuple(images.shape), seed)
    if part == "masks":
        return operation.transform_segmentation_masks(images, t)
    return operation.transform_images(images, t)


AUGMENT_LAYERS_ALL = ["random_shear", "random_translation", "random_rotation", "random_posterization",
                      "solarization", "auto_contrast", "equalization", "random_brightness",
                      "random_color_degeneration", "random_contrast", "random_sharpness"]
AUGMENT_LAYERS = AUGMENT_LAYERS_ALL[:7]


class AugMix(BaseImagePreprocessingLayer):
    """``y = clip(m x + (1 - m) sum_i w_i chain_i(x))``: ``num_chains`` chains of up to
    ``chain_depth`` operations (each step picks an operation or nothing uniformly),
    ``w ~ Dirichlet(alpha)`` over the chains, ``m ~ Beta(alpha, alpha)``; one draw per batch."""

    _SEED_DRAWS = (0, 0)  # Keras's count depends on the operations its own draws pick: not followed
    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (0, 1)

    def __init__(self, value_range=(0, 255), num_chains=3, chain_depth=3, factor=0.3, alpha=1.0, all_ops=True,
                 interpolation="bilinear", seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.value_range, self.num_chains, self.chain_depth = value_range, num_chains, chain_depth
        self._set_factor(factor)
        self.alpha, self.all_ops, self.interpolation = alpha, all_ops, interpolation
        self._names = AUGMENT_LAYERS_ALL if all_ops else AUGMENT_LAYERS
        self._ops = _operations(self, self._names)

    def get_random_transformation(self, images, rng):
        gamma = rng.gamma(self.alpha, size=self.num_chains)
        weights = gamma / gamma.sum()
        blend = rng.beta(self.alpha, self.alpha)
        chains = []
        for _ in range(self.num_chains):
            picks = rng.integers(0, len(self._names) + 1, size=self.chain_depth)  # the last means none
            chains.append([(self._names[p], rng.integers(0, 2**63 - 1)) for p in picks if p < len(self._names)])
        return weights, blend, chains

    def _mix(self, x, transformation, clip, part="images"):
        weights, blend, chains = transformation
        mixed = None
        for weight, chain in zip(weights, chains):
            y = x
            for name, seed in chain:
                y = _apply(self._ops[name], y, seed, part)
            term = y * np.asarray(weight, x.dtype)
            mixed = term if mixed is None else mixed + term
        out = x * np.asarray(blend, x.dtype) + mixed * np.asarray(1.0 - blend, x.dtype)
        return ops.clip(out, self.value_range[0], self.value_range[1]) if clip else out

    def transform_images(self, images, transformation, training=True):
        return self._mix(images, transformation, clip=True) if training else images

    def transform_segmentation_masks(self, masks, transformation, training=True):
        # as Keras: the masks go through the same chains and are mixed with the same weights
        return self._mix(masks, transformation, clip=False, part="masks") if training else masks

    def get_config(self):
        return {**super().get_config(), "value_range": self.value_range, "num_chains": self.num_chains,
                "chain_depth": self.chain_depth, "factor": self.factor, "alpha": self.alpha,
                "all_ops": self.all_ops, "interpolation": self.interpolation, "seed": self.seed}


class RandAugment(BaseImagePreprocessingLayer):
    """``num_ops`` times, one operation drawn uniformly from Keras's eleven for the whole
    batch; an operation drawn twice repeats its transformation, as Keras's does."""

    _SEED_DRAWS = (14, 0)
    _USE_BASE_FACTOR = False
    _FACTOR_BOUNDS = (0, 1)
    _AUGMENT_LAYERS = ["random_shear", "random_translation", "random_rotation", "random_brightness",
                       "random_color_degeneration", "random_contrast", "random_sharpness",
                       "random_posterization", "solarization", "auto_contrast", "equalization"]

    def __init__(self, value_range=(0, 255), num_ops=2, factor=0.5, interpolation="bilinear", seed=None,
                 data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.value_range, self.num_ops = value_range, num_ops
        self._set_factor(factor)
        self.interpolation = interpolation
        self._ops = _operations(self, self._AUGMENT_LAYERS)

    def get_random_transformation(self, images, rng):
        picks = rng.integers(0, len(self._AUGMENT_LAYERS), size=self.num_ops)
        seeds = rng.integers(0, 2**63 - 1, size=len(self._AUGMENT_LAYERS))
        return picks, seeds

    def transform_images(self, images, transformation, training=True):
        if not training:
            return images
        picks, seeds = transformation
        for pick in picks:
            images = _apply(self._ops[self._AUGMENT_LAYERS[pick]], images, seeds[pick])
        return images

    def transform_segmentation_masks(self, masks, transformation, training=True):
        if not training:
            return masks
        picks, seeds = transformation
        for pick in picks:
            masks = _apply(self._ops[self._AUGMENT_LAYERS[pick]], masks, seeds[pick], part="masks")
        return masks

    def transform_bounding_boxes(self, bounding_boxes, transformation, image_shape, training=True):
        if not training:
            return bounding_boxes
        picks, seeds = transformation
        for pick in picks:
            operation = self._ops[self._AUGMENT_LAYERS[pick]]
            t = _transformation(operation, image_shape, seeds[pick])
            bounding_boxes = operation.transform_bounding_boxes(bounding_boxes, t, image_shape)
        return bounding_boxes

    def get_config(self):
        return {**super().get_config(), "value_range": self.value_range, "num_ops": self.num_ops,
                "factor": self.factor, "interpolation": self.interpolation, "seed": self.seed}
