"""Large temporaries of the convolutions, reused from one training step to the next.

A training step allocates the same large arrays every time (the unfolded matrix of each
convolution, its products, the gradient scattered back by col2im). glibc serves blocks
above its mmap threshold (at most 32 MB) with fresh mappings and returns them on free, so
each step pays for zero-filled pages again: tens of thousands of minor page faults per step
of a DCGAN. ``runtime.keep_freed_memory`` fixes that for the whole process, which a library
must not do on import; this pool fixes it for the arrays the ops own.

``empty(shape, dtype)`` hands out an array of the pool when one of that shape and dtype is
free. Free means that nothing but the pool refers to it: a Tensor holding it, an array saved
for backward, a user's reference or any view of it (a view keeps its base alive) all count
in its reference count. So a buffer saved for backward is never reused before the backward
that reads it has released it (or, with a retained graph, before the graph is gone).
Small arrays are not pooled (malloc's heap serves them without faults), nor is anything
under ``no_grad`` (``predict``, ``evaluate``): an inference keeps no arrays between calls, so
its peak memory is only what it uses at once. The pool holds at most ``LIMIT`` bytes and
gives back its least recently used free arrays to stay under it.
"""
from __future__ import annotations

import sys
import threading
from collections import OrderedDict

import numpy as np

from ..autograd import is_grad_enabled
from . import blas

MIN_BYTES = 1 << 20  # smaller arrays come from malloc's heap without page faults
LIMIT = 512 << 20  # bytes the pool holds at most, in use or free

_lock = threading.Lock()
_pool: OrderedDict = OrderedDict()  # (shape, dtype) -> [arrays], most recently used last
_held = [0]  # bytes held by the pool


def _refcounts(bufs) -> list:
    return [sys.getrefcount(b) for b in bufs]


# the count of an array only the pool's list refers to, measured the way it is checked
_FREE_REFS = _refcounts([np.empty(0)])[0]


def _first_free(bufs):
    for i, count in enumerate(_refcounts(bufs)):
        if count <= _FREE_REFS:
            return bufs[i]
    return None


def empty(shape, dtype) -> np.ndarray:
    """An uninitialised C-contiguous array, from the pool when one is free."""
    dtype = np.dtype(dtype)
    shape = tuple(int(n) for n in shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes < MIN_BYTES or not is_grad_enabled():
        return np.empty(shape, dtype)
    key = (shape, dtype.str)
    with _lock:
        bufs = _pool.get(key)
        if bufs is not None:
            _pool.move_to_end(key)
            buf = _first_free(bufs)
            if buf is not None:
                return buf
        if _held[0] + nbytes > LIMIT:
            _evict(nbytes)
        buf = np.empty(shape, dtype)
        if _held[0] + nbytes <= LIMIT:
            _pool.setdefault(key, []).append(buf)
            _held[0] += nbytes
        return buf


def zeros(shape, dtype) -> np.ndarray:
    out = empty(shape, dtype)
    out.fill(0)
    return out


def _evict(nbytes: int) -> None:
    """Drop free arrays, least recently used shapes first, until ``nbytes`` more fit."""
    for key in list(_pool):
        bufs = _pool[key]
        free = [count <= _FREE_REFS for count in _refcounts(bufs)]
        _held[0] -= sum(b.nbytes for b, f in zip(bufs, free) if f)
        bufs[:] = [b for b, f in zip(bufs, free) if not f]
        if not bufs:
            del _pool[key]
        if _held[0] + nbytes <= LIMIT:
            return


def clear() -> None:
    """Forget every pooled array (those in use stay alive with their users)."""
    with _lock:
        _pool.clear()
        _held[0] = 0


def held_bytes() -> int:
    return _held[0]


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` of two matrices, written into a pooled array (the same BLAS call)."""
    return blas.matmul(a, b, out=empty((a.shape[0], b.shape[1]), np.result_type(a.dtype, b.dtype)))


def contiguous(a: np.ndarray) -> np.ndarray:
    """``a`` if it is C-contiguous, else a C-contiguous copy of it in a pooled array."""
    if a.flags.c_contiguous:
        return a
    out = empty(a.shape, a.dtype)
    np.copyto(out, a)
    return out
