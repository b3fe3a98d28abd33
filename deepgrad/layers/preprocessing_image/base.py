"""The base of Keras's image preprocessing layers: data format, factor ranges, the random
generator, the rule that random augmentation runs only with ``training=True``, and Keras's
dict input ``{"images", "labels", "bounding_boxes": {"boxes", "labels"}, "segmentation_masks"}``,
whose parts all go through the one transformation drawn for the images."""
from __future__ import annotations

import numpy as np

from ... import backend
from ...autograd import Tensor
from ...ops import manipulation as _shape
from ...ops.image import _data_format
from ...seed_generator import SeedGenerator
from ..base import Layer, builtin_class

# the image layers that own a ``SeedGenerator`` in Keras (``layer.generator``): the random ones
_KERAS_SEEDED = {"AugMix", "CutMix", "MixUp", "RandAugment", "RandomBrightness", "RandomColorDegeneration",
                 "RandomColorJitter", "RandomContrast", "RandomCrop", "RandomElasticTransform", "RandomErasing",
                 "RandomFlip", "RandomGaussianBlur", "RandomGrayscale", "RandomHue", "RandomInvert",
                 "RandomPerspective", "RandomPosterization", "RandomRotation", "RandomSaturation",
                 "RandomSharpness", "RandomShear", "RandomTranslation", "RandomZoom", "Solarization"}


def standardize_data_format(data_format) -> str:
    return _data_format(data_format)


def spatial_axes(ndim: int, data_format: str) -> tuple:
    """(height axis, width axis) of a rank-3 or rank-4 image tensor."""
    return (ndim - 3, ndim - 2) if data_format == "channels_last" else (ndim - 2, ndim - 1)


def check_value_range(layer: str, value_range) -> list:
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise ValueError(f"{layer}: the `value_range` argument should be a list of two numbers. "
                         f"Received: value_range={value_range}")
    return sorted(value_range)


def _as_tensor(x, dtype) -> Tensor:
    if isinstance(x, Tensor):
        return x if x.dtype == dtype else x.astype(dtype)
    return Tensor(np.asarray(x).astype(dtype, copy=False))


def _batched(layer: str, images):
    """(rank-4 images, whether a batch axis was added)."""
    if images.ndim == 3:
        return _shape.expand_dims(images, 0), True
    if images.ndim != 4:
        raise ValueError(f"{layer}: expected images of rank 3 or 4. Received inputs.shape={tuple(images.shape)}")
    return images, False


def _dense_boxes(layer: str, bounding_boxes, unbatched: bool) -> dict:
    """``{"boxes": (batch, n, 4) float, "labels": (batch, n)}`` as NumPy arrays; a list of
    per-image arrays of different lengths is padded with -1, as Keras densifies ragged boxes."""
    if not isinstance(bounding_boxes, dict) or "boxes" not in bounding_boxes or "labels" not in bounding_boxes:
        raise ValueError(f"{layer}: `bounding_boxes` must be a dict with keys 'boxes' and 'labels'. "
                         f"Received: {bounding_boxes!r}")
    out = dict(bounding_boxes)
    boxes, labels = bounding_boxes["boxes"], bounding_boxes["labels"]
    if isinstance(boxes, (list, tuple)) and not unbatched and len(boxes) and np.ndim(boxes[0]) == 2:
        n = max(len(b) for b in boxes)
        dense_boxes = np.full((len(boxes), n, 4), -1.0, np.float32)
        dense_labels = np.full((len(boxes), n), -1, np.asarray(labels[0]).dtype)
        for i, (b, l) in enumerate(zip(boxes, labels)):  # one row per image of a ragged list
            dense_boxes[i, :len(b)], dense_labels[i, :len(l)] = b, l
        boxes, labels = dense_boxes, dense_labels
    boxes = np.asarray(boxes.data if isinstance(boxes, Tensor) else boxes)
    labels = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
    if boxes.dtype.kind != "f":
        boxes = boxes.astype(np.float32)
    if unbatched:
        boxes, labels = boxes[None], labels[None]
    if boxes.ndim != 3 or boxes.shape[-1] != 4 or labels.shape != boxes.shape[:2]:
        raise ValueError(f"{layer}: expected boxes of shape (batch, num_boxes, 4) and labels of shape "
                         f"(batch, num_boxes). Received boxes.shape={boxes.shape}, labels.shape={labels.shape}")
    out["boxes"], out["labels"] = boxes, labels
    return out


