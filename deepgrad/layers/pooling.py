"""Pooling layers: windowed max/average (1-D to 3-D), global max/average and adaptive pooling.

Channels-last 1-D and 2-D windows go through the fused ops of ``ops/pool.py``; 3-D windows
and channels-first inputs through the N-D ``ops.max_pool``/``ops.average_pool``.
"""
from __future__ import annotations

from .. import ops
from ..ops.convolution import data_format_of
from ..ops.pool import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d, pool_output_length
from .base import Layer
from .convolutional import _tuple
from .input_spec import InputSpec

_AXES = {1: "(batch, steps, channels)", 2: "(batch, height, width, channels)",
         3: "(batch, dim1, dim2, dim3, channels)"}


def _check_rank(layer, shape, rank: int):
    shape = tuple(shape)
    if len(shape) != rank + 2:
        axes = _AXES[rank]
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: expected inputs of rank {rank + 2} {axes}, "
                         f"got shape {shape}")


class BasePooling(Layer):
    """A window of ``pool_size`` slid by ``strides`` (the pool size when None) over the spatial axes;
    inputs of rank ``rank + 2`` (its input spec, as Keras's)."""
    _float_inputs = True  # integer inputs are averaged/normalised as floats
    _built_at_init = True  # no state to create: built when made, as Keras's

    rank = 2
    pool = None  # the fused channels-last op of 1-D/2-D windows, set by each subclass
    pool_nd = None  # ops.max_pool or ops.average_pool: any rank, either data format

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        layer = type(self).__name__
        self.pool_size = _tuple(pool_size, self.rank, "pool_size", layer)
        self.strides = self.pool_size if strides is None else _tuple(strides, self.rank, "strides", layer)
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(f"{layer}: padding must be 'valid' or 'same', got {padding!r}")
        self.padding = padding.lower()
        self.data_format = data_format_of(data_format, layer)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        if self.pool is None or self.data_format == "channels_first":
            return self.pool_nd(inputs, self.pool_size, self.strides, self.padding, self.data_format)
        if self.rank == 1:
            return self.pool(inputs, self.pool_size[0], self.strides[0], self.padding)
        return self.pool(inputs, self.pool_size, self.strides, self.padding)

    def compute_output_shape(self, input_shape):
        first = self.data_format == "channels_first"
        channels = input_shape[1] if first else input_shape[-1]
        spatial = tuple(None if n is None else pool_output_length(n, p, s, self.padding)
                        for n, p, s in zip(input_shape[2:] if first else input_shape[1:-1],
                                           self.pool_size, self.strides))
        return (input_shape[0],) + ((channels,) + spatial if first else spatial + (channels,))

    def get_config(self):
        return {**super().get_config(), "pool_size": tuple(self.pool_size), "strides": tuple(self.strides),
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling2D(BasePooling):
    pool = staticmethod(max_pool2d)
    pool_nd = staticmethod(ops.max_pool)

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class AveragePooling2D(BasePooling):
    pool = staticmethod(avg_pool2d)
    pool_nd = staticmethod(ops.average_pool)

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class MaxPooling1D(BasePooling):
    rank = 1
    pool = staticmethod(max_pool1d)
    pool_nd = staticmethod(ops.max_pool)

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class AveragePooling1D(BasePooling):
    rank = 1
    pool = staticmethod(avg_pool1d)
    pool_nd = staticmethod(ops.average_pool)

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class MaxPooling3D(BasePooling):
    rank = 3
    pool_nd = staticmethod(ops.max_pool)

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class AveragePooling3D(BasePooling):
    rank = 3
    pool_nd = staticmethod(ops.average_pool)

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class BaseGlobalPooling(Layer):
    """A mean or max over every spatial axis: (batch, ..., channels) -> (batch, channels)."""
    _float_inputs = True  # integer inputs are averaged/normalised as floats
    _built_at_init = True  # no state to create: built when made, as Keras's

    rank = 2
    reduce = None  # ops.mean or ops.max, set by each subclass

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_of(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _axes(self):
        start = 2 if self.data_format == "channels_first" else 1
        return tuple(range(start, start + self.rank))

    def call(self, inputs):
        return self.reduce(inputs, axis=self._axes(), keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        first = self.data_format == "channels_first"
        channels = input_shape[1] if first else input_shape[-1]
        if not self.keepdims:
            return (input_shape[0], channels)
        return (input_shape[0],) + ((channels,) + (1,) * self.rank if first else (1,) * self.rank + (channels,))

    def compute_mask(self, inputs, mask=None):
        return None  # the axis a mask would cover is gone

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling2D(BaseGlobalPooling):
    reduce = staticmethod(ops.mean)


class GlobalMaxPooling2D(BaseGlobalPooling):
    reduce = staticmethod(ops.max)


class GlobalMaxPooling1D(BaseGlobalPooling):
    rank = 1
    reduce = staticmethod(ops.max)


class GlobalAveragePooling1D(BaseGlobalPooling):
    """Mean over time; with a mask (batch, steps), over the unmasked steps only, as Keras does."""

    rank = 1
    reduce = staticmethod(ops.mean)

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format, keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        # masked steps count neither in the sum nor in the divisor (and a NaN there stays out)
        first = self.data_format == "channels_first"
        keep = ops.expand_dims(ops.astype(mask, "bool"), 1 if first else -1)
        weights = ops.astype(keep, inputs.dtype)
        total = ops.sum(ops.where(keep, inputs, 0.0), axis=self._axes(), keepdims=self.keepdims)
        return total / ops.sum(weights, axis=self._axes(), keepdims=self.keepdims)


class GlobalAveragePooling3D(BaseGlobalPooling):
    rank = 3
    reduce = staticmethod(ops.mean)


class GlobalMaxPooling3D(BaseGlobalPooling):
    rank = 3
    reduce = staticmethod(ops.max)


class BaseAdaptivePooling(Layer):
    """Pooling to a fixed ``output_size``: axis ``n`` is cut into ``o`` windows
    ``[floor(i n / o), ceil((i + 1) n / o))``, as PyTorch's adaptive pooling does."""
    _float_inputs = True  # integer inputs are averaged/normalised as floats

    rank = 2
    pool = None  # ops.adaptive_average_pool or ops.adaptive_max_pool

    def __init__(self, output_size, data_format=None, **kwargs):
        super().__init__(**kwargs)
        layer = type(self).__name__
        if isinstance(output_size, bool) or not isinstance(output_size, (int, tuple, list)):
            raise TypeError(f"{layer}: output_size must be an int or a tuple of {self.rank} ints, "
                            f"got {output_size!r}")
        self.output_size = _tuple(output_size, self.rank, "output_size", layer)
        self.data_format = data_format_of(data_format, layer)

    def call(self, inputs):
        _check_rank(self, inputs.shape, self.rank)
        return self.pool(inputs, self.output_size, data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape, self.rank)
        if self.data_format == "channels_first":
            return (input_shape[0], input_shape[1]) + self.output_size
        return (input_shape[0],) + self.output_size + (input_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "output_size": tuple(self.output_size), "data_format": self.data_format}


class AdaptiveAveragePooling1D(BaseAdaptivePooling):
    rank = 1
    pool = staticmethod(ops.adaptive_average_pool)


class AdaptiveAveragePooling2D(BaseAdaptivePooling):
    pool = staticmethod(ops.adaptive_average_pool)


class AdaptiveAveragePooling3D(BaseAdaptivePooling):
    rank = 3
    pool = staticmethod(ops.adaptive_average_pool)


class AdaptiveMaxPooling1D(BaseAdaptivePooling):
    rank = 1
    pool = staticmethod(ops.adaptive_max_pool)


class AdaptiveMaxPooling2D(BaseAdaptivePooling):
    pool = staticmethod(ops.adaptive_max_pool)


class AdaptiveMaxPooling3D(BaseAdaptivePooling):
    rank = 3
    pool = staticmethod(ops.adaptive_max_pool)


MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalAvgPool3D = GlobalAveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D

__all__ = [
    "AveragePooling1D", "AveragePooling2D", "AvgPool1D", "AvgPool2D", "GlobalAveragePooling1D",
    "GlobalAveragePooling2D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalMaxPool1D", "GlobalMaxPool2D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "MaxPool1D", "MaxPool2D", "MaxPooling1D", "MaxPooling2D",
    "AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D", "AdaptiveMaxPooling1D",
    "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D", "AveragePooling3D", "AvgPool3D", "GlobalAveragePooling3D",
    "GlobalAvgPool3D", "GlobalMaxPool3D", "GlobalMaxPooling3D", "MaxPool3D", "MaxPooling3D",
]
