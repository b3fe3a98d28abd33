"""Conv1D, Conv2D and Conv3D with Keras kernel layouts: (*kernel, in_channels / groups, filters).

Channels-last Conv1D/Conv2D without groups take the fused fast path of ``ops.im2col``
(``conv1d``/``conv2d`` with bias and ReLU in one op); grouped convolutions, 3-D ones and
``data_format="channels_first"`` go through the N-D ``ops.convolution.conv``.
"""
from __future__ import annotations

import numpy as np

from .. import activations, backend, ops
from ..ops.convolution import conv as conv_nd
from ..ops.im2col import conv1d, conv1d_relu, conv2d, conv2d_relu, conv_output_length
from ..ops.quantized import quantized_conv
from .arguments import forwarded_arguments
from .base import apply_activation
from .core import KernelLayer
from .input_spec import InputSpec
from .quantized import QuantizableMixin


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
    """For layers that run channels-last only."""
    if data_format in (None, "channels_last"):
        return "channels_last"
    if data_format == "channels_first":
        raise ValueError(f"{layer}: only data_format='channels_last' (batch, ..., channels) is supported; "
                         "transpose channels-first inputs first")
    raise ValueError(f"{layer}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")


def resolve_data_format(data_format, layer: str) -> str:
    """``None`` -> the global ``image_data_format()`` ("channels_last" unless
    ``set_image_data_format`` changed it, as Keras reads it); either format otherwise."""
    if data_format is None:
        return backend.image_data_format()
    if isinstance(data_format, str) and data_format.lower() in ("channels_last", "channels_first"):
        return data_format.lower()
    raise ValueError(f"{layer}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")


def _axes_name(rank: int, data_format: str) -> str:
    spatial = ("steps",) if rank == 1 else ("height", "width") if rank == 2 else ("depth", "height", "width")
    names = spatial + ("channels",) if data_format == "channels_last" else ("channels",) + spatial
    return "(batch, " + ", ".join(names) + ")"


class SpatialLayerMixin:
    """Input checks and shape arithmetic that every convolution layer shares (``rank``, ``data_format``)."""

    rank = 2

    @property
    def _channel_axis(self) -> int:
        return -1 if self.data_format == "channels_last" else 1

    def _spatial(self, shape) -> tuple:
        return tuple(shape[1:-1]) if self.data_format == "channels_last" else tuple(shape[2:])

    def _with_channels(self, batch, spatial, channels) -> tuple:
        spatial = tuple(spatial)
        return ((batch,) + spatial + (channels,) if self.data_format == "channels_last"
                else (batch, channels) + spatial)

    def _check_rank(self, shape) -> tuple:
        shape = tuple(shape)
        if len(shape) != self.rank + 2:
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected inputs of rank {self.rank + 2} "
                             f"{_axes_name(self.rank, self.data_format)}, got shape {shape}")
        return shape

    def _input_channels(self, input_shape) -> int:
        """The channels of ``input_shape``, which the input spec holds every later call to."""
        channels = self._check_rank(input_shape)[self._channel_axis]
        if channels is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: the channel axis must be known, "
                             f"got shape {tuple(input_shape)}")
        self._set_input_spec(int(channels))
        return int(channels)

    def _set_input_spec(self, channels=None) -> None:
        """Keras's input spec of a convolution: rank ``rank + 2`` at least, and once built, the
        channels it was built for on the channel axis."""
        axes = None if channels is None else {self._channel_axis: channels}
        self.input_spec = InputSpec(min_ndim=self.rank + 2, axes=axes)

    def _add_bias(self, outputs, bias):
        """``outputs + bias`` on the channel axis."""
        if bias is None:
            return outputs
        return outputs + (bias if self.data_format == "channels_last" else bias.reshape((-1,) + (1,) * self.rank))


