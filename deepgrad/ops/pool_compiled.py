"""Max pooling over windows that tile the input, as compiled loops (numba; ``pool.MaxPool2D``'s
NumPy passes without it).

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

Used by default when numba is installed (``runtime.numba_loop(..., default=True)``;
``DEEPGRAD_NUMBA=0`` turns it off), for float32 and float64 windows that tile the input with no
padding (stride equal to the pool size; what "valid" leaves over at the bottom and right gets a
zero gradient); anything else runs the NumPy passes.
"""
from __future__ import annotations

import numpy as np

from .. import runtime

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

loaded: dict = {}  # name -> compiled loop, or None without numba / turned off


def _forward_loop(x, out, argmax, ph, pw):
    # x (N, H, W, C) with H >= Ho ph, W >= Wo pw; out, argmax (N, Ho, Wo, C)
    n, ho, wo, c = out.shape
    if ph == 2 and pw == 2:  # the common windows, their four cells named (some 20% faster)
        for b in range(n):
            for i in range(ho):
                top, bottom = x[b, 2 * i], x[b, 2 * i + 1]
                for j in range(wo):
                    c0, c1, c2, c3 = top[2 * j], top[2 * j + 1], bottom[2 * j], bottom[2 * j + 1]
                    o = out[b, i, j]
                    a = argmax[b, i, j]
                    for k in range(c):
                        m = c0[k]
                        index = 0
                        v = c1[k]
                        if v > m:
                            index = 1
                        m = v if (m == m and not m > v) else m
                        v = c2[k]
                        if v > m:
                            index = 2
                        m = v if (m == m and not m > v) else m
                        v = c3[k]
                        if v > m:
                            index = 3
                        m = v if (m == m and not m > v) else m
                        o[k] = m
                        a[k] = index
        return
    for b in range(n):
        for i in range(ho):
            for j in range(wo):
                o = out[b, i, j]
                a = argmax[b, i, j]
                start = x[b, i * ph, j * pw]
                for k in range(c):
                    o[k] = start[k]
                    a[k] = 0
                for di in range(ph):
                    for dj in range(pw):
                        index = di * pw + dj
                        if index == 0:
                            continue
                        cell = x[b, i * ph + di, j * pw + dj]
                        for k in range(c):
                            v = cell[k]
                            m = o[k]
                            a[k] = index if v > m else a[k]
                            # np.maximum(m, v): NaN stays, a tie gives v
                            o[k] = v if (m == m and not m > v) else m


def _backward_loop(g, argmax, out, dx, ph, pw, relu, zero, nan_seen):
    # g, argmax, out (N, Ho, Wo, C); dx (N, H, W, C), every cell written. Under ``relu`` the
    # gradient is first multiplied by ``out > 0`` (1 or 0), unless some maximum of this block is
    # NaN: then nan_seen[0] = 1 and the block is made again unmasked (the convolution masks it)
    n, ho, wo, c = g.shape
    h, w = dx.shape[1], dx.shape[2]
    for _ in range(2):
        nans = 0
        for b in range(n):
            for i in range(ho):
                for di in range(ph):
                    r = i * ph + di
                    for j in range(wo):
                        gr = g[b, i, j]
                        ar = argmax[b, i, j]
                        orow = out[b, i, j]
                        if relu and di == 0:
                            for k in range(c):
                                nans += orow[k] != orow[k]
                        for dj in range(pw):
                            index = di * pw + dj
                            d = dx[b, r, j * pw + dj]
                            if relu:
                                for k in range(c):
                                    gv = gr[k] if orow[k] > 0 else gr[k] * zero
                                    d[k] = gv if ar[k] == index else gv * zero
                            else:
                                for k in range(c):
                                    gv = gr[k]
                                    d[k] = gv if ar[k] == index else gv * zero
                    for s in range(wo * pw, w):
                        for k in range(c):
                            dx[b, r, s, k] = zero
            for r in range(ho * ph, h):
                for s in range(w):
                    for k in range(c):
                        dx[b, r, s, k] = zero
        if nans == 0:
            return
        nan_seen[0] = 1
        relu = False


def kernel(name: str):
    """The compiled loop (``"forward"`` or ``"backward"``), compiled on first use; None without
    numba or with ``DEEPGRAD_NUMBA=0``."""
    if name not in loaded:
        loaded[name] = runtime.numba_loop({"forward": _forward_loop, "backward": _backward_loop}[name],
                                          default=True)
    return loaded[name]


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
    zero = g.dtype.type(0)
    maxima = out if relu else g  # (read only under relu)

    def run(part):
        flag = nan_seen[0:1] if part.start in (None, 0) else nan_seen[1:2]
        loop(g[part], argmax[part], maxima[part], dx[part], pool[0], pool[1], relu, zero, flag)

    runtime.for_batch_halves(run, g.shape[0], dx.size)
    return dx, relu and not nan_seen.any()
