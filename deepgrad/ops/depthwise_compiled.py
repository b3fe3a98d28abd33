"""Depthwise convolution of 1 and 2 spatial axes as compiled loops (numba; ``depthwise``'s NumPy
passes without it).

The NumPy path (``depthwise``) pads its input into the phases of the stride a block of samples
at a time, runs one ``einsum`` per phase and adds the phases, the bias and the ReLU in passes of
their own; its backward masks dY into a padded copy, then makes the bias's, the kernel's and the
input's gradients in passes over it. These loops make each output row once, reading the input
as it is (the taps that fall in the padding are skipped, no padded copy), with the bias and the
ReLU applied as the row is written; the backward takes each position's row of dY once, masks it
by ``y > 0`` under a fused ReLU, and adds it into the bias's sums, its products with the input
into the kernel's and its products with the kernel into the input gradient (a scatter over the
taps that reach it). Every inner loop runs along the channels (contiguous), so the compiler
vectorises it.

With a depth multiplier ``m`` > 1 the input's channels are repeated ``m`` times first (output
channel ``c m + j`` reads input channel ``c``, as in ``depthwise``), and the input gradient's
repeated channels are summed back onto their channel afterwards.

The batch is cut into blocks of ``SAMPLES`` samples that two threads take in turn
(``runtime.for_items_shared``; the loops release the GIL). The kernel's and the bias's gradients
are summed per block, then over the blocks in order: the same bits on one thread and two. The
sums come in another order than the NumPy path's (taps in order inside one sum here, per phase
there), so the results agree with it to rounding (float32: a few units in the last place), not
bit for bit.

Used by default when numba is installed (``runtime.numba_loop(..., default=True)``;
``DEEPGRAD_NUMBA=0`` turns it off), for float32 and float64 (numba has no float16) with one or
two spatial axes; anything else runs the NumPy passes.
"""
from __future__ import annotations

import numpy as np

from .. import runtime
from . import workspace

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

SAMPLES = 2   # samples per block: a block's input, output and dY rows stay in the core's caches

loaded: dict = {}  # name -> compiled loop, or None without numba / turned off


# --------------------------------------------------------------------------------- the loops
# x (N, H, W, C), out / g / y (N, OH, OW, C), kernel (KH, KW, C), all C-contiguous; geometry:
# strides sh, sw, dilations dh, dw, the padding before the first row / column pt, pl.

def _forward_loop(x, kernel, bias, out, first, last, sh, sw, dh, dw, pt, pl, has_bias, relu):
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    kh, kw = kernel.shape[0], kernel.shape[1]
    oh, ow = out.shape[1], out.shape[2]
    for n in range(first, last):
        for p in range(oh):
            for q in range(ow):
                row = out[n, p, q]
                for k in range(c):
                    row[k] = 0
                for i in range(kh):
                    r = p * sh - pt + i * dh
                    if r < 0 or r >= h:
                        continue
                    for j in range(kw):
                        s = q * sw - pl + j * dw
                        if s < 0 or s >= w:
                            continue
                        src = x[n, r, s]
                        tap = kernel[i, j]
                        for k in range(c):
                            row[k] += src[k] * tap[k]
                if has_bias:
                    for k in range(c):
                        row[k] += bias[k]
                if relu:
                    for k in range(c):
                        if row[k] < 0:   # a NaN stays, as under np.maximum
                            row[k] = 0


def _backward_loop(g, y, x, kernel, dx, dk, db, buffer, first, last, h, w, sh, sw, dh, dw, pt, pl,
                   relu, need_x, need_k, need_b):
    # (h, w): the input's spatial shape (x and dx may be stand-ins when their gradient is not
    # needed); dk (KH, KW, C) and db (C,): this block's sums, zeroed here; dx[first:last] zeroed here
    c = g.shape[3]
    kh, kw = kernel.shape[0], kernel.shape[1]
    oh, ow = g.shape[1], g.shape[2]
    if need_k:
        for i in range(kh):
            for j in range(kw):
                for k in range(c):
                    dk[i, j, k] = 0
    if need_b:
        for k in range(c):
            db[k] = 0
    for n in range(first, last):
        if need_x:
            for r in range(h):
                for s in range(w):
                    for k in range(c):
                        dx[n, r, s, k] = 0
        for p in range(oh):
            for q in range(ow):
                gr = g[n, p, q]
                if relu:   # relu'(y) = [y > 0]
                    yr = y[n, p, q]
                    for k in range(c):
                        buffer[k] = gr[k] if yr[k] > 0 else 0
                    gr = buffer
                if need_b:
                    for k in range(c):
                        db[k] += gr[k]
                for i in range(kh):
                    r = p * sh - pt + i * dh
                    if r < 0 or r >= h:
                        continue
                    for j in range(kw):
                        s = q * sw - pl + j * dw
                        if s < 0 or s >= w:
                            continue
                        if need_k:
                            src = x[n, r, s]
                            dtap = dk[i, j]
                            for k in range(c):
                                dtap[k] += src[k] * gr[k]
                        if need_x:
                            dst = dx[n, r, s]
                            tap = kernel[i, j]
                            for k in range(c):
                                dst[k] += gr[k] * tap[k]


_LOOPS = {"forward": _forward_loop, "backward": _backward_loop}


def kernel(name: str):
    """The compiled loop ``name`` ("forward", "backward"), compiled on first use; None without numba
    or with ``DEEPGRAD_NUMBA=0``."""
    if name not in loaded:
        loaded[name] = runtime.numba_loop(_LOOPS[name], default=True)
    return loaded[name]


