"""The base of Keras's image preprocessing layers: data format, factor ranges, the random
generator, and the rule that random augmentation runs only with ``training=True``."""
from __future__ import annotations

import numpy as np

from ... import backend
from ...autograd import Tensor
from ...ops import manipulation as _shape
from ...ops.image import _data_format
from ..base import Layer, builtin_class


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


class BaseImagePreprocessingLayer(Layer):
    """Subclasses implement ``augment(images, rng)`` on a batch (rank 4) and, when inference is
    not the identity, ``infer(images)``. A rank-3 image is treated as a batch of one."""

    _FACTOR_BOUNDS = (-1, 1)
    _USE_BASE_FACTOR = True

    def __init__(self, factor=None, data_format=None, seed=None, **kwargs):
        kwargs.pop("bounding_box_format", None)
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.seed = seed
        # a seeded layer owns its generator, so repeated calls differ but repeat run to run
        self._generator = np.random.default_rng(seed) if seed is not None else None
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

    def call(self, inputs, training=True):
        if not training:
            return self.infer(inputs)
        x, unbatched = (_shape.expand_dims(inputs, 0), True) if inputs.ndim == 3 else (inputs, False)
        if x.ndim != 4:
            raise ValueError(f"{type(self).__name__}: expected images of rank 3 or 4. "
                             f"Received inputs.shape={tuple(inputs.shape)}")
        out = self.augment(x, self.rng)
        return _shape.squeeze(out, 0) if unbatched else out

    def infer(self, images: Tensor) -> Tensor:
        return images

    def augment(self, images: Tensor, rng: np.random.Generator) -> Tensor:
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format}


class Pipeline(Layer):
    """Apply ``layers`` one after another (Keras's ``Pipeline``), passing ``training`` on."""

    def __init__(self, layers, name=None):
        super().__init__(name=name)
        self.layers = list(layers)

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