class BaseImagePreprocessingLayer(Layer):
    """Subclasses draw one transformation per batch in ``get_random_transformation(images, rng)``
    and apply it in ``transform_images`` (and, where the layer moves pixels,
    ``transform_bounding_boxes`` and ``transform_segmentation_masks``); the simplest implement
    only ``augment(images, rng)`` and, when inference is not the identity, ``infer(images)``.
    A rank-3 image is treated as a batch of one."""

    _FACTOR_BOUNDS = (-1, 1)
    _USE_BASE_FACTOR = True
    # the seeds Keras's layer draws from its ``generator`` in one call (training, inference): the
    # counter of the generator's state follows Keras's, though the numbers come from ``rng``
    _SEED_DRAWS = (1, 0)

    def __init__(self, factor=None, bounding_box_format=None, data_format=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.bounding_box_format = bounding_box_format
        self.data_format = standardize_data_format(data_format)
        self.seed = seed
        # a seeded layer owns its generator, so repeated calls differ but repeat run to run
        self._generator = np.random.default_rng(seed) if seed is not None else None
        if any(c.__name__ in _KERAS_SEEDED for c in type(self).__mro__):
            # its state is one of the layer's variables, as in Keras (the draws themselves come
            # from ``rng``: the layer's own NumPy generator, or the global one without a seed)
            self.generator = SeedGenerator(seed)
        if self._USE_BASE_FACTOR:
            self._set_factor(factor or 0.0)
        elif factor is not None:
            raise ValueError(f"Layer {type(self).__name__} does not take a `factor` argument. "
                             f"Received: factor={factor}")

    def _set_factor(self, factor) -> None:
        lo, hi = self._FACTOR_BOUNDS
        message = (f"{type(self).__name__}: the `factor` argument should be a number (or a list of "
                   f"two numbers) in the range [{lo}, {hi}]. Received: factor={factor}")
        if isinstance(factor, (tuple, list)):
            if len(factor) != 2 or factor[0] > hi or factor[1] < lo:
                raise ValueError(message)
            self.factor = tuple(sorted(factor))
        elif isinstance(factor, (int, float)):
            if factor < lo or factor > hi:
                raise ValueError(message)
            factor = abs(factor)
            self.factor = (max(-factor, lo), factor)
        else:
            raise ValueError(message)

    @property
    def rng(self) -> np.random.Generator:
        return self._generator if self._generator is not None else backend.rng()

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, dict):
            return self._call_dict(inputs, training=kwargs.get("training", True))
        return super().__call__(inputs, *args, **kwargs)

    def _seed_draws(self, images, training) -> int:
        return self._SEED_DRAWS[0 if training else 1]

    def _count_draws(self, images, training) -> None:
        generator = self.__dict__.get("generator")
        if generator is not None:
            for _ in range(self._seed_draws(images, training)):
                generator.next()

    def call(self, inputs, training=True):
        x, unbatched = _batched(type(self).__name__, inputs)
        self._count_draws(x, training)
        transformation = self.get_random_transformation(x, self.rng) if training else None
        out = self.transform_images(x, transformation, training=training)
        return _shape.squeeze(out, 0) if unbatched else out

    def _call_dict(self, data: dict, training=True) -> dict:
        """Keras's dict input: one transformation for the images, boxes, labels and masks."""
        name = type(self).__name__
        data = dict(data)
        images = _as_tensor(data["images"], self.dtype)
        if not self.built:
            self._maybe_build(tuple(images.shape))
        x, unbatched = _batched(name, images)
        self._count_draws(x, training)
        transformation = self.get_random_transformation(x, self.rng) if training else None
        out = self.transform_images(x, transformation, training=training)
        data["images"] = _shape.squeeze(out, 0) if unbatched else out
        if "bounding_boxes" in data:
            if not self.bounding_box_format:
                raise ValueError(f"{name}: the input has a 'bounding_boxes' key but the layer has no "
                                 "`bounding_box_format`; pass one, e.g. `bounding_box_format='xyxy'`.")
            boxes = _dense_boxes(name, data["bounding_boxes"], unbatched)
            boxes = self.transform_bounding_boxes(boxes, transformation, image_shape=tuple(x.shape),
                                                  training=training)
            if unbatched:
                boxes = {k: (v[0] if k in ("boxes", "labels") else v) for k, v in boxes.items()}
            data["bounding_boxes"] = boxes
        if "labels" in data:
            labels = _as_tensor(data["labels"], self.dtype)
            labels = self.transform_labels(_shape.expand_dims(labels, 0) if unbatched else labels,
                                           transformation, training=training)
            data["labels"] = _shape.squeeze(labels, 0) if unbatched else labels
        if "segmentation_masks" in data:
            masks = _as_tensor(data["segmentation_masks"], self.dtype)
            masks = self.transform_segmentation_masks(
                _shape.expand_dims(masks, 0) if unbatched else masks, transformation, training=training)
            data["segmentation_masks"] = _shape.squeeze(masks, 0) if unbatched else masks
        return data

    # What a subclass overrides: draw one transformation per batch (numbers, no graph), then
    # apply it to each part of the data. The defaults keep ``augment(images, rng)`` working:
    # the "transformation" is then the generator itself.
    def get_random_transformation(self, images, rng):
        return rng

    def transform_images(self, images, transformation, training=True):
        return self.augment(images, transformation) if training else self.infer(images)

    def transform_labels(self, labels, transformation, training=True):
        return labels

    def transform_bounding_boxes(self, bounding_boxes, transformation, image_shape, training=True):
        return bounding_boxes

    def transform_segmentation_masks(self, masks, transformation, training=True):
        return masks

    def infer(self, images: Tensor) -> Tensor:
        return images

    def augment(self, images: Tensor, rng: np.random.Generator) -> Tensor:
        raise NotImplementedError

    def image_size(self, shape) -> tuple:
        """(height, width) of a batch of images of ``shape``."""
        h_axis, w_axis = spatial_axes(len(shape), self.data_format)
        return shape[h_axis], shape[w_axis]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        config = {**super().get_config(), "data_format": self.data_format}
        if self.bounding_box_format is not None:
            config["bounding_box_format"] = self.bounding_box_format
        return config


class Pipeline(Layer):
    """Apply ``layers`` one after another (Keras's ``Pipeline``), passing ``training`` on."""

    def __init__(self, layers, name=None):
        super().__init__(name=name)
        self.layers = list(layers)

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, dict):  # Keras's dict input goes through every layer in turn
            training = kwargs.get("training", True)
            for layer in self.layers:
                inputs = layer(inputs, training=training)
            return inputs
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, training=True):
        x = inputs
        for layer in self.layers:
            x = layer(x, training=training) if layer._call_takes_training else layer(x)
        return x

    def compute_output_shape(self, input_shape):
        for layer in self.layers:
            input_shape = layer.compute_output_shape(input_shape)
        return input_shape

    def get_config(self):
        return {"layers": [{"class_name": type(layer).__name__, "config": layer.get_config()}
                           for layer in self.layers], "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layers"] = [builtin_class(c["class_name"]).from_config(c["config"]) for c in config["layers"]]
        return cls(**config)
