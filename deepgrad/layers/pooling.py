"""Pooling layers, channels-last: windowed max/average (1-D, 2-D) and global max/average."""
from __future__ import annotations

from .. import ops
from ..ops.pool import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d, pool_output_length
from .base import Layer
from .convolutional import _tuple, check_data_format


def _check_rank(layer, shape, rank: int):
    shape = tuple(shape)
    if len(shape) != rank + 2:
        axes = "(batch, steps, channels)" if rank == 1 else "(batch, height, width, channels)"
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: expected inputs of rank {rank + 2} {axes}, "
                         f"got shape {shape}")


class BasePooling(Layer):
    """A window of ``pool_size`` slid by ``strides`` (the pool size when None) over the spatial axes."""

    rank = 2
    pool = None  # the op, set by each subclass

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        layer = type(self).__name__
        self.pool_size = _tuple(pool_size, self.rank, "pool_size", layer)
        self.strides = self.pool_size if strides is None else _tuple(strides, self.rank, "strides", layer)
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(f"{layer}: padding must be 'valid' or 'same', got {padding!r}")
        self.padding = padding.lower()
        self.data_format = check_data_format(data_format, layer)

    def call(self, inputs):
        _check_rank(self, inputs.shape, self.rank)
        if self.rank == 1:
            return self.pool(inputs, self.pool_size[0], self.strides[0], self.padding)
        return self.pool(inputs, self.pool_size, self.strides, self.padding)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape, self.rank)
        spatial = tuple(pool_output_length(n, p, s, self.padding)
                        for n, p, s in zip(input_shape[1:-1], self.pool_size, self.strides))
        return (input_shape[0],) + spatial + (input_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling2D(BasePooling):
    pool = staticmethod(max_pool2d)

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling2D(BasePooling):
    pool = staticmethod(avg_pool2d)

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class MaxPooling1D(BasePooling):
    rank = 1
    pool = staticmethod(max_pool1d)

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(BasePooling):
    rank = 1
    pool = staticmethod(avg_pool1d)

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class BaseGlobalPooling(Layer):
    """A mean or max over every spatial axis: (batch, ..., channels) -> (batch, channels)."""

    rank = 2
    reduce = None  # ops.mean or ops.max, set by each subclass

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def _axes(self):
        return tuple(range(1, self.rank + 1))

    def call(self, inputs):
        _check_rank(self, inputs.shape, self.rank)
        return self.reduce(inputs, axis=self._axes(), keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape, self.rank)
        if self.keepdims:
            return (input_shape[0],) + (1,) * self.rank + (input_shape[-1],)
        return (input_shape[0], input_shape[-1])

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
        _check_rank(self, inputs.shape, self.rank)
        weights = ops.expand_dims(ops.astype(mask, inputs.dtype), -1)  # (batch, steps, 1)
        total = ops.sum(inputs * weights, axis=1, keepdims=self.keepdims)
        return total / ops.sum(weights, axis=1, keepdims=self.keepdims)


MaxPool1D, MaxPool2D = MaxPooling1D, MaxPooling2D
AvgPool1D, AvgPool2D = AveragePooling1D, AveragePooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D

__all__ = [
    "AveragePooling1D", "AveragePooling2D", "AvgPool1D", "AvgPool2D", "GlobalAveragePooling1D",
    "GlobalAveragePooling2D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalMaxPool1D", "GlobalMaxPool2D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "MaxPool1D", "MaxPool2D", "MaxPooling1D", "MaxPooling2D",
]
