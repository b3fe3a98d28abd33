"""Conv1DTranspose, Conv2DTranspose and Conv3DTranspose: kernel (*kernel, filters, in_channels), as Keras.

Output length per spatial axis, Keras's rule with ``k' = (k - 1) dilation + 1``:
``n s`` for "same" and ``(n - 1) s + max(k', s)`` for "valid" when ``output_padding`` is None,
otherwise ``(n - 1) s + k' - 2 pad + output_padding`` (pad = 0 for "valid", ``k' // 2`` for "same").
"""
from __future__ import annotations

import numpy as np

from ..ops.convolution import conv_transpose_bias, transpose_crops
from .arguments import add_weight_from_arguments, forwarded_arguments
from .convolutional import SpatialLayerMixin, _tuple, resolve_data_format
from .core import KernelLayer


def transpose_output_length(length, kernel, stride, padding, output_padding, dilation):
    """One spatial axis of a transposed convolution's output (``None`` stays ``None``)."""
    if length is None:
        return None
    (left, right), = transpose_crops((kernel,), (stride,), (dilation,), padding, (output_padding,))
    return (length - 1) * stride + (kernel - 1) * dilation + 1 - left - right


class BaseConvTranspose(SpatialLayerMixin, KernelLayer):
    """What the transposed convolutions share; ``rank`` is the number of spatial axes."""

    def __init__(self, filters, kernel_size, *, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        layer = type(self).__name__
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters <= 0:
            raise ValueError(f"{layer}: filters must be a positive integer, got {filters!r}")
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(f"{layer}: padding must be one of ('valid', 'same'), got {padding!r}")
        self.filters = int(filters)
        self.kernel_size = _tuple(kernel_size, self.rank, "kernel_size", layer)
        self.strides = _tuple(strides, self.rank, "strides", layer)
        self.dilation_rate = _tuple(dilation_rate, self.rank, "dilation_rate", layer)
        self.padding = padding.lower()
        self.data_format = resolve_data_format(data_format, layer)
        self._set_input_spec()
        if output_padding is None:
            self.output_padding = None
        else:
            if isinstance(output_padding, (int, np.integer)):
                output_padding = (int(output_padding),) * self.rank
            self.output_padding = tuple(int(p) for p in output_padding)
            if len(self.output_padding) != self.rank or min(self.output_padding) < 0:
                raise ValueError(f"{layer}: output_padding must be an int or a tuple of {self.rank} ints >= 0, "
                                 f"got {output_padding!r}")
            if any(p >= s for p, s in zip(self.output_padding, self.strides)):
                raise ValueError(f"{layer}: each output_padding must be smaller than its stride, got "
                                 f"output_padding={self.output_padding}, strides={self.strides}")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{layer}: strides > 1 cannot be combined with dilation_rate > 1, got "
                             f"strides={self.strides}, dilation_rate={self.dilation_rate}")
        self._set_kernel_arguments(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                                   bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint)

    def build(self, input_shape):
        # (*kernel, out, in): the layout of the convolution this one is the transpose of
        self.kernel = add_weight_from_arguments(self, "kernel",
                                                self.kernel_size + (self.filters, self._input_channels(input_shape)))
        self.bias = add_weight_from_arguments(self, "bias", (self.filters,)) if self.use_bias else None
        self.built = True

    def call(self, inputs):
        self._check_rank(inputs.shape)  # the spec checked the channels and the least rank
        # the bias is added by the op as it writes the output (no pass and no array of its own)
        outputs = conv_transpose_bias(inputs, self.kernel, self.bias, self.strides, self.padding, self.output_padding,
                                      self.data_format, self.dilation_rate)
        outputs = self.activation(outputs)
        self._add_activity_loss(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        output_padding = self.output_padding or (None,) * self.rank
        spatial = [transpose_output_length(n, k, s, self.padding, p, d) for n, k, s, p, d in
                   zip(self._spatial(input_shape), self.kernel_size, self.strides, output_padding,
                       self.dilation_rate)]
        return self._with_channels(input_shape[0], spatial, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": tuple(self.kernel_size),
                "strides": tuple(self.strides), "padding": self.padding,
                "output_padding": None if self.output_padding is None else tuple(self.output_padding),
                "data_format": self.data_format, "dilation_rate": tuple(self.dilation_rate), **self._kernel_config()}


class Conv1DTranspose(BaseConvTranspose):
    """Transposed 1-D convolution over (batch, steps, channels); kernel (k, filters, in)."""

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**forwarded_arguments(locals()))


class Conv2DTranspose(BaseConvTranspose):
    """Transposed 2-D convolution over (batch, height, width, channels); kernel (kh, kw, filters, in)."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(**forwarded_arguments(locals()))


class Conv3DTranspose(BaseConvTranspose):
    """Transposed 3-D convolution over (batch, depth, height, width, channels); kernel (kd, kh, kw, filters, in)."""

    rank = 3

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", data_format=None,
                 output_padding=None, dilation_rate=(1, 1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(**forwarded_arguments(locals()))


Convolution1DTranspose = Conv1DTranspose
Convolution2DTranspose = Conv2DTranspose
Convolution3DTranspose = Conv3DTranspose

__all__ = ["Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "Convolution1DTranspose",
           "Convolution2DTranspose", "Convolution3DTranspose"]
