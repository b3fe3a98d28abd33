"""Merge layers: combine a list of tensors elementwise (Add, Subtract, Multiply, Average,
Maximum, Minimum), along an axis (Concatenate) or by dot products of samples (Dot).

Inputs of lower rank gain axes after the batch axis (``(batch, 3)`` meets ``(batch, 4, 3)`` as
``(batch, 1, 3)``), as Keras does. Masks ``(batch, steps)`` of the inputs give the output's
mask: their union when every input has one; Maximum, Minimum and Multiply also keep masked
steps out of the values, as Keras does.
"""
from __future__ import annotations

from functools import reduce

import numpy as np

from .. import ops
from ..autograd import Tensor
from .base import Layer


def _mask_of(x):
    mask = getattr(x, "_keras_mask", None)
    return None if mask is None else np.asarray(mask.data if isinstance(mask, Tensor) else mask, dtype=bool)


def _spread(mask, shape):
    """A (batch, steps) mask broadcast over the feature axes of an input of ``shape``."""
    while mask.ndim < len(shape):
        mask = mask[..., None]
    return np.broadcast_to(mask, shape)


def _broadcast(a: tuple, b: tuple):
    """The broadcast of two shapes (None is unknown), or None when they do not broadcast."""
    out = []
    for x, y in zip(reversed((1,) * (len(b) - len(a)) + tuple(a)), reversed((1,) * (len(a) - len(b)) + tuple(b))):
        if x == 1:
            out.append(y)
        elif y == 1 or x == y or y is None:
            out.append(x)
        elif x is None:
            out.append(y)
        else:
            return None
    return tuple(reversed(out))


class _Merge(Layer):
    """Checks the list of inputs; subclasses give ``_merge(tensors)``."""

    min_inputs = 1  # one input is merged as itself, as Keras 3 merges it (Subtract and Dot need two)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def _check_list(self, shapes):
        kind = type(self).__name__
        if not isinstance(shapes, (list, tuple)) or not all(isinstance(s, (list, tuple)) for s in shapes):
            raise ValueError(f"{kind} {self.name!r}: expects a list of tensors, got one input")
        if len(shapes) < self.min_inputs:
            raise ValueError(f"{kind} {self.name!r}: expects at least {self.min_inputs} inputs, got {len(shapes)}")

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        # the axes after the batch axis broadcast right-aligned (lower ranks gain axes after the batch)
        out = tuple(input_shape[0][1:])
        for s in input_shape[1:]:
            merged = _broadcast(out, tuple(s[1:]))
            if merged is None:
                shapes = ", ".join(str(tuple(x)) for x in input_shape)
                raise ValueError(f"{type(self).__name__} {self.name!r}: inputs of shapes {shapes} cannot be "
                                 "combined elementwise")
            out = merged
        batch = {s[0] for s in input_shape} - {None}
        if len(batch) > 1:
            raise ValueError(f"{type(self).__name__} {self.name!r}: inputs have different batch sizes "
                             f"{sorted(batch)}")
        return (batch.pop() if batch else None,) + out

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{type(self).__name__} {self.name!r}: expects a list of tensors, got one input")
        # a batch of one broadcasts against the others, as the element-wise op does in Keras
        # (a learned latent array of batch 1 added to a batch of its attention outputs)
        self.compute_output_shape([(None if t.shape[0] == 1 else t.shape[0],) + tuple(t.shape[1:]) if t.ndim
                                   else () for t in inputs])
        masks = [_mask_of(x) for x in inputs]
        outputs = self._merge(self._align_ranks(list(inputs)), masks)
        if isinstance(outputs, Tensor):
            outputs._keras_mask = self._output_mask(inputs, masks)
        return outputs

    def _align_ranks(self, xs):
        """Lower-rank inputs gain axes right after the batch axis."""
        rank = max(x.ndim for x in xs)
        return [ops.reshape(x, (x.shape[0],) + (1,) * (rank - x.ndim) + tuple(x.shape[1:])) if x.ndim < rank else x
                for x in xs]

    def _output_mask(self, inputs, masks):
        if any(m is None for m in masks):
            return None
        return reduce(np.logical_or, masks)

    def compute_mask(self, inputs, mask=None):
        return None  # set in call, from the inputs' masks


class Add(_Merge):
    def _merge(self, xs, masks):
        return reduce(ops.add, xs)


class Subtract(_Merge):
    """``inputs[0] - inputs[1]``: exactly two inputs."""

    def _check_list(self, shapes):
        super()._check_list(shapes)
        if len(shapes) != 2:
            raise ValueError(f"Subtract {self.name!r}: expects exactly 2 inputs, got {len(shapes)}")

    def _merge(self, xs, masks):
        return ops.subtract(xs[0], xs[1])


class Multiply(_Merge):
    """The product; a masked step of an input counts as 1, and a step no input keeps is 0."""

    def _merge(self, xs, masks):
        if all(m is None for m in masks):
            return reduce(ops.multiply, xs)
        xs = [x if m is None else ops.where(_spread(m, x.shape), x, 1.0) for x, m in zip(xs, masks)]
        out = reduce(ops.multiply, xs)
        if any(m is None for m in masks):
            return out
        return ops.where(reduce(np.logical_or, [_spread(m, x.shape) for x, m in zip(xs, masks)]), out, 0.0)


class Average(_Merge):
    def _merge(self, xs, masks):
        return reduce(ops.add, xs) * (1.0 / len(xs))


