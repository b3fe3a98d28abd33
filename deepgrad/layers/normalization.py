"""Normalisation layers: ``BatchNormalization`` and ``LayerNormalization`` on the fused ops of
``ops.normalization``; ``GroupNormalization``, ``UnitNormalization``, ``RMSNormalization`` and the
``SpectralNormalization`` wrapper."""
from __future__ import annotations

import numpy as np

from .. import backend, initializers, ops
from ..autograd import Tensor, no_grad
from ..ops.normalization import batch_norm, batch_norm_inference, layer_norm
from .base import Layer
from .input_spec import InputSpec
from .wrappers import Wrapper
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
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.integer, np.floating)) \
                or not epsilon > 0:
            raise ValueError(f"{type(self).__name__}: epsilon must be > 0, got {epsilon!r}")
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

    ``renorm=True`` is batch renormalisation (Ioffe, 2017): in training the normalised batch is
    corrected towards the renorm moving statistics, ``x_hat * r + d`` with
    ``r = sigma_B / sigma_renorm`` and ``d = (mu_B - mu_renorm) / sigma_renorm`` (constants for the
    gradient, clipped by ``renorm_clipping`` {"rmin", "rmax", "dmax"}); ``renorm_mean`` and
    ``renorm_stddev`` move with ``renorm_momentum``, ``moving_stddev`` with ``momentum``, and
    ``moving_variance = max(moving_stddev^2 - epsilon, 0)``, as Keras keeps them (three more weights).
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint, **kwargs)
        if not isinstance(axis, int):
            raise ValueError(f"BatchNormalization: axis must be an int, got {axis!r}")
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float, np.integer, np.floating)) \
                or not 0 <= momentum <= 1:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum!r}")
        self.momentum = float(momentum)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.synchronized = bool(synchronized)  # one process: nothing to synchronise
        self.renorm = bool(renorm)
        if self.renorm:
            renorm_clipping = dict(renorm_clipping or {})
            unknown = set(renorm_clipping) - {"rmax", "rmin", "dmax"}
            if unknown:
                raise ValueError(f"BatchNormalization: renorm_clipping takes the keys 'rmax', 'rmin' and 'dmax', "
                                 f"got {sorted(unknown)}")
            rmax, rmin, dmax = (renorm_clipping.get(k) for k in ("rmax", "rmin", "dmax"))
            if rmax is not None and rmin is not None and rmax < rmin:
                raise ValueError(f"BatchNormalization: renorm_clipping needs rmax >= rmin, got rmax={rmax}, "
                                 f"rmin={rmin}")
            if dmax is not None and dmax < 0:
                raise ValueError(f"BatchNormalization: renorm_clipping needs dmax >= 0, got dmax={dmax}")
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = float(renorm_momentum)

    def build(self, input_shape):
        shape = self._build_scale_center(input_shape)
        self.moving_mean = self.add_weight("moving_mean", shape, self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape, self.moving_variance_initializer,
                                               trainable=False)
        if self.renorm:
            def moving_stddev_initializer(shape, dtype=None):  # sqrt of the variance's initial value
                return np.sqrt(np.asarray(self.moving_variance_initializer(shape, dtype=dtype)))
            self.moving_stddev = self.add_weight("moving_stddev", shape, moving_stddev_initializer, trainable=False)
            self.renorm_mean = self.add_weight("renorm_mean", shape, self.moving_mean_initializer, trainable=False)
            self.renorm_stddev = self.add_weight("renorm_stddev", shape, moving_stddev_initializer, trainable=False)
        self.input_spec = InputSpec(ndim=len(input_shape), axes={self.axis: input_shape[self.axis]})
        self.built = True

    def call(self, inputs, training=None):  # the input spec holds inputs to the rank and features built for
        gamma, beta = self._params(inputs.ndim)
        axis = self._feature_axes[0]
        if training and self.trainable and self.renorm:
            return self._renormalized(inputs, gamma, beta, axis)
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

    def _renormalized(self, inputs, gamma, beta, axis):
        """Training with batch renormalisation: ``(x_hat * r + d) * gamma + beta``, r and d held constant."""
        eps = self.epsilon
        reduce = tuple(i for i in range(inputs.ndim) if i != axis % inputs.ndim)
        mean, var = inputs.data.mean(axis=reduce), inputs.data.var(axis=reduce)
        std = np.sqrt(var + eps)
        renorm_std = np.maximum(self.renorm_stddev.data, np.sqrt(eps))  # no division by ~0 early on
        r = std / renorm_std
        d = (mean - self.renorm_mean.data) / renorm_std
        clip = self.renorm_clipping
        if clip.get("rmin") is not None:
            r = np.maximum(r, clip["rmin"])
        if clip.get("rmax") is not None:
            r = np.minimum(r, clip["rmax"])
        if clip.get("dmax") is not None:
            d = np.clip(d, -clip["dmax"], clip["dmax"])
        shape = (1,) + self._broadcast_shape[1:]
        r, d = Tensor(r.astype(inputs.dtype).reshape(shape)), Tensor(d.astype(inputs.dtype).reshape(shape))
        scale = r if gamma is None else gamma * r
        offset = d if gamma is None else d * gamma
        offset = offset if beta is None else offset + beta
        outputs, _, _ = batch_norm(inputs, scale, offset, axis=axis, epsilon=eps)
        m, rm = self.momentum, self.renorm_momentum
        with no_grad():
            self.renorm_mean.assign(self.renorm_mean.data * rm + mean * (1 - rm))
            self.renorm_stddev.assign(self.renorm_stddev.data * rm + std * (1 - rm))
            self.moving_mean.assign(self.moving_mean.data * m + mean * (1 - m))
            moving_std = self.moving_stddev.data * m + std * (1 - m)
            self.moving_stddev.assign(moving_std)
            self.moving_variance.assign(np.maximum(moving_std * moving_std - eps, 0))
        return outputs

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum,
                "moving_mean_initializer": serialize_argument(initializers, self.moving_mean_initializer),
                "moving_variance_initializer": serialize_argument(initializers, self.moving_variance_initializer),
                "renorm": self.renorm, "renorm_clipping": self.renorm_clipping,
                "renorm_momentum": self.renorm_momentum, "synchronized": self.synchronized}


