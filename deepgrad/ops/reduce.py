"""Reductions with NumPy's ``axis`` and ``keepdims``.

This module defines ``sum``, ``max`` and ``min``, which shadow the builtins inside it:
use NumPy's functions here, never the bare names.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import FloatMath, Function, Tensor
from ..runtime import for_batch_halves
from .math import exp, sqrt


def _axes(axis, ndim: int, op: str) -> tuple:
    """``axis`` (None, an int or a tuple) as a sorted tuple of non-negative axes, checked."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        axis = (axis,)
    if not isinstance(axis, (tuple, list)) or not all(
            isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis):
        raise TypeError(f"{op}: axis must be None, an int or a tuple of ints, got {axis!r}")
    axes = []
    for a in axis:
        if ndim == 0 and a in (0, -1):
            continue  # a 0-d tensor reduces over nothing, as in PyTorch
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of bounds for a tensor of rank {ndim}")
        axes.append(a % ndim)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: repeated axis in {tuple(axis)}")
    return tuple(sorted(axes))


def _expand(g, in_shape, axes, keepdims):
    """Put back the reduced axes (size 1) so ``g`` broadcasts against the input."""
    if not keepdims:
        g = np.expand_dims(g, axes) if axes else g
    return g


def _expand_graph(g, in_shape, axes, keepdims):
    """``_expand`` for a gradient that is a Tensor."""
    if keepdims or not axes:
        return g
    return g.reshape(tuple(1 if i in axes else n for i, n in enumerate(in_shape)))


