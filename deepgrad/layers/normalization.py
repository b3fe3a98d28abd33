"""``BatchNormalization`` and ``LayerNormalization`` on the fused ops of ``ops.normalization``."""
from __future__ import annotations

from .. import initializers, ops
from ..autograd import no_grad
from ..ops.normalization import batch_norm, batch_norm_inference, layer_norm
from .base import Layer
from .arguments import (add_weight_from_arguments, serialize_argument, set_weight_arguments,
                               weight_arguments_config)


def _axes(axis, ndim: int, layer: str, input_shape) -> list[int]:
    axes = [axis] if isinstance(axis, int) else list(axis)
    for a in axes:
        if not -ndim <= a < ndim or a % ndim == 0:
            raise ValueError(f"{layer}: axis {a} is not a feature axis of inputs of shape {tuple(input_shape)}")
        if input_shape[a] is None:
            raise ValueError(f"{layer}: axis {a} of input shape {tuple(input_shape)} must be known")
    return sorted(a % ndim for a in axes)


class _Normalization(Layer):
    """What both layers share: gamma and beta over the feature axes, with their config."""
    _float_inputs = True  # integer inputs are averaged/normalised as floats

    def __init__(self, axis, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                 gamma_regularizer, beta_constraint, gamma_constraint, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int) and not (isinstance(axis, (list, tuple)) and axis
                                               and all(isinstance(a, int) for a in axis)):
            raise ValueError(f"{type(self).__name__}: axis must be an int or a list of ints, got {axis!r}")
        if not epsilon > 0:
            raise ValueError(f"{type(self).__name__}: epsilon must be > 0, got {epsilon}")
        self.axis = axis if isinstance(axis, int) else list(axis)
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        set_weight_arguments(self, "beta", beta_initializer, beta_regularizer, beta_constraint)
        set_weight_arguments(self, "gamma", gamma_initializer, gamma_regularizer, gamma_constraint)
        self.supports_masking = True

    def _build_scale_center(self, input_shape):
        self._feature_axes = _axes(self.axis, len(input_shape), type(self).__name__, input_shape)
        self._built_shape = tuple(input_shape)  # build() may be called directly, before any call
        shape = tuple(input_shape[a] for a in self._feature_axes)
        # the parameters broadcast against the inputs in this shape
        self._broadcast_shape = tuple(input_shape[i] if i in self._feature_axes else 1
                                      for i in range(len(input_shape)))
        self.gamma = add_weight_from_arguments(self, "gamma", shape) if self.scale else None
        self.beta = add_weight_from_arguments(self, "beta", shape) if self.center else None
        return shape

    def _check(self, inputs):
        expected = self._built_shape
        if inputs.ndim != len(expected) or any(inputs.shape[a] != expected[a] for a in self._feature_axes):
            raise ValueError(f"{type(self).__name__} {self.name!r}: built for inputs of shape {tuple(expected)}, "
                             f"got shape {inputs.shape}")

    def _params(self, ndim):
        def broadcast(p):
            if p is None or len(self._feature_axes) == 1 and self._feature_axes[0] == ndim - 1:
                return p
            return ops.reshape(p, (1,) + self._broadcast_shape[1:])
        return broadcast(self.gamma), broadcast(self.beta)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, **weight_arguments_config(self, "beta", "gamma")}


class BatchNormalization(_Normalization):
    """Normalise each feature over the batch (and spatial axes).

    Training (``training=True`` and the layer trainable): batch statistics, biased variance,
    and the moving averages step ``moving = momentum * moving + (1 - momentum) * batch``
    (Keras 3 feeds the same biased variance in; PyTorch's running_var takes the unbiased one).
    Inference: the moving statistics. Weights: gamma, beta, moving_mean, moving_variance.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, synchronized=False, **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint, **kwargs)
        if not isinstance(axis, int):
            raise ValueError(f"BatchNormalization: axis must be an int, got {axis!r}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum}")
        self.momentum = float(momentum)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.synchronized = bool(synchronized)  # one process: nothing to synchronise

    def build(self, input_shape):
        shape = self._build_scale_center(input_shape)
        self.moving_mean = self.add_weight("moving_mean", shape, self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape, self.moving_variance_initializer,
                                               trainable=False)
        self.built = True

    def call(self, inputs, training=None):
        self._check(inputs)
        gamma, beta = self._params(inputs.ndim)
        axis = self._feature_axes[0]
        if training and self.trainable:
            outputs, mean, var = batch_norm(inputs, gamma, beta, axis=axis, epsilon=self.epsilon)
            m = self.momentum
            with no_grad():
                self.moving_mean.assign(self.moving_mean.data * m + mean.astype(self.moving_mean.dtype) * (1 - m))
                self.moving_variance.assign(self.moving_variance.data * m
                                            + var.astype(self.moving_variance.dtype) * (1 - m))
            return outputs
        shape = (1,) + self._broadcast_shape[1:]
        return batch_norm_inference(inputs, self.moving_mean.data.reshape(shape),
                                    self.moving_variance.data.reshape(shape), gamma, beta, self.epsilon)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum,
                "moving_mean_initializer": serialize_argument(initializers, self.moving_mean_initializer),
                "moving_variance_initializer": serialize_argument(initializers, self.moving_variance_initializer),
                "synchronized": self.synchronized}


class LayerNormalization(_Normalization):
    """Normalise each sample over ``axis`` (default the last), then scale by gamma and shift by beta."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, **kwargs):
        if kwargs.pop("rms_scaling", False):
            raise ValueError("LayerNormalization: rms_scaling=True is not supported")
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint, **kwargs)

    def build(self, input_shape):
        self._build_scale_center(input_shape)
        self.built = True

    def call(self, inputs):
        self._check(inputs)
        gamma, beta = self._params(inputs.ndim)
        return layer_norm(inputs, gamma, beta, axis=self._feature_axes, epsilon=self.epsilon)


__all__ = ["BatchNormalization", "LayerNormalization"]
