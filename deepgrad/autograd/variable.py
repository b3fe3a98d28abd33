"""``Variable``: a leaf Tensor that holds state (a layer weight, an optimiser slot)."""
from __future__ import annotations

import numpy as np

from .tensor import Tensor


class Variable(Tensor):
    """A named, assignable leaf tensor. Trainable variables require gradients.

    ``assign`` writes in place, so optimisers and ``set_weights`` never break the
    identity that layers, models and optimiser state hold on to.
    """

    def __init__(self, value, trainable: bool = True, name: str | None = None, dtype=None):
        super().__init__(value, dtype=dtype)
        # always a copy: in-place assignment must never write into the caller's array
        self.data = np.array(self.data, order="C")
        self.name = name
        self._trainable = bool(trainable)
        self.requires_grad = self._trainable and self.data.dtype.kind == "f"

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        self.requires_grad = self._trainable and self.data.dtype.kind == "f"

    @property
    def value(self) -> Tensor:
        return self

    def assign(self, value) -> "Variable":
        value = np.asarray(value.data if isinstance(value, Tensor) else value)
        if value.shape != self.shape:
            raise ValueError(f"Variable {self.name!r}: cannot assign a value of shape {value.shape} "
                             f"to a variable of shape {self.shape}")
        self.data[...] = value
        return self

    def assign_add(self, delta) -> "Variable":
        return self._update(np.add, delta, "assign_add")

    def assign_sub(self, delta) -> "Variable":
        return self._update(np.subtract, delta, "assign_sub")

    def _update(self, ufunc, delta, where: str) -> "Variable":
        delta = np.asarray(delta.data if isinstance(delta, Tensor) else delta, self.dtype)
        try:
            ufunc(self.data, delta, out=self.data)
        except ValueError:
            raise ValueError(f"Variable {self.name!r}: {where} got a value of shape {delta.shape}, which "
                             f"does not broadcast to the variable's shape {self.shape}") from None
        return self

    def __repr__(self) -> str:
        return f"<Variable {self.name!r} shape={self.shape} dtype={self.dtype} trainable={self.trainable}>"
