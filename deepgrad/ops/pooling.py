"""N-D pooling with Keras's signatures: ``max_pool``, ``average_pool`` and their adaptive forms.

Inputs are ``(batch, *spatial, channels)`` or, with ``data_format="channels_first"``,
``(batch, channels, *spatial)``, with 1, 2 or 3 spatial axes. Fixed windows are read
through one strided view of the (padded) input; the way back adds into the input one
window tap at a time. "same" padding never counts in a result: max pooling pads with
-inf, average pooling divides by the number of real cells in each window.

Adaptive pooling splits axis ``n`` into ``o`` windows ``[floor(i n / o), ceil((i + 1) n / o))``
as PyTorch does. A window is a product of intervals, so max and mean are taken one axis
at a time.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ..autograd import Function
from ..autograd.higher_order import frozen, linear_backward
from .im2col import same_padding
from .convolution import data_format_of, normalize_tuple, output_shape, pad_spatial, tap_slices, windows
from .nn_activations import as_op_input


def _to_last(a, channels_first):
    return np.moveaxis(a, 1, -1) if channels_first else a


def _to_first(a, channels_first):
    return np.moveaxis(a, -1, 1) if channels_first else a


def _geometry(x_shape, pool, strides, padding, op):
    spatial = x_shape[1:-1]
    pads = [same_padding(n, k, s) for n, k, s in zip(spatial, pool, strides)] if padding == "same" \
        else [(0, 0)] * len(pool)
    out = output_shape(spatial, pool, strides, (1,) * len(pool), pads)
    if min(out) < 1:
        raise ValueError(f"{op}: pool_size {pool} does not fit in the input of shape {x_shape} (padding {padding!r})")
    return pads, out


def _taps(pool):
    return itertools.product(*[range(k) for k in pool])


def _unpad(dxp, pads, x_shape):
    return dxp[(slice(None),) + tuple(slice(b, b + n) for (b, _), n in zip(pads, x_shape[1:-1]))]


class _Window(Function):
    """What max and average pooling share for the next order: their gradient is linear in g."""

    def graph_backward(self, g):
        return linear_backward(self, g, frozen(self).adjoint)

    def _taps_of(self, u):
        """The window taps of u (the input's layout) read as the forward read x, zeros for padding."""
        _, _, pads, pool, strides, out, channels_first = self.geometry
        up = np.pad(_to_last(u, channels_first), ((0, 0), *pads, (0, 0)))
        return [up[tap_slices(tap, strides, (1,) * len(pool), out)] for tap in _taps(pool)]


class MaxPool(_Window):
    def forward(self, x, pool=None, strides=None, padding="valid", channels_first=False):
        x = _to_last(x, channels_first)
        pads, out = _geometry(x.shape, pool, strides, padding, "max_pool")
        low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        xp = pad_spatial(x, pads, low)
        ones = (1,) * len(pool)
        # a running maximum over the taps of the window; ``winner`` keeps the first tap that holds it
        best = winner = None
        for t, tap in enumerate(_taps(pool)):
            cells = xp[tap_slices(tap, strides, ones, out)]
            if best is None:
                best, winner = cells.copy(), np.zeros(cells.shape, dtype=np.int32)
            else:
                winner[cells > best] = t
                np.maximum(best, cells, out=best)
        self.geometry = (x.shape, xp.shape, pads, pool, strides, out, channels_first)
        self.save_for_backward(winner)
        return _to_first(best, channels_first)

    def backward(self, g):
        # the gradient of a window goes to its (first) largest cell
        winner = self.saved[0]
        x_shape, xp_shape, pads, pool, strides, out, channels_first = self.geometry
        g = _to_last(g, channels_first)
        dxp = np.zeros(xp_shape, dtype=g.dtype)
        for t, tap in enumerate(_taps(pool)):
            dxp[tap_slices(tap, strides, (1,) * len(pool), out)] += np.where(winner == t, g, 0)
        return _to_first(_unpad(dxp, pads, x_shape), channels_first)

    def adjoint(self, u):
        """u -> each window's (first) largest cell of u."""
        winner = self.saved[0]
        out = np.zeros(winner.shape, u.dtype)
        for t, cells in enumerate(self._taps_of(u)):
            out += np.where(winner == t, cells, 0)
        return _to_first(out, self.geometry[-1])


class AveragePool(_Window):
    def forward(self, x, pool=None, strides=None, padding="valid", channels_first=False):
        x = _to_last(x, channels_first)
        pads, out = _geometry(x.shape, pool, strides, padding, "average_pool")
        ones = (1,) * len(pool)
        # float16 windows are summed in float32, as PyTorch does
        acc = np.float32 if x.dtype == np.float16 else x.dtype
        total = np.zeros((x.shape[0], *out, x.shape[-1]), dtype=acc)
        xp = pad_spatial(x, pads)
        for tap in _taps(pool):
            total += xp[tap_slices(tap, strides, ones, out)]
        # real (unpadded) cells per window: a product over axes of the cells each axis window covers
        count = np.ones((1,) * (len(pool) + 2), dtype=x.dtype)
        for axis, (n, k, s, (before, _), o) in enumerate(zip(x.shape[1:-1], pool, strides, pads, out)):
            start = np.arange(o) * s - before
            covered = np.minimum(start + k, n) - np.maximum(start, 0)
            shape = [1] * count.ndim
            shape[axis + 1] = o
            count = count * covered.reshape(shape).astype(x.dtype)
        self.geometry = (x.shape, xp.shape, pads, pool, strides, out, channels_first)
        self.save_for_backward(count)
        return _to_first((total / count).astype(x.dtype, copy=False), channels_first)

    def backward(self, g):
        # every real cell of a window receives g / count
        count = self.saved[0]
        x_shape, xp_shape, pads, pool, strides, out, channels_first = self.geometry
        share = _to_last(g, channels_first) / count
        dxp = np.zeros(xp_shape, dtype=g.dtype)
        for tap in _taps(pool):
            dxp[tap_slices(tap, strides, (1,) * len(pool), out)] += share
        return _to_first(_unpad(dxp, pads, x_shape), channels_first)

    def adjoint(self, u):
        """u -> the forward's window means of u."""
        taps = self._taps_of(u)
        return _to_first((sum(taps[1:], taps[0].copy()) / self.saved[0]).astype(u.dtype, copy=False),
                         self.geometry[-1])


def _bounds(n: int, o: int):
    """PyTorch's adaptive windows along one axis: [floor(i n / o), ceil((i + 1) n / o))."""
    i = np.arange(o)
    return (i * n) // o, -((-(i + 1) * n) // o)


class AdaptiveAverage1D(Function):
    """Mean over adaptive windows along one axis: y = P x along ``axis``, P (o, n) with rows 1/width."""

    def forward(self, x, axis=1, size=1):
        start, end = _bounds(x.shape[axis], size)
        cells = np.arange(x.shape[axis])
        p = ((cells >= start[:, None]) & (cells < end[:, None])) / (end - start)[:, None]
        p = p.astype(x.dtype)
        self.axis = axis
        self.save_for_backward(p)
        return np.moveaxis(np.tensordot(x, p, axes=([axis], [1])), -1, axis)

    def backward(self, g):
        # dx = P^T g along the axis
        p = self.saved[0]
        return np.moveaxis(np.tensordot(g, p, axes=([self.axis], [0])), -1, self.axis)

    def graph_backward(self, g):
        # linear in g; its adjoint is the forward, y = P u along the axis
        twin = frozen(self)
        return linear_backward(self, g, lambda u: np.moveaxis(np.tensordot(u, twin.saved[0], axes=([twin.axis], [1])),
                                                              -1, twin.axis))


class AdaptiveMax1D(Function):
    """Max over adaptive windows along one axis, read as (o, width) cells (the last cell repeated)."""

    def forward(self, x, axis=1, size=1):
        n = x.shape[axis]
        start, end = _bounds(n, size)
        width = int((end - start).max())
        index = np.minimum(start[:, None] + np.arange(width), end[:, None] - 1)  # (o, width)
        cells = np.take(x, index, axis=axis)  # (..., o, width, ...)
        pick = cells.argmax(axis=axis + 1)
        chosen = np.take_along_axis(index.reshape((1,) * axis + index.shape + (1,) * (x.ndim - axis - 1)),
                                    np.expand_dims(pick, axis + 1), axis=axis + 1)
        self.axis, self.n = axis, n
        self.save_for_backward(np.squeeze(chosen, axis + 1))  # the input position each output came from
        return np.take_along_axis(cells, np.expand_dims(pick, axis + 1), axis=axis + 1).squeeze(axis + 1)

    def backward(self, g):
        # g goes to the chosen cell of each window: a one-hot over the o -> n positions, summed
        source = self.saved[0]
        axis, n = self.axis, self.n
        gm, sm = np.moveaxis(g, axis, -1), np.moveaxis(source, axis, -1)
        dx = (gm[..., None] * (sm[..., None] == np.arange(n))).sum(axis=-2)
        return np.moveaxis(dx, -1, axis)

    def graph_backward(self, g):
        # linear in g; its adjoint reads u at each window's chosen cell
        twin = frozen(self)
        return linear_backward(self, g, lambda u: np.take_along_axis(u, twin.saved[0], axis=twin.axis))


def _pool_args(inputs, pool_size, strides, padding, data_format, op):
    x = as_op_input(inputs)
    if x.ndim not in (3, 4, 5):
        raise ValueError(f"{op}: inputs must have rank 3, 4 or 5 (batch, 1 to 3 spatial axes, channels), "
                         f"got shape {x.shape}")
    nd = x.ndim - 2
    pool = normalize_tuple(pool_size, nd, "pool_size", op)
    strides = pool if strides is None else normalize_tuple(strides, nd, "strides", op)
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    return x, dict(pool=pool, strides=strides, padding=padding.lower(),
                   channels_first=data_format_of(data_format, op) == "channels_first")


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """The largest value of each window; ``strides`` default to ``pool_size``."""
    x, attrs = _pool_args(inputs, pool_size, strides, padding, data_format, "max_pool")
    return MaxPool.apply(x, **attrs)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """The mean of each window over its real cells (padding is not counted)."""
    x, attrs = _pool_args(inputs, pool_size, strides, padding, data_format, "average_pool")
    return AveragePool.apply(x, **attrs)


def _adaptive(inputs, output_size, data_format, op, step):
    x = as_op_input(inputs)
    if x.ndim not in (3, 4, 5):
        raise ValueError(f"{op}: inputs must have rank 3, 4 or 5, got shape {x.shape}")
    nd = x.ndim - 2
    sizes = normalize_tuple(output_size, nd, "output_size", op)
    first = data_format_of(data_format, op) == "channels_first"
    for i, size in enumerate(sizes):
        x = step.apply(x, axis=i + (2 if first else 1), size=size)
    return x


def adaptive_average_pool(inputs, output_size, data_format=None):
    """Average pooling to a fixed ``output_size``, windows chosen as PyTorch's adaptive pooling."""
    return _adaptive(inputs, output_size, data_format, "adaptive_average_pool", AdaptiveAverage1D)


def adaptive_max_pool(inputs, output_size, data_format=None):
    """Max pooling to a fixed ``output_size``, windows chosen as PyTorch's adaptive pooling."""
    return _adaptive(inputs, output_size, data_format, "adaptive_max_pool", AdaptiveMax1D)


__all__ = ["adaptive_average_pool", "adaptive_max_pool", "average_pool", "max_pool"]