class _MaskedReduce(_Merge):
    """``op`` folded over the inputs; a masked step takes the other operand's value, as Keras
    does: ``x = where(mask_x, x, acc)``, ``acc = where(mask_acc, acc, x)``, ``acc = op(acc, x)``."""

    op = None

    def _merge(self, xs, masks):
        out, out_mask = xs[0], None if masks[0] is None else _spread(masks[0], xs[0].shape)
        for x, m in zip(xs[1:], masks[1:]):
            m = None if m is None else _spread(m, x.shape)
            if m is not None:
                x = ops.where(m, x, out)
            if out_mask is not None:
                out = ops.where(out_mask, out, x)
            out_mask = None if m is None or out_mask is None else np.logical_or(out_mask, m)
            out = type(self).op(out, x)
        return out


class Maximum(_MaskedReduce):
    op = staticmethod(ops.maximum)


class Minimum(_MaskedReduce):
    op = staticmethod(ops.minimum)


class Concatenate(_Merge):
    """Join the inputs along ``axis``; every other axis must match."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int):
            raise ValueError(f"Concatenate: axis must be an int, got {axis!r}")
        self.axis = axis

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        shapes = [tuple(s) for s in input_shape]
        rank = len(shapes[0])
        shown = ", ".join(str(s) for s in shapes)
        if any(len(s) != rank for s in shapes) or not -rank <= self.axis < rank:
            raise ValueError(f"Concatenate {self.name!r}: axis {self.axis} does not fit inputs of shapes {shown}")
        axis = self.axis % rank
        out = list(shapes[0])
        for s in shapes[1:]:
            for i in range(rank):
                if i == axis:
                    out[i] = None if out[i] is None or s[i] is None else out[i] + s[i]
                elif i > 0 and out[i] is not None and s[i] is not None and out[i] != s[i]:
                    raise ValueError(f"Concatenate {self.name!r}: inputs of shapes {shown} must match on every "
                                     f"axis but {self.axis}")
                elif out[i] is None:
                    out[i] = s[i]
        return tuple(out)

    def _align_ranks(self, xs):
        return xs  # ranks must match; compute_output_shape says so

    def _merge(self, xs, masks):
        return ops.concatenate(xs, axis=self.axis)

    def _output_mask(self, inputs, masks):
        """Keras's rule: each input's mask spread over its features (all True when it has none),
        joined along ``axis``, then any() over the last axis."""
        if all(m is None for m in masks):
            return None
        full = [np.ones(x.shape, bool) if m is None else _spread(m, x.shape) for x, m in zip(inputs, masks)]
        return np.concatenate(full, axis=self.axis).any(axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """Per-sample dot products of two tensors over ``axes`` (one int for both, or one per input),
    Keras's ``batch_dot``: ``out[b, i..., j...] = sum_k x[b, i..., k] y[b, k, j...]``; with
    ``normalize=True`` both are first L2-normalised along their axis (cosine similarity)."""

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, bool) or not isinstance(axes, (int, list, tuple)):
            raise TypeError(f"Dot: axes must be an int or a list of two ints, got {axes!r}")
        if not isinstance(axes, int) and (len(axes) != 2 or not all(isinstance(a, int) for a in axes)):
            raise ValueError(f"Dot: axes must be an int or a list of two ints, got {axes!r}")
        self.axes = axes if isinstance(axes, int) else list(axes)
        self.normalize = bool(normalize)

    def _axes_for(self, shapes):
        axes = [self.axes] * 2 if isinstance(self.axes, int) else self.axes
        axes = [a % len(s) for a, s in zip(axes, shapes)]
        if 0 in axes:
            raise ValueError(f"Dot {self.name!r}: cannot take a dot product over the batch axis (axes {self.axes})")
        return axes

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"Dot {self.name!r}: expects exactly 2 inputs, got {len(input_shape)}")
        a, b = (list(s) for s in input_shape)
        if len(a) < 2 or len(b) < 2:
            raise ValueError(f"Dot {self.name!r}: inputs need rank >= 2, got shapes {tuple(a)} and {tuple(b)}")
        i, j = self._axes_for([a, b])
        if a[i] is not None and b[j] is not None and a[i] != b[j]:
            raise ValueError(f"Dot {self.name!r}: axis {i} of shape {tuple(a)} and axis {j} of shape {tuple(b)} "
                             f"differ ({a[i]} != {b[j]})")
        out = a[:i] + a[i + 1:] + b[1:j] + b[j + 1:]
        return tuple(out + [1] if len(out) == 1 else out)

    def _align_ranks(self, xs):
        return xs

    def _merge(self, xs, masks):
        x, y = xs
        i, j = self._axes_for([x.shape, y.shape])
        if self.normalize:
            x, y = ops.normalize(x, axis=i), ops.normalize(y, axis=j)
        x, y = ops.moveaxis(x, i, -1), ops.moveaxis(y, j, 1)
        rows, cols = tuple(x.shape[1:-1]), tuple(y.shape[2:])
        batch, depth = x.shape[0], x.shape[-1]
        out = ops.matmul(ops.reshape(x, (batch, -1, depth)), ops.reshape(y, (batch, depth, -1)))
        shape = (batch,) + rows + cols
        return ops.reshape(out, shape if len(shape) > 1 else (batch, 1))

    def _output_mask(self, inputs, masks):
        return None

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


# the functional forms Keras offers: layers.add([a, b]) etc.
def add(inputs, **kwargs):
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    return Dot(axes=axes, **kwargs)(inputs)


__all__ = ["Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply", "Subtract", "add", "average",
           "concatenate", "dot", "maximum", "minimum", "multiply", "subtract"]
