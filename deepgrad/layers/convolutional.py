"""Conv1D and Conv2D, channels-last, with Keras kernel layouts: (k, in, filters) and (kh, kw, in, filters)."""
from __future__ import annotations

import numpy as np

from .. import activations
from ..ops.im2col import conv1d, conv1d_relu, conv2d, conv2d_relu, conv_output_length
from .arguments import forwarded_arguments
from .core import KernelLayer


def _tuple(value, rank: int, name: str, layer: str) -> tuple:
    """``3`` -> ``(3, 3)`` for rank 2; a tuple/list of ``rank`` positive ints stays."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),) * rank
    try:
        value = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{layer}: {name} must be an int or a tuple of {rank} ints, got {value!r}") from None
    if len(value) != rank or min(value) < 1:
        raise ValueError(f"{layer}: {name} must be a positive int or a tuple of {rank} positive ints, got {value}")
    return value


def check_data_format(data_format, layer: str) -> str:
    if data_format in (None, "channels_last"):
        return "channels_last"
    if data_format == "channels_first":
        raise ValueError(f"{layer}: only data_format='channels_last' (batch, ..., channels) is supported; "
                         "transpose channels-first inputs first")
    raise ValueError(f"{layer}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")


class BaseConv(KernelLayer):
    """What Conv1D and Conv2D share; ``rank`` is the number of spatial axes."""

    rank = 2
    paddings = ("valid", "same")
    _conv = _conv_relu = None  # the op functions, set by each subclass

    def __init__(self, filters, kernel_size, *, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        layer = type(self).__name__
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters <= 0:
            raise ValueError(f"{layer}: filters must be a positive integer, got {filters!r}")
        if groups != 1:
            raise ValueError(f"{layer}: grouped convolution (groups={groups!r}) is not supported; use groups=1")
        if not isinstance(padding, str) or padding.lower() not in self.paddings:
            raise ValueError(f"{layer}: padding must be one of {self.paddings}, got {padding!r}")
        self.filters = int(filters)
        self.kernel_size = _tuple(kernel_size, self.rank, "kernel_size", layer)
        self.strides = _tuple(strides, self.rank, "strides", layer)
        self.dilation_rate = _tuple(dilation_rate, self.rank, "dilation_rate", layer)
        self.padding = padding.lower()
        self.data_format = check_data_format(data_format, layer)
        self.groups = 1
        self._set_kernel_arguments(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                                   bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint)

    def _check_input(self, shape):
        shape = tuple(shape)
        if len(shape) != self.rank + 2:
            axes = "(batch, steps, channels)" if self.rank == 1 else "(batch, height, width, channels)"
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected inputs of rank {self.rank + 2} "
                             f"{axes}, got shape {shape}")
        if self.built and shape[-1] != self.kernel.shape[-2]:
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected inputs with {self.kernel.shape[-2]} "
                             f"channels (last axis), got shape {shape}")

    def build(self, input_shape):
        self._check_input(input_shape)
        if input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: the channel axis (last) must be known, "
                             f"got shape {tuple(input_shape)}")
        self._add_kernel_and_bias(self.kernel_size + (int(input_shape[-1]), self.filters))

    def call(self, inputs):
        self._check_input(inputs.shape)
        relu = self.activation is activations.relu  # fused into the convolution
        conv = self._conv_relu if relu else self._conv
        strides, dilation = self.strides, self.dilation_rate
        if self.rank == 1:  # the 1-D ops take plain ints
            strides, dilation = strides[0], dilation[0]
        outputs = conv(inputs, self.kernel, self.bias, strides, self.padding, dilation)
        if not relu:
            outputs = self.activation(outputs)
        self._add_activity_loss(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        self._check_input(input_shape)
        spatial = tuple(conv_output_length(n, k, s, self.padding, d) for n, k, s, d in
                        zip(input_shape[1:-1], self.kernel_size, self.strides, self.dilation_rate))
        return (input_shape[0],) + spatial + (self.filters,)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate), "groups": self.groups, **self._kernel_config()}


class Conv2D(BaseConv):
    """2-D convolution over (batch, height, width, channels); kernel (kh, kw, in, filters)."""

    rank = 2
    _conv, _conv_relu = staticmethod(conv2d), staticmethod(conv2d_relu)

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**forwarded_arguments(locals()))


class Conv1D(BaseConv):
    """1-D convolution over (batch, steps, channels); kernel (k, in, filters); also "causal" padding."""

    rank = 1
    paddings = ("valid", "same", "causal")
    _conv, _conv_relu = staticmethod(conv1d), staticmethod(conv1d_relu)

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**forwarded_arguments(locals()))


Convolution1D = Conv1D
Convolution2D = Conv2D

__all__ = ["Conv1D", "Conv2D", "Convolution1D", "Convolution2D"]
