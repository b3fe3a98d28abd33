"""Layers that resize the spatial axes without weights: UpSampling, ZeroPadding and Cropping
in 1-D, 2-D and 3-D, channels-last ``(batch, *spatial, channels)`` or channels-first."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..ops.convolution import data_format_of
from .base import Layer
from .convolutional import _tuple
from .input_spec import InputSpec


def _pair(value, what: str, layer: str) -> tuple:
    """An int ``p`` -> ``(p, p)``; a pair of non-negative ints stays."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    try:
        value = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{layer}: {what} must be an int or a pair of ints, got {value!r}") from None
    if len(value) != 2 or min(value) < 0:
        raise ValueError(f"{layer}: {what} must be a non-negative int or a pair of them, got {value!r}")
    return value


def _pairs(value, rank: int, what: str, layer: str) -> tuple:
    """Keras's amounts per spatial axis: ``p`` (all sides), ``(p1, ..., pr)`` (both sides of each
    axis) or ``((before1, after1), ..., (before_r, after_r))``; 1-D takes ``p`` or ``(before, after)``."""
    if rank == 1:
        return (_pair(value, what, layer),)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (_pair(value, what, layer),) * rank
    if not hasattr(value, "__len__") or len(value) != rank:
        raise ValueError(f"{layer}: {what} must be an int, a tuple of {rank} ints or a tuple of {rank} pairs "
                         f"of ints, got {value!r}")
    return tuple(_pair(v, f"entry {i + 1} of {what}", layer) for i, v in enumerate(value))


class _Spatial(Layer):
    """Shared by the layers here: inputs of rank ``rank + 2`` (the input spec, as Keras's) and
    where their spatial axes are."""

    rank = 2

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _set_data_format(self, data_format):
        self.data_format = data_format_of(data_format, type(self).__name__)

    def _spatial_axes(self):
        start = 2 if getattr(self, "data_format", "channels_last") == "channels_first" else 1
        return tuple(range(start, start + self.rank))

    def compute_output_shape(self, input_shape):
        out = list(input_shape)
        for i, axis in enumerate(self._spatial_axes()):
            out[axis] = None if out[axis] is None else self._new_length(i, out[axis])
        return tuple(out)


# ----------------------------------------------------------------- UpSampling
def _bilinear_axis(x, axis: int, factor: int):
    """Linear resampling of one axis to ``factor`` times its length, half-pixel centres:
    output ``j`` reads ``src = (j + 0.5) / factor - 0.5`` (clamped at 0), ``y = (1 - w) x[i0] + w x[i1]``
    with ``i0 = floor(src)``, ``i1 = min(i0 + 1, n - 1)``, ``w = src - i0``."""
    n = x.shape[axis]
    src = np.maximum((np.arange(n * factor) + 0.5) / factor - 0.5, 0.0)
    low = np.floor(src).astype(np.int64)
    high = np.minimum(low + 1, n - 1)
    shape = [1] * x.ndim
    shape[axis] = n * factor
    w = (src - low).astype(x.dtype).reshape(shape)
    return ops.take(x, low, axis=axis) * (1 - w) + ops.take(x, high, axis=axis) * w


class _UpSampling(_Spatial):
    def _new_length(self, i, n):
        return n * self.size[i]

    def call(self, inputs):
        interpolation = getattr(self, "interpolation", "nearest")
        if interpolation not in ("nearest", "bilinear"):  # the other kernels of ops.image.resize
            rows, cols = (inputs.shape[axis] * f for axis, f in zip(self._spatial_axes(), self.size))
            return ops.image.resize(inputs, (rows, cols), interpolation=interpolation, data_format=self.data_format)
        for axis, factor in zip(self._spatial_axes(), self.size):
            if factor != 1:
                if getattr(self, "interpolation", "nearest") == "bilinear":
                    inputs = _bilinear_axis(inputs, axis, factor)
                else:
                    inputs = ops.repeat(inputs, factor, axis=axis)
        return inputs


class UpSampling1D(_UpSampling):
    """Repeat each step ``size`` times: ``(batch, steps, features) -> (batch, steps * size, features)``."""

    rank = 1

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = _tuple(size, 1, "size", "UpSampling1D")

    def get_config(self):
        return {**super().get_config(), "size": self.size[0]}


