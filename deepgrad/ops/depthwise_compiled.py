"""Depthwise convolution of 1 and 2 spatial axes as compiled loops (``deepgrad/loops/depthwise.pyx``;
``depthwise``'s NumPy passes without them).

The NumPy path (``depthwise``) pads its input into the phases of the stride a block of samples
at a time, runs one ``einsum`` per phase and adds the phases, the bias and the ReLU in passes of
their own; its backward masks dY into a padded copy, then makes the bias's, the kernel's and the
input's gradients in passes over it. These loops make each output row once, reading the input
as it is (the taps that fall in the padding are skipped, no padded copy), with the bias and the
ReLU applied as the row is written; the backward takes each position's row of dY once, masks it
by ``y > 0`` under a fused ReLU, and adds it into the bias's sums, its products with the input
into the kernel's and its products with the kernel into the input gradient (a scatter over the
taps that reach it). Every inner loop runs along the channels (contiguous), so the compiler
vectorises it; at a width stride of 1 with few channels, along a whole row of the output (the
width's positions' channels, one contiguous run) against the kernel tiled along the width.

With a depth multiplier ``m`` > 1 the input's channels are repeated ``m`` times first (output
channel ``c m + j`` reads input channel ``c``, as in ``depthwise``), and the input gradient's
repeated channels are summed back onto their channel afterwards.

The batch is cut into blocks of ``SAMPLES`` samples that two threads take in turn
(``runtime.for_items_shared``; the loops release the GIL). The kernel's and the bias's gradients
are summed per block, then over the blocks in order: the same bits on one thread and two. The
sums come in another order than the NumPy path's (taps in order inside one sum here, per phase
there), so the results agree with it to rounding (float32: a few units in the last place), not
bit for bit.

On by default, for float32 and float64 with one or two spatial axes; anything else (float16,
three spatial axes), and every case when the extension was not built or ``DEEPGRAD_LOOPS=0`` is
set (``runtime.compiled_loop``), runs the NumPy passes.
"""
from __future__ import annotations

import numpy as np

from .. import runtime
from . import workspace

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

SAMPLES = 2   # samples per block: a block's input, output and dY rows stay in the core's caches

loaded: dict = {}  # name -> compiled loop, or None when the extension is missing or turned off

# The row loops run at a width stride of 1 when a position's channels take at most this many
# bytes (0: never, for comparison). Above, the loops over the channels fill the vector unit on
# their own and read no tiled kernel: 32x28x28x128 float32, forward and backward, 4.0 and 9.3 ms
# of CPU by channels against 4.9 and 10.5 by rows; at 64 channels 3.1 / 5.6 against 2.2 / 4.7,
# at 32 channels (56x56) 8.7 / 7.8 against 4.4 / 4.7.
ROW_CHANNEL_BYTES = 256


NAMES = ("forward", "backward", "forward_rows", "backward_rows")   # deepgrad/loops/depthwise.pyx


def kernel(name: str):
    """The compiled loop ``name`` ("forward", "backward"; "forward_rows", "backward_rows" at a width
    stride of 1), looked up on first use; None without the extension or with ``DEEPGRAD_LOOPS=0``
    (``runtime.compiled_loop``)."""
    return runtime.compiled_loop("depthwise", name, loaded)


# ------------------------------------------------------------------------------ the passes
def usable(dtype, spatial: int, name: str) -> bool:
    """Whether the loop ``name`` takes this case: float32 or float64, one or two spatial axes, the
    extension built and on."""
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


def _rows(a: np.ndarray, spatial: int) -> np.ndarray:
    """(N, [H,] W, C) -> (N, H or 1, W*C), a view of the C-contiguous ``a``."""
    return a.reshape(a.shape[0], a.shape[1] if spatial == 2 else 1, a.shape[-2] * a.shape[-1])


def _tiled(a: np.ndarray, width: int) -> np.ndarray:
    """(..., C) -> (..., width * C): ``a`` repeated along a width, as the row loops read it."""
    return np.ascontiguousarray(np.tile(a, (1,) * (a.ndim - 1) + (width,)))