class LayerNormalization(_Normalization):
    """Normalise each sample over ``axis`` (default the last), then scale by gamma and shift by beta.

    ``rms_scaling=True`` (deprecated in Keras, kept for its files) divides by
    ``sqrt(var + epsilon)`` without centering and has gamma only.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, **kwargs):
        self.rms_scaling = bool(kwargs.pop("rms_scaling", False))
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint, **kwargs)

    def build(self, input_shape):
        if self.rms_scaling:  # gamma always, beta never
            center, scale = self.center, self.scale
            self.center, self.scale = False, True
            self._build_scale_center(input_shape)
            self.center, self.scale = center, scale
        else:
            self._build_scale_center(input_shape)
        # Keras keeps the axes as a sorted list once built (its config shows [-1] then)
        self.axis = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        self.built = True

    def call(self, inputs):
        self._check(inputs)
        gamma, beta = self._params(inputs.ndim)
        if self.rms_scaling:
            return ops.layer_normalization(inputs, gamma, None, axis=self._feature_axes, epsilon=self.epsilon,
                                           rms_scaling=True)
        return layer_norm(inputs, gamma, beta, axis=self._feature_axes, epsilon=self.epsilon)

    def get_config(self):
        config = super().get_config()
        return {**{k: config[k] for k in list(config)[:list(config).index("scale") + 1]},
                "rms_scaling": self.rms_scaling, **config}




# ----------------------------------------------------------------- GroupNormalization
class GroupNormalization(Layer):
    """Normalise each sample over groups of channels (Wu & He, 2018).

    The ``C`` channels of ``axis`` split into ``groups`` groups of ``C / groups``; each group is
    normalised over its channels and every other non-batch axis, then gamma and beta (one per
    channel) scale and shift it. ``groups=-1`` is instance normalisation (one channel a group).
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        if isinstance(groups, bool) or not isinstance(groups, int) or (groups <= 0 and groups != -1):
            raise ValueError(f"GroupNormalization: groups must be a positive integer or -1, got {groups!r}")
        if not isinstance(axis, int):
            raise ValueError(f"GroupNormalization: axis must be an int, got {axis!r}")
        super().__init__(**kwargs)
        self.groups, self.axis, self.epsilon = groups, axis, float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        set_weight_arguments(self, "beta", beta_initializer, beta_regularizer, beta_constraint)
        set_weight_arguments(self, "gamma", gamma_initializer, gamma_regularizer, gamma_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim or self.axis % ndim == 0:
            raise ValueError(f"GroupNormalization {self.name!r}: axis {self.axis} is not a feature axis of inputs "
                             f"of shape {tuple(input_shape)}")
        dim = input_shape[self.axis]
        if dim is None:
            raise ValueError(f"GroupNormalization {self.name!r}: axis {self.axis} of input shape "
                             f"{tuple(input_shape)} must be known")
        if self.groups == -1:
            self.groups = dim
        if dim < self.groups or dim % self.groups:
            raise ValueError(f"GroupNormalization {self.name!r}: {dim} channels cannot be split into "
                             f"{self.groups} equal groups")
        self._channel_axis = self.axis % ndim
        self.input_spec = InputSpec(ndim=ndim, axes={self.axis: dim})
        self.gamma = add_weight_from_arguments(self, "gamma", (dim,)) if self.scale else None
        self.beta = add_weight_from_arguments(self, "beta", (dim,)) if self.center else None
        self.built = True

    def call(self, inputs):  # the input spec holds inputs to the rank and channels built for
        axis = self._channel_axis
        shape = inputs.shape
        c = shape[axis]
        # (..., groups, C / groups, ...): statistics over every axis but the batch and the group
        grouped = ops.reshape(inputs, shape[:axis] + (self.groups, c // self.groups) + shape[axis + 1:])
        reduce = [i for i in range(1, grouped.ndim) if i != axis]
        normalized = ops.reshape(ops.layer_normalization(grouped, axis=reduce, epsilon=self.epsilon), shape)
        broadcast = tuple(c if i == axis else 1 for i in range(len(shape)))
        if self.gamma is not None:
            normalized = normalized * ops.reshape(self.gamma, broadcast)
        if self.beta is not None:
            normalized = normalized + ops.reshape(self.beta, broadcast)
        return normalized

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, **weight_arguments_config(self, "beta", "gamma")}


# ----------------------------------------------------------------- UnitNormalization, RMSNormalization
def _axis_argument(axis, layer: str):
    if isinstance(axis, (list, tuple)) and axis and all(isinstance(a, int) for a in axis):
        return list(axis)
    if isinstance(axis, int) and not isinstance(axis, bool):
        return axis
    raise TypeError(f"{layer}: axis must be an int or a list/tuple of ints, got {axis!r}")


class UnitNormalization(Layer):
    """``x / max(||x||_2, 1e-12)`` over ``axis``: unit L2 norm along the axis (no weights)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axis_argument(axis, "UnitNormalization")
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return ops.normalize(inputs, axis=self.axis, order=2, epsilon=1e-12)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class RMSNormalization(Layer):
    """``x / sqrt(mean(x^2) + epsilon) * scale`` with the mean over ``axis`` (Zhang & Sennrich, 2019)."""

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axis_argument(axis, "RMSNormalization")
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        axes = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            if not -len(input_shape) <= a < len(input_shape) or input_shape[a] is None:
                raise ValueError(f"RMSNormalization {self.name!r}: axis {a} is not a known axis of inputs of "
                                 f"shape {tuple(input_shape)}")
        self.axis = axes  # as Keras, the built layer keeps its axes as a sorted list
        self.scale = self.add_weight("scale", tuple(input_shape[a] for a in axes), "ones")
        self.built = True

    def call(self, inputs):
        return ops.rms_normalization(inputs, scale=self.scale, axis=self.axis, epsilon=self.epsilon)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}


# ----------------------------------------------------------------- SpectralNormalization
class SpectralNormalization(Wrapper):
    """Wraps a layer with a ``kernel`` (or ``embeddings``) and divides it by its largest singular
    value ``sigma`` in training (Miyato et al., 2018).

    ``sigma`` comes from power iteration on ``W`` (the kernel as ``(-1, units)``) with the
    persistent vector ``u (1, units)``, ``power_iterations`` steps per training call:
    ``v = u W^T / ||u W^T||``, ``u = v W / ||v W||``, ``sigma = v W u^T``; then
    ``kernel <- kernel / sigma`` and ``vector_u <- u``, as Keras assigns them. Weights in
    Keras's order: the kernel, ``vector_u``, then the wrapped layer's other weights.
    """

    def __init__(self, layer, power_iterations=1, **kwargs):
        super().__init__(layer, **kwargs)  # a config dict (from a file) becomes the layer
        if isinstance(power_iterations, bool) or not isinstance(power_iterations, int) or power_iterations <= 0:
            raise ValueError(f"SpectralNormalization: power_iterations must be a positive integer, "
                             f"got {power_iterations!r}")
        self.power_iterations = power_iterations

    def build(self, input_shape):
        self.layer._maybe_build(input_shape)
        self.input_spec = InputSpec(min_ndim=1, axes={-1: input_shape[-1]})
        kernel = getattr(self.layer, "kernel", None)
        if kernel is None:
            kernel = getattr(self.layer, "embeddings", None)
        if kernel is None:
            raise ValueError(f"SpectralNormalization {self.name!r}: {type(self.layer).__name__} has neither a "
                             "kernel nor embeddings")
        self.kernel = kernel
        self.vector_u = self.add_weight("vector_u", (1, kernel.shape[-1]), initializers.TruncatedNormal(stddev=0.02),
                                        dtype=kernel.dtype, trainable=False)
        self.built = True

    @property
    def weights(self):
        """Keras's order: the kernel, ``vector_u``, the wrapped layer's other weights."""
        if not self.built:
            return self.layer.weights
        rest = [w for w in self.layer.weights if w is not self.kernel]
        return [self.kernel, self.vector_u] + rest

    def normalized_weights(self):
        """``(u, kernel / sigma)`` after ``power_iterations`` steps, as arrays (no gradient flows)."""
        w = self.kernel.data.reshape(-1, self.kernel.shape[-1])
        u = self.vector_u.data

        def unit(a):
            return a / max(np.sqrt(np.sum(a * a)), backend.epsilon())

        for _ in range(self.power_iterations):
            v = unit(u @ w.T)
            u = unit(v @ w)
        sigma = (v @ w) @ u.T
        return u.astype(self.vector_u.dtype), (self.kernel.data / sigma).astype(self.kernel.dtype)

    def call(self, inputs, training=False):
        if training and np.any(self.kernel.data != 0):
            u, kernel = self.normalized_weights()
            self.vector_u.assign(u)
            self.kernel.assign(kernel)
        kwargs = {"training": training} if self.layer._call_takes_training else {}
        return self.layer(inputs, **kwargs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}


__all__ = ["BatchNormalization", "GroupNormalization", "LayerNormalization", "RMSNormalization",
           "SpectralNormalization", "UnitNormalization"]