class UpSampling2D(_UpSampling):
    """Scale rows by ``size[0]`` and columns by ``size[1]``: repeated ("nearest") or interpolated
    ("bilinear", "bicubic", "lanczos3", "lanczos5", "area", as ``keras.ops.image.resize``)."""

    INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5", "area")

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = _tuple(size, 2, "size", "UpSampling2D")
        self._set_data_format(data_format)
        interpolation = interpolation.lower() if isinstance(interpolation, str) else interpolation
        if interpolation not in self.INTERPOLATIONS:
            raise ValueError(f"UpSampling2D: interpolation must be one of {self.INTERPOLATIONS}, "
                             f"got {interpolation!r}")
        self.interpolation = interpolation

    def get_config(self):
        return {**super().get_config(), "size": tuple(self.size), "data_format": self.data_format,
                "interpolation": self.interpolation}


class UpSampling3D(_UpSampling):
    """Repeat each of the three spatial axes by its entry of ``size``."""

    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.size = _tuple(size, 3, "size", "UpSampling3D")
        self._set_data_format(data_format)

    def get_config(self):
        return {**super().get_config(), "size": tuple(self.size), "data_format": self.data_format}


# ----------------------------------------------------------------- ZeroPadding
class _ZeroPadding(_Spatial):
    def _new_length(self, i, n):
        return n + sum(self.padding[i])

    def call(self, inputs):
        width = [(0, 0)] * inputs.ndim
        for axis, pad in zip(self._spatial_axes(), self.padding):
            width[axis] = pad
        return ops.pad(inputs, width)

    def get_config(self):
        config = {**super().get_config(), "padding": tuple(tuple(p) for p in self.padding),
                  "data_format": getattr(self, "data_format", "channels_last")}
        if self.rank == 1:
            config["padding"] = tuple(self.padding[0])
        return config


class ZeroPadding1D(_ZeroPadding):
    """Zeros before and after the steps: ``padding`` is ``p`` or ``(before, after)``."""

    rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(padding, 1, "padding", "ZeroPadding1D")
        self._set_data_format(data_format)


class ZeroPadding2D(_ZeroPadding):
    """Zeros around rows and columns: ``p``, ``(rows, cols)`` or ``((top, bottom), (left, right))``."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(padding, 2, "padding", "ZeroPadding2D")
        self._set_data_format(data_format)


class ZeroPadding3D(_ZeroPadding):
    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(padding, 3, "padding", "ZeroPadding3D")
        self._set_data_format(data_format)


# ----------------------------------------------------------------- Cropping
class _Cropping(_Spatial):
    def _new_length(self, i, n):
        kept = n - sum(self.cropping[i])
        if kept <= 0:
            raise ValueError(f"{type(self).__name__} {self.name!r}: cropping {self.cropping[i]} removes all "
                             f"{n} entries of spatial axis {i + 1}")
        return kept

    def call(self, inputs):
        index = [slice(None)] * inputs.ndim
        for i, axis in enumerate(self._spatial_axes()):
            self._new_length(i, inputs.shape[axis])
            before, after = self.cropping[i]
            index[axis] = slice(before, inputs.shape[axis] - after)
        return inputs[tuple(index)]

    def get_config(self):
        config = {**super().get_config(), "cropping": tuple(tuple(c) for c in self.cropping)}
        if self.rank == 1:
            config["cropping"] = tuple(self.cropping[0])
        else:
            config["data_format"] = self.data_format
        return config


class Cropping1D(_Cropping):
    """Drop ``cropping[0]`` steps at the start and ``cropping[1]`` at the end."""

    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pairs(cropping, 1, "cropping", "Cropping1D")


class Cropping2D(_Cropping):
    """Drop rows and columns at the edges: ``c``, ``(rows, cols)`` or ``((top, bottom), (left, right))``."""

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pairs(cropping, 2, "cropping", "Cropping2D")
        self._set_data_format(data_format)


class Cropping3D(_Cropping):
    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pairs(cropping, 3, "cropping", "Cropping3D")
        self._set_data_format(data_format)


__all__ = ["Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D",
           "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"]
