"""Weight constraints (Keras 3), applied by the optimiser after each update.

A constraint maps a weight array (or Tensor) to its projected value:
``variable.data[...] = constraint(variable.data)``. Norms are taken along ``axis``
(axis 0 of a Dense kernel ``(in, out)`` is the incoming weights of each unit).
"""
from __future__ import annotations

import numpy as np

from . import backend
from .autograd import Tensor
from .registry import Configurable, Registry


def _array(w) -> np.ndarray:
    return w.data if isinstance(w, Tensor) else np.asarray(w)


def _norms(w: np.ndarray, axis) -> np.ndarray:
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


class Constraint(Configurable):
    """Base class: ``__call__(w) -> projected w`` and ``get_config()``."""

    def __call__(self, w):
        return w


class MaxNorm(Constraint):
    """Rescale slices whose L2 norm exceeds ``max_value``: w * clip(n, 0, max) / (eps + n)."""

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        w = _array(w)
        norms = _norms(w, self.axis)
        desired = np.clip(norms, 0, self.max_value)
        return (w * (desired / (backend.epsilon() + norms))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Negative weights become zero."""

    def __call__(self, w):
        w = _array(w)
        return w * (w >= 0).astype(w.dtype)


class UnitNorm(Constraint):
    """Slices along ``axis`` rescaled to unit L2 norm: w / (eps + n)."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = _array(w)
        return (w / (backend.epsilon() + _norms(w, self.axis))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Slice norms pulled into [min_value, max_value] at ``rate``:
    w * (rate * clip(n, min, max) + (1 - rate) * n) / (eps + n)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        w = _array(w)
        norms = _norms(w, self.axis)
        desired = self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return (w * (desired / (backend.epsilon() + norms))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

_REGISTRY = Registry("constraint", [MaxNorm, NonNeg, UnitNorm, MinMaxNorm], base=Constraint)
deserialize, get = _REGISTRY.deserialize, _REGISTRY.get


def serialize(constraint):
    """``{"class_name", "config"}`` for a constraint object; a built-in function by its name."""
    return _REGISTRY.serialize(constraint)