class Sum(Function):
    keeps_integers = True
    def forward(self, a, axis=None, keepdims=False):
        self.shape, self.axes, self.keepdims = a.shape, _axes(axis, a.ndim, "sum"), keepdims
        if a.dtype.kind in "iub":  # Keras's: bool and narrow integers sum as int32, wider keep theirs
            return np.sum(a, axis=self.axes, keepdims=keepdims,
                          dtype=np.int32 if a.dtype.kind == "b" or a.dtype.itemsize < 4 else a.dtype)
        return np.sum(a, axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        return np.broadcast_to(_expand(g, self.shape, self.axes, self.keepdims), self.shape)

    def graph_backward(self, g):
        return _expand_graph(g, self.shape, self.axes, self.keepdims).broadcast_to(self.shape)


def _add_reduce(a: np.ndarray, axes: tuple, keepdims: bool) -> np.ndarray:
    """``np.add.reduce(a, axes)``; over the two halves of the leading axis in two threads when it is
    kept (a global pooling's mean over the spatial axes): each sample's sums are made by the same
    loop either way, the same bits."""
    if a.ndim < 2 or 0 in axes or not axes:
        return np.add.reduce(a, axis=axes, keepdims=keepdims)
    out = np.empty(tuple(1 if i in axes else n for i, n in enumerate(a.shape)) if keepdims else
                   tuple(n for i, n in enumerate(a.shape) if i not in axes), a.dtype)
    for_batch_halves(lambda rows: np.add.reduce(a[rows], axis=axes, keepdims=keepdims, out=out[rows]),
                     len(a), a.size)
    return out


class Mean(FloatMath):
    def forward(self, a, axis=None, keepdims=False):
        self.shape, self.axes, self.keepdims = a.shape, _axes(axis, a.ndim, "mean"), keepdims
        self.count = math.prod(a.shape[i] for i in self.axes)
        if a.dtype not in (np.float32, np.float64) or not self.count:
            return np.mean(a, axis=self.axes, keepdims=keepdims)  # float16 accumulates in float32; 0/0
        # np.mean's own arithmetic (a sum in the input's dtype, then one division) without its overhead
        return _add_reduce(a, self.axes, keepdims) / self.count

    def backward(self, g):
        g = _expand(g, self.shape, self.axes, self.keepdims) / np.asarray(self.count, g.dtype)
        return np.broadcast_to(g, self.shape)

    def graph_backward(self, g):
        g = _expand_graph(g, self.shape, self.axes, self.keepdims) / np.asarray(self.count, g.dtype)
        return g.broadcast_to(self.shape)


class _Extreme(Function):
    """max/min: the gradient is shared evenly between tied extremes (as PyTorch's amax).

    A subclass names its reducer; its class name, lower-cased, is the function's name."""
    keeps_integers = True

    reducer = None

    def forward(self, a, axis=None, keepdims=False):
        op = type(self).__name__.lower()
        self.shape, self.axes, self.keepdims = a.shape, _axes(axis, a.ndim, op), keepdims
        if a.size == 0 and (not a.ndim or any(a.shape[i] == 0 for i in self.axes) or not self.axes):
            raise ValueError(f"{op}: cannot reduce a tensor of shape {a.shape} over an empty axis "
                             f"(axis={axis}): the {op} of no values is undefined")
        out = type(self).reducer(a, axis=self.axes, keepdims=True)
        self.save_for_backward(a == out)
        return out if keepdims else np.squeeze(out, axis=self.axes)

    def backward(self, g):
        mask = self.saved[0]
        g = _expand(g, self.shape, self.axes, self.keepdims)
        count = mask.sum(axis=self.axes, keepdims=True)
        return (mask * (g / count.astype(g.dtype))).astype(g.dtype)

    def graph_backward(self, g):
        # the mask of the extremes and their count are constants: the max is piecewise linear
        mask = self.saved[0]
        share = (mask / mask.sum(axis=self.axes, keepdims=True)).astype(g.dtype)
        return _expand_graph(g, self.shape, self.axes, self.keepdims) * share


class Max(_Extreme):
    reducer = staticmethod(np.max)


class Min(_Extreme):
    reducer = staticmethod(np.min)


class Var(FloatMath):
    def forward(self, a, axis=None, keepdims=False, ddof=0):
        self.axes, self.keepdims = _axes(axis, a.ndim, "var"), keepdims
        n = int(np.prod([a.shape[i] for i in self.axes])) if self.axes else 1
        centred = a - a.mean(axis=self.axes, keepdims=True)
        # n - ddof <= 0 gives inf or nan, as in NumPy and PyTorch
        self.dof = n - ddof if n > ddof else 0
        self.save_for_backward(centred)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sum(centred * centred, axis=self.axes, keepdims=keepdims) / np.asarray(self.dof, a.dtype)

    def backward(self, g):
        # d var / d a_i = 2 (a_i - mean) / (n - ddof)
        centred = self.saved[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = 2 / np.asarray(self.dof, g.dtype)
        return _expand(g, centred.shape, self.axes, self.keepdims) * scale * centred

    def graph_backward(self, g):
        (a,) = self.inputs
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.asarray(2, a.dtype) / np.asarray(self.dof, a.dtype)
        centred = a - a.mean(axis=self.axes, keepdims=True)
        return _expand_graph(g, a.shape, self.axes, self.keepdims) * scale * centred


class LogSumExp(FloatMath):
    def forward(self, a, axis=None, keepdims=False):
        self.axes, self.keepdims = _axes(axis, a.ndim, "logsumexp"), keepdims
        m = np.max(a, axis=self.axes, keepdims=True, initial=-np.inf)  # an empty axis gives -inf
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):  # all -inf along an axis gives -inf, not a warning
            out = np.log(np.sum(np.exp(a - m), axis=self.axes, keepdims=True)) + m
        self.save_for_backward(a, out)
        return out if keepdims else np.squeeze(out, axis=self.axes)

    def backward(self, g):
        # d lse / d a = softmax(a)
        a, out = self.saved
        return _expand(g, a.shape, self.axes, self.keepdims) * np.exp(a - out)

    def graph_backward(self, g):
        # softmax(a) = exp(a - lse(a)), with lse recorded again so that every order closes
        (a,) = self.inputs
        out = LogSumExp.apply(a, axis=self.axes, keepdims=True)
        return _expand_graph(g, a.shape, self.axes, self.keepdims) * exp(a - out)


def sum(x, axis=None, keepdims=False):  # noqa: A001 - NumPy's name
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    """The maximum over ``axis``; ``initial`` takes part in it as one more element (NumPy's rule)."""
    out = Max.apply(x, axis=axis, keepdims=keepdims)
    if initial is None:
        return out
    from .math import maximum
    return maximum(out, initial)


def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    """The minimum over ``axis``; ``initial`` takes part in it as one more element (NumPy's rule)."""
    out = Min.apply(x, axis=axis, keepdims=keepdims)
    if initial is None:
        return out
    from .math import minimum
    return minimum(out, initial)


def var(x, axis=None, keepdims=False, ddof=0):
    return Var.apply(x, axis=axis, keepdims=keepdims, ddof=ddof)


def std(x, axis=None, keepdims=False, ddof=0):
    _axes(axis, np.ndim(x.data if isinstance(x, Tensor) else x), "std")  # an error names std, not var
    return sqrt(Var.apply(x, axis=axis, keepdims=keepdims, ddof=ddof))


def logsumexp(x, axis=None, keepdims=False):
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


amax, amin = max, min
