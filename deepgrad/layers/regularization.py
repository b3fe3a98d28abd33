"""Regularisation layers, active in training only: GaussianNoise, GaussianDropout, AlphaDropout,
SpatialDropout1D/2D/3D (whole channels dropped) and ActivityRegularization.

Noise comes from ``np.random.default_rng(seed)`` when the layer has a ``seed`` (one generator
per layer, advancing call by call, so a seeded run repeats) and from ``backend.rng()`` otherwise.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend, ops, regularizers
from ..autograd import Tensor
from ..seed_generator import SeedGenerator
from ..ops.convolution import data_format_of
from .base import Layer
from .core import Dropout
from .input_spec import InputSpec


def _rate(value, what: str, layer: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or not 0 <= value <= 1:
        raise ValueError(f"{layer}: {what} must be a number in [0, 1], got {value!r}")
    return float(value)


class _Noisy(Layer):
    """A layer whose training call draws random numbers."""

    _built_at_init = True  # no state to create: built when made, as Keras's

    def _own_seed_generator(self, active: bool) -> None:
        """Keras's ``seed_generator`` of a layer that draws (none when its rate or stddev is 0);
        its counter counts the training calls that drew."""
        if active:
            self.seed_generator = SeedGenerator(self.seed)

    def _generator(self) -> np.random.Generator:
        generator = self.__dict__.get("seed_generator")
        if generator is not None:
            generator.next()
        if self.seed is None:
            return backend.rng()
        if "_rng" not in self.__dict__:
            self._rng = np.random.default_rng(self.seed)
        return self._rng

    def _noise(self, shape, dtype, mean: float, stddev: float) -> Tensor:
        # drawn in float64 and cast, so float32 and float64 runs with one seed see the same noise
        return Tensor(self._generator().normal(mean, stddev, size=shape).astype(dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class GaussianNoise(_Noisy):
    """``inputs + N(0, stddev^2)`` in training; the identity otherwise."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = _rate(stddev, "stddev", "GaussianNoise")
        self.seed = seed
        self._own_seed_generator(self.stddev > 0)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or self.stddev == 0:
            return inputs
        return inputs + self._noise(inputs.shape, inputs.dtype, 0.0, self.stddev)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_Noisy):
    """``inputs * N(1, rate / (1 - rate))`` in training: multiplicative noise of mean 1."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _rate(rate, "rate", "GaussianDropout")
        self.seed = seed
        self._own_seed_generator(self.rate > 0)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        return inputs * self._noise(inputs.shape, inputs.dtype, 1.0, math.sqrt(self.rate / (1.0 - self.rate)))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


# SELU's constants: alpha' = -scale * alpha is the value SELU saturates to
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class AlphaDropout(_Noisy):
    """Dropout that keeps SELU's self-normalising mean and variance: dropped units take the
    saturation value ``alpha' = -scale * alpha``, then ``a x + b`` restores the moments with
    ``a = ((1 - rate)(1 + rate alpha'^2))^(-1/2)`` and ``b = -a alpha' rate``."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _rate(rate, "rate", "AlphaDropout")
        self.noise_shape = tuple(noise_shape) if noise_shape is not None else None
        self.seed = seed
        self._own_seed_generator(self.rate > 0)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        shape = inputs.shape if self.noise_shape is None else \
            tuple(s if n is None else n for n, s in zip(self.noise_shape, inputs.shape))
        keep = (self._generator().random(shape) >= self.rate).astype(inputs.dtype)
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        # a (x keep + alpha' (1 - keep)) + b, as one affine map of x per kept/dropped cell
        return inputs * Tensor(a * keep) + Tensor((a * alpha_p * (1 - keep) + b).astype(inputs.dtype))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": list(self.noise_shape) if self.noise_shape is not None else None}


class _SpatialDropout(Dropout):
    """Dropout of whole feature maps: one keep/drop draw per (sample, channel)."""

    rank = 1

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None):
        super().__init__(rate, seed=seed, name=name, dtype=dtype)
        self.data_format = data_format_of(data_format, type(self).__name__)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs, training=False):
        ones = (1,) * self.rank
        batch = inputs.shape[0]
        if self.data_format == "channels_first":
            self.noise_shape = (batch, inputs.shape[1]) + ones
        else:
            self.noise_shape = (batch,) + ones + (inputs.shape[-1],)
        return super().call(inputs, training=training)

    def get_config(self):
        config = {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": str(self.dtype)}
        if self.rank > 1:
            config["data_format"] = self.data_format
        return config


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of ``(batch, steps, channels)`` inputs."""

    def __init__(self, rate, seed=None, name=None, dtype=None):
        super().__init__(rate, seed=seed, name=name, dtype=dtype)


class SpatialDropout2D(_SpatialDropout):
    rank = 2

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None):
        super().__init__(rate, data_format=data_format, seed=seed, name=name, dtype=dtype)


class SpatialDropout3D(_SpatialDropout):
    rank = 3

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None):
        super().__init__(rate, data_format=data_format, seed=seed, name=name, dtype=dtype)


class ActivityRegularization(Layer):
    """The identity, adding ``(l1 * sum|x| + l2 * sum x^2) / batch`` to the layer's losses."""

    _built_at_init = True  # no state to create: built when made, as Keras's

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.l1, self.l2 = l1, l2
        self.activity_regularizer = regularizers.L1L2(l1=l1, l2=l2)
        self.supports_masking = True

    def call(self, inputs):
        self._add_activity_loss(inputs)
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}


__all__ = ["ActivityRegularization", "AlphaDropout", "GaussianDropout", "GaussianNoise", "SpatialDropout1D",
           "SpatialDropout2D", "SpatialDropout3D"]
