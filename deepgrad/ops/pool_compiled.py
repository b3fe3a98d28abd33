"""Max pooling over windows that tile the input, as compiled loops (``deepgrad/loops/max_pool.pyx``;
``pool.MaxPool2D``'s NumPy passes without it).

The NumPy path runs over the ph*pw window offsets, each a few element-wise passes over the whole
batch: for 2x2 windows ten passes forward (comparison, maximum and index update per offset) and
eight backward (comparison and product per offset), three more for the fused relu's mask: 2.6 ms
forward and 3.5 ms backward for seed 004's CNN (128x26x26x32 float32) on one core. These loops
read each input cell once forward, writing each window's maximum and the index of its cell, and
write each input cell's gradient once backward, the relu's mask applied on the way: 0.4-0.5 and
0.7 ms.

They do the NumPy path's operations in its order, so the results are the same bits: the running
maximum takes a cell unless it is already above it (``np.maximum`` returns its second operand on a
tie) or is NaN; the index moves to a cell strictly above the running maximum, so a tie keeps the
first cell, row-major; backward multiplies the gradient by 1 or 0 (a cell that did not hold the
maximum gets ``g * 0``, a zero of g's sign, as ``g * (argmax == k)`` gives), and under the fused
relu first by ``out > 0`` as a 1 or a 0.

Used when the extension is built (``runtime.compiled_loop``; ``DEEPGRAD_LOOPS=0`` turns it off),
for float32 and float64 windows that tile the input with no padding (stride equal to the pool
size; what "valid" leaves over at the bottom and right gets a zero gradient); anything else runs
the NumPy passes. The loops read C-contiguous arrays: another layout of the input is copied first.
"""
from __future__ import annotations

import numpy as np

from .. import runtime

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

loaded: dict = {}  # name -> compiled loop, or None when the extension is missing or turned off


def kernel(name: str):
    """The compiled loop (``"forward"`` or ``"backward"``), looked up on first use; None without
    the extension or with ``DEEPGRAD_LOOPS=0`` (``runtime.compiled_loop``)."""
    return runtime.compiled_loop("max_pool", name, loaded)


def usable(x: np.ndarray, pool, strides, pads) -> bool:
    """Whether the loops take this max pool: float32/64 input, windows tiling it, no padding."""
    return (x.dtype in _FLOATS and tuple(pool) == tuple(strides) and pads == ((0, 0), (0, 0))
            and x.ndim == 4 and kernel("forward") is not None)


def max_forward(x: np.ndarray, pool, out_hw, index_dtype):
    """(out, argmax) of the tiling max pool of ``x`` (``usable``)."""
    ph, pw = pool
    n, c = x.shape[0], x.shape[3]
    out = np.empty((n, *out_hw, c), x.dtype)
    argmax = np.empty(out.shape, index_dtype)
    loop = kernel("forward")
    x = np.ascontiguousarray(x)  # (a copy only of another layout)

    def run(part):
        loop(x[part], out[part], argmax[part], ph, pw)

    runtime.for_batch_halves(run, n, x.size)
    return out, argmax


def max_backward(g: np.ndarray, argmax: np.ndarray, out, x_shape, pool, relu: bool):
    """The input gradient (``x_shape``) of the tiling max pool; with ``relu``, masked by
    ``out > 0`` first (``out``: the forward's output, of g's dtype). Returns (dx, whether the mask was applied everywhere), or None when the
    backward loop is not available."""
    loop = kernel("backward")
    if loop is None or g.dtype not in _FLOATS or (relu and out.dtype != g.dtype):
        return None
    g = np.ascontiguousarray(g)
    dx = np.empty(x_shape, g.dtype)
    nan_seen = np.zeros(2, np.uint8)  # one flag per half
    maxima = out if relu else g  # (read only under relu)

    def run(part):
        flag = nan_seen[0:1] if part.start in (None, 0) else nan_seen[1:2]
        loop(g[part], argmax[part], maxima[part], dx[part], pool[0], pool[1], relu, flag)

    runtime.for_batch_halves(run, g.shape[0], dx.size)
    return dx, relu and not nan_seen.any()
