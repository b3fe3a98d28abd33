"""conv2d for few output channels: one GEMM over the input cells, then a shifted add per tap.

im2col copies every receptive field, ``N*Ho*Wo * kh*kw*Cin`` cells, before its GEMM; with
one output channel (the last layer of an image generator: 64 channels in, 1 out, 7x7) that
copy is 49*64 cells per output value and dominates the step. Here the GEMM comes first:

    Y[t] = K[t]^T xp        for every tap t = (i, j): (Cout, Cin) times the padded input
    out[p] = sum_t Y[t][p * s + t * d]

``Y`` holds ``kh*kw*Cout`` values per input cell instead of im2col's ``kh*kw*Cin`` per
output cell. Backward is the adjoint of the same two steps: the output gradient is placed
at each tap's shifted cells (``dY[t][p * s + t * d] = dOut[p]``, zeros elsewhere), then

    dxp = sum_t K[t] dY[t]          one GEMM (N*Hp*Wp, kh*kw*Cout) x (kh*kw*Cout, Cin)
    dK[t] = xp^T dY[t]^T            one GEMM (kh*kw*Cout, N*Hp*Wp) x (N*Hp*Wp, Cin)

Each ``Y[t]`` is a contiguous (Cout, N, Hp, Wp) block, so the shifted adds read contiguous
rows. The sums run in another order than im2col's GEMM: results agree to rounding
(float64 within 1e-12, float32 within 1e-5 relative to the output's scale). The shifted adds
and the placing of dOut, independent from sample to sample, run over the two halves of the
batch in two threads (``runtime.for_batch_halves``), the same adds in the same order.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from ..runtime import for_batch_halves, one_blas_thread
from . import blas, workspace
from .halves import conv_matmul

# The tap path pays for GEMM rows over every padded input cell (s^2 times the output cells
# for stride s) and kh*kw passes over the output; im2col pays for its copy. Taken when the
# tap path's matrix is at least this many times smaller than the unfolded one.
TAPS_ADVANTAGE = 4


def use_taps(xp_shape, out_hw, kernel_shape) -> bool:
    """The cost model: ``Cout * Hp * Wp * TAPS_ADVANTAGE <= Cin * Ho * Wo`` (cells of Y against
    cells of the unfolded matrix, both per sample and per tap)."""
    _, hp, wp, cin = xp_shape
    cout = kernel_shape[-1]
    return cout * hp * wp * TAPS_ADVANTAGE <= cin * out_hw[0] * out_hw[1]


@contextmanager
def on_one_blas_thread(batch):
    """One BLAS thread while ``batch`` is one of two halves run at once (each half's GEMM on its own
    thread, OpenBLAS's pool left asleep); the whole batch keeps BLAS's own threads."""
    if batch == slice(None):
        yield
        return
    with one_blas_thread():
        yield


def _tap_windows(kernel_hw, strides, dilation, out_hw):
    """Per tap (index, rows, columns): the padded cells that tap meets, one per output position."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel_hw, strides, dilation, out_hw
    return [(i * kw + j, slice(i * dh, i * dh + sh * (ho - 1) + 1, sh), slice(j * dw, j * dw + sw * (wo - 1) + 1, sw))
            for i in range(kh) for j in range(kw)]


def _kernel_rows(kernel):
    """(kh, kw, Cin, Cout) -> (kh*kw*Cout, Cin): row t*Cout + c is K[t][:, c]."""
    kh, kw, cin, cout = kernel.shape
    return kernel.reshape(kh * kw, cin, cout).transpose(0, 2, 1).reshape(kh * kw * cout, cin)


def taps_forward(xp, kernel, strides, dilation, out_hw):
    """conv2d of the padded input xp (N, Hp, Wp, Cin): (N, Ho, Wo, Cout), C-contiguous."""
    n, hp, wp, cin = xp.shape
    kh, kw, _, cout = kernel.shape
    rows, x2 = _kernel_rows(kernel), xp.reshape(-1, cin)
    y = workspace.empty((kh * kw * cout, n * hp * wp), np.result_type(rows.dtype, x2.dtype))
    y5 = y.reshape(kh * kw, cout, n, hp, wp)
    out = workspace.empty((cout, n) + tuple(out_hw), y.dtype)
    taps = _tap_windows((kh, kw), strides, dilation, out_hw)
    cells = hp * wp

    def gemm_and_add(batch):  # a half's own columns of Y (its samples), then their shifted adds
        lo, hi, _ = batch.indices(n)
        with on_one_blas_thread(batch):
            blas.matmul(rows, x2[lo * cells:hi * cells].T, out=y[:, lo * cells:hi * cells])
        part = out[:, batch]
        part.fill(0)
        for t, r, c in taps:
            part += y5[t, :, batch, r, c]

    for_batch_halves(gemm_and_add, n, max(out.size * len(taps), y.size))
    return workspace.contiguous(out.transpose(1, 2, 3, 0))


def taps_backward(g, xp_shape, xp, kernel, kernel_shape, strides, dilation):
    """(dxp, dkernel) for the output gradient g (N, Ho, Wo, Cout); dxp is over the padded input.

    ``kernel`` is None when no input gradient is wanted, ``xp`` None when no kernel gradient is."""
    n, hp, wp, cin = xp_shape
    kh, kw, _, cout = kernel_shape
    out_hw = g.shape[1:3]
    gt = g.transpose(3, 0, 1, 2)  # (Cout, N, Ho, Wo)
    dy = workspace.empty((kh * kw, cout, n, hp, wp), g.dtype)
    taps = _tap_windows((kh, kw), strides, dilation, out_hw)

    def place(batch):
        dy[:, :, batch].fill(0)
        for t, rows, cols in taps:
            dy[t, :, batch, rows, cols] = gt[:, batch]  # each (tap, cell) is met by at most one output position

    for_batch_halves(place, n, dy.size)
    dy = dy.reshape(kh * kw * cout, -1)
    dxp = None
    if kernel is not None:
        dxp = workspace.empty((dy.shape[1], cin), dy.dtype)
        dxp = conv_matmul(dy.T, _kernel_rows(kernel), out=dxp).reshape(xp_shape)
    dkernel = None
    if xp is not None:
        dk = conv_matmul(dy, xp.reshape(-1, cin))  # (kh*kw*Cout, Cin)
        dkernel = np.ascontiguousarray(dk.reshape(kh * kw, cout, cin).transpose(0, 2, 1)).reshape(kernel_shape)
    return dxp, dkernel