def forward(x: np.ndarray, kernel_: np.ndarray, pads, ks, strides, dilation, out_shape, bias=None,
            relu: bool = False, keep: bool = False) -> tuple:
    """``depthwise.forward`` by the compiled loop: x (N, *spatial, C), kernel (*k, 1, C*m), bias
    (C*m,) or None -> (N, *out, C*m), and with ``keep`` a ``Saved`` for the kernel's gradient."""
    nd = len(ks)
    c = kernel_.shape[-1]
    xr = _repeated(x, c // x.shape[-1])
    out = workspace.empty((x.shape[0], *out_shape, c), x.dtype)
    k2 = np.ascontiguousarray(kernel_.reshape(*((1,) if nd == 1 else ()), *ks, c), dtype=x.dtype)
    b = np.ascontiguousarray(bias, dtype=x.dtype) if bias is not None else np.zeros(1, x.dtype)
    sh, sw, dh, dw, pt, pl = _geometry(pads, strides, dilation)
    blocks = _blocks(len(x))
    flags = (bias is not None, bool(relu))
    if sw == 1 and c * x.itemsize <= ROW_CHANNEL_BYTES:
        loop, width = kernel("forward_rows"), out_shape[-1]
        args = (_rows(xr, nd), _tiled(k2, width), _tiled(b, width) if bias is not None else b, _rows(out, nd))
        geo = (c, sh, dh, dw, pt, pl)
    else:
        loop = kernel("forward")
        args = (_as_2d(xr, nd), k2, b, _as_2d(out, nd))
        geo = (sh, sw, dh, dw, pt, pl)

    def item(i, _):
        loop(*args, blocks[i][0], blocks[i][1], *geo, *flags)

    # a value costs the loop about one multiply-add per tap: the threads' threshold in such elements
    runtime.for_items_shared(item, len(blocks), out.size * len(k2.reshape(-1, c)))
    return out, (Saved(xr) if keep else None)


def backward(g: np.ndarray, saved, kernel_: np.ndarray, relu_out, x_shape, pads, ks, strides, dilation,
             out_shape, needs) -> tuple:
    """``depthwise.backward`` by the compiled loop: (dx, dK, db), each None unless asked for;
    ``saved`` is the forward's ``Saved`` (read only when the kernel's gradient is needed)."""
    need_x, need_k, need_b = needs
    nd = len(ks)
    c = kernel_.shape[-1]
    m = c // x_shape[-1]
    dtype = g.dtype
    g = np.ascontiguousarray(g)
    y = np.ascontiguousarray(relu_out) if relu_out is not None else g
    x = saved.x if need_k else np.zeros((1,) * (nd + 1) + (c,), dtype)
    k2 = np.ascontiguousarray(kernel_.reshape(*((1,) if nd == 1 else ()), *ks, c), dtype=dtype)
    dx = workspace.empty((*x_shape[:-1], c), dtype) if need_x else np.zeros((1,) * (nd + 1) + (c,), dtype)
    blocks = _blocks(len(g))
    sh, sw, dh, dw, pt, pl = _geometry(pads, strides, dilation)
    hw = (1, *x_shape[1:-1]) if nd == 1 else tuple(x_shape[1:-1])
    rows = sw == 1 and c * g.itemsize <= ROW_CHANNEL_BYTES
    width = out_shape[-1] if rows else 1   # the sums' tiling
    dk_parts = np.empty((len(blocks), *k2.shape[:-1], width * c), dtype)
    db_parts = np.empty((len(blocks), width * c), dtype)
    flags = (relu_out is not None, bool(need_x), bool(need_k), bool(need_b))
    if rows:
        loop = kernel("backward_rows")
        args = tuple(_rows(a, nd) for a in (g, y, x)) + (_tiled(k2, width), _rows(dx, nd))
        geo = (c, *hw, sh, dh, dw, pt, pl)
    else:
        loop = kernel("backward")
        args = tuple(_as_2d(a, nd) for a in (g, y, x)) + (k2, _as_2d(dx, nd))
        geo = (*hw, sh, sw, dh, dw, pt, pl)

    def item(i, mine):
        if "buffer" not in mine:
            mine["buffer"] = np.empty(width * c, dtype)
        loop(*args, dk_parts[i], db_parts[i], mine["buffer"], blocks[i][0], blocks[i][1], *geo, *flags)

    runtime.for_items_shared(item, len(blocks), g.size * len(k2.reshape(-1, c)))
    dx_out = dk = db = None
    if need_x:
        dx_out = dx.reshape(*x_shape, m).sum(axis=-1) if m > 1 else dx
    if need_k:   # the blocks in order, then the width
        dk = dk_parts.sum(axis=0).reshape(*k2.shape[:-1], width, c).sum(axis=-2).reshape(*ks, 1, c)
    if need_b:
        db = db_parts.sum(axis=0).reshape(width, c).sum(axis=0)
    return dx_out, dk, db
