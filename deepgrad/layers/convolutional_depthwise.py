"""Depthwise and separable convolutions, 1-D and 2-D, with Keras's weights.

``DepthwiseConv*D``: each input channel convolved with its own ``depth_multiplier`` filters;
weights ``kernel (*kernel, in, depth_multiplier)`` and ``bias (in * depth_multiplier,)``.
``SeparableConv*D``: that depthwise convolution, then a 1x1 convolution mixing the channels;
weights ``depthwise_kernel (*kernel, in, m)``, ``pointwise_kernel (1, ..., in * m, filters)``,
``bias (filters,)``.
"""
from __future__ import annotations

import numpy as np

from .. import activations, regularizers
from ..ops.im2col import conv_output_length
from ..ops.convolution import (depthwise_conv_bias, depthwise_conv_bias_relu, separable_conv_bias,
                                separable_conv_bias_relu)
from .arguments import (add_weight_from_arguments, forwarded_arguments, serialize_argument, set_weight_arguments,
                        weight_arguments_config)
from .base import Layer, apply_activation
from .convolutional import SpatialLayerMixin, _tuple, resolve_data_format


def _positive(value, name: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return int(value)


class BaseDepthwiseConv(SpatialLayerMixin, Layer):
    """The geometry, activation, bias and config shared by the depthwise and separable layers."""

    kernels = ("depthwise",)  # the weight-argument prefixes, in Keras's config order

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, bias_initializer="zeros", bias_regularizer=None,
                 activity_regularizer=None, bias_constraint=None, **kwargs):
        # depthwise_* (and pointwise_*) triples arrive by name from the subclass's signature
        weight_arguments = {prefix: [kwargs.pop(f"{prefix}_{suffix}", default)
                                     for suffix, default in (("initializer", "glorot_uniform"),
                                                             ("regularizer", None), ("constraint", None))]
                            for prefix in self.kernels}
        super().__init__(**kwargs)
        layer = type(self).__name__
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(f"{layer}: padding must be one of ('valid', 'same'), got {padding!r}")
        self.depth_multiplier = _positive(depth_multiplier, "depth_multiplier", layer)
        self.kernel_size = _tuple(kernel_size, self.rank, "kernel_size", layer)
        self.strides = _tuple(strides, self.rank, "strides", layer)
        self.dilation_rate = _tuple(dilation_rate, self.rank, "dilation_rate", layer)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{layer}: strides > 1 cannot be combined with dilation_rate > 1, got "
                             f"strides={self.strides}, dilation_rate={self.dilation_rate}")
        self.padding = padding.lower()
        self.data_format = resolve_data_format(data_format, layer)
        self._set_input_spec()
        self.activation = activations.get(activation)
        self.activation_name = activations.serialize(self.activation)
        self.use_bias = bool(use_bias)
        for prefix, (initializer, regularizer, constraint) in weight_arguments.items():
            set_weight_arguments(self, prefix, initializer, regularizer, constraint)
        set_weight_arguments(self, "bias", bias_initializer, bias_regularizer, bias_constraint)
        self.activity_regularizer = regularizers.get(activity_regularizer)

    def _convolve(self, op, fused_relu_op, *operands):
        """The layer's op on ``operands`` (inputs, kernels, bias), then its activation: a ReLU is
        fused into the op (``fused_relu_op``), as Conv2D fuses its own."""
        relu = self.activation is activations.relu
        outputs = (fused_relu_op if relu else op)(*operands, self.strides, self.padding, self.data_format,
                                                  self.dilation_rate)
        if not relu:
            outputs = apply_activation(self.activation, outputs)
        self._add_activity_loss(outputs)
        return outputs

    def _output_spatial(self, input_shape) -> tuple:
        return tuple(conv_output_length(n, k, s, self.padding, d) for n, k, s, d in
                     zip(self._spatial(input_shape), self.kernel_size, self.strides, self.dilation_rate))

    def get_config(self):
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier,
                "kernel_size": tuple(self.kernel_size), "strides": tuple(self.strides), "padding": self.padding,
                "data_format": self.data_format, "dilation_rate": tuple(self.dilation_rate),
                "activation": self.activation_name, "use_bias": self.use_bias,
                **weight_arguments_config(self, *self.kernels, "bias"),
                "activity_regularizer": serialize_argument(regularizers, self.activity_regularizer)}


class BaseDepthwiseConvLayer(BaseDepthwiseConv):
    """``depthwise_conv(x, kernel) + bias``: ``in * depth_multiplier`` output channels."""

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.kernel = add_weight_from_arguments(self, "depthwise", self.kernel_size + (channels, self.depth_multiplier),
                                                name="kernel")
        self.bias = (add_weight_from_arguments(self, "bias", (channels * self.depth_multiplier,))
                     if self.use_bias else None)
        self.built = True

    def call(self, inputs):
        self._check_rank(inputs.shape)  # the spec checked the channels and the least rank
        return self._convolve(depthwise_conv_bias, depthwise_conv_bias_relu, inputs, self.kernel, self.bias)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        channels = input_shape[self._channel_axis]
        return self._with_channels(input_shape[0], self._output_spatial(input_shape),
                                   None if channels is None else channels * self.depth_multiplier)


class BaseSeparableConv(BaseDepthwiseConv):
    """``separable_conv(x, depthwise_kernel, pointwise_kernel) + bias``: ``filters`` output channels."""

    kernels = ("depthwise", "pointwise")

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(kernel_size, **kwargs)
        self.filters = _positive(filters, "filters", type(self).__name__)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.depthwise_kernel = add_weight_from_arguments(
            self, "depthwise", self.kernel_size + (channels, self.depth_multiplier), name="depthwise_kernel")
        self.pointwise_kernel = add_weight_from_arguments(
            self, "pointwise", (1,) * self.rank + (channels * self.depth_multiplier, self.filters),
            name="pointwise_kernel")
        self.bias = add_weight_from_arguments(self, "bias", (self.filters,)) if self.use_bias else None
        self.built = True

    def call(self, inputs):
        self._check_rank(inputs.shape)  # the spec checked the channels and the least rank
        return self._convolve(separable_conv_bias, separable_conv_bias_relu, inputs, self.depthwise_kernel,
                              self.pointwise_kernel, self.bias)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        return self._with_channels(input_shape[0], self._output_spatial(input_shape), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


class DepthwiseConv1D(BaseDepthwiseConvLayer):
    """Depthwise 1-D convolution over (batch, steps, channels); kernel (k, in, depth_multiplier)."""

    rank = 1

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**forwarded_arguments(locals()))


class DepthwiseConv2D(BaseDepthwiseConvLayer):
    """Depthwise 2-D convolution over (batch, height, width, channels); kernel (kh, kw, in, depth_multiplier)."""

    rank = 2

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**forwarded_arguments(locals()))


class SeparableConv1D(BaseSeparableConv):
    """Depthwise then pointwise 1-D convolution over (batch, steps, channels)."""

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**forwarded_arguments(locals()))


class SeparableConv2D(BaseSeparableConv):
    """Depthwise then pointwise 2-D convolution over (batch, height, width, channels)."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**forwarded_arguments(locals()))


SeparableConvolution1D = SeparableConv1D
SeparableConvolution2D = SeparableConv2D

__all__ = ["DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D",
           "SeparableConvolution2D"]
