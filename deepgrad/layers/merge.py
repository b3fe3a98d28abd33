"""Merge layers: combine a list of tensors elementwise (Add, Subtract, Multiply, Average,
Maximum, Minimum) or along an axis (Concatenate)."""
from __future__ import annotations

from functools import reduce

from .. import ops
from .base import Layer


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

    min_inputs = 2

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
        out = tuple(input_shape[0])
        for s in input_shape[1:]:
            merged = _broadcast(out, tuple(s))
            if merged is None:
                shapes = ", ".join(str(tuple(x)) for x in input_shape)
                raise ValueError(f"{type(self).__name__} {self.name!r}: inputs of shapes {shapes} cannot be "
                                 "combined elementwise")
            out = merged
        return out

    def call(self, inputs):
        self.compute_output_shape([tuple(t.shape) for t in inputs])
        return self._merge(list(inputs))

    def compute_mask(self, inputs, mask=None):
        return None


class Add(_Merge):
    def _merge(self, xs):
        return reduce(ops.add, xs)


class Subtract(_Merge):
    """``inputs[0] - inputs[1]``: exactly two inputs."""

    def _check_list(self, shapes):
        super()._check_list(shapes)
        if len(shapes) != 2:
            raise ValueError(f"Subtract {self.name!r}: expects exactly 2 inputs, got {len(shapes)}")

    def _merge(self, xs):
        return ops.subtract(xs[0], xs[1])


class Multiply(_Merge):
    def _merge(self, xs):
        return reduce(ops.multiply, xs)


class Average(_Merge):
    def _merge(self, xs):
        return reduce(ops.add, xs) * (1.0 / len(xs))


class Maximum(_Merge):
    def _merge(self, xs):
        return reduce(ops.maximum, xs)


class Minimum(_Merge):
    def _merge(self, xs):
        return reduce(ops.minimum, xs)


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

    def _merge(self, xs):
        return ops.concatenate(xs, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


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


__all__ = ["Add", "Average", "Concatenate", "Maximum", "Minimum", "Multiply", "Subtract", "add", "average",
           "concatenate", "maximum", "minimum", "multiply", "subtract"]
