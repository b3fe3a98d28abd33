"""``TensorSpec``: the shape, dtype and name of one tensor, as TensorFlow describes a dataset's
element or a signature's input and output (``None`` for a dimension that varies)."""
from __future__ import annotations

import numpy as np


class TensorSpec:
    """The shape and dtype of one component (``None`` for a dimension that varies)."""

    def __init__(self, shape, dtype=np.float32, name=None):
        self.shape = None if shape is None else tuple(None if d is None or d == -1 else int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.name = name

    def __eq__(self, other):
        return isinstance(other, TensorSpec) and (self.shape, self.dtype) == (other.shape, other.dtype)

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __repr__(self):
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype.name}, name={self.name!r})"

    def is_compatible_with(self, array) -> bool:
        a = np.asarray(array)
        return self.shape is None or (a.ndim == len(self.shape)
                                      and all(d is None or d == n for d, n in zip(self.shape, a.shape)))


__all__ = ["TensorSpec"]
