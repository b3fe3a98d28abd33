"""Activation layers with arguments: ReLU, LeakyReLU, PReLU (a learned slope), ELU and Softmax
(with an optional mask). ``Activation`` (any named activation) lives in ``core``."""
from __future__ import annotations

import numpy as np

from .. import activations, ops
from ..autograd import Tensor
from .arguments import add_weight_from_arguments, set_weight_arguments, weight_arguments_config
from .base import Layer
from .input_spec import InputSpec


def _non_negative(value, name: str, layer: str, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or value < 0:
        raise ValueError(f"{layer}: {name} must be a number >= 0, got {value!r}")
    return float(value)


class _ElementwiseActivation(Layer):
    """An activation applied cell by cell: shape and mask pass through unchanged."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class ReLU(_ElementwiseActivation):
    """``x`` above ``threshold``, ``negative_slope * (x - threshold)`` below, capped at ``max_value``."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _non_negative(max_value, "max_value", "ReLU", allow_none=True)
        self.negative_slope = _non_negative(negative_slope, "negative_slope", "ReLU")
        self.threshold = _non_negative(threshold, "threshold", "ReLU")

    def call(self, inputs):
        return activations.relu(inputs, negative_slope=self.negative_slope, max_value=self.max_value,
                                threshold=self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(_ElementwiseActivation):
    """``x`` for ``x >= 0``, ``negative_slope * x`` below (Keras 2's ``alpha`` is read as ``negative_slope``)."""

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.negative_slope = _non_negative(negative_slope, "negative_slope", "LeakyReLU")

    def call(self, inputs):
        return activations.leaky_relu(inputs, negative_slope=self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(_ElementwiseActivation):
    """``x`` for ``x > 0``, ``alpha (exp(x) - 1)`` below."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, inputs):
        return activations.elu(inputs, alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class PReLU(Layer):
    """``max(x, 0) - alpha * max(-x, 0)`` with a learned ``alpha`` of shape ``input_shape[1:]``,
    of size 1 along ``shared_axes`` (e.g. ``[1, 2]`` for one slope per channel of an image)."""

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        set_weight_arguments(self, "alpha", alpha_initializer, alpha_regularizer, alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) or a < 1 for a in axes):
                raise ValueError(f"PReLU: shared_axes must be axes >= 1 (the batch axis 0 is always shared), "
                                 f"got {shared_axes!r}")
            self.shared_axes = [int(a) for a in axes]

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if axis > len(shape):
                raise ValueError(f"PReLU {self.name!r}: shared axis {axis} is out of range for inputs of shape "
                                 f"{tuple(input_shape)}")
            shape[axis - 1] = 1
        if any(s is None for s in shape):
            raise ValueError(f"PReLU {self.name!r}: every non-shared axis must be known, got shape "
                             f"{tuple(input_shape)}; share the unknown axes with shared_axes")
        self.alpha = add_weight_from_arguments(self, "alpha", tuple(shape))
        # Keras's spec: the rank, and the size of each axis alpha does not share (only when some are shared)
        self.input_spec = InputSpec(ndim=len(input_shape), axes={
            i: input_shape[i] for i in range(1, len(input_shape)) if i not in self.shared_axes}
            if self.shared_axes else None)
        self.built = True

    def call(self, inputs):  # the spec holds the rank; alpha must still broadcast over the inputs
        if any(a not in (1, n) for a, n in zip(self.alpha.shape, inputs.shape[1:])):
            raise ValueError(f"PReLU {self.name!r}: inputs of shape {inputs.shape} do not match alpha of shape "
                             f"{self.alpha.shape}")
        return ops.relu(inputs) - self.alpha * ops.relu(-inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), **weight_arguments_config(self, "alpha"), "shared_axes": self.shared_axes}


class Softmax(_ElementwiseActivation):
    """``exp(x - logsumexp(x, axis))``; ``axis`` may be a list. Where ``mask`` is false (or <= 0.5)
    the logit is replaced by -1e9 before, and the output set to 0 after."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)

    def call(self, inputs, mask=None):
        if mask is not None:
            mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
            if mask.ndim > inputs.ndim or any(m != 1 and m != i for m, i in zip(mask.shape[::-1],
                                                                                inputs.shape[::-1])):
                raise ValueError(f"Softmax {self.name!r}: the mask must broadcast to the inputs, got mask shape "
                                 f"{mask.shape} for inputs of shape {inputs.shape}")
            if mask.dtype != bool:
                mask = mask > 0.5
            inputs = ops.where(mask, inputs, -3e4 if inputs.dtype == np.float16 else -1e9)
        if isinstance(self.axis, list) and len(self.axis) > 1:
            axis = tuple(self.axis)
            outputs = ops.exp(inputs - ops.logsumexp(inputs, axis=axis, keepdims=True))
        else:
            outputs = activations.softmax(inputs, axis=self.axis[0] if isinstance(self.axis, list) else self.axis)
        if mask is not None:  # a fully masked row would otherwise come out uniform
            outputs = ops.where(mask, outputs, 0.0)
        return outputs

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


__all__ = ["ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax"]
