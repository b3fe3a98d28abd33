"""Weight penalties added to the loss: ``regularizers.get("l2")`` and friends (Keras 3).

A regularizer maps a weight tensor to a scalar Tensor built from the differentiable ops,
so its gradient flows into the weight with the rest of the loss.
"""
from __future__ import annotations

import math

import numpy as np

from . import ops
from .autograd import Tensor
from .registry import Configurable, Registry


def _check_factor(value, name: str, owner: str) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{owner}: {name} must be a non-negative number, got {value}")
    return value


class Regularizer(Configurable):
    """Base class: ``__call__(weight) -> scalar Tensor`` and ``get_config()``."""

    def __call__(self, x) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x^2)`` (no factor 1/2, as in Keras)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _check_factor(l1, "l1", type(self).__name__)
        self.l2 = _check_factor(l2, "l2", type(self).__name__)

    def __call__(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        penalty = None
        if self.l1:
            penalty = self.l1 * ops.sum(ops.abs(x))
        if self.l2:
            term = self.l2 * ops.sum(ops.square(x))
            penalty = term if penalty is None else penalty + term
        if penalty is None:
            return ops.sum(x) * 0.0  # a zero that still belongs to the graph
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(|x|)``."""

    def __init__(self, l1=0.01):
        self.l1 = _check_factor(l1, "l1", "L1")

    def __call__(self, x):
        return self.l1 * ops.sum(ops.abs(x))

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x^2)``."""

    def __init__(self, l2=0.01):
        self.l2 = _check_factor(l2, "l2", "L2")

    def __call__(self, x):
        return self.l2 * ops.sum(ops.square(x))

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (``mode="rows"``) or columns (``"columns"``) of a 2-D kernel towards
    orthonormality: ``factor * 0.5 * sum(|offdiag(N N^T)|) / (n (n - 1) / 2)``, the mean
    |cosine| over pairs, N the L2-normalised rows (columns), n their number."""

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _check_factor(factor, "factor", "OrthogonalRegularizer")
        if mode not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer: mode must be 'rows' or 'columns', got {mode!r}")
        self.mode = mode

    def __call__(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim != 2:
            raise ValueError(f"OrthogonalRegularizer needs a 2-D weight, got shape {x.shape}")
        if self.mode == "columns":
            x = x.T
        n = x.shape[0]
        if n < 2:
            return ops.sum(x) * 0.0
        norms = ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=1, keepdims=True), 1e-12))
        unit = x / norms
        off_diagonal = ops.abs(unit @ unit.T) * (1 - np.eye(n, dtype=x.dtype))
        return self.factor * ops.sum(off_diagonal) / (n * (n - 1))

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Keras's short function names
l1 = L1
l2 = L2
l1_l2 = L1L2
orthogonal_regularizer = OrthogonalRegularizer

_REGISTRY = Registry("regularizer", [L1, L2, L1L2, OrthogonalRegularizer],
                     {"l1_l2": L1L2, "l1l2": L1L2}, base=Regularizer)
deserialize, get = _REGISTRY.deserialize, _REGISTRY.get


def serialize(regularizer):
    """``{"class_name", "config"}`` for a regularizer object; a built-in function by its name."""
    return _REGISTRY.serialize(regularizer)
