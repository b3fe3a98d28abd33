"""Encodings, normalizations, cross-entropies, attention and tensor rearrangements of ``keras.ops.nn``."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function, Tensor
from .dtypes import standardize_dtype
from .nn_activations import as_op_input


def dtype_name(dtype) -> str:
    """``standardize_dtype`` on a name: NumPy dtype objects compare equal to "float"/"int" there."""
    if dtype is not None and not isinstance(dtype, str) and not (isinstance(dtype, type) and dtype in (int, float, bool)):
        dtype = np.dtype(dtype).name
    return standardize_dtype(dtype)


def _indices(x, op: str) -> np.ndarray:
    """Class ids as int64; floats are truncated toward zero, as Keras casts them."""
    a = as_op_input(x, floating=False).data
    if a.dtype.kind not in "iubf":
        raise TypeError(f"{op}: expected integer class ids, got dtype {a.dtype}")
    return a.astype(np.int64)


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """``out[..., k, ...] = (x[...] == k)`` with the class axis inserted at ``axis``.

    Ids that are negative or at least ``num_classes`` give a row of zeros. No gradient (the
    output is a function of integer ids).
    """
    if sparse:
        raise ValueError("one_hot: sparse=True is not supported (deepgrad has no sparse tensors)")
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be a positive int, got {num_classes!r}")
    ids = _indices(x, "one_hot")
    if not -(ids.ndim + 1) <= axis <= ids.ndim:
        raise ValueError(f"one_hot: axis {axis} is out of range for an output of rank {ids.ndim + 1}")
    out = (ids[..., None] == np.arange(num_classes)).astype(dtype_name(dtype))
    return Tensor(np.moveaxis(out, -1, axis), dtype=out.dtype)


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """1 for every class that occurs in a sample: the one-hot codes combined by ``max``.

    A sample is a row of a 2-D (or higher) input, with its ids along axis 1; a 1-D input is
    one sample. Keras's older name ``num_tokens`` is accepted for ``num_classes``. No gradient.
    """
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if kwargs:
        raise TypeError(f"multi_hot: unexpected keyword arguments {sorted(kwargs)}")
    if num_classes is None:
        raise ValueError("multi_hot: num_classes is required")
    codes = one_hot(inputs, num_classes, axis=axis, dtype=dtype, sparse=sparse).data
    reduce_axis = 1 if codes.ndim > 2 else 0
    return Tensor(codes.max(axis=reduce_axis), dtype=codes.dtype)


__all__ = ["multi_hot", "one_hot"]