# ------------------------------------------------------------------------------ the passes
def usable(dtype, spatial: int, name: str) -> bool:
    """Whether the loop ``name`` takes this case: float32 or float64, one or two spatial axes, numba."""
    return np.dtype(dtype) in _FLOATS and spatial in (1, 2) and kernel(name) is not None


class Saved:
    """What the compiled forward keeps for the kernel's gradient: the input itself, channels last,
    contiguous, its channels repeated by the depth multiplier (no padded copy)."""

    def __init__(self, x: np.ndarray):
        self.x = x


def _as_2d(a: np.ndarray, spatial: int) -> np.ndarray:
    """(N, W, C) -> (N, 1, W, C) (a view); a 2-D array as it is."""
    return a[:, None] if spatial == 1 else a


def _geometry(pads, strides, dilation):
    """(sh, sw, dh, dw, pt, pl) of one or two spatial axes (one: a height of 1)."""
    if len(strides) == 1:
        return 1, strides[0], 1, dilation[0], 0, pads[0][0]
    return strides[0], strides[1], dilation[0], dilation[1], pads[0][0], pads[1][0]


def _repeated(x: np.ndarray, m: int) -> np.ndarray:
    """x channels last, C-contiguous, each channel repeated ``m`` times (a copy only when needed)."""
    if m > 1:
        return np.repeat(x, m, axis=-1)
    return np.ascontiguousarray(x)


def _blocks(n: int) -> list:
    return [(first, min(first + SAMPLES, n)) for first in range(0, n, SAMPLES)]


def forward(x: np.ndarray, kernel_: np.ndarray, pads, ks, strides, dilation, out_shape, bias=None,
            relu: bool = False, keep: bool = False) -> tuple:
    """``depthwise.forward`` by the compiled loop: x (N, *spatial, C), kernel (*k, 1, C*m), bias
    (C*m,) or None -> (N, *out, C*m), and with ``keep`` a ``Saved`` for the kernel's gradient."""
    loop = kernel("forward")
    nd = len(ks)
    c = kernel_.shape[-1]
    xr = _repeated(x, c // x.shape[-1])
    out = workspace.empty((x.shape[0], *out_shape, c), x.dtype)
    k2 = np.ascontiguousarray(kernel_.reshape(*((1,) if nd == 1 else ()), *ks, c), dtype=x.dtype)
    b = np.ascontiguousarray(bias, dtype=x.dtype) if bias is not None else np.zeros(1, x.dtype)
    x2, o2 = _as_2d(xr, nd), _as_2d(out, nd)
    geo = _geometry(pads, strides, dilation)
    blocks = _blocks(len(x))

    def item(i, _):
        loop(x2, k2, b, o2, blocks[i][0], blocks[i][1], *geo, bias is not None, bool(relu))

    # a value costs the loop about one multiply-add per tap: the threads' threshold in such elements
    runtime.for_items_shared(item, len(blocks), out.size * len(k2.reshape(-1, c)))
    return out, (Saved(xr) if keep else None)


def backward(g: np.ndarray, saved, kernel_: np.ndarray, relu_out, x_shape, pads, ks, strides, dilation,
             out_shape, needs) -> tuple:
    """``depthwise.backward`` by the compiled loop: (dx, dK, db), each None unless asked for;
    ``saved`` is the forward's ``Saved`` (read only when the kernel's gradient is needed)."""
    need_x, need_k, need_b = needs
    loop = kernel("backward")
    nd = len(ks)
    c = kernel_.shape[-1]
    m = c // x_shape[-1]
    dtype = g.dtype
    g = np.ascontiguousarray(g)
    y = np.ascontiguousarray(relu_out) if relu_out is not None else g
    x = saved.x if need_k else np.zeros((1,) * (nd + 2), dtype)
    k2 = np.ascontiguousarray(kernel_.reshape(*((1,) if nd == 1 else ()), *ks, c), dtype=dtype)
    dx = workspace.empty((*x_shape[:-1], c), dtype) if need_x else np.zeros((1,) * (nd + 1) + (c,), dtype)
    blocks = _blocks(len(g))
    dk_parts = np.empty((len(blocks), *k2.shape), dtype)
    db_parts = np.empty((len(blocks), c), dtype)
    g2, y2, x2, dx2 = (_as_2d(a, nd) for a in (g, y, x, dx))
    geo = _geometry(pads, strides, dilation)
    hw = (1, *x_shape[1:-1]) if nd == 1 else tuple(x_shape[1:-1])

    def item(i, mine):
        if "buffer" not in mine:
            mine["buffer"] = np.empty(c, dtype)
        loop(g2, y2, x2, k2, dx2, dk_parts[i], db_parts[i], mine["buffer"], blocks[i][0], blocks[i][1], *hw, *geo,
             relu_out is not None, bool(need_x), bool(need_k), bool(need_b))

    runtime.for_items_shared(item, len(blocks), g.size * len(k2.reshape(-1, c)))
    dx_out = dk = db = None
    if need_x:
        dx_out = dx.reshape(*x_shape, m).sum(axis=-1) if m > 1 else dx
    if need_k:
        dk = dk_parts.sum(axis=0).reshape(*ks, 1, c)
    if need_b:
        db = db_parts.sum(axis=0)
    return dx_out, dk, db
