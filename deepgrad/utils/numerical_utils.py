"""Label and vector helpers: ``to_categorical`` and ``normalize`` (Keras's names and arguments)."""
from __future__ import annotations

import numpy as np

from .. import backend


def to_categorical(x, num_classes: int | None = None) -> np.ndarray:
    """Class indices -> one-hot rows: ``out[..., k] = 1`` where ``y == k``.

    As Keras: labels of shape ``(N,)`` or ``(N, 1)`` both give ``(N, num_classes)`` (a trailing
    axis of size 1 is dropped); ``num_classes`` defaults to ``max(y) + 1``. The result is
    floatx (float32), so it does not promote a float32 loss to float64.
    """
    y = np.asarray(x)
    if y.size and (y.dtype.kind not in "iub" and not np.all(np.equal(np.mod(y, 1), 0))):
        raise ValueError(f"to_categorical expects integer class indices, got values such as {y.flat[0]!r}")
    y = y.astype(np.int64)
    shape = y.shape[:-1] if y.ndim > 1 and y.shape[-1] == 1 else y.shape
    flat = y.reshape(-1)
    if num_classes is None:
        num_classes = int(flat.max()) + 1 if flat.size else 0
    num_classes = int(num_classes)
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must lie in [0, {num_classes}) for num_classes="
                         f"{num_classes}, got min {flat.min()} and max {flat.max()}")
    out = np.zeros((flat.size, num_classes), dtype=backend.floatx())
    out[np.arange(flat.size), flat] = 1
    return out.reshape(shape + (num_classes,))


def normalize(x, axis: int = -1, order: int = 2) -> np.ndarray:
    """``x / ||x||_order`` along ``axis``; an all-zero slice is left as zeros (its norm counts as 1)."""
    x = backend.to_floatx(np.asarray(x))
    norm = np.atleast_1d(np.linalg.norm(x, order, axis, keepdims=True))
    norm[norm == 0] = 1
    return x / norm.astype(x.dtype)
