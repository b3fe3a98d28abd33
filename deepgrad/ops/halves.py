"""Element-wise passes over the two halves of the leading axis, in two threads.

``runtime.for_batch_halves`` runs a function over the two halves of an axis at once. These
helpers apply it to passes that write into an output array of the full shape: the operands
that span the leading axis are cut in the same halves, the ones that broadcast along it (a
per-channel scale, a scalar, a lower-rank array) are passed whole. An element of the output
is computed by the same operation on the same inputs either way, so the result is the same,
bit for bit.
"""
from __future__ import annotations

import math

import numpy as np

from ..runtime import for_batch_halves
from . import workspace


def rows_of(a, rows, shape: tuple):
    """``a[rows]`` when ``a`` spans the leading axis of an output of ``shape``, else ``a`` (it broadcasts)."""
    if isinstance(a, np.ndarray) and shape and a.ndim == len(shape) and a.shape[0] != 1:
        return a[rows]
    return a


def over_rows(fn, shape: tuple) -> None:
    """``fn(rows)`` over the two halves of the leading axis of an output of ``shape`` (``fn(...)``
    once for a scalar)."""
    if shape:
        for_batch_halves(fn, shape[0], math.prod(shape))
    else:
        fn(Ellipsis)


def ufunc_halves(ufunc, *operands, out: np.ndarray) -> np.ndarray:
    """``ufunc(*operands, out=out)`` with ``out`` split in two halves of its leading axis."""
    shape = out.shape
    over_rows(lambda rows: ufunc(*(rows_of(a, rows, shape) for a in operands), out=out[rows]), shape)
    return out


def contiguous_halves(a: np.ndarray, out: np.ndarray = None) -> np.ndarray:
    """``a`` if it is C-contiguous, else a C-contiguous copy of it (into ``out`` if given, else a
    pooled array), copied over the two halves of the leading axis."""
    if out is None:
        if a.flags.c_contiguous:
            return a
        out = workspace.empty(a.shape, a.dtype)
    over_rows(lambda rows: np.copyto(out[rows], a[rows]), a.shape)
    return out