class BaseConv(QuantizableMixin, SpatialLayerMixin, KernelLayer):
    """What Conv1D, Conv2D and Conv3D share; ``rank`` is the number of spatial axes.

    ``quantize("int8")`` stores the kernel as int8 with one ``kernel_scale`` per filter and
    quantizes each receptive field of the input at run time (``layers.quantized``; groups=1)."""

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
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
            raise ValueError(f"{layer}: groups must be a positive integer, got {groups!r}")
        if filters % groups:
            raise ValueError(f"{layer}: filters ({filters}) must be a multiple of groups ({groups})")
        if not isinstance(padding, str) or padding.lower() not in self.paddings:
            raise ValueError(f"{layer}: padding must be one of {self.paddings}, got {padding!r}")
        self.filters = int(filters)
        self.kernel_size = _tuple(kernel_size, self.rank, "kernel_size", layer)
        self.strides = _tuple(strides, self.rank, "strides", layer)
        self.dilation_rate = _tuple(dilation_rate, self.rank, "dilation_rate", layer)
        self.padding = padding.lower()
        self.data_format = resolve_data_format(data_format, layer)
        self.groups = int(groups)
        self._set_input_spec()
        self._set_kernel_arguments(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                                   bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        if channels % self.groups:
            raise ValueError(f"{type(self).__name__} {self.name!r}: the {channels} input channels must be a "
                             f"multiple of groups ({self.groups}), got shape {tuple(input_shape)}")
        self._add_kernel_and_bias(self.kernel_size + (channels // self.groups, self.filters),
                                  quantized=self.quantization_mode == "int8")

    def _check_quantizable(self) -> None:
        if self.groups != 1:
            raise NotImplementedError(f"{type(self).__name__} {self.name!r}: int8 quantization of a grouped "
                                      f"convolution (groups={self.groups}) is not supported")

    def _causal_pad(self, inputs):
        """(k - 1) d zeros before the first step, none after: "causal" as "valid" on padded inputs."""
        pads = [[0, 0]] * 3
        pads[1 if self.data_format == "channels_last" else 2] = [(self.kernel_size[0] - 1) * self.dilation_rate[0], 0]
        return ops.pad(inputs, pads), "valid"

    def call(self, inputs):
        self._check_rank(inputs.shape)  # the spec checked the channels and the least rank
        if type(self).convolution_op is not BaseConv.convolution_op:
            # a subclass's own convolution (a standardized kernel, say): Keras's call runs it, then the
            # bias and the activation
            outputs = self.convolution_op(inputs, self.kernel)
            outputs = apply_activation(self.activation, self._add_bias(outputs, self.bias))
        elif self.quantization_mode == "int8":
            inputs, padding = self._causal_pad(inputs) if self.padding == "causal" else (inputs, self.padding)
            outputs = quantized_conv(inputs, self.kernel, self.kernel_scale, self.strides, padding,
                                     self.dilation_rate, channels_first=self.data_format == "channels_first",
                                     quantize_inputs=self.inputs_quantizer is not None)
            outputs = apply_activation(self.activation, self._add_bias(outputs, self.bias))
        elif self.rank <= 2 and self.groups == 1 and self.data_format == "channels_last":
            relu = self.activation is activations.relu  # fused into the convolution
            conv = self._conv_relu if relu else self._conv
            strides, dilation = self.strides, self.dilation_rate
            if self.rank == 1:  # the 1-D ops take plain ints
                strides, dilation = strides[0], dilation[0]
            outputs = conv(inputs, self.kernel, self.bias, strides, self.padding, dilation)
            if not relu:
                outputs = apply_activation(self.activation, outputs)
        else:
            inputs, padding = self._causal_pad(inputs) if self.padding == "causal" else (inputs, self.padding)
            outputs = conv_nd(inputs, self.kernel, self.strides, padding, self.data_format, self.dilation_rate)
            outputs = apply_activation(self.activation, self._add_bias(outputs, self.bias))
        self._add_activity_loss(outputs)
        return outputs

    def convolution_op(self, inputs, kernel):
        """The layer's convolution of ``inputs`` with ``kernel`` (its strides, padding, dilation
        and data format; no bias, no activation), as Keras's ``BaseConv.convolution_op``."""
        return conv_nd(inputs, kernel, self.strides, self.padding, self.data_format, self.dilation_rate)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        spatial = tuple(conv_output_length(n, k, s, self.padding, d) for n, k, s, d in
                        zip(self._spatial(input_shape), self.kernel_size, self.strides, self.dilation_rate))
        return self._with_channels(input_shape[0], spatial, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": tuple(self.kernel_size),
                "strides": tuple(self.strides), "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": tuple(self.dilation_rate), "groups": self.groups, **self._kernel_config()}


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


class Conv3D(BaseConv):
    """3-D convolution over (batch, depth, height, width, channels); kernel (kd, kh, kw, in / groups, filters)."""

    rank = 3

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(**forwarded_arguments(locals()))


Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution3D = Conv3D

__all__ = ["Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D"]
